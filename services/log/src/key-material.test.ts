import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createECDH, createHash, generateKeyPairSync, sign } from 'node:crypto';
import { certificateFor, keyPair } from '../../../test/log-helpers.ts';
import { keyFromSpki, parseCertificate } from './key-material.ts';
import { verifyPrehashed } from './prehash.ts';
import { LogError } from './errors.ts';

const isCode = (code: string) => (e: unknown) => e instanceof LogError && e.code === code;

test('certificates: SPKI and email/URI SANs come out of the DER walk as node:crypto sees them', async () => {
  const k = keyPair();
  const pem = await certificateFor(k, [
    { type: 'email', value: 'Dev@Example.org' },
    { type: 'url', value: 'https://ci.example/job/1' },
  ]);
  const node = new X509Certificate(pem);
  const parsed = parseCertificate(node.raw);
  assert.deepEqual(parsed.spki, node.publicKey.export({ type: 'spki', format: 'der' }));
  assert.deepEqual(parsed.identities, ['dev@example.org', 'https://ci.example/job/1']);
  assert.throws(() => parseCertificate(node.raw.subarray(0, node.raw.length - 1)), isCode('INVALID_KEY'));
  assert.throws(() => parseCertificate(Buffer.from('3003020101', 'hex')), isCode('INVALID_KEY'));
});

test('EC SPKI fast path: point matches, off-curve points are refused, compressed points refused, RSA falls back', () => {
  for (const curve of ['P-256', 'P-384', 'P-521']) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const vk = keyFromSpki(spki);
    assert.ok(vk.ec, curve);
    const jwk = publicKey.export({ format: 'jwk' });
    assert.equal(vk.ec.x, BigInt('0x' + Buffer.from(jwk.x!, 'base64url').toString('hex')));
    const hash = curve === 'P-256' ? 'sha256' : curve === 'P-384' ? 'sha384' : 'sha512';
    const data = Buffer.from('x');
    assert.ok(verifyPrehashed(vk, hash, createHash(hash).update(data).digest(), sign(hash, data, privateKey)));
    const offCurve = Buffer.from(spki);
    offCurve[offCurve.length - 1]! ^= 1;
    assert.throws(() => keyFromSpki(offCurve), isCode('INVALID_KEY'));
  }
  // A compressed point: Go's x509 does not read it, neither do we.
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const compressed = Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), ecdh.getPublicKey(null, 'compressed')]);
  assert.throws(() => keyFromSpki(compressed), isCode('INVALID_KEY'));
  const rsa = keyFromSpki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }));
  assert.equal(rsa.key.asymmetricKeyType, 'rsa');
  assert.throws(() => keyFromSpki(Buffer.from('300100', 'hex')), isCode('INVALID_KEY'));
  assert.throws(() => keyFromSpki(Buffer.from('3003020101', 'hex')), isCode('INVALID_KEY'));
});
