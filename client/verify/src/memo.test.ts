import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { clearVerificationMemo, setVerificationMemo, verifySignature } from './memo.ts';

test('the signature memo remembers successes only, keyed by every input', () => {
  setVerificationMemo(true);
  clearVerificationMemo();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const data = Buffer.from('signed bytes');
  const sig = sign('sha256', data, privateKey);
  assert.equal(verifySignature('sha256', data, publicKey, spki, sig), true);
  assert.equal(verifySignature('sha256', data, publicKey, spki, sig), true, 'a hit');
  // Any changed input misses the memo and is really checked.
  assert.equal(verifySignature('sha256', Buffer.from('signed bytez'), publicKey, spki, sig), false);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  assert.equal(verifySignature('sha256', data, other, other.export({ type: 'spki', format: 'der' }), sig), false);
  assert.equal(verifySignature('sha384', data, publicKey, spki, sig), false);
  const bad = Buffer.from(sig);
  bad[bad.length - 1]! ^= 1;
  assert.equal(verifySignature('sha256', data, publicKey, spki, bad), false);
  assert.equal(verifySignature('sha256', data, publicKey, spki, bad), false, 'failures are not remembered');
  // Concatenation ambiguity is impossible: inputs are length-prefixed.
  assert.equal(verifySignature('sha256', Buffer.concat([data, sig.subarray(0, 1)]), publicKey, spki, sig.subarray(1)), false);
  setVerificationMemo(false);
  assert.equal(verifySignature('sha256', data, publicKey, spki, sig), true, 'works with the memo off');
  setVerificationMemo(true);
});

test('memo: EC SPKIs parsed through the JWK path give the same key; off-curve points are refused', async () => {
  const { generateKeyPairSync, sign, verify: cryptoVerify } = await import('node:crypto');
  const { spkiKey, setVerificationMemo } = await import('./memo.ts');
  setVerificationMemo(false);
  for (const namedCurve of ['P-256', 'P-384']) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const k = spkiKey(der);
    assert.ok(k.equals(publicKey), namedCurve);
    const sig = sign('sha256', Buffer.from('x'), privateKey);
    assert.equal(cryptoVerify('sha256', Buffer.from('x'), k, sig), true);
    const bad = Buffer.from(der);
    bad[bad.length - 1]! ^= 1; // y no longer on the curve
    assert.throws(() => spkiKey(bad));
  }
  setVerificationMemo(true);
});
