/**
 * Bundle shape and Rekor conversions against two oracles: the published sigstore-js packages
 * (`@sigstore/bundle` build + bundleToJSON, `@sigstore/sign` proposed entries) and a real Rekor
 * v1 entry from the sigstore-conformance corpus (happy-path-v0.3), whose SET, inclusion proof
 * and checkpoint verify with the production Rekor key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type * as SigstoreBundle from '@sigstore/bundle';
import { readFileSync } from 'node:fs';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { LocalSigner, generateKey, sha256 } from '@cairn/shared';
import { leafHash } from '@cairn/shared/merkle';
import { dsseBundle, messageSignatureBundle, serializeBundle, type TransparencyLogEntryJson } from './bundle.ts';
import { envelopeJson, pae } from './dsse.ts';
import { checkEntryMatches, dsseEntry, hashedRekordEntry, intotoEntry, parseLogEntryMap, toTransparencyLogEntry, type LogEntry } from './rekor.ts';
import { setPayload, verifyLogEntry } from './log-proof.ts';
import { logAuthorityForKey, trustedRootLogKeys } from './log-keys.ts';

const require = createRequire(import.meta.url);
const sjsBundle = require('@sigstore/bundle') as typeof SigstoreBundle;
const sjsEntry = require('@sigstore/sign/dist/witness/tlog/entry.js') as {
  toProposedEntry(content: unknown, publicKey: string, entryType?: string): unknown;
};

// The Sigstore conformance corpus copied into the repository (provenance: its README).
const CONFORMANCE = new URL('../../../test/vectors/conformance', import.meta.url).pathname;
const happy = JSON.parse(readFileSync(`${CONFORMANCE}/bundle-verify/happy-path-v0.3/bundle.sigstore.json`, 'utf8')) as {
  verificationMaterial: { tlogEntries: TransparencyLogEntryJson[] };
};
const prodRoot = JSON.parse(readFileSync(`${CONFORMANCE}/production_trusted_root.json`, 'utf8')) as {
  tlogs: { logId: { keyId: string }; publicKey: { rawBytes: string } }[];
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** Turns a bundle tlog entry back into the Rekor v1 LogEntry it was made from (reference §2.5). */
function logEntryOf(t: TransparencyLogEntryJson): LogEntry {
  const body = Buffer.from(t.canonicalizedBody, 'base64');
  const p = t.inclusionProof!;
  return {
    uuid: leafHash(body).toString('hex'),
    body: t.canonicalizedBody,
    integratedTime: Number(t.integratedTime),
    logID: Buffer.from(t.logId.keyId, 'base64').toString('hex'),
    logIndex: Number(t.logIndex),
    verification: {
      signedEntryTimestamp: t.inclusionPromise!.signedEntryTimestamp,
      inclusionProof: {
        logIndex: Number(p.logIndex),
        rootHash: Buffer.from(p.rootHash, 'base64').toString('hex'),
        treeSize: Number(p.treeSize),
        hashes: p.hashes.map((h) => Buffer.from(h, 'base64').toString('hex')),
        checkpoint: p.checkpoint.envelope,
      },
    },
  };
}

const realTlog = happy.verificationMaterial.tlogEntries[0]!;
const realEntry = logEntryOf(realTlog);
// The production log as the trusted root describes it (parsed by @cairn/verify's one parser).
const rekorLog = trustedRootLogKeys(prodRoot).keyFor(realEntry);
const REKOR_URL = rekorLog.baseUrl;

test('a real Rekor v1 entry converts into exactly the tlog entry sigstore-js put in the bundle', () => {
  const ours = toTransparencyLogEntry(realEntry);
  assert.equal(JSON.stringify(ours), JSON.stringify(realTlog));
});

test('parseLogEntryMap reads a Rekor answer map and refuses malformed ones', () => {
  const raw = {
    body: realEntry.body,
    integratedTime: realEntry.integratedTime,
    logID: realEntry.logID,
    logIndex: realEntry.logIndex,
    verification: realEntry.verification,
  };
  const id = `${'0'.repeat(16)}${realEntry.uuid}`;
  const parsed = parseLogEntryMap({ [id]: raw });
  assert.deepEqual(parsed, { ...realEntry, uuid: id });
  assert.equal(code(() => parseLogEntryMap({})), 'TLOG_ERROR');
  assert.equal(code(() => parseLogEntryMap({ [id]: raw, [realEntry.uuid]: raw })), 'TLOG_ERROR');
  assert.equal(code(() => parseLogEntryMap({ nothex: raw })), 'TLOG_ERROR');
  assert.equal(code(() => parseLogEntryMap({ [id]: { ...raw, logIndex: '5' } })), 'TLOG_ERROR');
  assert.equal(code(() => parseLogEntryMap({ [id]: { ...raw, logID: 'AB' } })), 'TLOG_ERROR');
  assert.equal(code(() => parseLogEntryMap({ [id]: { ...raw, body: 'not base64!' } })), 'TLOG_ERROR');
  const badProof = { ...raw, verification: { inclusionProof: { ...realEntry.verification!.inclusionProof!, hashes: ['zz'] } } };
  assert.equal(code(() => parseLogEntryMap({ [id]: badProof })), 'TLOG_ERROR');
});

