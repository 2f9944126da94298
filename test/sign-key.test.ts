/**
 * Key-based signing (`--key`), the fallback for a CA outage: an encrypted PKCS#8 key, the
 * passphrase from a file or CAIRN_KEY_PASSPHRASE, the entry still logged (public-key
 * hashedrekord / dsse) unless --no-tlog-upload. Verified by @sigstore/verify with the key
 * given out of band under the bundle's publicKey.hint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey, privateKeyToPem, PublicKey, LocalSigner, sha256 } from '@cairn/shared';
import { cli, readJson, sigstoreVerifyBundle, startSignStack, protobufSpecs, type SignStack } from './sign-fixtures.ts';

let s: SignStack;
let artifact: string;
let keyPath: string;
let passFile: string;
let publicKey: PublicKey;
const content = Buffer.from('signed with a local key\n');
const PASSPHRASE = 'correct horse battery staple';

function keysFor(hint: string, pk: PublicKey) {
  return { [hint]: { rawBytes: pk.spki, keyDetails: protobufSpecs.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256 } };
}

before(async () => {
  s = await startSignStack();
  artifact = join(s.work, 'artifact.bin');
  writeFileSync(artifact, content);
  const key = generateKey('ecdsa-p256');
  publicKey = new LocalSigner(key).publicKey;
  keyPath = join(s.work, 'signing-key.pem');
  writeFileSync(keyPath, privateKeyToPem(key, PASSPHRASE), { mode: 0o600 });
  passFile = join(s.work, 'passphrase');
  writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
});

after(async () => {
  await s?.stack.close();
});

test('--key with an encrypted key and --key-passphrase-file: logged, publicKey hint, verifies', async () => {
  const out = join(s.work, 'key.sigstore.json');
  const r = await cli(['sign', artifact, '--bundle', out, '--url', s.url, '--key', keyPath, '--key-passphrase-file', passFile]);
  assert.equal(r.code, 0, r.stderr);
  const b = readJson(out);
  const hint = sha256(publicKey.spki).toString('base64');
  assert.deepEqual(b.verificationMaterial.publicKey, { hint });
  assert.equal(b.verificationMaterial.certificate, undefined);
  const entry = b.verificationMaterial.tlogEntries[0];
  assert.deepEqual(entry.kindVersion, { kind: 'hashedrekord', version: '0.0.1' });
  // The log entry names the public key itself (PEM), not a certificate.
  const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString());
  assert.equal(PublicKey.fromPem(Buffer.from(body.spec.signature.publicKey.content, 'base64').toString()).spki.toString('hex'), publicKey.spki.toString('hex'));
  sigstoreVerifyBundle(s, b, content, {}, { keys: keysFor(hint, publicKey) });
  const other = new LocalSigner(generateKey('ecdsa-p256')).publicKey;
  assert.throws(() => sigstoreVerifyBundle(s, b, content, {}, { keys: keysFor(hint, other) }));
});

test('--key with the passphrase from CAIRN_KEY_PASSPHRASE; attest with a key (dsse entry, keyid = hint)', async () => {
  const predicate = join(s.work, 'pred.json');
  writeFileSync(predicate, JSON.stringify({ note: 'built offline' }));
  const out = join(s.work, 'key-attest.sigstore.json');
  const r = await cli(['attest', artifact, '--predicate', predicate, '--type', 'https://example.com/predicate/v1', '--bundle', out, '--url', s.url, '--key', keyPath], { CAIRN_KEY_PASSPHRASE: PASSPHRASE });
  assert.equal(r.code, 0, r.stderr);
  const b = readJson(out);
  const hint = b.verificationMaterial.publicKey.hint as string;
  assert.equal(b.dsseEnvelope.signatures[0].keyid, hint);
  assert.deepEqual(b.verificationMaterial.tlogEntries[0].kindVersion, { kind: 'dsse', version: '0.0.1' });
  sigstoreVerifyBundle(s, b, undefined, {}, { keys: keysFor(hint, publicKey) });
});

test('--no-tlog-upload: no log entry, verifies only with tlog and timestamp thresholds of 0', async () => {
  const out = join(s.work, 'nolog.sigstore.json');
  const r = await cli(['sign', artifact, '--bundle', out, '--key', keyPath, '--key-passphrase-file', passFile, '--no-tlog-upload']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Not logged/);
  const b = readJson(out);
  assert.equal(b.verificationMaterial.tlogEntries, undefined);
  const hint = b.verificationMaterial.publicKey.hint as string;
  sigstoreVerifyBundle(s, b, content, {}, { keys: keysFor(hint, publicKey), tlogThreshold: 0, timestampThreshold: 0 });
  // With default thresholds the missing log entry is caught.
  assert.throws(() => sigstoreVerifyBundle(s, b, content, {}, { keys: keysFor(hint, publicKey) }));
});

test('RSA keys sign deterministically: signing twice hits the log conflict path and returns the existing entry', async () => {
  const rsa = join(s.work, 'rsa.pem');
  const key = generateKey('rsa-2048');
  writeFileSync(rsa, privateKeyToPem(key), { mode: 0o600 });
  const first = join(s.work, 'rsa-1.sigstore.json');
  const second = join(s.work, 'rsa-2.sigstore.json');
  const r1 = await cli(['sign', artifact, '--bundle', first, '--url', s.url, '--key', rsa]);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await cli(['sign', artifact, '--bundle', second, '--url', s.url, '--key', rsa]);
  assert.equal(r2.code, 0, r2.stderr);
  const [b1, b2] = [readJson(first), readJson(second)];
  assert.equal(b1.messageSignature.signature, b2.messageSignature.signature);
  assert.equal(b2.verificationMaterial.tlogEntries[0].logIndex, b1.verificationMaterial.tlogEntries[0].logIndex);
  const pk = new LocalSigner(key).publicKey;
  const hint = b2.verificationMaterial.publicKey.hint as string;
  sigstoreVerifyBundle(s, b2, content, {}, { keys: { [hint]: { rawBytes: pk.spki, keyDetails: protobufSpecs.PublicKeyDetails.PKIX_RSA_PKCS1V15_2048_SHA256 } } });
});
