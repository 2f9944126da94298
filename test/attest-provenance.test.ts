/**
 * The provenance pipeline end to end: `cairn provenance` from GitLab CI variables, `cairn attest
 * --type slsaprovenance` against a real stack, then the verify engineer's `cairn
 * verify-attestation` with predicate conditions and the real @sigstore/verify both accept it, and
 * a condition on another repository, another subject, or another identity is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '@cairn/shared';
import { cli, readJson, sigstoreVerifyBundle, startSignStack, SUBJECT, type SignStack } from './sign-fixtures.ts';

let s: SignStack;
let artifact: string;
let bundle: string;
const content = Buffer.from('binary built by the pipeline\n');
const GITLAB_ENV = {
  GITLAB_CI: 'true',
  CI_SERVER_URL: 'https://gitlab.example.internal',
  CI_PROJECT_PATH: 'your-org/service',
  CI_COMMIT_REF_NAME: 'main',
  CI_COMMIT_SHA: 'c'.repeat(40),
  CI_RUNNER_ID: '12',
  CI_JOB_URL: 'https://gitlab.example.internal/your-org/service/-/jobs/900',
  CI_JOB_STARTED_AT: '2025-05-01T08:00:00Z',
};

before(async () => {
  s = await startSignStack();
  artifact = join(s.work, 'service.bin');
  writeFileSync(artifact, content);
  const predicate = join(s.work, 'provenance.json');
  const p = await cli(['provenance', '--out', predicate, '--finished-on', '2025-05-01T08:05:00Z'], GITLAB_ENV);
  assert.equal(p.code, 0, p.stderr);
  bundle = join(s.work, 'provenance.sigstore.json');
  const a = await cli(['attest', artifact, '--predicate', predicate, '--type', 'slsaprovenance', '--bundle', bundle, '--url', s.url, '--identity-token', await s.token()]);
  assert.equal(a.code, 0, a.stderr);
});

after(async () => {
  await s?.stack.close();
});

function verifyAttestation(extra: string[], subject = artifact) {
  return cli(['verify-attestation', subject, '--bundle', bundle, '--trusted-root', s.trustedRootPath, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', s.issuer, '--type', 'slsaprovenance', ...extra]);
}

test('the statement carries the SLSA v1 predicate built from the CI variables', () => {
  const b = readJson(bundle);
  const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
  assert.deepEqual(st.subject, [{ name: 'service.bin', digest: { sha256: sha256Hex(content) } }]);
  assert.equal(st.predicateType, 'https://slsa.dev/provenance/v1');
  assert.deepEqual(st.predicate.runDetails, {
    builder: { id: 'https://gitlab.example.internal/your-org/service/-/runners/12' },
    metadata: { invocationId: GITLAB_ENV.CI_JOB_URL, startedOn: '2025-05-01T08:00:00Z', finishedOn: '2025-05-01T08:05:00Z' },
  });
  sigstoreVerifyBundle(s, b, undefined, { subjectAlternativeName: SUBJECT, extensions: { issuer: s.issuer } });
});

test('cairn verify-attestation accepts it with predicate conditions, by file and by digest', async () => {
  const ok = await verifyAttestation([
    '--condition', 'buildDefinition.externalParameters.repository=glob:your-org/*',
    '--condition', 'buildDefinition.externalParameters.ref=main',
    '--condition', `buildDefinition.resolvedDependencies.0.digest.gitCommit=${'c'.repeat(40)}`,
  ]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const byDigest = await verifyAttestation([], `sha256:${sha256Hex(content)}`);
  assert.equal(byDigest.code, 0, byDigest.stderr + byDigest.stdout);
});

test('another repository, another artifact or another identity is refused', async () => {
  const wrongRepo = await verifyAttestation(['--condition', 'buildDefinition.externalParameters.repository=glob:other-org/*']);
  assert.notEqual(wrongRepo.code, 0);
  const wrongSubject = await verifyAttestation([], `sha256:${'0'.repeat(64)}`);
  assert.notEqual(wrongSubject.code, 0);
  const wrongIdentity = await cli(['verify-attestation', artifact, '--bundle', bundle, '--trusted-root', s.trustedRootPath, '--certificate-identity', 'https://ci.example.internal/pipelines/43', '--certificate-oidc-issuer', s.issuer, '--type', 'slsaprovenance']);
  assert.notEqual(wrongIdentity.code, 0);
});

test('cairn provenance prints to stdout by default, from GitHub Actions variables', async () => {
  const r = await cli(['provenance', '--started-on', '2025-01-01T00:00:00Z'], {
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: 'your-org/app',
    GITHUB_REF: 'refs/tags/v1.2.3',
    GITHUB_SHA: 'd'.repeat(40),
    GITHUB_WORKFLOW_REF: 'your-org/app/.github/workflows/release.yml@refs/tags/v1.2.3',
    GITHUB_RUN_ID: '77',
  });
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  assert.equal(p.buildDefinition.buildType, 'https://actions.github.io/buildtypes/workflow/v1');
  assert.deepEqual(p.buildDefinition.externalParameters, { repository: 'your-org/app', ref: 'refs/tags/v1.2.3', workflow: '.github/workflows/release.yml' });
  assert.equal(p.runDetails.builder.id, 'https://github.com/your-org/app/.github/workflows/release.yml@refs/tags/v1.2.3');
  assert.deepEqual(p.runDetails.metadata, { invocationId: 'https://github.com/your-org/app/actions/runs/77/attempts/1', startedOn: '2025-01-01T00:00:00Z' });
  const bad = await cli(['provenance', '--started-on', 'tuesday'], { GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'a/b', GITHUB_WORKFLOW_REF: 'a/b/w.yml@x' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /\[INPUT_INVALID\]/);
  assert.equal(bad.stdout, '');
});