test('the real entry verifies: UUID, SET, inclusion proof and checkpoint with the production Rekor key', () => {
  const v = verifyLogEntry(realEntry, rekorLog);
  assert.equal(v.checkpoint.signer, 'rekor.sigstore.dev');
  assert.equal(v.inclusion.treeSize, 75408393);
});

test('tampering with the real entry is detected with the right code', () => {
  const proof = realEntry.verification!.inclusionProof!;
  const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  assert.equal(code(() => verifyLogEntry({ ...realEntry, verification: { ...realEntry.verification, inclusionProof: { ...proof, hashes: [flip(proof.hashes[0]!), ...proof.hashes.slice(1)] } } }, rekorLog)), 'PROOF_INVALID');
  assert.equal(code(() => verifyLogEntry({ ...realEntry, verification: { ...realEntry.verification, inclusionProof: { ...proof, logIndex: proof.logIndex - 1 } } }, rekorLog)), 'PROOF_INVALID');
  assert.equal(code(() => verifyLogEntry({ ...realEntry, integratedTime: realEntry.integratedTime + 1 }, rekorLog)), 'SET_INVALID');
  assert.equal(code(() => verifyLogEntry({ ...realEntry, uuid: flip(realEntry.uuid) }, rekorLog)), 'PROOF_INVALID');
  const sigLine = proof.checkpoint.indexOf('\u2014');
  const badCp = proof.checkpoint.slice(0, sigLine) + proof.checkpoint.slice(sigLine).replace(/[A-Za-z](?=[A-Za-z0-9+/]*=*\n$)/, (c) => (c === 'A' ? 'B' : 'A'));
  assert.notEqual(badCp, proof.checkpoint);
  assert.equal(code(() => verifyLogEntry({ ...realEntry, verification: { ...realEntry.verification, inclusionProof: { ...proof, checkpoint: badCp } } }, rekorLog)), 'CHECKPOINT_INVALID');
  assert.equal(code(() => verifyLogEntry({ ...realEntry, verification: { ...realEntry.verification, inclusionProof: { ...proof, checkpoint: 'garbage' } } }, rekorLog)), 'CHECKPOINT_INVALID');
  const other = new LocalSigner(generateKey('ecdsa-p256')).publicKey;
  assert.equal(code(() => verifyLogEntry(realEntry, logAuthorityForKey(other, REKOR_URL))), 'SET_INVALID');
  assert.equal(code(() => verifyLogEntry({ ...realEntry, verification: {} }, rekorLog)), 'SET_INVALID');
});

test('bundle JSON is byte-identical to @sigstore/bundle for keyless message signatures', () => {
  const leaf = Buffer.from('fake leaf der bytes');
  const digest = sha256('artifact');
  const signature = Buffer.from('signature bytes');
  const ours = serializeBundle(messageSignatureBundle({ kind: 'certificate', leafDer: leaf }, digest, signature, [realTlog]));
  const b = sjsBundle.toMessageSignatureBundle({ digest, signature, certificate: leaf });
  b.verificationMaterial.tlogEntries.push(sjsBundle.bundleFromJSON(happy).verificationMaterial.tlogEntries[0]!);
  assert.equal(ours, JSON.stringify(sjsBundle.bundleToJSON(b)));
});

test('bundle JSON is byte-identical to @sigstore/bundle for key-based bundles without a log entry', () => {
  const digest = sha256('artifact');
  const signature = Buffer.from('sig');
  const ours = serializeBundle(messageSignatureBundle({ kind: 'publicKey', hint: 'my-hint' }, digest, signature, []));
  const theirs = JSON.stringify(sjsBundle.bundleToJSON(sjsBundle.toMessageSignatureBundle({ digest, signature, keyHint: 'my-hint' })));
  assert.equal(ours, theirs);
});

test('DSSE bundle JSON is byte-identical to @sigstore/bundle (keyless and key-based)', () => {
  const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
  const signature = Buffer.from('dsse-sig');
  const leaf = Buffer.from('leaf');
  const keyless = serializeBundle(dsseBundle({ kind: 'certificate', leafDer: leaf }, envelopeJson('application/vnd.in-toto+json', payload, signature), []));
  const keylessTheirs = sjsBundle.bundleToJSON(sjsBundle.toDSSEBundle({ artifact: payload, artifactType: 'application/vnd.in-toto+json', signature, certificate: leaf }));
  assert.equal(keyless, JSON.stringify(keylessTheirs));
  const keyed = serializeBundle(dsseBundle({ kind: 'publicKey', hint: 'h' }, envelopeJson('application/vnd.in-toto+json', payload, signature, 'h'), []));
  const keyedTheirs = sjsBundle.bundleToJSON(sjsBundle.toDSSEBundle({ artifact: payload, artifactType: 'application/vnd.in-toto+json', signature, keyHint: 'h' }));
  assert.equal(keyed, JSON.stringify(keyedTheirs));
});

