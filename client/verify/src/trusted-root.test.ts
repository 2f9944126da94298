import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VerifyError } from './errors.ts';
import { parseTrustedRoot, parseTrustedRootJson, within } from './trusted-root.ts';
import { codeOf } from '../../../test/helpers/codes.ts';

const conformance = fileURLToPath(new URL('../../../test/vectors/conformance/', import.meta.url));
const production = (): any => JSON.parse(readFileSync(`${conformance}production_trusted_root.json`, 'utf8'));
const staging = (): any => JSON.parse(readFileSync(`${conformance}bundle-verify/rekor2-happy-path/trusted_root.json`, 'utf8'));

const code = codeOf(VerifyError);

test('parses the production and staging roots: keys by keyDetails, chains, windows', () => {
  const p = parseTrustedRoot(production());
  assert.equal(p.tlogs.length, 2);
  assert.equal(p.tlogs[1]!.keyDetails, 'PKIX_ED25519');
  assert.equal(p.tlogs[1]!.publicKey.asymmetricKeyType, 'ed25519');
  assert.equal(p.certificateAuthorities[1]!.certChain.length, 2);
  assert.equal(p.ctlogs[0]!.validFor.end?.toISOString(), '2022-10-31T23:59:59.999Z');
  // The staging root lists a CT log key as PKCS#1 RSA (what sigstore-js reads for RSA keyDetails).
  const s = parseTrustedRoot(staging());
  const rsa = s.ctlogs.find((l) => l.keyDetails === 'PKCS1_RSA_PKCS1V5')!;
  assert.equal(rsa.publicKey.asymmetricKeyType, 'rsa');
});

test('checkpointKeyId, when present, is the identity bundles use', () => {
  const r = production();
  const id = Buffer.alloc(32, 7).toString('base64');
  r.tlogs[0].checkpointKeyId = { keyId: id };
  assert.equal(parseTrustedRoot(r).tlogs[0]!.logId.toString('base64'), id);
});

test('validity windows: CA validFor may be open; log validFor.start is required', () => {
  const r = production();
  delete r.certificateAuthorities[0].validFor;
  const ca = parseTrustedRoot(r).certificateAuthorities[0]!;
  assert.equal(within(ca.validFor, new Date(0)), true);
  const w = { start: new Date('2025-01-01T00:00:00Z'), end: new Date('2025-02-01T00:00:00Z') };
  assert.equal(within(w, new Date('2025-01-01T00:00:00Z')), true, 'start is inclusive');
  assert.equal(within(w, new Date('2025-02-01T00:00:00Z')), true, 'end is inclusive');
  assert.equal(within(w, new Date('2025-02-01T00:00:00.001Z')), false);
  const bad = production();
  bad.tlogs[0].publicKey.validFor = { end: '2030-01-01T00:00:00Z' };
  assert.equal(code(() => parseTrustedRoot(bad)), 'TRUST_ROOT_INVALID');
  const reversed = production();
  reversed.tlogs[0].publicKey.validFor = { start: '2030-01-01T00:00:00Z', end: '2020-01-01T00:00:00Z' };
  assert.equal(code(() => parseTrustedRoot(reversed)), 'TRUST_ROOT_INVALID');
});

test('keys must match their keyDetails; sizes and enums are bounded', () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const mutations: Array<(r: any) => void> = [
    (r) => (r.tlogs[0].publicKey.rawBytes = p384), // P-384 key labelled P-256
    (r) => (r.tlogs[0].publicKey.rawBytes = 'AAAA'),
    (r) => (r.tlogs[0].publicKey.keyDetails = 'PKIX_RSA_PKCS1V15_2048_SHA256'),
    (r) => (r.tlogs[0].logId.keyId = 'AAAA'),
    (r) => (r.certificateAuthorities[0].certChain.certificates[0].rawBytes = 'AAAA'),
    (r) => (r.tlogs = Array(65).fill(r.tlogs[0])),
    (r) => (r.certificateAuthorities[0].subject.extra = 'x'),
  ];
  for (const m of mutations) {
    const r = production();
    m(r);
    assert.equal(code(() => parseTrustedRoot(r)), 'TRUST_ROOT_INVALID', m.toString());
  }
  const v02 = production();
  v02.mediaType = 'application/vnd.dev.sigstore.trustedroot.v0.2+json';
  parseTrustedRoot(v02);
  assert.equal(code(() => parseTrustedRootJson('{')), 'TRUST_ROOT_INVALID');
  assert.equal(code(() => parseTrustedRootJson(' '.repeat(4 * 1024 * 1024 + 1))), 'TRUST_ROOT_INVALID');
});
