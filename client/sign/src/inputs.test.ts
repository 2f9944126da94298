import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, LocalSigner } from '@cairn/shared';
import { attest, sign } from './sign.ts';
import { identityToken, loadSigningKey, serviceUrls } from './inputs.ts';

const dir = mkdtempSync(join(tmpdir(), 'cairn-sign-inputs-'));

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('service URLs: specific flags over --url over CAIRN_URL', () => {
  assert.deepEqual(serviceUrls({}, { CAIRN_URL: 'http://a' }), { fulcioUrl: 'http://a', rekorUrl: 'http://a' });
  assert.deepEqual(serviceUrls({ url: 'http://b' }, { CAIRN_URL: 'http://a' }), { fulcioUrl: 'http://b', rekorUrl: 'http://b' });
  assert.deepEqual(serviceUrls({ url: 'http://b', 'rekor-url': 'http://r' }, {}), { fulcioUrl: 'http://b', rekorUrl: 'http://r' });
  assert.deepEqual(serviceUrls({}, { CAIRN_URL: '' }), {});
});

test('token sources: --identity-token, then SIGSTORE_ID_TOKEN; conflicts and gaps have codes', async () => {
  assert.equal(await identityToken({ 'identity-token': 'a.b.c' }, { SIGSTORE_ID_TOKEN: 'x.y.z' }, dir), 'a.b.c');
  assert.equal(await identityToken({}, { SIGSTORE_ID_TOKEN: 'x.y.z' }, dir), 'x.y.z');
  assert.equal(await codeOf(identityToken({}, {}, dir)), 'TOKEN_MISSING');
  assert.equal(await codeOf(identityToken({}, { SIGSTORE_ID_TOKEN: '' }, dir)), 'TOKEN_MISSING');
  assert.equal(await codeOf(identityToken({ 'identity-token': 't', 'oidc-issuer': 'http://i' }, {}, dir)), 'INPUT_INVALID');
  assert.equal(await codeOf(identityToken({ 'oidc-issuer': 'http://i', 'oidc-client-id': 'c' }, {}, dir)), 'INPUT_INVALID');
  assert.equal(await codeOf(identityToken({ 'oidc-issuer': 'http://i', 'oidc-client-id': 'c', 'oidc-client-secret-file': join(dir, 'nope') }, {}, dir)), 'INPUT_INVALID');
});

test('signing keys: PKCS#8, SEC1 and PKCS#1 PEM load; passphrase rules', async () => {
  const ec = generateKey('ecdsa-p256');
  const sec1 = join(dir, 'sec1.pem');
  writeFileSync(sec1, ec.export({ type: 'sec1', format: 'pem' }));
  assert.equal(loadSigningKey(sec1, undefined, {}, dir).algorithm, 'ecdsa-p256-sha256');
  const rsa = join(dir, 'pkcs1.pem');
  writeFileSync(rsa, generateKey('rsa-2048').export({ type: 'pkcs1', format: 'pem' }));
  assert.equal(loadSigningKey(rsa, undefined, {}, dir).algorithm, 'rsa-pkcs1-sha256');
  const enc = join(dir, 'enc.pem');
  writeFileSync(enc, ec.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }));
  const pass = join(dir, 'pass');
  writeFileSync(pass, 'pw\r\n');
  assert.equal(loadSigningKey(enc, pass, {}, dir).publicKey.spki.length > 0, true);
  assert.equal(loadSigningKey(enc, undefined, { CAIRN_KEY_PASSPHRASE: 'pw' }, dir).algorithm, 'ecdsa-p256-sha256');
  assert.equal(await codeOf(() => loadSigningKey(enc, undefined, {}, dir)), 'KEY_PASSPHRASE');
  assert.equal(await codeOf(() => loadSigningKey(enc, undefined, { CAIRN_KEY_PASSPHRASE: 'wrong' }, dir)), 'KEY_PASSPHRASE');
  const p384 = join(dir, 'p384.pem');
  writeFileSync(p384, generateKey('ecdsa-p384').export({ type: 'pkcs8', format: 'pem' }));
  // P-384 loads as a key, but sign() refuses it (hashedrekord SHA-256 bundles); see KEY_ALGORITHMS.
  assert.equal(loadSigningKey(p384, undefined, {}, dir).algorithm, 'ecdsa-p384-sha384');
  const big = join(dir, 'big.pem');
  writeFileSync(big, 'x'.repeat(70 * 1024));
  assert.equal(await codeOf(() => loadSigningKey(big, undefined, {}, dir)), 'INPUT_INVALID');
  assert.equal(await codeOf(() => loadSigningKey(join(dir, 'missing.pem'), undefined, {}, dir)), 'INPUT_INVALID');
});

test('sign() refuses keys outside the allow-list and both identities at once, without any network', async () => {
  const p384 = new LocalSigner(generateKey('ecdsa-p384'));
  assert.equal(await codeOf(sign(Buffer.from('x'), { signer: p384, tlogUpload: false })), 'KEY_UNSUPPORTED');
  const ed = new LocalSigner(generateKey('ed25519'));
  assert.equal(await codeOf(attest(Buffer.from('{}'), { signer: ed, tlogUpload: false })), 'KEY_UNSUPPORTED');
  const p256 = new LocalSigner(generateKey('ecdsa-p256'));
  assert.equal(await codeOf(sign(Buffer.from('x'), { signer: p256, identityToken: 'a.b.c', rekorUrl: 'http://127.0.0.1:1' })), 'INPUT_INVALID');
  assert.equal(await codeOf(sign(Buffer.from('x'), { identityToken: 'a.b.c', tlogUpload: false })), 'INPUT_INVALID');
  const ok = await sign(Buffer.from('x'), { signer: p256, tlogUpload: false });
  assert.equal(ok.bundle.verificationMaterial.tlogEntries, undefined);
});
