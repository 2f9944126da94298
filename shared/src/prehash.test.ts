import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { CURVES, batchInverse, verifyEcdsaPrehashed, verifyEcdsaPrehashedBatch, verifyPrehashed, type EcdsaCheck } from './prehash.ts';

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

test('batch ECDSA verification agrees with the single verifier on mixed batches (valid, tampered, three curves)', () => {
  const keys = (['P-256', 'P-384', 'P-521'] as const).map((namedCurve) => generateKeyPairSync('ec', { namedCurve }));
  const hashOf = { 'P-256': 'sha256', 'P-384': 'sha384', 'P-521': 'sha512' } as const;
  for (let round = 0; round < 6; round++) {
    const checks: EcdsaCheck[] = [];
    for (let i = 0; i < 1 + round * 5; i++) {
      const which = i % 3;
      const k = keys[which]!;
      const curveName = (['P-256', 'P-384', 'P-521'] as const)[which]!;
      const hash = hashOf[curveName];
      const msg = Buffer.from(`batch ${round} ${i} ${Math.random()}`);
      let sig = sign(hash, msg, k.privateKey);
      let digest = createHash(hash).update(msg).digest();
      const mode = (i * 7 + round) % 4;
      if (mode === 1) digest = createHash(hash).update(Buffer.concat([msg, Buffer.from('x')])).digest();
      if (mode === 2) {
        sig = Buffer.from(sig);
        sig[sig.length - 2]! ^= 0x10;
      }
      if (mode === 3) sig = Buffer.from('3006020101020101', 'hex');
      const jwk = k.publicKey.export({ format: 'jwk' });
      const curve = CURVES[k.publicKey.asymmetricKeyDetails!.namedCurve!]!;
      checks.push({ curve, qx: BigInt('0x' + Buffer.from(jwk.x!, 'base64url').toString('hex')), qy: BigInt('0x' + Buffer.from(jwk.y!, 'base64url').toString('hex')), digest, signature: sig });
    }
    const single = checks.map((c) => verifyEcdsaPrehashed(c.curve, c.qx, c.qy, c.digest, c.signature));
    assert.deepEqual(verifyEcdsaPrehashedBatch(checks), single);
    assert.ok(single.some((x) => x) || checks.length < 2, 'the batch holds valid signatures');
    assert.ok(single.some((x) => !x) || checks.length < 2, 'the batch holds invalid signatures');
  }
});

test('batchInverse matches one inversion per value', () => {
  const m = CURVES.prime256v1!.n;
  const values = Array.from({ length: 17 }, (_, i) => (BigInt(i + 1) * 0x1234567890abcdefn) % m);
  const inv = batchInverse(values, m);
  values.forEach((v, i) => assert.equal((v * inv[i]!) % m, 1n));
  assert.deepEqual(batchInverse([], m), []);
});
