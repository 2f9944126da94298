import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { verifyPrehashed } from './prehash.ts';

const cases = [
  { type: 'ec' as const, opts: { namedCurve: 'P-256' }, hash: 'sha256' as const },
  { type: 'ec' as const, opts: { namedCurve: 'P-384' }, hash: 'sha384' as const },
  { type: 'ec' as const, opts: { namedCurve: 'P-384' }, hash: 'sha256' as const },
  { type: 'ec' as const, opts: { namedCurve: 'P-521' }, hash: 'sha512' as const },
  { type: 'ec' as const, opts: { namedCurve: 'P-256' }, hash: 'sha512' as const },
];

for (const c of cases) {
  test(`prehashed ECDSA ${c.opts.namedCurve} over ${c.hash} agrees with node:crypto`, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', c.opts);
    for (let i = 0; i < 4; i++) {
      const msg = Buffer.from(`message ${i} ${Math.random()}`);
      const sig = sign(c.hash, msg, privateKey);
      const digest = createHash(c.hash).update(msg).digest();
      assert.equal(verifyPrehashed(publicKey, c.hash, digest, sig), true);
      const other = createHash(c.hash).update(Buffer.concat([msg, Buffer.from('!')])).digest();
      assert.equal(verifyPrehashed(publicKey, c.hash, other, sig), false);
      const badSig = Buffer.from(sig);
      badSig[badSig.length - 1]! ^= 1;
      assert.equal(verifyPrehashed(publicKey, c.hash, digest, badSig), false);
    }
  });
}

test('prehashed ECDSA rejects malformed signatures and a key on another curve', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const msg = Buffer.from('x');
  const digest = createHash('sha256').update(msg).digest();
  assert.equal(verifyPrehashed(publicKey, 'sha256', digest, Buffer.from('3000', 'hex')), false);
  assert.equal(verifyPrehashed(publicKey, 'sha256', digest, Buffer.from('not der')), false);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  assert.equal(verifyPrehashed(other, 'sha256', digest, sign('sha256', msg, privateKey)), false);
});

test('prehashed RSA PKCS#1 v1.5 and Ed25519', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const msg = Buffer.from('rsa message');
  const sig = sign('sha256', msg, privateKey);
  assert.equal(verifyPrehashed(publicKey, 'sha256', createHash('sha256').update(msg).digest(), sig), true);
  assert.equal(verifyPrehashed(publicKey, 'sha256', createHash('sha256').update('other').digest(), sig), false);
  assert.equal(verifyPrehashed(publicKey, 'sha384', createHash('sha384').update(msg).digest(), sig), false);
  const ed = generateKeyPairSync('ed25519');
  assert.equal(verifyPrehashed(ed.publicKey, 'sha256', createHash('sha256').update(msg).digest(), sign(null, msg, ed.privateKey)), undefined);
});
