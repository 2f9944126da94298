import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { verifyPrehashed } from './prehash.ts';
import { LogError } from './errors.ts';

const cases = [
  { curve: 'P-256', hash: 'sha256' },
  { curve: 'P-384', hash: 'sha384' },
  { curve: 'P-521', hash: 'sha512' },
] as const;

test('prehashed ECDSA: real signatures verify, tampered digests, signatures and keys do not', () => {
  for (const { curve, hash } of cases) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const other = generateKeyPairSync('ec', { namedCurve: curve }).publicKey;
    for (let i = 0; i < 8; i++) {
      const data = Buffer.from(`artifact ${curve} ${i}`);
      const digest = createHash(hash).update(data).digest();
      const sig = sign(hash, data, privateKey);
      assert.ok(verifyPrehashed(publicKey, hash, digest, sig), `${curve} #${i}`);
      const bad = Buffer.from(digest);
      bad[0]! ^= 1;
      assert.equal(verifyPrehashed(publicKey, hash, bad, sig), false);
      assert.equal(verifyPrehashed(other, hash, digest, sig), false);
      const badSig = Buffer.from(sig);
      badSig[badSig.length - 1]! ^= 1;
      assert.equal(verifyPrehashed(publicKey, hash, digest, badSig), false);
    }
    assert.equal(verifyPrehashed(publicKey, hash, createHash(hash).digest(), Buffer.from('3006020100020100', 'hex')), false);
    assert.equal(verifyPrehashed(publicKey, hash, createHash(hash).digest(), Buffer.alloc(0)), false);
  }
});

test('prehashed RSA PKCS#1 v1.5 and the allow-list', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.from('artifact');
  const digest = createHash('sha256').update(data).digest();
  const sig = sign('sha256', data, privateKey);
  assert.ok(verifyPrehashed(publicKey, 'sha256', digest, sig));
  assert.equal(verifyPrehashed(publicKey, 'sha256', createHash('sha256').update('x').digest(), sig), false);
  const ed = generateKeyPairSync('ed25519').publicKey;
  assert.throws(() => verifyPrehashed(ed, 'sha256', digest, sig), (e: unknown) => e instanceof LogError && e.code === 'UNSUPPORTED_KEY');
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  assert.throws(() => verifyPrehashed(p256, 'sha384', createHash('sha384').digest(), sig), (e: unknown) => e instanceof LogError && e.code === 'UNSUPPORTED_KEY');
});
