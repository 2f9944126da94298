/**
 * SLSA Provenance v1 predicates (slsa.dev/provenance/v1, reference intoto-oci-admission §3.5)
 * from explicit values and the CI environment. Explicit values win over the environment; the
 * environment is only read through the `env` object handed in (the CLI passes its own).
 *
 * Recognised environments:
 * - GitHub Actions (GITHUB_ACTIONS=true): GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_REF,
 *   GITHUB_SHA, GITHUB_WORKFLOW_REF, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_EVENT_NAME,
 *   GITHUB_REPOSITORY_ID, GITHUB_REPOSITORY_OWNER_ID, RUNNER_ENVIRONMENT. The shape follows
 *   GitHub's own workflow build type (builder id = the workflow ref URL).
 * - GitLab CI (GITLAB_CI=true): CI_SERVER_URL, CI_PROJECT_PATH, CI_PROJECT_URL, CI_COMMIT_REF_NAME,
 *   CI_COMMIT_SHA, CI_JOB_URL, CI_JOB_ID, CI_JOB_STARTED_AT, CI_CONFIG_PATH, CI_PIPELINE_SOURCE,
 *   CI_PROJECT_ID, CI_RUNNER_ID.
 */
import { SignError } from './errors.ts';

export const GITHUB_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1';
export const GITLAB_BUILD_TYPE = 'https://gitlab.com/gitlab-org/gitlab-runner/-/blob/main/PROVENANCE.md';
/** The build type of provenance made from explicit flags only (a Cairn-defined TypeURI). */
export const GENERIC_BUILD_TYPE = 'https://cairn.dev/buildtypes/generic/v1';
export const MAX_PROVENANCE_VALUE_LENGTH = 2048;

export interface ProvenanceInputs {
  repository?: string;
  ref?: string;
  commit?: string;
  builderId?: string;
  invocationId?: string;
  startedOn?: string;
  finishedOn?: string;
  buildType?: string;
}

export type CiSystem = 'github' | 'gitlab' | 'none';

type Env = Record<string, string | undefined>;

export function detectCi(env: Env): CiSystem {
  if (env.GITHUB_ACTIONS === 'true') return 'github';
  if (env.GITLAB_CI === 'true') return 'gitlab';
  return 'none';
}

function val(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (v.length > MAX_PROVENANCE_VALUE_LENGTH) throw new SignError('INPUT_INVALID', `a provenance value is longer than ${MAX_PROVENANCE_VALUE_LENGTH} characters`);
  return v;
}

/** RFC 3339 in, RFC 3339 UTC with seconds precision out (what SLSA's Timestamp field means). */
export function normalizeTimestamp(v: string, what: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i.test(v)) {
    throw new SignError('INPUT_INVALID', `${what} must be an RFC 3339 timestamp such as 2025-01-31T12:00:00Z`);
  }
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new SignError('INPUT_INVALID', `${what} is not a valid time`);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface Resolved {
  buildType: string;
  repository?: string;
  repositoryUrl?: string;
  ref?: string;
  commit?: string;
  builderId?: string;
  invocationId?: string;
  startedOn?: string;
  finishedOn?: string;
  extraExternal: Record<string, unknown>;
  internal: Record<string, unknown>;
}

function fromGithub(env: Env): Resolved {
  const server = val(env.GITHUB_SERVER_URL) ?? 'https://github.com';
  const repo = val(env.GITHUB_REPOSITORY);
  const workflowRef = val(env.GITHUB_WORKFLOW_REF);
  const runId = val(env.GITHUB_RUN_ID);
  const attempt = val(env.GITHUB_RUN_ATTEMPT) ?? '1';
  // GITHUB_WORKFLOW_REF is "<owner>/<repo>/<path>@<ref>": the path sits between them.
  let path: string | undefined;
  if (workflowRef !== undefined && repo !== undefined && workflowRef.startsWith(`${repo}/`)) {
    const rest = workflowRef.slice(repo.length + 1);
    const at = rest.lastIndexOf('@');
    path = at > 0 ? rest.slice(0, at) : rest;
  }
  const github = compact({
    event_name: val(env.GITHUB_EVENT_NAME),
    repository_id: val(env.GITHUB_REPOSITORY_ID),
    repository_owner_id: val(env.GITHUB_REPOSITORY_OWNER_ID),
    runner_environment: val(env.RUNNER_ENVIRONMENT),
  });
  return {
    buildType: GITHUB_BUILD_TYPE,
    repository: repo,
    repositoryUrl: repo !== undefined ? `${server}/${repo}` : undefined,
    ref: val(env.GITHUB_REF),
    commit: val(env.GITHUB_SHA),
    builderId: workflowRef !== undefined ? `${server}/${workflowRef}` : undefined,
    invocationId: repo !== undefined && runId !== undefined ? `${server}/${repo}/actions/runs/${runId}/attempts/${attempt}` : undefined,
    extraExternal: compact({ workflow: path }),
    internal: Object.keys(github).length > 0 ? { github } : {},
  };
}

