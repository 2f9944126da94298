import { CliError, parseFlags, type Command } from '../command.ts';
import { buildProvenance } from '@cairn/sign';
import { writeFileAtomic } from '@cairn/sign';

export const command: Command = {
  summary: 'write an SLSA v1 provenance predicate from flags and CI variables',
  usage: `Usage: cairn provenance [--repository R] [--ref REF] [--commit SHA] [--builder-id URI]
                       [--invocation-id ID] [--started-on T] [--finished-on T] [--build-type URI] [--out F]

Writes an SLSA Provenance v1 predicate (https://slsa.dev/provenance/v1: buildDefinition
{buildType, externalParameters {repository, ref, ...}, internalParameters, resolvedDependencies
[{uri, digest {gitCommit}}]}, runDetails {builder {id}, metadata {invocationId, startedOn,
finishedOn}}) to stdout or --out, ready for 'cairn attest --predicate F --type slsaprovenance'.

Values come from the flags, else from the CI environment:
  GitHub Actions (GITHUB_ACTIONS=true): GITHUB_REPOSITORY, GITHUB_REF, GITHUB_SHA, GITHUB_SERVER_URL,
    GITHUB_WORKFLOW_REF (builder id), GITHUB_RUN_ID/GITHUB_RUN_ATTEMPT (invocation id), GITHUB_EVENT_NAME,
    GITHUB_REPOSITORY_ID, GITHUB_REPOSITORY_OWNER_ID, RUNNER_ENVIRONMENT
  GitLab CI (GITLAB_CI=true): CI_PROJECT_PATH, CI_COMMIT_REF_NAME, CI_COMMIT_SHA, CI_SERVER_URL,
    CI_PROJECT_URL, CI_RUNNER_ID (builder id), CI_JOB_URL (invocation id), CI_JOB_STARTED_AT,
    CI_CONFIG_PATH, CI_PIPELINE_SOURCE, CI_PROJECT_ID
Outside CI, --repository and --builder-id are required.

  --repository R      the source repository (e.g. your-org/app or a URL)
  --ref REF           the git ref built (refs/heads/main)
  --commit SHA        the git commit (40 or 64 hex) -> resolvedDependencies gitCommit
  --builder-id URI    runDetails.builder.id
  --invocation-id ID  runDetails.metadata.invocationId
  --started-on T      RFC 3339 start time
  --finished-on T     RFC 3339 end time
  --build-type URI    buildDefinition.buildType (default by CI system)
  --out F             write to F instead of stdout`,
  run(args, io) {
    const { values, positionals } = parseFlags(args, {
      repository: { type: 'string' },
      ref: { type: 'string' },
      commit: { type: 'string' },
      'builder-id': { type: 'string' },
      'invocation-id': { type: 'string' },
      'started-on': { type: 'string' },
      'finished-on': { type: 'string' },
      'build-type': { type: 'string' },
      out: { type: 'string' },
    });
    if (positionals.length !== 0) throw new CliError('USAGE', 'cairn provenance takes no positional arguments');
    const predicate = buildProvenance(
      {
        repository: values.repository,
        ref: values.ref,
        commit: values.commit,
        builderId: values['builder-id'],
        invocationId: values['invocation-id'],
        startedOn: values['started-on'],
        finishedOn: values['finished-on'],
        buildType: values['build-type'],
      },
      io.env,
    );
    const text = JSON.stringify(predicate, null, 2) + '\n';
    if (values.out !== undefined) {
      const p = writeFileAtomic(values.out, text, io.cwd);
      io.stderr(`Provenance predicate written to ${p}\n`);
    } else {
      io.stdout(text);
    }
    return Promise.resolve(0);
  },
};
