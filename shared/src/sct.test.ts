import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { verify as cryptoVerify, createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { X509Certificate as SigstoreX509 } from '@sigstore/core';
import {
  OID_SCT_LIST,
  OID_CT_POISON,
  SctError,
  certificateSignedData,
  digitallySigned,
  encodeMerkleTreeLeaf,
  encodeSctList,
  issuerKeyHash,
  parseDigitallySigned,
  parseMerkleTreeLeaf,
  parseSct,
  parseSctList,
  precertSignedData,
  removeExtensionFromTbs,
  serializeSct,
  signDigitallySigned,
  splitCertificate,
  tbsExtensions,
  tbsSubjectPublicKeyInfo,
  tlsAlgorithmsOf,
  treeHeadSignedData,
  verifyDigitallySigned,
  verifyEmbeddedScts,
  type Sct,
} from './sct.ts';
import { LocalSigner, PublicKey, generateKey, sha256 } from './crypto.ts';
import { encodeTlv, explicit, readOne, children, seq, TAG } from './der.ts';
import { leafExtensions, makeIntermediate, makeLeaf, makeRoot, newKey, spkiOf } from '../../test/ct-fixtures.ts';

interface Vector {
  leafCertificate: string;
  issuerCertificate: string;
  ctlog: { publicKey: string; logId: string };
  expected: { sctTimestamp: number; sctCount: number };
}
const vector = JSON.parse(
  readFileSync(new URL('../../test/vectors/ct/sigstore-production-sct.json', import.meta.url), 'utf8'),
) as Vector;
const prodLeaf = Buffer.from(vector.leafCertificate, 'base64');
const prodIssuer = Buffer.from(vector.issuerCertificate, 'base64');
const prodLogKey = PublicKey.fromSpki(Buffer.from(vector.ctlog.publicKey, 'base64'));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof SctError ? e.code : `OTHER:${String(e)}`;
  }
  return undefined;
}

function prodSctExtension(): Buffer {
  const ext = tbsExtensions(splitCertificate(prodLeaf).tbs).find((e) => e.oid === OID_SCT_LIST);
  assert.ok(ext);
  return ext.value;
}

test('production vector: the embedded SCT verifies against the production CT key (byte-exact TBS rebuild)', () => {
  const { tbs } = splitCertificate(prodLeaf);
  const scts = parseSctList(prodSctExtension());
  assert.equal(scts.length, vector.expected.sctCount);
  const sct = scts[0]!;
  assert.equal(sct.timestamp, vector.expected.sctTimestamp);
  assert.equal(sct.logId.toString('base64'), vector.ctlog.logId);
  assert.deepEqual(sct.logId, prodLogKey.keyId);

  const precertTbs = removeExtensionFromTbs(tbs, OID_SCT_LIST);
  const data = precertSignedData({
    timestamp: sct.timestamp,
    issuerKeyHash: sha256(tbsSubjectPublicKeyInfo(splitCertificate(prodIssuer).tbs)),
    tbs: precertTbs,
    extensions: sct.extensions,
  });
  // Independent check with node:crypto directly on the raw signature.
  const ds = parseDigitallySigned(sct.signature);
  assert.equal(ds.hashAlgorithm, 4);
  assert.equal(ds.signatureAlgorithm, 3);
  assert.ok(cryptoVerify('sha256', data, createPublicKey({ key: prodLogKey.spki, format: 'der', type: 'spki' }), ds.signature));
  assert.ok(verifyDigitallySigned(prodLogKey, data, sct.signature));
  assert.deepEqual(verifyEmbeddedScts(prodLeaf, prodIssuer, prodLogKey), { verified: 1, failed: 0 });

  // One flipped byte anywhere in the signed data breaks it (the check can fail).
  const bad = Buffer.from(data);
  bad[bad.length - 40]! ^= 1;
  assert.equal(verifyDigitallySigned(prodLogKey, bad, sct.signature), false);
  // The wrong issuer (the root instead of the intermediate) gives a different key hash.
  const root = Buffer.from((JSON.parse(readFileSync(new URL('../../test/vectors/ct/sigstore-production-sct.json', import.meta.url), 'utf8')) as { rootCertificate: string }).rootCertificate, 'base64');
  assert.deepEqual(verifyEmbeddedScts(prodLeaf, root, prodLogKey), { verified: 0, failed: 1 });
});

