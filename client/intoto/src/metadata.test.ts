import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IntotoError } from './errors.ts';
import { loadPublicKey, publicKeyFromKeyObject, signingKeyFrom, verifyBytes } from './keys.ts';
import { checkSignature, pae, parseMetadata, signMetadata } from './metadata.ts';
import { linkToSignable } from './models.ts';

const REF = new URL('../../../test/fixtures/intoto/reference/final/', import.meta.url).pathname;
const KEYS = new URL('../../../test/fixtures/intoto/reference/keys/', import.meta.url).pathname;
const read = (f: string): Buffer => readFileSync(join(REF, f));

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof IntotoError ? e.code : 'OTHER';
  }
  return undefined;
}

test('DSSE PAE and the specification test vector (P-256, IEEE-P1363 signature)', () => {
  assert.equal(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  const x = BigInt('46950820868899156662930047687818585632848591499744589407958293238635476079160');
  const y = BigInt('5640078356564379163099075877009565129882514886557779369047442380624545832820');
  const b64u = (n: bigint): string => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').toString('base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(x), y: b64u(y) }, format: 'jwk' });
  const sig = Buffer.from('A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==', 'base64');
  assert.equal(nodeVerify('sha256', pae('http://example.com/HelloWorld', Buffer.from('hello world')), { key, dsaEncoding: 'ieee-p1363' }, sig), true);
});

test('reference metadata: classic signatures verify over the re-canonicalised model (all three schemes)', () => {
  const layout = parseMetadata(read('root.layout'), 'layout');
  assert.equal(layout.type, 'layout');
  assert.equal(checkSignature(layout, loadPublicKey(join(KEYS, 'owner.pub'))), 'valid');
  for (const [file, key] of [['build.ababde9a.link', 'alice'], ['scan.b775e0e9.link', 'bob'], ['sign.776b261e.link', 'carol']] as const) {
    const md = parseMetadata(read(file), 'link');
    assert.equal(checkSignature(md, loadPublicKey(join(KEYS, `${key}.pub`))), 'valid', file);
    assert.equal(checkSignature(md, loadPublicKey(join(KEYS, 'owner.pub'))), 'missing', file);
  }
});

test('a changed byte in signed content, or a signature moved to another keyid, does not verify', () => {
  const doc = JSON.parse(read('build.ababde9a.link').toString());
  doc.signed.command.push('--evil');
  assert.equal(checkSignature(parseMetadata(Buffer.from(JSON.stringify(doc))), loadPublicKey(join(KEYS, 'alice.pub'))), 'invalid');
  const layout = JSON.parse(read('root.layout').toString());
  layout.signatures[0].sig = layout.signatures[0].sig.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
  assert.equal(checkSignature(parseMetadata(Buffer.from(JSON.stringify(layout))), loadPublicKey(join(KEYS, 'owner.pub'))), 'invalid');
});

test('classic and DSSE signing round-trip; DSSE verifies PAE over the payload bytes as given', async () => {
  const priv = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const key = signingKeyFrom(priv, publicKeyFromKeyObject(createPublicKey(priv)));
  const link = parseMetadata(read('scan.b775e0e9.link'), 'link');
  assert.equal(link.type, 'link');
  if (link.type !== 'link') return;
  for (const dsse of [false, true]) {
    const signed = await signMetadata(link.link, key, { dsse });
    const md = parseMetadata(Buffer.from(signed.text), 'link');
    assert.equal(md.kind, dsse ? 'dsse' : 'classic');
    assert.equal(checkSignature(md, key.publicKey), 'valid');
    if (dsse) {
      const env = JSON.parse(signed.text);
      assert.equal(env.payloadType, 'application/vnd.in-toto+json');
      // The payload is plain JSON (sorted keys), parseable even with PEM newlines inside.
      assert.deepEqual(JSON.parse(Buffer.from(env.payload, 'base64').toString()), linkToSignable(link.link));
      assert.equal(verifyBytes(key.publicKey, pae(env.payloadType, Buffer.from(env.payload, 'base64')), Buffer.from(env.signatures[0].sig, 'base64')), true);
      // Re-serialising the payload (same JSON, other bytes) breaks a DSSE signature.
      const other = { ...env, payload: Buffer.from(JSON.stringify(JSON.parse(Buffer.from(env.payload, 'base64').toString()), null, 1)).toString('base64') };
      assert.equal(checkSignature(parseMetadata(Buffer.from(JSON.stringify(other)), 'link'), key.publicKey), 'invalid');
    }
  }
});

