/**
 * The verification library against the sigstore-conformance corpus: every happy path verifies
 * (by file and by digest), and each way a bundle can be wrong, derived in code from a happy path,
 * fails with its stable code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseTrustedRoot, verify, VerifyError, type VerificationPolicy, type VerifyErrorCode } from '@cairn/verify';
import { clone, flipBase64, HAPPY_CASES, loadCase, type Case } from './verify-fixtures.ts';

function policyOf(c: Case, extra: Partial<VerificationPolicy> = {}): VerificationPolicy {
  return c.keyPem ? { publicKey: c.keyPem, ...extra } : { identity: c.identity, issuer: c.issuer, ...extra };
}

function expectCode(code: VerifyErrorCode, f: () => unknown): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof VerifyError, `expected a VerifyError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

for (const name of HAPPY_CASES) {
  test(`verifies ${name} by file and by digest`, () => {
    const c = loadCase(name);
    const trust = parseTrustedRoot(c.trust);
    const r1 = verify(c.bundleText, c.artifact, policyOf(c), trust);
    const r2 = verify(c.bundle, c.digest, policyOf(c), trust);
    assert.ok(r1.tlogEntries >= 1 && r2.tlogEntries >= 1);
    assert.ok(r1.timestamps.length >= 1);
    if (r1.signer.type === 'certificate') {
      assert.equal(r1.signer.identity, c.identity);
      assert.equal(r1.signer.issuer, c.issuer);
      assert.equal(r1.scts, 1);
    } else {
      assert.equal(c.keyPem !== undefined, true);
    }
  });
}

const v03 = () => loadCase('happy-path-v0.3');
const v01 = () => loadCase('happy-path-v0.1');

test('tampered artifact: ARTIFACT_MISMATCH (file and digest)', () => {
  const c = v03();
  const trust = parseTrustedRoot(c.trust);
  const tampered = Buffer.concat([c.artifact, Buffer.from('x')]);
  expectCode('ARTIFACT_MISMATCH', () => verify(c.bundle, tampered, policyOf(c), trust));
  expectCode('ARTIFACT_MISMATCH', () => verify(c.bundle, 'sha256:' + '0'.repeat(64), policyOf(c), trust));
});

test('tampered DSSE subject: ARTIFACT_MISMATCH', () => {
  const c = loadCase('happy-path-intoto-in-dsse-v3');
  expectCode('ARTIFACT_MISMATCH', () => verify(c.bundle, Buffer.from('other'), policyOf(c), parseTrustedRoot(c.trust)));
});

test('wrong identity (exact and regexp): IDENTITY_MISMATCH', () => {
  const c = v03();
  const trust = parseTrustedRoot(c.trust);
  expectCode('IDENTITY_MISMATCH', () => verify(c.bundle, c.artifact, { identity: 'https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main', issuer: c.issuer }, trust));
  expectCode('IDENTITY_MISMATCH', () => verify(c.bundle, c.artifact, { identityRegExp: '^https://github\\.com/evil/', issuer: c.issuer }, trust));
  // and the positive regexp form
  verify(c.bundle, c.artifact, { identityRegExp: '^https://github\\.com/sigstore-conformance/', issuerRegExp: '^https://token\\.actions\\.' }, trust);
});

test('wrong issuer (exact and regexp): ISSUER_MISMATCH', () => {
  const c = v03();
  const trust = parseTrustedRoot(c.trust);
  expectCode('ISSUER_MISMATCH', () => verify(c.bundle, c.artifact, { identity: c.identity, issuer: 'https://accounts.google.com' }, trust));
  expectCode('ISSUER_MISMATCH', () => verify(c.bundle, c.artifact, { identity: c.identity, issuerRegExp: '^https://gitlab' }, trust));
});

test('untrusted CA: UNTRUSTED_CA', () => {
  const c = v03();
  const root = clone(c.trust);
  // Keep only a CA from another trusted root (the staging one) so the leaf chains to nothing.
  root.certificateAuthorities = loadCase('rekor2-happy-path').trust.certificateAuthorities;
  expectCode('UNTRUSTED_CA', () => verify(c.bundle, c.artifact, policyOf(c), parseTrustedRoot(root)));
});

test('certificate expired at signing time: CERT_EXPIRED_AT_SIGNING', () => {
  // The corpus case signs outside the certificate's own validity (valid signatures throughout).
  const real = loadCase('intoto-expired-certificate_fail');
  expectCode('CERT_EXPIRED_AT_SIGNING', () => verify(real.bundle, real.artifact, policyOf(real), parseTrustedRoot(real.trust)));
  // Derived: the trusted root's CA validity window ends before the signing time.
  const c = v03();
  const root = clone(c.trust);
  for (const ca of root.certificateAuthorities) ca.validFor = { start: '2021-01-01T00:00:00Z', end: '2023-01-01T00:00:00Z' };
  expectCode('CERT_EXPIRED_AT_SIGNING', () => verify(c.bundle, c.artifact, policyOf(c), parseTrustedRoot(root)));
});

test('bad SET: SET_INVALID', () => {
  const c = v01();
  const b = clone(c.bundle);
  const e = b.verificationMaterial.tlogEntries[0];
  e.inclusionPromise.signedEntryTimestamp = flipBase64(e.inclusionPromise.signedEntryTimestamp, 10);
  expectCode('SET_INVALID', () => verify(b, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
  // A changed integrated time breaks the SET as well.
  const b2 = clone(c.bundle);
  b2.verificationMaterial.tlogEntries[0].integratedTime = String(Number(b2.verificationMaterial.tlogEntries[0].integratedTime) + 1);
  expectCode('SET_INVALID', () => verify(b2, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
});

test('bad inclusion proof: TLOG_INCLUSION_INVALID', () => {
  const c = v03();
  const b = clone(c.bundle);
  const p = b.verificationMaterial.tlogEntries[0].inclusionProof;
  p.hashes[2] = flipBase64(p.hashes[2], 0);
  expectCode('TLOG_INCLUSION_INVALID', () => verify(b, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
  const b2 = clone(c.bundle);
  b2.verificationMaterial.tlogEntries[0].inclusionProof.hashes.pop();
  expectCode('TLOG_INCLUSION_INVALID', () => verify(b2, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
  const b3 = clone(c.bundle);
  b3.verificationMaterial.tlogEntries[0].inclusionProof.logIndex = String(Number(b3.verificationMaterial.tlogEntries[0].inclusionProof.logIndex) - 1);
  expectCode('TLOG_INCLUSION_INVALID', () => verify(b3, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
});

test('bad checkpoint: CHECKPOINT_INVALID', () => {
  for (const name of ['happy-path-v0.3', 'rekor2-happy-path']) {
    const c = loadCase(name);
    const trust = parseTrustedRoot(c.trust);
    const env: string = c.bundle.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope;
    // 1. a flipped signature byte
    const [body, sigLine] = env.split('\n\n');
    const parts = sigLine!.trimEnd().split(' ');
    parts[2] = flipBase64(parts[2]!, -3);
    const b1 = clone(c.bundle);
    b1.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = `${body}\n\n${parts.join(' ')}\n`;
    expectCode('CHECKPOINT_INVALID', () => verify(b1, c.artifact, policyOf(c), trust));
    // 2. a different tree size in the signed text
    const lines = env.split('\n');
    lines[1] = String(Number(lines[1]) + 1);
    const b2 = clone(c.bundle);
    b2.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = lines.join('\n');
    expectCode('CHECKPOINT_INVALID', () => verify(b2, c.artifact, policyOf(c), trust));
    // 3. garbage
    const b3 = clone(c.bundle);
    b3.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = 'not a checkpoint';
    expectCode('CHECKPOINT_INVALID', () => verify(b3, c.artifact, policyOf(c), trust));
  }
});

test('wrong key: KEY_MISMATCH; missing key: KEY_REQUIRED', () => {
  const c = loadCase('managed-key-happy-path');
  const trust = parseTrustedRoot(c.trust);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  expectCode('KEY_MISMATCH', () => verify(c.bundle, c.artifact, { publicKey: other }, trust));
  expectCode('KEY_MISMATCH', () => verify(c.bundle, c.digest, { publicKey: other }, trust));
  expectCode('KEY_REQUIRED', () => verify(c.bundle, c.artifact, { identity: 'x', issuer: 'y' }, trust));
  // --key against a certificate bundle checks the certificate's key.
  const k = v03();
  expectCode('KEY_MISMATCH', () => verify(k.bundle, k.artifact, { publicKey: other }, parseTrustedRoot(k.trust)));
});

test('tampered signature: SIGNATURE_INVALID (message and DSSE)', () => {
  const c = v03();
  const b = clone(c.bundle);
  b.messageSignature.signature = flipBase64(b.messageSignature.signature, -2);
  expectCode('SIGNATURE_INVALID', () => verify(b, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
  expectCode('SIGNATURE_INVALID', () => verify(b, c.digest, policyOf(c), parseTrustedRoot(c.trust)));
  const d = loadCase('happy-path-intoto-in-dsse-v3');
  const bd = clone(d.bundle);
  bd.dsseEnvelope.signatures[0].sig = flipBase64(bd.dsseEnvelope.signatures[0].sig, -2);
  expectCode('SIGNATURE_INVALID', () => verify(bd, d.artifact, policyOf(d), parseTrustedRoot(d.trust)));
});

test('log entry for something else: TLOG_ENTRY_MISMATCH', () => {
  const a = v03();
  const other = loadCase('happy-path-intoto-in-dsse-v3');
  const b = clone(a.bundle);
  b.verificationMaterial.tlogEntries[0].canonicalizedBody = other.bundle.verificationMaterial.tlogEntries[0].canonicalizedBody;
  expectCode('TLOG_ENTRY_MISMATCH', () => verify(b, a.artifact, policyOf(a), parseTrustedRoot(a.trust)));
  const b2 = clone(a.bundle);
  b2.verificationMaterial.tlogEntries[0].kindVersion.version = '0.0.2';
  expectCode('TLOG_ENTRY_MISMATCH', () => verify(b2, a.artifact, policyOf(a), parseTrustedRoot(a.trust)));
});

test('a changed DSSE payload type breaks the PAE signature: SIGNATURE_INVALID', () => {
  const c = loadCase('intoto-with-custom-trust-root');
  const b = clone(c.bundle);
  b.dsseEnvelope.payloadType = 'application/vnd.other+json';
  // The PAE covers the payload type; the logged type is checked too (tlog.test.ts).
  expectCode('SIGNATURE_INVALID', () => verify(b, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
});

test('log not in the trusted root: TLOG_UNTRUSTED; too few entries: TLOG_THRESHOLD', () => {
  const c = v03();
  const root = clone(c.trust);
  root.tlogs = root.tlogs.filter((t: any) => t.baseUrl !== 'https://rekor.sigstore.dev');
  expectCode('TLOG_UNTRUSTED', () => verify(c.bundle, c.artifact, policyOf(c), parseTrustedRoot(root)));
  expectCode('TLOG_THRESHOLD', () => verify(c.bundle, c.artifact, policyOf(c, { tlogThreshold: 2 }), parseTrustedRoot(c.trust)));
  const b = clone(c.bundle);
  b.verificationMaterial.tlogEntries = [];
  expectCode('TLOG_THRESHOLD', () => verify(b, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
});

test('SCTs: unknown CT log SCT_INVALID, threshold SCT_THRESHOLD, tampered SCT SCT_INVALID', () => {
  const c = v03();
  const root = clone(c.trust);
  root.ctlogs = [];
  expectCode('SCT_INVALID', () => verify(c.bundle, c.artifact, policyOf(c), parseTrustedRoot(root)));
  // Threshold 0 skips SCTs entirely.
  verify(c.bundle, c.artifact, policyOf(c, { ctlogThreshold: 0 }), parseTrustedRoot(root));
  expectCode('SCT_THRESHOLD', () => verify(c.bundle, c.artifact, policyOf(c, { ctlogThreshold: 2 }), parseTrustedRoot(c.trust)));
  // A CT log key that is not the one that signed: same log id, different key.
  const root2 = clone(c.trust);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  for (const l of root2.ctlogs) l.publicKey.rawBytes = other.toString('base64');
  expectCode('SCT_INVALID', () => verify(c.bundle, c.artifact, policyOf(c), parseTrustedRoot(root2)));
});

test('RFC 3161: tampered token TIMESTAMP_INVALID, none TIMESTAMP_THRESHOLD, unknown TSA TIMESTAMP_UNTRUSTED', () => {
  const c = loadCase('rekor2-happy-path');
  const trust = parseTrustedRoot(c.trust);
  const b = clone(c.bundle);
  const ts = b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0];
  ts.signedTimestamp = flipBase64(ts.signedTimestamp, -5);
  expectCode('TIMESTAMP_INVALID', () => verify(b, c.artifact, policyOf(c), trust));
  const b2 = clone(c.bundle);
  b2.verificationMaterial.timestampVerificationData.rfc3161Timestamps = [];
  expectCode('TIMESTAMP_THRESHOLD', () => verify(b2, c.artifact, policyOf(c), trust));
  const b3 = clone(c.bundle);
  b3.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp = Buffer.from('3003020100', 'hex').toString('base64');
  expectCode('TIMESTAMP_INVALID', () => verify(b3, c.artifact, policyOf(c), trust));
  const root = clone(c.trust);
  root.timestampAuthorities = [];
  expectCode('TIMESTAMP_UNTRUSTED', () => verify(c.bundle, c.artifact, policyOf(c), parseTrustedRoot(root)));
});

test('malformed bundles: BUNDLE_INVALID / UNSUPPORTED_BUNDLE_VERSION', () => {
  const c = v03();
  const trust = parseTrustedRoot(c.trust);
  const cases: Array<[VerifyErrorCode, (b: any) => void]> = [
    ['UNSUPPORTED_BUNDLE_VERSION', (b) => (b.mediaType = 'application/vnd.dev.sigstore.bundle.v0.4+json')],
    ['BUNDLE_INVALID', (b) => (b.extra = 1)],
    ['BUNDLE_INVALID', (b) => delete b.messageSignature],
    ['BUNDLE_INVALID', (b) => (b.verificationMaterial.x509CertificateChain = { certificates: [b.verificationMaterial.certificate] })],
    ['BUNDLE_INVALID', (b) => (b.messageSignature.messageDigest.algorithm = 'MD5')],
    ['BUNDLE_INVALID', (b) => (b.verificationMaterial.tlogEntries[0].logIndex = '-1')],
    ['BUNDLE_INVALID', (b) => delete b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint],
    ['CERT_INVALID', (b) => (b.verificationMaterial.certificate.rawBytes = Buffer.from('3003020100', 'hex').toString('base64'))],
  ];
  for (const [code, mutate] of cases) {
    const b = clone(c.bundle);
    mutate(b);
    expectCode(code, () => verify(b, c.artifact, policyOf(c), trust));
  }
  expectCode('BUNDLE_INVALID', () => verify('{"mediaType": ', c.artifact, policyOf(c), trust));
});

test('malformed trusted roots: TRUST_ROOT_INVALID', () => {
  const c = v03();
  const mutations: Array<(r: any) => void> = [
    (r) => (r.mediaType = 'application/json'),
    (r) => (r.tlogs[0].publicKey.keyDetails = 'PKIX_SOMETHING_NEW'),
    (r) => (r.tlogs[0].hashAlgorithm = 'SHA1'),
    (r) => delete r.tlogs[0].publicKey.validFor,
    (r) => delete r.ctlogs[0].publicKey.validFor.start,
    (r) => (r.tlogs[0].publicKey.validFor.start = 'yesterday'),
    (r) => (r.certificateAuthorities[0].certChain.certificates = []),
    (r) => (r.tlogs[0].publicKey.keyDetails = 'PKIX_ED25519'),
    (r) => (r.unknown = true),
  ];
  for (const m of mutations) {
    const r = clone(c.trust);
    m(r);
    expectCode('TRUST_ROOT_INVALID', () => parseTrustedRoot(r));
  }
});

test('policy mistakes: POLICY_INVALID', () => {
  const c = v03();
  const trust = parseTrustedRoot(c.trust);
  expectCode('POLICY_INVALID', () => verify(c.bundle, c.artifact, { issuer: c.issuer }, trust));
  expectCode('POLICY_INVALID', () => verify(c.bundle, c.artifact, { identityRegExp: 'a'.repeat(2000), issuer: c.issuer }, trust));
  expectCode('POLICY_INVALID', () => verify(c.bundle, c.artifact, { identityRegExp: '(', issuer: c.issuer }, trust));
  expectCode('POLICY_INVALID', () => verify(c.bundle, c.artifact, { identity: c.identity, identityRegExp: '.*', issuer: c.issuer }, trust));
  expectCode('POLICY_INVALID', () => verify(c.bundle, 'sha256:XYZ', policyOf(c), trust));
  expectCode('POLICY_INVALID', () => verify(c.bundle, c.artifact, policyOf(c, { tlogThreshold: -1 }), trust));
});

test('an entry with neither SET nor inclusion proof: TLOG_INCLUSION_MISSING', async () => {
  // Bundle parsing already refuses this for every version; a caller handing in a parsed Bundle
  // object is still checked.
  const { parseBundle } = await import('@cairn/verify');
  const c = v01();
  const parsed = parseBundle(c.bundle);
  parsed.verificationMaterial.tlogEntries[0]!.signedEntryTimestamp = undefined;
  parsed.verificationMaterial.tlogEntries[0]!.inclusionProof = undefined;
  expectCode('TLOG_INCLUSION_MISSING', () => verify(parsed, c.artifact, policyOf(c), parseTrustedRoot(c.trust)));
});