test('production vector: our rebuilt TBS equals sigstore-js own re-encoding', () => {
  const cert = SigstoreX509.parse(prodLeaf);
  const clone = cert.clone();
  const i = clone.extensions.findIndex((e) => e.subs[0]!.toOID() === OID_SCT_LIST);
  clone.extensions.splice(i, 1);
  const theirs = clone.tbsCertificate.toDER();
  assert.deepEqual(removeExtensionFromTbs(splitCertificate(prodLeaf).tbs, OID_SCT_LIST), Buffer.from(theirs));
});

test('SCT list and SCT encodings round-trip byte for byte and agree with sigstore-js parsing', () => {
  const ext = prodSctExtension();
  const scts = parseSctList(ext);
  assert.deepEqual(encodeSctList(scts), ext);
  const ser = serializeSct(scts[0]!);
  assert.deepEqual(parseSct(ser), scts[0]);
  // sigstore-js parses the list out of the certificate with its own reader.
  const theirList = SigstoreX509.parse(prodLeaf).extSCT!.signedCertificateTimestamps;
  assert.equal(theirList.length, 1);
  const theirs = theirList[0]!;
  assert.deepEqual(Buffer.from(theirs.signature), parseDigitallySigned(scts[0]!.signature).signature);
  assert.deepEqual(Buffer.from(theirs.logID), scts[0]!.logId);
  assert.equal(Number(theirs.timestamp.readBigUInt64BE()), scts[0]!.timestamp);
  assert.equal(theirs.algorithm, 'sha256');
});

test('parseSct rejects truncation, trailing bytes, bad versions and empty signatures', () => {
  const ser = serializeSct(parseSctList(prodSctExtension())[0]!);
  assert.equal(codeOf(() => parseSct(ser.subarray(0, ser.length - 1))), 'SCT_MALFORMED');
  assert.equal(codeOf(() => parseSct(Buffer.concat([ser, Buffer.from([0])]))), 'SCT_MALFORMED');
  assert.equal(codeOf(() => parseSct(Buffer.alloc(0))), 'SCT_MALFORMED');
  const v2 = Buffer.from(ser);
  v2[0] = 1;
  assert.equal(codeOf(() => parseSct(v2)), 'SCT_UNSUPPORTED_VERSION');
  const noSig = Buffer.concat([ser.subarray(0, 1 + 32 + 8 + 2), Buffer.from([4, 3, 0, 0])]);
  assert.equal(codeOf(() => parseSct(noSig)), 'SCT_MALFORMED');
  const hugeTs = Buffer.from(ser);
  hugeTs.fill(0xff, 33, 41);
  assert.equal(codeOf(() => parseSct(hugeTs)), 'SCT_MALFORMED');
  // Every strict prefix fails, never throws anything but SctError.
  for (let n = 0; n < ser.length; n++) assert.equal(codeOf(() => parseSct(ser.subarray(0, n))), 'SCT_MALFORMED');
});

test('parseSctList rejects wrong lengths, empty lists and non-OCTET-STRING wrappers', () => {
  const ext = prodSctExtension();
  const inner = readOne(ext, TAG.OCTET_STRING).value;
  const withTotal = (total: number, body: Buffer): Buffer => {
    const t = Buffer.alloc(2);
    t.writeUInt16BE(total);
    return encodeTlv(TAG.OCTET_STRING, Buffer.concat([t, body]));
  };
  const body = inner.subarray(2);
  assert.equal(parseSctList(withTotal(body.length, body)).length, 1);
  assert.equal(codeOf(() => parseSctList(withTotal(body.length + 1, body))), 'SCT_LIST_MALFORMED');
  assert.equal(codeOf(() => parseSctList(withTotal(body.length - 1, body))), 'SCT_LIST_MALFORMED');
  assert.equal(codeOf(() => parseSctList(withTotal(0, Buffer.alloc(0)))), 'SCT_LIST_MALFORMED');
  assert.equal(codeOf(() => parseSctList(inner)), 'SCT_LIST_MALFORMED');
  assert.equal(codeOf(() => parseSctList(Buffer.concat([ext, Buffer.from([0])]))), 'SCT_LIST_MALFORMED');
  // An item length that overruns the list.
  const overrun = Buffer.from(body);
  overrun.writeUInt16BE(overrun.readUInt16BE(0) + 1, 0);
  assert.equal(codeOf(() => parseSctList(withTotal(overrun.length, overrun))), 'SCT_LIST_MALFORMED');
  assert.equal(codeOf(() => encodeSctList([])), 'SCT_LIST_MALFORMED');
  const many = Array.from({ length: 65 }, () => parseSctList(ext)[0]!);
  assert.equal(codeOf(() => encodeSctList(many)), 'FIELD_TOO_LARGE');
});