test('malformed metadata gets MALFORMED_LINK / MALFORMED_LAYOUT', () => {
  const link = JSON.parse(read('build.ababde9a.link').toString());
  const layout = JSON.parse(read('root.layout').toString());
  const asBytes = (o: unknown): Buffer => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
  const badLinks: unknown[] = [
    'not json',
    [],
    { signatures: [] },
    { signed: { ...link.signed, _type: 'linq' }, signatures: [] },
    { signed: { ...link.signed, name: 7 }, signatures: [] },
    { signed: { ...link.signed, materials: { a: 'b' } }, signatures: [] },
    { signed: { ...link.signed, products: { a: { sha256: 'xyz' } } }, signatures: [] },
    { signed: { ...link.signed, command: 'tar' }, signatures: [] },
    { signed: { ...link.signed, byproducts: { 'return-value': 0.5 } }, signatures: [] },
    { signed: link.signed, signatures: [{ sig: 'ab' }] },
    { signed: link.signed, signatures: 'none' },
    { payload: '!!', payloadType: 'application/vnd.in-toto+json', signatures: [] },
    { payload: Buffer.from('{}').toString('base64'), payloadType: 'text/plain', signatures: [] },
  ];
  for (const b of badLinks) assert.equal(codeOf(() => parseMetadata(asBytes(b), 'link')), 'MALFORMED_LINK', JSON.stringify(b).slice(0, 80));
  const s = layout.signed;
  const badLayouts: unknown[] = [
    { signed: { ...s, expires: '2026-12-25' }, signatures: [] },
    { signed: { ...s, expires: 20261225 }, signatures: [] },
    { signed: { ...s, steps: [{ ...s.steps[0], threshold: 0 }] }, signatures: [] },
    { signed: { ...s, steps: [{ ...s.steps[0], threshold: '1' }] }, signatures: [] },
    { signed: { ...s, steps: [s.steps[0], s.steps[0]] }, signatures: [] },
    { signed: { ...s, steps: [{ ...s.steps[0], name: '../evil' }] }, signatures: [] },
    { signed: { ...s, steps: [{ ...s.steps[0], pubkeys: ['alice'] }] }, signatures: [] },
    { signed: { ...s, steps: [{ ...s.steps[0], expected_materials: [['COPY', '*']] }] }, signatures: [] },
    { signed: { ...s, inspect: [{ ...s.inspect[0], name: 'build' }] }, signatures: [] },
    { signed: { ...s, keys: { abc: Object.values(s.keys)[0] } }, signatures: [] },
    { signed: { ...s, readme: 5 }, signatures: [] },
    { signed: { ...s, steps: {} }, signatures: [] },
    { signed: link.signed, signatures: [] },
  ];
  for (const b of badLayouts) assert.equal(codeOf(() => parseMetadata(asBytes(b), 'layout')), 'MALFORMED_LAYOUT', JSON.stringify(b).slice(0, 120));
  // A key of unknown type inside a layout keeps its own code.
  const [id, k] = Object.entries(s.keys)[0]! as [string, Record<string, unknown>];
  assert.equal(codeOf(() => parseMetadata(asBytes({ signed: { ...s, keys: { [id]: { ...k, keytype: 'gpg', scheme: 'pgp+rsa-pkcsv1.5' } } }, signatures: [] }), 'layout')), 'UNKNOWN_KEY_TYPE');
});
