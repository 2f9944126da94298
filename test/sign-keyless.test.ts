/**
 * Keyless `cairn sign` and `cairn attest` against a real stack; every bundle is verified by the
 * real @sigstore/verify with default thresholds (tlog 1, ctlog 1, timestamp 1) and an identity
 * policy, and by `cairn verify` through the conformance adapter.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '@cairn/shared';
import { attest, sign } from '@cairn/sign';
import { cli, readJson, runAsync, sigstoreVerifyBundle, startSignStack, SUBJECT, type SignStack } from './sign-fixtures.ts';

let s: SignStack;
let artifact: string;
const content = Buffer.from('release tarball bytes\n');

before(async () => {
  s = await startSignStack();
  artifact = join(s.work, 'app.tar.gz');
  writeFileSync(artifact, content);
});

after(async () => {
  await s?.stack.close();
});

test('cairn sign (keyless, --identity-token) makes a bundle @sigstore/verify accepts with default thresholds', async () => {
  const out = join(s.work, 'keyless.sigstore.json');
  const r = await cli(['sign', artifact, '--bundle', out, '--url', s.url, '--identity-token', await s.token()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), out);
  const b = readJson(out);
  assert.equal(b.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  assert.deepEqual(Object.keys(b), ['mediaType', 'verificationMaterial', 'messageSignature']);
  assert.deepEqual(Object.keys(b.verificationMaterial), ['certificate', 'tlogEntries', 'timestampVerificationData']);
  assert.equal(b.messageSignature.messageDigest.algorithm, 'SHA2_256');
  assert.equal(Buffer.from(b.messageSignature.messageDigest.digest, 'base64').toString('hex'), sha256Hex(content));
  const e = b.verificationMaterial.tlogEntries[0];
  assert.deepEqual(Object.keys(e), ['logIndex', 'logId', 'kindVersion', 'integratedTime', 'inclusionPromise', 'inclusionProof', 'canonicalizedBody']);
  assert.deepEqual(e.kindVersion, { kind: 'hashedrekord', version: '0.0.1' });
  assert.match(e.logIndex, /^\d+$/);
  assert.match(e.integratedTime, /^\d+$/);

  const signer = sigstoreVerifyBundle(s, b, content, { subjectAlternativeName: SUBJECT, extensions: { issuer: s.issuer } });
  assert.equal(signer.identity?.subjectAlternativeName, SUBJECT);
  // The oracle can fail: another artifact, another identity.
  assert.throws(() => sigstoreVerifyBundle(s, b, Buffer.from('other'), { subjectAlternativeName: SUBJECT }));
  assert.throws(() => sigstoreVerifyBundle(s, b, content, { subjectAlternativeName: 'https://ci.example.internal/pipelines/43' }));
});

test('keyless signing with SIGSTORE_ID_TOKEN and CAIRN_URL from the environment, email identity', async () => {
  const out = join(s.work, 'email.sigstore.json');
  const token = await s.token({ email: 'alice@example.com' });
  const r = await cli(['sign', artifact, '--bundle', out], { SIGSTORE_ID_TOKEN: token, CAIRN_URL: s.url });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /as alice@example\.com/);
  const signer = sigstoreVerifyBundle(s, readJson(out), content, { subjectAlternativeName: 'alice@example.com', extensions: { issuer: s.issuer } });
  assert.equal(signer.identity?.subjectAlternativeName, 'alice@example.com');
});

test('keyless signing with the client-credentials grant (discovery, then the token endpoint)', async () => {
  const dev = readJson(join(s.dataDir, 'oidc', 'dev-client.json'));
  const secretFile = join(s.work, 'client-secret');
  writeFileSync(secretFile, `${dev.client_secret}\n`, { mode: 0o600 });
  const out = join(s.work, 'cc.sigstore.json');
  const r = await cli(['sign', artifact, '--bundle', out, '--url', s.url, '--oidc-issuer', s.issuer, '--oidc-client-id', dev.client_id, '--oidc-client-secret-file', secretFile]);
  assert.equal(r.code, 0, r.stderr);
  const signer = sigstoreVerifyBundle(s, readJson(out), content, { extensions: { issuer: s.issuer } });
  assert.equal(signer.identity?.subjectAlternativeName, dev.sub);
});

test('cairn provenance + cairn attest (dsse 0.0.1 and intoto 0.0.2) verify with @sigstore/verify', async () => {
  const predicate = join(s.work, 'provenance.json');
  const p = await cli(['provenance', '--out', predicate], {
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: 'your-org/app',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SHA: 'a'.repeat(40),
    GITHUB_WORKFLOW_REF: 'your-org/app/.github/workflows/release.yml@refs/heads/main',
    GITHUB_RUN_ID: '1',
  });
  assert.equal(p.code, 0, p.stderr);
  for (const kind of ['dsse', 'intoto'] as const) {
    const out = join(s.work, `attest-${kind}.sigstore.json`);
    const r = await cli(['attest', artifact, '--predicate', predicate, '--type', 'slsaprovenance', '--bundle', out, '--url', s.url, '--identity-token', await s.token(), '--tlog-kind', kind]);
    assert.equal(r.code, 0, r.stderr);
    const b = readJson(out);
    assert.deepEqual(Object.keys(b), ['mediaType', 'verificationMaterial', 'dsseEnvelope']);
    assert.equal(b.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
    assert.deepEqual(b.verificationMaterial.tlogEntries[0].kindVersion, { kind, version: kind === 'dsse' ? '0.0.1' : '0.0.2' });
    const statement = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
    assert.deepEqual(statement.subject, [{ name: 'app.tar.gz', digest: { sha256: sha256Hex(content) } }]);
    assert.equal(statement.predicateType, 'https://slsa.dev/provenance/v1');
    assert.equal(statement.predicate.buildDefinition.externalParameters.repository, 'your-org/app');
    sigstoreVerifyBundle(s, b, undefined, { subjectAlternativeName: SUBJECT, extensions: { issuer: s.issuer } });
    // Tampered payload: the oracle rejects it.
    const t = structuredClone(b);
    t.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...statement, predicateType: 'x' })).toString('base64');
    assert.throws(() => sigstoreVerifyBundle(s, t, undefined, {}));
  }
});

test('conformance sign-bundle (signing config URLs; --in-toto statement) and cairn verify on the result', async () => {
  const script = join(process.cwd(), 'scripts/conformance');
  const token = await s.token();
  const out = join(s.work, 'conf.sigstore.json');
  const env = { ...process.env, CAIRN_URL: '' };
  const r = await runAsync(script, ['sign-bundle', '--identity-token', token, '--bundle', out, '--trusted-root', s.trustedRootPath, '--signing-config', s.signingConfigPath, artifact], env);
  assert.equal(r.status, 0, r.stderr);
  sigstoreVerifyBundle(s, readJson(out), content, { subjectAlternativeName: SUBJECT });
  const v = await runAsync(script, ['verify-bundle', '--bundle', out, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', s.issuer, '--trusted-root', s.trustedRootPath, artifact], env);
  assert.equal(v.status, 0, v.stderr + v.stdout);

  const statement = join(s.work, 'statement.json');
  writeFileSync(statement, readFileSync(new URL('./vectors/conformance/statement.json', import.meta.url)));
  const out2 = join(s.work, 'conf-intoto.sigstore.json');
  const r2 = await runAsync(script, ['sign-bundle', '--in-toto', '--identity-token', token, '--bundle', out2, '--signing-config', s.signingConfigPath, statement], env);
  assert.equal(r2.status, 0, r2.stderr);
  const b2 = readJson(out2);
  assert.equal(Buffer.from(b2.dsseEnvelope.payload, 'base64').toString(), readFileSync(statement, 'utf8'));
  sigstoreVerifyBundle(s, b2, undefined, { subjectAlternativeName: SUBJECT });
  assert.ok(!existsSync(`${out2}.tmp-${process.pid}`));
});

test('library: attest(statementObject) and sign(bytes) return the bundle, certificate, subject and log entry', async () => {
  const token = await s.token();
  const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: sha256Hex(content) } }], predicateType: 'https://example.com/p/v1', predicate: { a: 1 } };
  const a = await attest(statement, { identityToken: token, fulcioUrl: s.url, rekorUrl: s.url });
  assert.equal(Buffer.from(a.bundle.dsseEnvelope!.payload, 'base64').toString(), JSON.stringify(statement));
  assert.equal(a.subject, SUBJECT);
  assert.ok(a.certificate !== undefined && a.logEntry !== undefined);
  sigstoreVerifyBundle(s, a.bundle, undefined, { subjectAlternativeName: SUBJECT });
  const r = await sign(content, { identityToken: token, fulcioUrl: s.url, rekorUrl: s.url });
  assert.equal(r.logEntry?.logIndex, a.logEntry.logIndex + 1);
  sigstoreVerifyBundle(s, r.bundle, content, { subjectAlternativeName: SUBJECT });
  await assert.rejects(sign(content, { identityToken: token, fulcioUrl: s.url }), (e: any) => e.code === 'URL_MISSING');
});

test('--trusted-root: the log answer is verified before the bundle is written', async () => {
  const out = join(s.work, 'checked.sigstore.json');
  const r = await cli(['sign', artifact, '--bundle', out, '--url', s.url, '--identity-token', await s.token(), '--trusted-root', s.trustedRootPath]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Log entry verified with the trusted root: SET, inclusion in tree size \d+, checkpoint by /);
  sigstoreVerifyBundle(s, readJson(out), content, { subjectAlternativeName: SUBJECT });
});