function fromGitlab(env: Env): Resolved {
  const server = val(env.CI_SERVER_URL) ?? 'https://gitlab.com';
  const project = val(env.CI_PROJECT_PATH);
  const runner = val(env.CI_RUNNER_ID);
  const gitlab = compact({ pipeline_source: val(env.CI_PIPELINE_SOURCE), project_id: val(env.CI_PROJECT_ID), runner_id: runner });
  const started = val(env.CI_JOB_STARTED_AT);
  return {
    buildType: GITLAB_BUILD_TYPE,
    repository: project,
    repositoryUrl: val(env.CI_PROJECT_URL) ?? (project !== undefined ? `${server}/${project}` : undefined),
    ref: val(env.CI_COMMIT_REF_NAME),
    commit: val(env.CI_COMMIT_SHA),
    builderId: project !== undefined && runner !== undefined ? `${server}/${project}/-/runners/${runner}` : undefined,
    invocationId: val(env.CI_JOB_URL) ?? (project !== undefined && val(env.CI_JOB_ID) !== undefined ? `${server}/${project}/-/jobs/${env.CI_JOB_ID}` : undefined),
    startedOn: started,
    extraExternal: compact({ config: val(env.CI_CONFIG_PATH) }),
    internal: Object.keys(gitlab).length > 0 ? { gitlab } : {},
  };
}

/**
 * Builds the predicate. `builder.id`, `buildType` and `externalParameters` are required by SLSA v1
 * (§3.5); missing ones raise INPUT_INVALID naming the flag that supplies them.
 */
export function buildProvenance(inputs: ProvenanceInputs, env: Env = {}): Record<string, unknown> {
  const ci = detectCi(env);
  const base: Resolved = ci === 'github' ? fromGithub(env) : ci === 'gitlab' ? fromGitlab(env) : { buildType: GENERIC_BUILD_TYPE, extraExternal: {}, internal: {} };
  const repository = val(inputs.repository) ?? base.repository;
  const ref = val(inputs.ref) ?? base.ref;
  const commit = val(inputs.commit)?.toLowerCase() ?? base.commit?.toLowerCase();
  const builderId = val(inputs.builderId) ?? base.builderId;
  const buildType = val(inputs.buildType) ?? base.buildType;
  const invocationId = val(inputs.invocationId) ?? base.invocationId;
  const started = val(inputs.startedOn) ?? base.startedOn;
  const finished = val(inputs.finishedOn) ?? base.finishedOn;

  if (builderId === undefined) throw new SignError('INPUT_INVALID', 'no builder id: pass --builder-id (outside GitHub Actions or GitLab CI)');
  if (repository === undefined) throw new SignError('INPUT_INVALID', 'no repository: pass --repository (outside GitHub Actions or GitLab CI)');
  if (commit !== undefined && !COMMIT.test(commit)) throw new SignError('INPUT_INVALID', '--commit must be a 40 or 64 hex character git commit');
  for (const [v, what] of [[builderId, '--builder-id'], [buildType, '--build-type']] as const) {
    try {
      new URL(v);
    } catch {
      throw new SignError('INPUT_INVALID', `${what} must be a URI (SLSA TypeURI)`);
    }
  }
  const startedOn = started !== undefined ? normalizeTimestamp(started, '--started-on') : undefined;
  const finishedOn = finished !== undefined ? normalizeTimestamp(finished, '--finished-on') : undefined;
  if (startedOn !== undefined && finishedOn !== undefined && startedOn > finishedOn) throw new SignError('INPUT_INVALID', '--finished-on is before --started-on');

  const repoUrl = val(inputs.repository) !== undefined ? repository : (base.repositoryUrl ?? repository);
  const resolvedDependencies =
    commit !== undefined ? [{ uri: `git+${repoUrl}${ref !== undefined ? `@${ref}` : ''}`, digest: { gitCommit: commit } }] : [];
  const metadata = compact({ invocationId, startedOn, finishedOn });
  return {
    buildDefinition: {
      buildType,
      externalParameters: { repository, ...compact({ ref }), ...base.extraExternal },
      internalParameters: base.internal,
      resolvedDependencies,
    },
    runDetails: {
      builder: { id: builderId },
      metadata,
    },
  };
}