test('digitally-signed encode/decode and signing with the allow-listed schemes', async () => {
  const ds = digitallySigned(4, 3, Buffer.from([1, 2, 3]));
  assert.deepEqual(ds, Buffer.from([4, 3, 0, 3, 1, 2, 3]));
  assert.deepEqual(parseDigitallySigned(ds), { hashAlgorithm: 4, signatureAlgorithm: 3, signature: Buffer.from([1, 2, 3]) });
  assert.equal(codeOf(() => parseDigitallySigned(ds.subarray(0, 6))), 'DIGITALLY_SIGNED_MALFORMED');
  assert.equal(codeOf(() => parseDigitallySigned(Buffer.concat([ds, Buffer.from([0])]))), 'DIGITALLY_SIGNED_MALFORMED');
  assert.equal(codeOf(() => parseDigitallySigned(Buffer.from([4, 3, 0, 0]))), 'DIGITALLY_SIGNED_MALFORMED');
  assert.equal(codeOf(() => digitallySigned(4, 3, Buffer.alloc(0))), 'DIGITALLY_SIGNED_MALFORMED');
  assert.equal(codeOf(() => tlsAlgorithmsOf('ed25519')), 'UNSUPPORTED_ALGORITHM');

  const signer = new LocalSigner(generateKey('ecdsa-p256'));
  const data = Buffer.from('tree head');
  const sig = await signDigitallySigned(signer, data);
  assert.ok(verifyDigitallySigned(signer.publicKey, data, sig));
  // A forged hash byte (claiming sha384) is refused even though the ECDSA signature is intact.
  const forged = Buffer.from(sig);
  forged[0] = 5;
  assert.equal(verifyDigitallySigned(signer.publicKey, data, forged), false);
  assert.equal(verifyDigitallySigned(signer.publicKey, data, Buffer.from([1])), false);
  const other = new LocalSigner(generateKey('ecdsa-p256'));
  assert.equal(verifyDigitallySigned(other.publicKey, data, sig), false);
  await assert.rejects(signDigitallySigned(new LocalSigner(generateKey('ed25519')), data), (e) => e instanceof SctError && e.code === 'UNSUPPORTED_ALGORITHM');
});

test('signed-data, leaf and tree-head layouts match RFC 6962 §3.2, §3.4, §3.5 byte offsets', () => {
  const ikh = Buffer.alloc(32, 0xab);
  const tbs = Buffer.from([0x30, 0x00]);
  const d = precertSignedData({ timestamp: 0x0102030405, issuerKeyHash: ikh, tbs });
  assert.deepEqual(
    d,
    Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 1]), ikh, Buffer.from([0, 0, 2]), tbs, Buffer.from([0, 0])]),
  );
  const c = certificateSignedData({ timestamp: 7, certificate: tbs, extensions: Buffer.from([9]) });
  assert.deepEqual(c, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 2, 0x30, 0, 0, 1, 9]));
  const leaf = encodeMerkleTreeLeaf({ entryType: 'precert', timestamp: 0x0102030405, issuerKeyHash: ikh, tbs });
  // A v1 MerkleTreeLeaf and the certificate_timestamp struct share their bytes by construction.
  assert.deepEqual(leaf, d);
  assert.deepEqual(parseMerkleTreeLeaf(leaf), { entryType: 'precert', timestamp: 0x0102030405, issuerKeyHash: ikh, tbs, extensions: Buffer.alloc(0) });
  const x = encodeMerkleTreeLeaf({ entryType: 'x509', timestamp: 9, certificate: tbs });
  assert.deepEqual(parseMerkleTreeLeaf(x), { entryType: 'x509', timestamp: 9, certificate: tbs, extensions: Buffer.alloc(0) });
  assert.equal(codeOf(() => parseMerkleTreeLeaf(x.subarray(0, x.length - 1))), 'LEAF_MALFORMED');
  assert.equal(codeOf(() => parseMerkleTreeLeaf(Buffer.concat([x, Buffer.from([0])]))), 'LEAF_MALFORMED');
  const badType = Buffer.from(x);
  badType[11] = 2;
  assert.equal(codeOf(() => parseMerkleTreeLeaf(badType)), 'LEAF_MALFORMED');
  const sth = treeHeadSignedData({ timestamp: 1, treeSize: 2, rootHash: ikh });
  assert.deepEqual(sth, Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]), ikh]));
  assert.equal(codeOf(() => treeHeadSignedData({ timestamp: 1, treeSize: 2, rootHash: Buffer.alloc(31) })), 'FIELD_TOO_LARGE');
  assert.equal(codeOf(() => precertSignedData({ timestamp: -1, issuerKeyHash: ikh, tbs })), 'FIELD_TOO_LARGE');
  assert.equal(codeOf(() => precertSignedData({ timestamp: 1, issuerKeyHash: ikh, tbs: Buffer.alloc(0x1000000) })), 'FIELD_TOO_LARGE');
  assert.equal(codeOf(() => precertSignedData({ timestamp: 1, issuerKeyHash: ikh, tbs, extensions: Buffer.alloc(0x10000) })), 'FIELD_TOO_LARGE');
});

