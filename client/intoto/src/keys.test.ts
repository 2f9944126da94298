import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { IntotoError } from './errors.ts';
import { generateKeyFiles, loadPublicKey, loadSigningKey, publicKeyFromMetadata, verifyBytes } from './keys.ts';

const KEYS = new URL('../../../test/fixtures/intoto/reference/keys/', import.meta.url).pathname;
const KEYIDS = JSON.parse(readFileSync(join(KEYS, 'keyids.json'), 'utf8')) as Record<string, string>;

test('keyids of reference keys equal securesystemslib (ed25519 JSON, ecdsa JSON with trailing newline, RSA PEM)', () => {
  for (const name of ['owner', 'alice', 'bob', 'carol']) {
    assert.equal(loadPublicKey(join(KEYS, `${name}.pub`)).keyid, KEYIDS[name], name);
  }
  assert.equal(loadPublicKey(join(KEYS, 'bob.pub')).scheme, 'rsassa-pss-sha256');
});

test('keyid_hash_algorithms in a key file does not change the keyid (securesystemslib always hashes its setting)', () => {
  const k = JSON.parse(readFileSync(join(KEYS, 'owner.pub'), 'utf8'));
  k.keyid_hash_algorithms = ['sha512'];
  assert.equal(publicKeyFromMetadata(k).keyid, KEYIDS.owner);
});

test('keygen writes the reference formats, private files 0600, and the keys sign and verify', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-keys-'));
  for (const t of ['ed25519', 'ecdsa', 'rsa'] as const) {
    const out = join(dir, t);
    const pub = generateKeyFiles(t, out, 2048);
    assert.equal(statSync(out).mode & 0o777, 0o600, `${t} private key mode`);
    assert.equal(loadPublicKey(`${out}.pub`).keyid, pub.keyid);
    const sk = loadSigningKey(out);
    assert.equal(sk.publicKey.keyid, pub.keyid);
    const data = Buffer.from('in-toto');
    const s = await sk.signer.sign(data);
    assert.equal(verifyBytes(pub, data, s), true, t);
    assert.equal(verifyBytes(pub, Buffer.from('in-totO'), s), false, t);
  }
});

test('unknown key types and schemes are UNKNOWN_KEY_TYPE; broken key material is INVALID_KEY', () => {
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof IntotoError ? e.code : 'OTHER';
    }
    return undefined;
  };
  const good = JSON.parse(readFileSync(join(KEYS, 'owner.pub'), 'utf8'));
  assert.equal(code(() => publicKeyFromMetadata({ ...good, keytype: 'dsa', scheme: 'dsa-sha1' })), 'UNKNOWN_KEY_TYPE');
  assert.equal(code(() => publicKeyFromMetadata({ ...good, scheme: 'ecdsa-sha2-nistp256' })), 'UNKNOWN_KEY_TYPE');
  assert.equal(code(() => publicKeyFromMetadata({ ...good, keyval: { public: 'zz' } })), 'INVALID_KEY');
  assert.equal(code(() => publicKeyFromMetadata({ keytype: 'ed25519', scheme: 'ed25519' })), 'INVALID_KEY');
  // A GPG key as python-in-toto embeds it in layouts.
  assert.equal(code(() => publicKeyFromMetadata({ type: 'rsa', method: 'pgp+rsa-pkcsv1.5', hashes: ['pgp+SHA2'], keyid: 'ab', keyval: { public: { e: '010001', n: 'ab' }, private: '' } })), 'UNKNOWN_KEY_TYPE');
  const alice = JSON.parse(readFileSync(join(KEYS, 'alice.pub'), 'utf8'));
  assert.equal(code(() => publicKeyFromMetadata({ ...alice, scheme: 'ecdsa-sha2-nistp384' })), 'INVALID_KEY');
  // An RSA key below 2048 bits (in-toto spec §4.2.1).
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-keys-'));
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(join(dir, 'weak.pub'), weak);
  assert.equal(code(() => loadPublicKey(join(dir, 'weak.pub'))), 'INVALID_KEY');
  // A public key where a signing key is needed.
  assert.equal(code(() => loadSigningKey(join(KEYS, 'owner.pub'))), 'NO_SIGNING_KEY');
  // Oversized key files are refused before parsing.
  writeFileSync(join(dir, 'huge.pub'), '{' + ' '.repeat(70 * 1024) + '}');
  assert.equal(code(() => loadPublicKey(join(dir, 'huge.pub'))), 'FILE_TOO_LARGE');
});
