import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProvenance, GENERIC_BUILD_TYPE, GITHUB_BUILD_TYPE, GITLAB_BUILD_TYPE, normalizeTimestamp } from './provenance.ts';

const SHA = '0123456789abcdef0123456789abcdef01234567';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('GitHub Actions environment gives the workflow build type, builder and invocation', () => {
  const env = {
    GITHUB_ACTIONS: 'true',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'your-org/app',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SHA: SHA,
    GITHUB_WORKFLOW_REF: 'your-org/app/.github/workflows/release.yml@refs/heads/main',
    GITHUB_RUN_ID: '987',
    GITHUB_RUN_ATTEMPT: '2',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_REPOSITORY_ID: '11',
    GITHUB_REPOSITORY_OWNER_ID: '22',
    RUNNER_ENVIRONMENT: 'github-hosted',
  };
  assert.deepEqual(buildProvenance({}, env), {
    buildDefinition: {
      buildType: GITHUB_BUILD_TYPE,
      externalParameters: { repository: 'your-org/app', ref: 'refs/heads/main', workflow: '.github/workflows/release.yml' },
      internalParameters: { github: { event_name: 'push', repository_id: '11', repository_owner_id: '22', runner_environment: 'github-hosted' } },
      resolvedDependencies: [{ uri: 'git+https://github.com/your-org/app@refs/heads/main', digest: { gitCommit: SHA } }],
    },
    runDetails: {
      builder: { id: 'https://github.com/your-org/app/.github/workflows/release.yml@refs/heads/main' },
      metadata: { invocationId: 'https://github.com/your-org/app/actions/runs/987/attempts/2' },
    },
  });
});

test('GitLab CI environment gives the runner builder, job URL and start time', () => {
  const env = {
    GITLAB_CI: 'true',
    CI_SERVER_URL: 'https://gitlab.example',
    CI_PROJECT_PATH: 'group/proj',
    CI_PROJECT_URL: 'https://gitlab.example/group/proj',
    CI_COMMIT_REF_NAME: 'main',
    CI_COMMIT_SHA: SHA,
    CI_RUNNER_ID: '7',
    CI_JOB_URL: 'https://gitlab.example/group/proj/-/jobs/55',
    CI_JOB_STARTED_AT: '2025-03-01T10:00:00+01:00',
    CI_CONFIG_PATH: '.gitlab-ci.yml',
    CI_PIPELINE_SOURCE: 'push',
    CI_PROJECT_ID: '9',
  };
  const p = buildProvenance({ finishedOn: '2025-03-01T09:30:00Z' }, env) as any;
  assert.equal(p.buildDefinition.buildType, GITLAB_BUILD_TYPE);
  assert.deepEqual(p.buildDefinition.externalParameters, { repository: 'group/proj', ref: 'main', config: '.gitlab-ci.yml' });
  assert.deepEqual(p.buildDefinition.internalParameters, { gitlab: { pipeline_source: 'push', project_id: '9', runner_id: '7' } });
  assert.deepEqual(p.buildDefinition.resolvedDependencies, [{ uri: 'git+https://gitlab.example/group/proj@main', digest: { gitCommit: SHA } }]);
  assert.deepEqual(p.runDetails, {
    builder: { id: 'https://gitlab.example/group/proj/-/runners/7' },
    metadata: { invocationId: 'https://gitlab.example/group/proj/-/jobs/55', startedOn: '2025-03-01T09:00:00Z', finishedOn: '2025-03-01T09:30:00Z' },
  });
});

test('flags override the environment; generic provenance outside CI', () => {
  const p = buildProvenance(
    { repository: 'https://git.example/x', ref: 'v1', commit: SHA.toUpperCase(), builderId: 'https://builder.example/b', invocationId: 'run-1', startedOn: '2025-01-01T00:00:00.123Z' },
    {},
  ) as any;
  assert.equal(p.buildDefinition.buildType, GENERIC_BUILD_TYPE);
  assert.deepEqual(p.buildDefinition.externalParameters, { repository: 'https://git.example/x', ref: 'v1' });
  assert.deepEqual(p.buildDefinition.resolvedDependencies, [{ uri: 'git+https://git.example/x@v1', digest: { gitCommit: SHA } }]);
  assert.deepEqual(p.runDetails.metadata, { invocationId: 'run-1', startedOn: '2025-01-01T00:00:00Z' });
  const gh = buildProvenance({ repository: 'other/repo', builderId: 'https://b.example' }, { GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'your-org/app', GITHUB_SHA: SHA }) as any;
  assert.equal(gh.buildDefinition.externalParameters.repository, 'other/repo');
  assert.equal(gh.runDetails.builder.id, 'https://b.example');
});

test('missing or malformed values are INPUT_INVALID', () => {
  assert.equal(code(() => buildProvenance({ repository: 'r' }, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildProvenance({ builderId: 'https://b' }, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildProvenance({ repository: 'r', builderId: 'not a uri' }, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildProvenance({ repository: 'r', builderId: 'https://b', commit: 'abc' }, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildProvenance({ repository: 'r', builderId: 'https://b', startedOn: 'yesterday' }, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildProvenance({ repository: 'r', builderId: 'https://b', startedOn: '2025-01-02T00:00:00Z', finishedOn: '2025-01-01T00:00:00Z' }, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildProvenance({ repository: 'x'.repeat(5000), builderId: 'https://b' }, {})), 'INPUT_INVALID');
  assert.equal(code(() => normalizeTimestamp('2025-13-45T99:00:00Z', 't')), 'INPUT_INVALID');
});
