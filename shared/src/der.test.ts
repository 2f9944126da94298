import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  assertDer,
  children,
  encodeLength,
  integer,
  oid,
  oidToString,
  readOne,
  readTime,
  readTlv,
  readUnsignedInteger,
  seq,
  set,
  TAG,
  utcTime,
  generalizedTime,
} from './der.ts';
import { SharedError } from './errors.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof SharedError ? e.code : 'OTHER';
  }
  return undefined;
}

test('lengths are minimal and round-trip', () => {
  for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 20]) {
    const enc = Buffer.concat([Buffer.from([0x04]), encodeLength(n), Buffer.alloc(n)]);
    const t = readTlv(enc);
    assert.equal(t.length, n);
    assert.equal(t.end, enc.length);
  }
});

test('non-minimal, indefinite and truncated lengths are rejected', () => {
  assert.equal(code(() => readTlv(Buffer.from([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]))), 'INVALID_ENCODING');
  assert.equal(code(() => readTlv(Buffer.from([0x04, 0x82, 0x00, 0x80]))), 'INVALID_ENCODING');
  assert.equal(code(() => readTlv(Buffer.from([0x30, 0x80, 0, 0]))), 'INVALID_ENCODING');
  assert.equal(code(() => readTlv(Buffer.from([0x04, 0x05, 1]))), 'INVALID_ENCODING');
  assert.equal(code(() => readOne(Buffer.from([0x05, 0x00, 0x00]))), 'INVALID_ENCODING');
});

test('integers encode minimally and read back', () => {
  assert.deepEqual(integer(0n), Buffer.from([2, 1, 0]));
  assert.deepEqual(integer(127n), Buffer.from([2, 1, 0x7f]));
  assert.deepEqual(integer(128n), Buffer.from([2, 2, 0, 0x80]));
  assert.deepEqual(integer(Buffer.from([0, 0, 0x80])), Buffer.from([2, 2, 0, 0x80]));
  assert.deepEqual(integer(-1n), Buffer.from([2, 1, 0xff]));
  const big = 2n ** 159n + 12345n;
  assert.equal(readUnsignedInteger(readOne(integer(big))), big);
  assert.equal(code(() => readUnsignedInteger(readOne(Buffer.from([2, 2, 0, 1])))), 'INVALID_ENCODING');
});

test('OIDs round-trip', () => {
  for (const o of ['1.3.6.1.4.1.57264.1.8', '2.5.29.17', '1.2.840.10045.4.3.3', '2.999.1', '1.3.6.1.4.1.11129.2.4.2']) {
    const t = readOne(oid(o));
    assert.equal(t.tag, TAG.OID);
    assert.equal(oidToString(t.value), o);
  }
  assert.deepEqual(oid('1.2.840.10045.2.1').toString('hex'), '06072a8648ce3d0201');
});

test('SET OF sorts its elements', () => {
  const a = integer(2n);
  const b = integer(1n);
  assert.deepEqual(set(a, b), set(b, a));
});

test('times encode and parse', () => {
  const d = new Date(Date.UTC(2026, 10, 25, 13, 4, 5));
  assert.equal(readTime(readOne(utcTime(d))).getTime(), d.getTime());
  assert.equal(readTime(readOne(generalizedTime(d))).getTime(), d.getTime());
  assert.equal(utcTime(d).subarray(2).toString(), '261125130405Z');
});

test('a real SubjectPublicKeyInfo is strict DER and re-encodes byte for byte', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  assertDer(spki);
  const t = readOne(spki, TAG.SEQUENCE);
  assert.deepEqual(seq(...children(t).map((c) => c.raw)), spki);
});