test('proposed hashedrekord, dsse and intoto entries equal what @sigstore/sign sends', () => {
  const signer = new LocalSigner(generateKey('ecdsa-p256'));
  const pem = signer.publicKey.toPem();
  const digest = sha256('artifact');
  const sig = signer.signSync(Buffer.from('artifact'));
  const theirsHr = sjsEntry.toProposedEntry({ $case: 'messageSignature', messageSignature: { messageDigest: { algorithm: 0, digest }, signature: sig } }, pem);
  assert.equal(JSON.stringify(hashedRekordEntry(digest.toString('hex'), sig, pem)), JSON.stringify(theirsHr));

  const payload = Buffer.from('{"a":1}');
  for (const keyid of ['', 'kid']) {
    const env = envelopeJson('application/vnd.in-toto+json', payload, sig, keyid);
    const sjsEnv = { $case: 'dsseEnvelope', dsseEnvelope: { payload, payloadType: 'application/vnd.in-toto+json', signatures: [{ sig, keyid }] } };
    assert.equal(JSON.stringify(dsseEntry(env, pem)), JSON.stringify(sjsEntry.toProposedEntry(sjsEnv, pem, 'dsse')));
    assert.equal(JSON.stringify(intotoEntry(env, pem)), JSON.stringify(sjsEntry.toProposedEntry(sjsEnv, pem, 'intoto')));
  }
});

test('PAE and signature match the DSSE specification test vector', () => {
  const p = pae('http://example.com/HelloWorld', Buffer.from('hello world'));
  assert.equal(p.toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  const x = BigInt('46950820868899156662930047687818585632848591499744589407958293238635476079160');
  const y = BigInt('5640078356564379163099075877009565129882514886557779369047442380624545832820');
  const b64u = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').toString('base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(x), y: b64u(y) }, format: 'jwk' });
  const sig = Buffer.from('A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==', 'base64');
  assert.ok(cryptoVerify('sha256', p, { key, dsaEncoding: 'ieee-p1363' }, sig));
  // Byte lengths, not character counts.
  assert.equal(pae('t', Buffer.from('é')).toString(), 'DSSEv1 1 t 2 é');
});

test('SET payload is the JCS of exactly body, integratedTime, logID, logIndex (reference §2.6)', () => {
  const e: LogEntry = { uuid: 'u', body: 'eA==', integratedTime: 2, logID: 'ab', logIndex: 1, verification: { signedEntryTimestamp: 'AA==' } };
  assert.equal(setPayload(e).toString(), '{"body":"eA==","integratedTime":2,"logID":"ab","logIndex":1}');
});

test('checkEntryMatches: real hashedrekord and dsse entries match their bundles; another signature does not', () => {
  const b = happy as unknown as { messageSignature: { signature: string; messageDigest: { digest: string } } };
  const sig = Buffer.from(b.messageSignature.signature, 'base64');
  const digest = Buffer.from(b.messageSignature.messageDigest.digest, 'base64');
  assert.doesNotThrow(() => checkEntryMatches(realEntry, { kind: 'hashedrekord', signature: sig, digest }));
  assert.equal(code(() => checkEntryMatches(realEntry, { kind: 'hashedrekord', signature: Buffer.from('other'), digest })), 'TLOG_ERROR');
  assert.equal(code(() => checkEntryMatches(realEntry, { kind: 'hashedrekord', signature: sig, digest: sha256('x') })), 'TLOG_ERROR');
  assert.equal(code(() => checkEntryMatches(realEntry, { kind: 'dsse', signature: sig, digest })), 'TLOG_ERROR');
  assert.equal(code(() => checkEntryMatches({ ...realEntry, uuid: 'ab'.repeat(32) }, { kind: 'hashedrekord', signature: sig, digest })), 'TLOG_ERROR');

  const d = JSON.parse(readFileSync(`${CONFORMANCE}/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json`, 'utf8')) as {
    dsseEnvelope: { payload: string; signatures: { sig: string }[] };
    verificationMaterial: { tlogEntries: TransparencyLogEntryJson[] };
  };
  const t = d.verificationMaterial.tlogEntries[0]!;
  const body = Buffer.from(t.canonicalizedBody, 'base64');
  const dsseLogEntry: LogEntry = { uuid: leafHash(body).toString('hex'), body: t.canonicalizedBody, integratedTime: 0, logID: '00'.repeat(32), logIndex: 0 };
  const expect = { kind: 'dsse' as const, signature: Buffer.from(d.dsseEnvelope.signatures[0]!.sig, 'base64'), digest: sha256(Buffer.from(d.dsseEnvelope.payload, 'base64')) };
  assert.doesNotThrow(() => checkEntryMatches(dsseLogEntry, expect));
  assert.equal(code(() => checkEntryMatches(dsseLogEntry, { ...expect, digest: sha256('other payload') })), 'TLOG_ERROR');
});
