/**
 * The CT log over real HTTP on port 0, with a real SQLite file in a temp folder: submissions,
 * SCTs checked with our sct.ts AND sigstore-js's own SCT verifier, STH / proofs checked with
 * @cairn/shared/merkle, get-entries decoded, restart and dedupe, and every refusal by code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { MerkleTree } from 'merkletreejs';
import { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { toTrustMaterial } from '@sigstore/verify';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { loadConfig, PublicKey, type TrustInfo } from '@cairn/shared';
import { leafHash, verifyConsistency, verifyInclusion } from '@cairn/shared/merkle';
import {
  certificateSignedData,
  encodeSctList,
  parseMerkleTreeLeaf,
  removeExtensionFromTbs,
  splitCertificate,
  treeHeadSignedData,
  verifyDigitallySigned,
  verifyEmbeddedScts,
  OID_CT_POISON,
} from '@cairn/shared/sct';
import { bitString, seq, oid } from '@cairn/shared/der';
import { startStack, type Stack } from '@cairn/host';
import { HttpCtLog, HttpCtError, sctFromJson, MAX_SUBMISSION_BYTES, type CtService } from '@cairn/ct';
import { leafExtensions, makeIntermediate, makeLeaf, makeRoot, newKey, precertWithFinal, spkiOf, signTbs, tbsCertificate, name, type TestCa } from './ct-fixtures.ts';

let dir: string;
let stack: Stack;
let ct: CtService;
let root: TestCa;
let intermediate: TestCa;

async function start(): Promise<void> {
  stack = await startStack(loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent' } }), { components: ['ct'] });
  ct = stack.services.find((s) => s.name === 'ct') as CtService;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-ct-'));
  root = makeRoot();
  intermediate = makeIntermediate(root);
  await start();
  ct.addRoot(root.der);
});

after(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(stack.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function get(path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(stack.url + path);
  return { status: res.status, json: await res.json() };
}

const b64 = (b: Buffer): string => b.toString('base64');
const sx = (b: Buffer): SigstoreX509 => SigstoreX509.parse(Buffer.from(b));

async function logKey(): Promise<PublicKey> {
  return PublicKey.fromPem(await (await fetch(stack.url + '/ct/v1/public-key')).text());
}

async function sth(): Promise<{ tree_size: number; timestamp: number; sha256_root_hash: string; tree_head_signature: string }> {
  const r = await get('/ct/v1/get-sth');
  assert.equal(r.status, 200);
  return r.json;
}

function trustedRootFor(info: TrustInfo[]): ReturnType<typeof TrustedRoot.fromJSON> {
  const c = info.find((i) => i.kind === 'ctlog');
  assert.ok(c && c.kind === 'ctlog');
  return TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [
      {
        subject: { organization: 'cairn.test', commonName: 'test' },
        uri: stack.url,
        certChain: { certificates: [{ rawBytes: b64(intermediate.der) }, { rawBytes: b64(root.der) }] },
        validFor: { start: '2020-01-01T00:00:00Z' },
      },
    ],
    ctlogs: [
      {
        baseUrl: c.baseUrl,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: c.publicKey, keyDetails: c.keyDetails, validFor: { start: c.validFrom } },
        logId: { keyId: c.logId },
      },
    ],
    timestampAuthorities: [],
  });
}

test('add-pre-chain: the SCT verifies with sct.ts and with sigstore-js, and its leaf is provably in the tree', async () => {
  const before = await sth();
  const p = precertWithFinal(intermediate);
  const r = await post('/ct/v1/add-pre-chain', { chain: [b64(p.precert), b64(intermediate.der), b64(root.der)] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual(Object.keys(r.json).sort(), ['extensions', 'id', 'sct_version', 'signature', 'timestamp']);
  const sct = sctFromJson(r.json);
  const key = await logKey();
  assert.deepEqual(sct.logId, key.keyId);

  const info = (await get('/api/cairn/v1/trust-info')).json as TrustInfo[];
  const ctInfo = info.find((i) => i.kind === 'ctlog');
  assert.ok(ctInfo && ctInfo.kind === 'ctlog');
  assert.equal(ctInfo.logId, b64(key.keyId));
  assert.equal(ctInfo.publicKey, b64(key.spki));
  assert.equal(ctInfo.keyDetails, 'PKIX_ECDSA_P256_SHA_256');
  assert.ok(Date.parse(ctInfo.validFrom) <= sct.timestamp);

  // The final certificate, as a Fulcio-style CA would build it, carries a verifying SCT.
  const final = p.finalWith(encodeSctList([sct]));
  assert.deepEqual(verifyEmbeddedScts(final, intermediate.der, key), { verified: 1, failed: 0 });
  // sigstore-js's own SCT check (the one @sigstore/verify runs for ctlogThreshold).
  const tm = toTrustMaterial(trustedRootFor(info));
  const ids = verifySCTs(sx(final), sx(intermediate.der), tm.ctlogs);
  assert.deepEqual(ids.map((b: Buffer) => b64(b)), [b64(key.keyId)]);
  // A final certificate whose TBS differs from the precert (another serial) must not verify.
  const other = precertWithFinal(intermediate).finalWith(encodeSctList([sct]));
  assert.throws(() => verifySCTs(sx(other), sx(intermediate.der), tm.ctlogs));

  // Durable before answer: the STH already includes the leaf, and its signature verifies.
  const head = await sth();
  assert.equal(head.tree_size, before.tree_size + 1);
  assert.ok(head.timestamp >= sct.timestamp);
  const rootHash = Buffer.from(head.sha256_root_hash, 'base64');
  assert.ok(verifyDigitallySigned(key, treeHeadSignedData({ timestamp: head.timestamp, treeSize: head.tree_size, rootHash }), Buffer.from(head.tree_head_signature, 'base64')));

  // get-entries: the leaf is the RFC 6962 MerkleTreeLeaf of the poison-free TBS.
  const idx = head.tree_size - 1;
  const e = await get(`/ct/v1/get-entries?start=${idx}&end=${idx}`);
  assert.equal(e.status, 200);
  assert.equal(e.json.entries.length, 1);
  const leafInput = Buffer.from(e.json.entries[0].leaf_input, 'base64');
  const leaf = parseMerkleTreeLeaf(leafInput);
  assert.equal(leaf.entryType, 'precert');
  assert.equal(leaf.timestamp, sct.timestamp);
  assert.ok(leaf.entryType === 'precert');
  assert.deepEqual(leaf.tbs, removeExtensionFromTbs(p.precertTbs, OID_CT_POISON));
  assert.deepEqual(leaf.issuerKeyHash, spkiHash(intermediate));
  // extra_data: PrecertChainEntry = uint24 precert, uint24 list of uint24 certs (RFC 6962 §4.6).
  const extra = Buffer.from(e.json.entries[0].extra_data, 'base64');
  assert.deepEqual(readAsn1CertList(extra), { first: p.precert, chain: [intermediate.der, root.der] });

  // get-proof-by-hash: the audit path proves the leaf into the signed root.
  const lh = leafHash(leafInput);
  const pr = await get(`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(lh))}&tree_size=${head.tree_size}`);
  assert.equal(pr.status, 200);
  assert.equal(pr.json.leaf_index, idx);
  verifyInclusion(lh, idx, head.tree_size, pr.json.audit_path.map((h: string) => Buffer.from(h, 'base64')), rootHash);

  // get-roots lists the accepted root.
  const roots = await get('/ct/v1/get-roots');
  assert.ok(roots.json.certificates.includes(b64(root.der)));
});

function spkiHash(ca: TestCa): Buffer {
  return PublicKey.fromSpki(ca.spki).keyId;
}

function readAsn1CertList(extra: Buffer): { first: Buffer; chain: Buffer[] } {
  let pos = 0;
  const u24 = (): number => {
    const v = extra.readUIntBE(pos, 3);
    pos += 3;
    return v;
  };
  const firstLen = u24();
  const first = extra.subarray(pos, pos + firstLen);
  pos += firstLen;
  const total = u24();
  assert.equal(pos + total, extra.length);
  const chain: Buffer[] = [];
  while (pos < extra.length) {
    const n = u24();
    chain.push(extra.subarray(pos, pos + n));
    pos += n;
  }
  return { first, chain };
}

test('resubmitting the same precert returns the same SCT and adds no leaf; racing duplicates share one', async () => {
  const p = precertWithFinal(intermediate);
  const chain = { chain: [b64(p.precert), b64(intermediate.der), b64(root.der)] };
  const results = await Promise.all(Array.from({ length: 5 }, () => post('/ct/v1/add-pre-chain', chain)));
  for (const r of results) assert.equal(r.status, 200);
  const size = (await sth()).tree_size;
  const again = await post('/ct/v1/add-pre-chain', chain);
  assert.deepEqual(again.json, results[0]!.json);
  for (const r of results) assert.deepEqual(r.json, results[0]!.json);
  assert.equal((await sth()).tree_size, size);
});

test('many concurrent submissions: every SCT verifies, every leaf has a proof, heads stay consistent', async () => {
  const key = await logKey();
  const first = await sth();
  const items = Array.from({ length: 24 }, () => precertWithFinal(intermediate));
  const answers = await Promise.all(items.map((p) => ct.addPreChain([p.precert, intermediate.der, root.der])));
  for (let i = 0; i < items.length; i++) {
    assert.deepEqual(verifyEmbeddedScts(items[i]!.finalWith(encodeSctList([answers[i]!])), intermediate.der, key), { verified: 1, failed: 0 });
  }
  const second = await sth();
  assert.equal(second.tree_size, first.tree_size + items.length);
  const c = await get(`/ct/v1/get-sth-consistency?first=${first.tree_size}&second=${second.tree_size}`);
  assert.equal(c.status, 200);
  verifyConsistency(
    first.tree_size,
    second.tree_size,
    c.json.consistency.map((h: string) => Buffer.from(h, 'base64')),
    Buffer.from(first.sha256_root_hash, 'base64'),
    Buffer.from(second.sha256_root_hash, 'base64'),
  );
  const entries = await get(`/ct/v1/get-entries?start=${first.tree_size}&end=${second.tree_size + 100}`);
  assert.equal(entries.json.entries.length, items.length);
  const rootHash = Buffer.from(second.sha256_root_hash, 'base64');
  for (let i = 0; i < items.length; i++) {
    const lh = leafHash(Buffer.from(entries.json.entries[i].leaf_input, 'base64'));
    const pr = await get(`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(lh))}&tree_size=${second.tree_size}`);
    verifyInclusion(lh, pr.json.leaf_index, second.tree_size, pr.json.audit_path.map((h: string) => Buffer.from(h, 'base64')), rootHash);
  }
});

test('add-chain logs a final certificate as an x509_entry and a chain may stop below the root', async () => {
  const key = await logKey();
  const leaf = makeLeaf(intermediate).der;
  const r = await post('/ct/v1/add-chain', { chain: [b64(leaf), b64(intermediate.der)] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const sct = sctFromJson(r.json);
  assert.ok(verifyDigitallySigned(key, certificateSignedData({ timestamp: sct.timestamp, certificate: leaf }), sct.signature));
  const head = await sth();
  const e = await get(`/ct/v1/get-entries?start=${head.tree_size - 1}&end=${head.tree_size - 1}`);
  const parsed = parseMerkleTreeLeaf(Buffer.from(e.json.entries[0].leaf_input, 'base64'));
  assert.ok(parsed.entryType === 'x509');
  assert.deepEqual(parsed.certificate, leaf);
  // certificate_chain: the intermediate and the root the log appended.
  const extra = Buffer.from(e.json.entries[0].extra_data, 'base64');
  const total = extra.readUIntBE(0, 3);
  assert.equal(total + 3, extra.length);
  const l1 = extra.readUIntBE(3, 3);
  assert.deepEqual(extra.subarray(6, 6 + l1), intermediate.der);
  assert.deepEqual(extra.subarray(6 + l1 + 3), root.der);
});

test('the in-process HttpCtLog client gets and checks SCTs over HTTP, and reports refusals', async () => {
  const key = await logKey();
  const client = new HttpCtLog(stack.url + '/', { publicKey: key });
  const p = precertWithFinal(intermediate);
  const sct = await client.addPreChain([p.precert, intermediate.der, root.der]);
  assert.deepEqual(verifyEmbeddedScts(p.finalWith(encodeSctList([sct])), intermediate.der, key), { verified: 1, failed: 0 });
  await assert.rejects(client.addPreChain([makeLeaf(intermediate).der, intermediate.der]), (e) => e instanceof HttpCtError && e.code === 'CT_REJECTED' && e.remoteCode === 'MISSING_POISON');
  const wrongKey = new HttpCtLog(stack.url, { publicKey: PublicKey.fromSpki(spkiOf(newKey())) });
  await assert.rejects(wrongKey.addPreChain([precertWithFinal(intermediate).precert, intermediate.der]), (e) => e instanceof HttpCtError && e.code === 'CT_BAD_RESPONSE');
  await assert.rejects(new HttpCtLog('http://127.0.0.1:1').addPreChain([p.precert]), (e) => e instanceof HttpCtError && e.code === 'CT_UNAVAILABLE');
});

async function expectRefusal(path: string, body: unknown, status: number, code: string): Promise<void> {
  const size = (await sth()).tree_size;
  const r = await post(path, body);
  assert.equal(r.status, status, `${code}: ${JSON.stringify(r.json)}`);
  assert.equal(r.json.code, code);
  assert.equal((await sth()).tree_size, size, 'nothing stored after a refusal');
}

test('bad submissions are refused with their code and store nothing', async () => {
  const good = precertWithFinal(intermediate).precert;
  const chainOf = (...certs: Buffer[]): { chain: string[] } => ({ chain: certs.map(b64) });
  await expectRefusal('/ct/v1/add-pre-chain', '{not json', 400, 'INVALID_JSON');
  await expectRefusal('/ct/v1/add-pre-chain', '"a string"', 400, 'INVALID_JSON');
  await expectRefusal('/ct/v1/add-pre-chain', [], 400, 'INVALID_JSON');
  await expectRefusal('/ct/v1/add-pre-chain', {}, 400, 'INVALID_REQUEST');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: [] }, 400, 'INVALID_REQUEST');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: 'abc' }, 400, 'INVALID_REQUEST');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: [42] }, 400, 'INVALID_REQUEST');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: ['not base64!'] }, 400, 'INVALID_BASE64');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: [b64(Buffer.from('garbage'))] }, 400, 'INVALID_CERTIFICATE');
  // Trailing bytes after the certificate: not strict DER.
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(Buffer.concat([good, Buffer.from([0])]), intermediate.der), 400, 'INVALID_CERTIFICATE');
  // Strict DER to our reader, refused by OpenSSL (a non-minimal OID in the outer signature
  // algorithm): the leaf is parsed by OpenSSL only on the slow path, and refused with the same code.
  const badOid = Buffer.from(good);
  badOid[badOid.lastIndexOf(splitCertificate(good).signatureAlgorithm) + 4] = 0x80;
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(badOid, intermediate.der), 400, 'INVALID_CERTIFICATE');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: Array.from({ length: 9 }, () => b64(good)) }, 400, 'CHAIN_TOO_LARGE');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: [b64(Buffer.alloc(40 * 1024, 0x30))] }, 400, 'CHAIN_TOO_LARGE');
  await expectRefusal('/ct/v1/add-pre-chain', { chain: ['A'.repeat(MAX_SUBMISSION_BYTES)] }, 413, 'BODY_TOO_LARGE');

  // No poison / a non-critical poison / a poison that is not NULL.
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(makeLeaf(intermediate).der, intermediate.der), 400, 'MISSING_POISON');
  const spki = spkiOf(newKey());
  const exts = leafExtensions(intermediate, spki);
  const nonCritical = makeLeaf(intermediate, { spki, extensions: [...exts, { oid: OID_CT_POISON, value: Buffer.from([5, 0]) }] }).der;
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(nonCritical, intermediate.der), 400, 'MISSING_POISON');
  const notNull = makeLeaf(intermediate, { spki, extensions: [...exts, { oid: OID_CT_POISON, critical: true, value: Buffer.from([4, 0]) }] }).der;
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(notNull, intermediate.der), 400, 'MISSING_POISON');
  // A precertificate sent to add-chain.
  await expectRefusal('/ct/v1/add-chain', chainOf(good, intermediate.der), 400, 'UNEXPECTED_POISON');

  // Broken links: wrong issuer, a forged signature, an issuer that is not a CA.
  const otherIntermediate = makeIntermediate(root, 'Other Intermediate');
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(good, otherIntermediate.der, root.der), 400, 'BROKEN_CHAIN');
  const forged = Buffer.from(good);
  forged[forged.length - 5]! ^= 0x01;
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(forged, intermediate.der, root.der), 400, 'BROKEN_CHAIN');
  const sameNameImpostor = makeIntermediate(root, 'Cairn Test Intermediate');
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(good, sameNameImpostor.der, root.der), 400, 'BROKEN_CHAIN');
  const leafAsIssuerKey = newKey();
  const leafAsIssuer: TestCa = { name: name('Not A CA'), key: leafAsIssuerKey, spki: spkiOf(leafAsIssuerKey), der: signTbs(tbsCertificate({ issuer: intermediate.name, subject: name('Not A CA'), spki: spkiOf(leafAsIssuerKey), extensions: [] }), intermediate.key) };
  const underLeaf = makeLeaf(leafAsIssuer, { poisonAt: 0 }).der;
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(underLeaf, leafAsIssuer.der, intermediate.der, root.der), 400, 'BROKEN_CHAIN');

  // Unknown roots: another hierarchy, or a chain that stops at an unknown intermediate.
  const strangerRoot = makeRoot('Stranger Root');
  const strangerInt = makeIntermediate(strangerRoot);
  const strangerPre = makeLeaf(strangerInt, { poisonAt: 0 }).der;
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(strangerPre, strangerInt.der, strangerRoot.der), 400, 'UNKNOWN_ROOT');
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(strangerPre, strangerInt.der), 400, 'UNKNOWN_ROOT');
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(root.der), 400, 'MISSING_POISON');
  await expectRefusal('/ct/v1/add-chain', chainOf(root.der), 400, 'BROKEN_CHAIN');

  // RFC 6962 §3.1 Precertificate Signing Certificates are refused explicitly.
  const pscKey = newKey();
  const pscSpki = spkiOf(pscKey);
  const pscName = name('Precert Signer');
  const psc: TestCa = {
    name: pscName,
    key: pscKey,
    spki: pscSpki,
    der: signTbs(
      tbsCertificate({
        issuer: intermediate.name,
        subject: pscName,
        spki: pscSpki,
        extensions: [
          { oid: '2.5.29.19', critical: true, value: seq(Buffer.from([0x01, 0x01, 0xff])) },
          { oid: '2.5.29.15', critical: true, value: bitString(Buffer.from([0x06]), 1) },
          { oid: '2.5.29.37', value: seq(oid('1.3.6.1.4.1.11129.2.4.4')) },
        ],
      }),
      intermediate.key,
    ),
  };
  await expectRefusal('/ct/v1/add-pre-chain', chainOf(makeLeaf(psc, { poisonAt: 0 }).der, psc.der, intermediate.der, root.der), 400, 'UNSUPPORTED_PRECERT_SIGNER');
});

test('bad read parameters are refused with INVALID_PARAMETER or ENTRY_NOT_FOUND', async () => {
  const size = (await sth()).tree_size;
  assert.ok(size >= 2);
  const cases: [string, number, string][] = [
    ['/ct/v1/get-sth-consistency?first=2&second=1', 400, 'INVALID_PARAMETER'],
    [`/ct/v1/get-sth-consistency?first=1&second=${size + 1}`, 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-sth-consistency?first=1', 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-sth-consistency?first=-1&second=1', 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-sth-consistency?first=1e0&second=1', 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-sth-consistency?first=01&second=1', 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-sth-consistency?first=1&first=1&second=1', 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-sth-consistency?first=1&second=99999999999999999999', 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-entries?start=2&end=1', 400, 'INVALID_PARAMETER'],
    [`/ct/v1/get-entries?start=${size}&end=${size}`, 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-entries?start=x&end=1', 400, 'INVALID_PARAMETER'],
    ['/ct/v1/get-proof-by-hash?hash=abc&tree_size=1', 400, 'INVALID_PARAMETER'],
    [`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(Buffer.alloc(31)))}&tree_size=1`, 400, 'INVALID_PARAMETER'],
    [`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(Buffer.alloc(32)))}&tree_size=0`, 400, 'INVALID_PARAMETER'],
    [`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(Buffer.alloc(32)))}&tree_size=${size + 1}`, 400, 'INVALID_PARAMETER'],
    [`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(Buffer.alloc(32)))}&tree_size=${size}`, 404, 'ENTRY_NOT_FOUND'],
  ];
  for (const [path, status, code] of cases) {
    const r = await get(path);
    assert.equal(r.status, status, path);
    assert.equal(r.json.code, code, path);
  }
  // A leaf that exists but only in a larger tree than asked for.
  const e = await get(`/ct/v1/get-entries?start=${size - 1}&end=${size - 1}`);
  const lh = leafHash(Buffer.from(e.json.entries[0].leaf_input, 'base64'));
  const r = await get(`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(lh))}&tree_size=${size - 1}`);
  assert.equal(r.status, 404);
  assert.equal(r.json.code, 'ENTRY_NOT_FOUND');
});

test('restart keeps the key, its validity start, the tree, the roots and the dedupe table', async () => {
  const p = precertWithFinal(intermediate);
  const chain = [p.precert, intermediate.der, root.der];
  const sct1 = await ct.addPreChain(chain);
  const head1 = await sth();
  const info1 = (await get('/api/cairn/v1/trust-info')).json as TrustInfo[];
  await stack.close();
  await start();
  const head2 = await sth();
  assert.equal(head2.tree_size, head1.tree_size);
  assert.equal(head2.sha256_root_hash, head1.sha256_root_hash);
  // Same key, log ID and validity start; only the base URL moves with the new port.
  const strip = (l: TrustInfo[]): unknown => l.map((i) => ({ ...i, baseUrl: undefined }));
  assert.deepEqual(strip((await get('/api/cairn/v1/trust-info')).json), strip(info1));
  // Roots came back from <dataDir>/ct/roots, and the same precert gets the same SCT.
  const sct2 = await ct.addPreChain(chain);
  assert.deepEqual(sct2, sct1);
  assert.equal((await sth()).tree_size, head1.tree_size);
  // Private key file is 0600.
  const { statSync } = await import('node:fs');
  assert.equal(statSync(join(dir, 'ct', 'ct-key.pem')).mode & 0o777, 0o600);
});

test('a root dropped into the roots folder is accepted without a restart; bad roots are refused', async () => {
  const { writeFileSync } = await import('node:fs');
  const { toPem } = await import('@cairn/shared');
  const newRoot = makeRoot('Dropped Root');
  const newInt = makeIntermediate(newRoot);
  const pre = makeLeaf(newInt, { poisonAt: 0 }).der;
  writeFileSync(join(dir, 'ct', 'roots', 'dropped.pem'), toPem('CERTIFICATE', newRoot.der));
  await new Promise((r) => setTimeout(r, 1100));
  const r = await post('/ct/v1/add-pre-chain', { chain: [b64(pre), b64(newInt.der), b64(newRoot.der)] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.throws(() => ct.addRoot(intermediate.der), (e: any) => e.code === 'INVALID_ROOT');
  assert.throws(() => ct.addRoot(Buffer.from('nope')), (e: any) => e.code === 'INVALID_ROOT');
  // splitCertificate is strict: a root with trailing bytes is not a root.
  assert.throws(() => ct.addRoot(Buffer.concat([newRoot.der, Buffer.from([0])])), (e: any) => e.code === 'INVALID_ROOT');
  assert.ok(splitCertificate(newRoot.der));
});

test('the STH root equals an independent RFC 6962 tree (merkletreejs) over every leaf_input', async () => {
  const head = await sth();
  const leaves: Buffer[] = [];
  while (leaves.length < head.tree_size) {
    const r = await get(`/ct/v1/get-entries?start=${leaves.length}&end=${head.tree_size - 1}`);
    assert.equal(r.status, 200);
    for (const e of r.json.entries) leaves.push(leafHash(Buffer.from(e.leaf_input, 'base64')));
  }
  // Leaves pre-hashed with 0x00, nodes 0x01||l||r, a lonely node promoted: the RFC 6962 tree.
  const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
  const tree = new MerkleTree(leaves, sha, {
    hashLeaves: false,
    sortPairs: false,
    sortLeaves: false,
    isBitcoinTree: false,
    duplicateOdd: false,
    concatenator: (inputs: Buffer[]) => Buffer.concat([Buffer.from([0x01]), ...inputs]),
  });
  assert.equal(tree.getRoot().toString('base64'), head.sha256_root_hash);
});

const CT_CODES = new Set([
  'INVALID_JSON', 'INVALID_REQUEST', 'INVALID_BASE64', 'INVALID_CERTIFICATE', 'CHAIN_TOO_LARGE', 'MISSING_POISON',
  'UNEXPECTED_POISON', 'BROKEN_CHAIN', 'UNKNOWN_ROOT', 'UNSUPPORTED_PRECERT_SIGNER',
]);

test('mutated submissions never cause a 500 and a refusal never grows the tree (property, over HTTP)', async () => {
  const p = precertWithFinal(intermediate).precert;
  const chain = [p, intermediate.der, root.der];
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: 2 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (which, at, v, truncate) => {
      const mutated = chain.map((c) => Buffer.from(c));
      const target = mutated[which]!;
      const pos = at % target.length;
      const changed = truncate ? target.subarray(0, pos) : ((target[pos] = v), target);
      mutated[which] = Buffer.from(changed);
      const size = (await sth()).tree_size;
      const r = await post('/ct/v1/add-pre-chain', { chain: mutated.map(b64) });
      if (r.status === 200) return; // a no-op mutation (same byte) is a resubmission
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.ok(CT_CODES.has(r.json.code), r.json.code);
      assert.equal((await sth()).tree_size, size);
    }),
    { numRuns: 80 },
  );
});

test('HttpCtLog refuses malformed, oversized and failing answers by code', async () => {
  const { createServer } = await import('node:http');
  const good = { sct_version: 0, id: b64(Buffer.alloc(32, 1)), timestamp: 5, extensions: '', signature: b64(Buffer.from([4, 3, 0, 1, 9])) };
  const answers: [number, string][] = [
    [200, 'not json'],
    [200, JSON.stringify({ ...good, sct_version: 1 })],
    [200, JSON.stringify({ ...good, id: b64(Buffer.alloc(31)) })],
    [200, JSON.stringify({ ...good, signature: b64(Buffer.from([4, 3, 0, 5, 1])) })],
    [200, JSON.stringify({ ...good, timestamp: -1 })],
    [200, JSON.stringify({ ...good, extensions: 'not base64!' })],
    [200, JSON.stringify({ ...good, pad: 'x'.repeat(20_000) })],
    [500, JSON.stringify({ code: 'INTERNAL', message: 'boom' })],
    [400, JSON.stringify({ code: 'UNKNOWN_ROOT', message: 'no' })],
  ];
  const expected = ['CT_BAD_RESPONSE', 'CT_BAD_RESPONSE', 'CT_BAD_RESPONSE', 'CT_BAD_RESPONSE', 'CT_BAD_RESPONSE', 'CT_BAD_RESPONSE', 'CT_BAD_RESPONSE', 'CT_UNAVAILABLE', 'CT_REJECTED'];
  let i = 0;
  const server = createServer((_req, res) => {
    const [status, text] = answers[i]!;
    res.writeHead(status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const { port } = server.address() as { port: number };
    const client = new HttpCtLog(`http://127.0.0.1:${port}`);
    for (i = 0; i < answers.length; i++) {
      await assert.rejects(client.addPreChain([root.der]), (e) => e instanceof HttpCtError && e.code === expected[i], `answer ${i}`);
    }
    // The well-formed answer parses (no key given, so no signature check).
    answers.push([200, JSON.stringify(good)]);
    const sct = await client.addPreChain([root.der]);
    assert.equal(sct.timestamp, 5);
    assert.equal(sct.extensions.length, 0);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
