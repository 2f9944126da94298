/**
 * Bundles made by the real `sigstore` npm library (4.1) against a running Cairn stack (OIDC, CT,
 * log, CA in-process on port 0) verify with Cairn's offline verifier — library and `cairn verify`
 * / `cairn verify-attestation` — using the stack's trusted_root.json; tampering is caught.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sigstore from 'sigstore';
import { parseTrustedRoot, verify, VerifyError } from '@cairn/verify';
import { cli, startSignStack, SUBJECT, type SignStack } from './sign-fixtures.ts';
import { clone } from './verify-fixtures.ts';
import { codeOf } from './helpers/codes.ts';

let s: SignStack;

before(async () => {
  s = await startSignStack();
});

after(async () => {
  await s?.stack.close();
});

const code = codeOf(VerifyError);

test('sigstore.sign() against Cairn -> cairn verify (library and CLI), offline', async () => {
  const blob = Buffer.from(`built artifact ${Date.now()}\n`);
  const idToken = await s.token();
  const bundle = await sigstore.sign(blob, {
    fulcioURL: s.url,
    rekorURL: s.url,
    identityProvider: { getToken: () => Promise.resolve(idToken) },
  });
  const trust = parseTrustedRoot(s.trustedRoot);
  const r = verify(bundle, blob, { identity: SUBJECT, issuer: s.issuer }, trust);
  assert.equal(r.signer.type, 'certificate');
  assert.equal(r.tlogEntries, 1);
  assert.equal(r.scts, 1, 'the CA embedded an SCT from the Cairn CT log');
  assert.ok(r.timestamps.some((t) => t.source === 'transparency-log'));
  // By digest too (prehashed verification).
  verify(bundle, 'sha256:' + createHash('sha256').update(blob).digest('hex'), { identity: SUBJECT, issuer: s.issuer }, trust);

  assert.equal(code(() => verify(bundle, Buffer.from('other'), { identity: SUBJECT, issuer: s.issuer }, trust)), 'ARTIFACT_MISMATCH');
  assert.equal(code(() => verify(bundle, blob, { identity: 'https://ci.example.internal/pipelines/43', issuer: s.issuer }, trust)), 'IDENTITY_MISMATCH');
  assert.equal(code(() => verify(bundle, blob, { identity: SUBJECT, issuer: 'https://token.actions.githubusercontent.com' }, trust)), 'ISSUER_MISMATCH');

  const artifact = join(s.work, 'verify-stack-blob.txt');
  const bundlePath = join(s.work, 'verify-stack-blob.sigstore.json');
  writeFileSync(artifact, blob);
  writeFileSync(bundlePath, JSON.stringify(bundle));
  const ok = await cli(['verify', artifact, '--bundle', bundlePath, '--trusted-root', s.trustedRootPath, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', s.issuer, '--offline']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Verified OK/);
  const bad = await cli(['verify', s.trustedRootPath, '--bundle', bundlePath, '--trusted-root', s.trustedRootPath, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', s.issuer, '--offline']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /\[ARTIFACT_MISMATCH\]/);
});

test('sigstore.attest() of an in-toto statement -> cairn verify-attestation', async () => {
  const artifact = Buffer.from(`release tarball ${Date.now()}\n`);
  const digest = createHash('sha256').update(artifact).digest('hex');
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'release.tgz', digest: { sha256: digest } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: { repository: 'your-org/app', ref: 'refs/heads/main' } },
      runDetails: { builder: { id: 'https://ci.example.internal/builder' } },
    },
  };
  const idToken = await s.token();
  const bundle = await sigstore.attest(Buffer.from(JSON.stringify(statement)), 'application/vnd.in-toto+json', {
    fulcioURL: s.url,
    rekorURL: s.url,
    identityProvider: { getToken: () => Promise.resolve(idToken) },
  });
  const trust = parseTrustedRoot(s.trustedRoot);
  const r = verify(bundle, artifact, { identity: SUBJECT, issuer: s.issuer }, trust);
  assert.equal(r.statement?.predicateType, 'https://slsa.dev/provenance/v1');
  assert.equal(code(() => verify(bundle, Buffer.from('not the release'), { identity: SUBJECT, issuer: s.issuer }, trust)), 'ARTIFACT_MISMATCH');

  const artifactPath = join(s.work, 'release.tgz');
  const bundlePath = join(s.work, 'release.intoto.sigstore.json');
  writeFileSync(artifactPath, artifact);
  writeFileSync(bundlePath, JSON.stringify(bundle));
  const base = ['verify-attestation', artifactPath, '--bundle', bundlePath, '--trusted-root', s.trustedRootPath, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', s.issuer, '--type', 'slsaprovenance'];
  const ok = await cli([...base, '--condition', 'buildDefinition.externalParameters.repository=glob:your-org/*']);
  assert.equal(ok.code, 0, ok.stderr);
  const no = await cli([...base, '--condition', 'buildDefinition.externalParameters.repository=glob:other-org/*']);
  assert.equal(no.code, 1);
  assert.match(no.stderr, /\[CONDITION_FAILED\]/);
});

test('cairn sign / cairn attest (keyless and key-based) -> cairn verify', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const artifact = join(s.work, 'cairn-signed.txt');
  writeFileSync(artifact, `cairn signed ${Date.now()}\n`);
  const keyless = join(s.work, 'cairn-signed.keyless.json');
  const signed = await cli(['sign', artifact, '--url', s.url, '--bundle', keyless, '--identity-token', await s.token()]);
  assert.equal(signed.code, 0, signed.stderr);
  const idArgs = ['--certificate-identity', SUBJECT, '--certificate-oidc-issuer', s.issuer, '--trusted-root', s.trustedRootPath, '--offline'];
  const v1 = await cli(['verify', artifact, '--bundle', keyless, ...idArgs]);
  assert.equal(v1.code, 0, v1.stderr);

  // Key-based: P-256 and RSA keys, bundles naming the key by hint.
  for (const [type, opts] of [['ec', { namedCurve: 'P-256' }], ['rsa', { modulusLength: 2048 }]] as const) {
    const pair = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
    const keyPath = join(s.work, `signer-${type}.pem`);
    const pubPath = join(s.work, `signer-${type}.pub.pem`);
    writeFileSync(keyPath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pubPath, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    const out = join(s.work, `cairn-signed.${type}.json`);
    const k = await cli(['sign', artifact, '--url', s.url, '--bundle', out, '--key', keyPath]);
    assert.equal(k.code, 0, k.stderr);
    const kv = await cli(['verify', artifact, '--bundle', out, '--key', pubPath, '--trusted-root', s.trustedRootPath, '--offline']);
    assert.equal(kv.code, 0, `${type}: ${kv.stderr}`);
    const kvDigest = await cli(['verify', `sha256:${createHash('sha256').update(readFileSync(artifact)).digest('hex')}`, '--bundle', out, '--key', pubPath, '--trusted-root', s.trustedRootPath]);
    assert.equal(kvDigest.code, 0, `${type} by digest: ${kvDigest.stderr}`);
    const wrong = await cli(['verify', artifact, '--bundle', out, '--key', join(s.work, type === 'ec' ? 'signer-rsa.pub.pem' : 'signer-ec.pub.pem'), '--trusted-root', s.trustedRootPath]);
    if (type === 'rsa') {
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /\[KEY_MISMATCH\]/);
    }
  }

  // Attestations with both log kinds.
  const predicate = join(s.work, 'predicate.json');
  writeFileSync(predicate, JSON.stringify({ buildDefinition: { buildType: 'https://example.com/b/v1', externalParameters: { repository: 'your-org/app' } }, runDetails: { builder: { id: 'https://ci.example.internal' } } }));
  for (const kind of ['dsse', 'intoto']) {
    const out = join(s.work, `cairn-attested.${kind}.json`);
    const a = await cli(['attest', artifact, '--predicate', predicate, '--type', 'slsaprovenance', '--tlog-kind', kind, '--url', s.url, '--bundle', out, '--identity-token', await s.token()]);
    assert.equal(a.code, 0, a.stderr);
    const va = await cli(['verify-attestation', artifact, '--bundle', out, ...idArgs, '--type', 'slsaprovenance', '--condition', 'buildDefinition.externalParameters.repository=glob:your-org/*']);
    assert.equal(va.code, 0, `${kind}: ${va.stderr}`);
  }
});

test('a Rekor v2 (hashedrekord 0.0.2, tiles checkpoint) entry from the Cairn log verifies', async () => {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const artifact = Buffer.from(`v2 artifact ${Date.now()}`);
  const digest = createHash('sha256').update(artifact).digest();
  const signature = sign('sha256', artifact, pair.privateKey);
  const verifier = { publicKey: { rawBytes: pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' };
  const res = await fetch(`${s.url}/api/v2/log/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hashedRekordRequestV002: { digest: digest.toString('base64'), signature: { content: signature.toString('base64'), verifier } } }),
  });
  assert.equal(res.status, 201);
  const entry = (await res.json()) as any;
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'v2-signer' }, tlogEntries: [entry], timestampVerificationData: { rfc3161Timestamps: [] } },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') }, signature: signature.toString('base64') },
  };
  const trust = parseTrustedRoot(s.trustedRoot);
  // No SET and no TSA in this deployment: a v2 entry brings no trusted time (§3.5).
  assert.equal(code(() => verify(bundle, artifact, { publicKey: pem }, trust)), 'TIMESTAMP_THRESHOLD');
  const r = verify(bundle, artifact, { publicKey: pem, timestampThreshold: 0 }, trust);
  assert.equal(r.tlogEntries, 1);
  const tampered = clone(bundle);
  tampered.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = entry.inclusionProof.checkpoint.envelope.replace(/^[^\n]+/, 'other.example');
  assert.equal(code(() => verify(tampered, artifact, { publicKey: pem, timestampThreshold: 0 }, trust)), 'CHECKPOINT_INVALID');
});

test('an email identity (rfc822Name SAN) verifies by exact email and by pattern', async () => {
  const blob = Buffer.from(`email signed ${Date.now()}\n`);
  const idToken = await s.token({ email: 'release-bot@example.internal' });
  const bundle = await sigstore.sign(blob, { fulcioURL: s.url, rekorURL: s.url, identityProvider: { getToken: () => Promise.resolve(idToken) } });
  const trust = parseTrustedRoot(s.trustedRoot);
  const r = verify(bundle, blob, { identity: 'release-bot@example.internal', issuer: s.issuer }, trust);
  assert.equal(r.signer.type === 'certificate' && r.signer.identity, 'release-bot@example.internal');
  verify(bundle, blob, { identityRegExp: '^[a-z-]+@example\\.internal$', issuer: s.issuer }, trust);
  assert.equal(code(() => verify(bundle, blob, { identity: 'someone@example.internal', issuer: s.issuer }, trust)), 'IDENTITY_MISMATCH');
});
