import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { checkSubjectKey, parsePublicKeyContent, subjectKeyFromDer } from './request.ts';

test('the canonical EC SPKI fast path gives the same key, SPKI and hash as the general path', () => {
  for (const [curve, hash] of [['P-256', 'sha256'], ['P-384', 'sha384'], ['P-521', 'sha512']] as const) {
    const pub = generateKeyPairSync('ec', { namedCurve: curve }).publicKey;
    const der = pub.export({ type: 'spki', format: 'der' });
    const fast = subjectKeyFromDer(der);
    const slow = checkSubjectKey(pub);
    assert.equal(fast.hash, hash);
    assert.deepEqual(fast.spki, slow.spki);
    assert.deepEqual(parsePublicKeyContent(der.toString('base64')).spki, der);
    assert.deepEqual(parsePublicKeyContent(pub.export({ type: 'spki', format: 'pem' }).toString()).spki, der);
  }
});

test('a tampered point behind a canonical header is still refused by OpenSSL', () => {
  const der = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
  der[der.length - 1]! ^= 0x01; // off the curve
  assert.throws(() => subjectKeyFromDer(der), (e: any) => e.code === 'INVALID_PUBLIC_KEY' || e.code === 'UNSUPPORTED_KEY');
});

test('two PEM blocks, empty and oversized key content fail cleanly', () => {
  const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const pem = pub.export({ type: 'spki', format: 'pem' }).toString();
  assert.throws(() => parsePublicKeyContent(pem + pem), (e: any) => e.code === 'INVALID_PUBLIC_KEY');
  assert.throws(() => parsePublicKeyContent(''), (e: any) => e.code === 'INVALID_PUBLIC_KEY');
  assert.throws(() => parsePublicKeyContent('x'.repeat(9000)), (e: any) => e.code === 'INVALID_PUBLIC_KEY');
});

test('arbitrary bytes as a CSR or key only ever fail with a CaError code (fast-check)', async () => {
  const fc = (await import('fast-check')).default;
  const { CaError } = await import('./errors.ts');
  const { parseCsr } = await import('./request.ts');
  const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const ok = (fn: () => unknown): boolean => {
    try {
      fn();
      return true;
    } catch (e) {
      return e instanceof CaError;
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => ok(() => parseCsr(Buffer.from(bytes))) && ok(() => parsePublicKeyContent(Buffer.from(bytes).toString('base64')))),
    { numRuns: 300 },
  );
  // Single-byte mutations of a valid SPKI: accepted as a key, or refused with a code.
  fc.assert(
    fc.property(fc.nat(pub.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = Buffer.from(pub);
      m[i]! ^= x;
      return ok(() => subjectKeyFromDer(m));
    }),
    { numRuns: 300 },
  );
});