test('removeExtensionFromTbs(precert, poison) equals the final TBS, and sigstore-js rebuilds the same bytes', () => {
  const root = makeRoot();
  const issuer = makeIntermediate(root);
  const spki = spkiOf(newKey());
  const serial = Buffer.from('0123456789abcdef', 'hex');
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + 600_000);
  const exts = leafExtensions(issuer, spki);
  for (let poisonAt = 0; poisonAt <= exts.length; poisonAt++) {
    const common = { serial, spki, notBefore, notAfter, extensions: exts };
    const pre = makeLeaf(issuer, { ...common, poisonAt });
    const fin = makeLeaf(issuer, common);
    const preTbs = splitCertificate(pre.der).tbs;
    assert.deepEqual(preTbs, pre.tbs);
    assert.ok(tbsExtensions(preTbs).some((e) => e.oid === OID_CT_POISON && e.critical));
    assert.deepEqual(removeExtensionFromTbs(preTbs, OID_CT_POISON), fin.tbs);
    // sigstore-js's own DER encoder, deleting the poison from its parsed clone, gives the same bytes.
    const clone = SigstoreX509.parse(Buffer.from(pre.der)).clone();
    clone.extensions.splice(clone.extensions.findIndex((e) => e.subs[0]!.toOID() === OID_CT_POISON), 1);
    assert.deepEqual(Buffer.from(clone.tbsCertificate.toDER()), fin.tbs);
  }
  assert.deepEqual(issuerKeyHash(issuer.der), sha256(issuer.spki));
  // A certificate whose only extension is removed loses the [3] wrapper too.
  const only = makeLeaf(issuer, { serial, spki, notBefore, notAfter, extensions: [], poisonAt: 0 });
  const bare = makeLeaf(issuer, { serial, spki, notBefore, notAfter, extensions: [] });
  assert.deepEqual(removeExtensionFromTbs(only.tbs, OID_CT_POISON), bare.tbs);
});

test('removeExtensionFromTbs keeps order for any extension list (property)', () => {
  // Build TBS structures with our own writer and check removal is exactly "filter, keep order".
  const head = [
    explicit(0, Buffer.from([0x02, 0x01, 0x02])),
    Buffer.from([0x02, 0x01, 0x01]),
    seq(Buffer.from([0x06, 0x03, 0x2a, 0x03, 0x04])),
    seq(),
    seq(Buffer.from([0x17, 0x0d, ...Buffer.from('250101000000Z')]), Buffer.from([0x17, 0x0d, ...Buffer.from('260101000000Z')])),
    seq(),
    seq(seq(Buffer.from([0x06, 0x03, 0x2a, 0x03, 0x04])), Buffer.from([0x03, 0x02, 0x00, 0x01])),
  ];
  const extOf = (arc: number, critical: boolean): Buffer =>
    seq(Buffer.from([0x06, 0x03, 0x2a, 0x03, arc]), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), encodeTlv(TAG.OCTET_STRING, Buffer.from([0x05, 0x00])));
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      fc.nat(),
      (arcs, crit, pick) => {
        const target = arcs[pick % arcs.length]!;
        const tbs = seq(...head, explicit(3, seq(...arcs.map((a, i) => extOf(a, crit[i]!)))));
        const kept = arcs.filter((a) => a !== target);
        const expected = seq(...head, ...(kept.length ? [explicit(3, seq(...kept.map((a) => extOf(a, crit[arcs.indexOf(a)]!))))] : []));
        assert.deepEqual(removeExtensionFromTbs(tbs, `1.2.3.${target}`), expected);
      },
    ),
    { numRuns: 200 },
  );
});

