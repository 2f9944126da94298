import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BundleError, parseBundle, parseBundleJson } from './parse.ts';
import { codeOf } from '../../../../test/helpers/codes.ts';

const corpus = fileURLToPath(new URL('../../../../test/vectors/conformance/bundle-verify/', import.meta.url));
const load = (name: string): any => JSON.parse(readFileSync(`${corpus}${name}/bundle.sigstore.json`, 'utf8'));

const code = codeOf(BundleError);

test('parses v0.1, v0.2, both v0.3 media types, DSSE and key-hint bundles', () => {
  const b1 = parseBundle(load('happy-path-v0.1'));
  assert.equal(b1.version, '0.1');
  assert.equal(b1.verificationMaterial.content.type, 'x509CertificateChain');
  assert.equal(b1.verificationMaterial.tlogEntries[0]!.integratedTime > 0, true);
  assert.equal(parseBundle(load('happy-path-v0.2')).version, '0.2');
  const b3 = parseBundle(load('happy-path-v0.3'));
  assert.equal(b3.version, '0.3');
  assert.equal(b3.content.type, 'messageSignature');
  assert.equal(parseBundle(load('happy-path-v0.3-new-mediaType')).mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  const d = parseBundle(load('happy-path-intoto-in-dsse-v3'));
  assert.equal(d.content.type, 'dsseEnvelope');
  const k = parseBundle(load('managed-key-happy-path'));
  assert.equal(k.verificationMaterial.content.type, 'publicKey');
  const v2 = parseBundle(load('rekor2-happy-path'));
  assert.equal(v2.verificationMaterial.tlogEntries[0]!.integratedTime, 0);
  assert.equal(v2.verificationMaterial.rfc3161Timestamps.length, 1);
});

test('version rules: v0.1 needs the SET, v0.2+ the proof with checkpoint, v0.3 no chain', () => {
  const b1 = load('happy-path-v0.1');
  delete b1.verificationMaterial.tlogEntries[0].inclusionPromise;
  assert.equal(code(() => parseBundle(b1)), 'BUNDLE_INVALID');
  const b2 = load('happy-path-v0.2');
  delete b2.verificationMaterial.tlogEntries[0].inclusionProof;
  assert.equal(code(() => parseBundle(b2)), 'BUNDLE_INVALID');
  const b3 = load('happy-path-v0.3');
  b3.verificationMaterial.x509CertificateChain = { certificates: [b3.verificationMaterial.certificate] };
  delete b3.verificationMaterial.certificate;
  assert.equal(code(() => parseBundle(b3)), 'BUNDLE_INVALID');
  const b4 = load('happy-path-v0.1');
  b4.verificationMaterial.certificate = b4.verificationMaterial.x509CertificateChain.certificates[0];
  delete b4.verificationMaterial.x509CertificateChain;
  assert.equal(code(() => parseBundle(b4)), 'BUNDLE_INVALID', 'certificate is a v0.3 form');
});

test('strictness: unknown fields, bad base64, bad integers, sizes, media types', () => {
  const mutations: Array<[string, (b: any) => void]> = [
    ['BUNDLE_INVALID', (b) => (b.verificationMaterial.extra = {})],
    ['BUNDLE_INVALID', (b) => (b.messageSignature.signature = 'not base64!')],
    ['BUNDLE_INVALID', (b) => (b.messageSignature.signature = b.messageSignature.signature.replace(/=+$/, ''))],
    ['BUNDLE_INVALID', (b) => (b.messageSignature.signature = '')],
    ['BUNDLE_INVALID', (b) => (b.verificationMaterial.tlogEntries[0].logIndex = '1.5')],
    ['BUNDLE_INVALID', (b) => (b.verificationMaterial.tlogEntries[0].logIndex = '99999999999999999999')],
    ['BUNDLE_INVALID', (b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.hashes = Array(65).fill('AA=='))],
    ['BUNDLE_INVALID', (b) => (b.verificationMaterial.tlogEntries = Array(33).fill(b.verificationMaterial.tlogEntries[0]))],
    ['BUNDLE_INVALID', (b) => (b.dsseEnvelope = { payload: 'AA==', payloadType: 'x', signatures: [] })],
    ['BUNDLE_INVALID', (b) => delete b.verificationMaterial],
    ['UNSUPPORTED_BUNDLE_VERSION', (b) => (b.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.4')],
    ['UNSUPPORTED_BUNDLE_VERSION', (b) => (b.mediaType = 'application/json')],
  ];
  for (const [want, m] of mutations) {
    const b = load('happy-path-v0.3');
    m(b);
    assert.equal(code(() => parseBundle(b)), want, m.toString());
  }
  const d = load('happy-path-intoto-in-dsse-v3');
  d.dsseEnvelope.signatures.push(d.dsseEnvelope.signatures[0]);
  assert.equal(code(() => parseBundle(d)), 'BUNDLE_INVALID', 'exactly one DSSE signature');
  assert.equal(code(() => parseBundleJson('[')), 'BUNDLE_INVALID');
  assert.equal(code(() => parseBundleJson('[]')), 'BUNDLE_INVALID');
  assert.equal(code(() => parseBundleJson(' '.repeat(16 * 1024 * 1024 + 1))), 'BUNDLE_INVALID');
  // int64 fields also accept JSON numbers (protobuf JSON parsers do).
  const n = load('happy-path-v0.3');
  n.verificationMaterial.tlogEntries[0].logIndex = 79571823;
  assert.equal(parseBundle(n).verificationMaterial.tlogEntries[0]!.logIndex, 79571823);
});

test('proto3 JSON defaults: omitted int64 fields are 0 and omitted lists empty', () => {
  const b = load('happy-path-v0.3');
  const e = b.verificationMaterial.tlogEntries[0];
  delete e.logIndex;
  delete e.inclusionProof.logIndex;
  delete e.inclusionProof.hashes;
  const parsed = parseBundle(b).verificationMaterial.tlogEntries[0]!;
  assert.equal(parsed.logIndex, 0);
  assert.equal(parsed.inclusionProof!.logIndex, 0);
  assert.deepEqual(parsed.inclusionProof!.hashes, []);
  delete b.verificationMaterial.tlogEntries[0].inclusionProof.rootHash;
  assert.equal(code(() => parseBundle(b)), 'BUNDLE_INVALID', 'a proof needs its root hash');
});