test('removeExtensionFromTbs and tbsExtensions reject missing, duplicate and malformed extensions', () => {
  const root = makeRoot();
  const leaf = makeLeaf(root);
  const tbs = splitCertificate(leaf.der).tbs;
  assert.equal(codeOf(() => removeExtensionFromTbs(tbs, OID_CT_POISON)), 'EXTENSION_NOT_FOUND');
  const dup = makeLeaf(root, { extensions: [{ oid: '1.2.3.4', value: Buffer.from([5, 0]) }, { oid: '1.2.3.4', value: Buffer.from([5, 0]) }] });
  assert.equal(codeOf(() => removeExtensionFromTbs(splitCertificate(dup.der).tbs, '1.2.3.4')), 'EXTENSION_DUPLICATE');
  assert.equal(codeOf(() => tbsExtensions(splitCertificate(dup.der).tbs)), 'EXTENSION_DUPLICATE');
  // Non-minimal length inside the TBS: strict DER says no.
  const t = readOne(tbs, TAG.SEQUENCE);
  const kids = children(t).map((k) => k.raw);
  const serial = kids[1]!;
  const nonMinimal = Buffer.concat([Buffer.from([0x02, 0x81, serial[1]!]), serial.subarray(2)]);
  kids[1] = nonMinimal;
  assert.equal(codeOf(() => removeExtensionFromTbs(seq(...kids), OID_CT_POISON)), 'CERT_MALFORMED');
  assert.equal(codeOf(() => tbsExtensions(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))), 'CERT_MALFORMED');
  assert.equal(codeOf(() => splitCertificate(Buffer.from('not der'))), 'CERT_MALFORMED');
  assert.equal(codeOf(() => splitCertificate(Buffer.concat([leaf.der, Buffer.from([0])]))), 'CERT_MALFORMED');
  // critical encoded as FALSE is not DER.
  const badCrit = seq(Buffer.from([0x06, 0x03, 0x2a, 0x03, 0x04]), Buffer.from([0x01, 0x01, 0x00]), encodeTlv(TAG.OCTET_STRING, Buffer.from([5, 0])));
  const withBad = seq(...children(readOne(tbs, TAG.SEQUENCE)).slice(0, -1).map((k) => k.raw), explicit(3, seq(badCrit)));
  assert.equal(codeOf(() => tbsExtensions(withBad)), 'CERT_MALFORMED');
});

test('SCT round trip through serialize/parse for arbitrary fields (property)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ minLength: 1, maxLength: 80 }),
      (logId, timestamp, ext, sig) => {
        const sct: Sct = { sctVersion: 0, logId: Buffer.from(logId), timestamp, extensions: Buffer.from(ext), signature: digitallySigned(4, 3, sig) };
        assert.deepEqual(parseSct(serializeSct(sct)), sct);
        assert.deepEqual(parseSctList(encodeSctList([sct, sct])), [sct, sct]);
      },
    ),
    { numRuns: 200 },
  );
});

test('parsers throw only SctError on arbitrary and mutated input (property)', () => {
  const onlySctError = (fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof SctError)) throw e;
    }
  };
  const ext = prodSctExtension();
  const ser = serializeSct(parseSctList(ext)[0]!);
  const tbs = splitCertificate(prodLeaf).tbs;
  const mutate = (b: Buffer, at: number, v: number): Buffer => {
    const c = Buffer.from(b);
    c[at % c.length] = v;
    return c;
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (bytes, at, v) => {
      const b = Buffer.from(bytes);
      onlySctError(() => parseSct(b));
      onlySctError(() => parseSctList(b));
      onlySctError(() => parseDigitallySigned(b));
      onlySctError(() => parseMerkleTreeLeaf(b));
      onlySctError(() => splitCertificate(b));
      onlySctError(() => tbsExtensions(b));
      onlySctError(() => parseSct(mutate(ser, at, v)));
      onlySctError(() => parseSctList(mutate(ext, at, v)));
      onlySctError(() => removeExtensionFromTbs(mutate(tbs, at, v), OID_SCT_LIST));
      onlySctError(() => verifyEmbeddedScts(mutate(prodLeaf, at, v), prodIssuer, prodLogKey));
    }),
    { numRuns: 500 },
  );
});
