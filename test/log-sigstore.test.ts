/**
 * Entries written through HTTP are checked by the real sigstore-js verifier (@sigstore/verify
 * 3.1.1): SET, inclusion proof and checkpoint against a trusted root holding the log's key.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { PublicKey, LocalVerifier } from '@cairn/shared';
import { leafHash, verifyInclusion } from '@cairn/shared/merkle';
import { parseCheckpoint, parseSignedNote, verifyNoteSignature } from '@cairn/shared/checkpoint';
import { STORE_KINDS, createTestDatabase, storeSkip } from '@cairn/log/test-stores';
import { b64, dsseEnvelope, hashedRekord, intoto002, keyPair, pae, post, startLog, type LogServer } from './log-helpers.ts';

let log: LogServer;
// One suite, both stores: the PostgreSQL run gets a database of its own.
for (const kind of STORE_KINDS) {
  describe(`log over HTTP [${kind}]`, { skip: storeSkip(kind) }, () => {
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      const db = kind === 'postgres' ? await createTestDatabase() : undefined;
      drop = db?.drop;
      log = await startLog(undefined, {}, undefined, db?.url);
    });
    after(async () => {
      await log.stop();
      await drop?.();
    });
    suite();
  });
}

function trustMaterial(signerKeyPem: string) {
  const root = TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: log.trust.baseUrl,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: log.trust.publicKey, keyDetails: log.trust.keyDetails, validFor: { start: log.trust.validFrom } },
        logId: { keyId: log.trust.logId },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
  const spki = PublicKey.fromPem(signerKeyPem).spki.toString('base64');
  return toTrustMaterial(root, { signer: { rawBytes: Buffer.from(spki, 'base64'), keyDetails: 1, validFor: { start: new Date(0) } } });
}

/** The TransparencyLogEntry sigstore-js builds from a Rekor v1 LogEntry (§2.5). */
function toTlogEntry(map: Record<string, any>): any {
  const [entry] = Object.values(map);
  const body = JSON.parse(Buffer.from(entry.body, 'base64').toString());
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: Buffer.from(entry.logID, 'hex').toString('base64') },
    kindVersion: { kind: body.kind, version: body.apiVersion },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(entry.verification.inclusionProof.logIndex),
      rootHash: Buffer.from(entry.verification.inclusionProof.rootHash, 'hex').toString('base64'),
      treeSize: String(entry.verification.inclusionProof.treeSize),
      hashes: entry.verification.inclusionProof.hashes.map((h: string) => Buffer.from(h, 'hex').toString('base64')),
      checkpoint: { envelope: entry.verification.inclusionProof.checkpoint },
    },
    canonicalizedBody: entry.body,
  };
}

function messageBundle(tlog: any, digest: Buffer, signature: Buffer): any {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'signer' }, tlogEntries: [tlog], timestampVerificationData: { rfc3161Timestamps: [] } },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') }, signature: signature.toString('base64') },
  };
}

function verifyBundle(bundleJson: any, artifact: Buffer | undefined, keyPem: string, timestampThreshold = 1): void {
  const verifier = new Verifier(trustMaterial(keyPem), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold });
  verifier.verify(toSignedEntity(bundleFromJSON(bundleJson), artifact));
}

function suite(): void {
test('hashedrekord 0.0.1 written over HTTP verifies with @sigstore/verify; tampering fails', async () => {
  const k = keyPair();
  // Some entries first so the proof has real hashes.
  for (let i = 0; i < 5; i++) assert.equal((await post(`${log.url}/api/v1/log/entries`, hashedRekord(Buffer.from(`filler ${i}`)).entry)).status, 201);
  const artifact = Buffer.from('the artifact bytes');
  const { entry, digest, signature } = hashedRekord(artifact, k);
  const res = await post(`${log.url}/api/v1/log/entries`, entry);
  assert.equal(res.status, 201);
  const [entryId] = Object.keys(res.json);
  assert.match(entryId!, /^[0-9a-f]{80}$/);
  assert.equal(res.headers.get('etag'), entryId);
  assert.equal(res.headers.get('location'), `/api/v1/log/entries/${entryId}`);
  const tlog = toTlogEntry(res.json);
  assert.ok(tlog.inclusionProof.hashes.length > 0);
  verifyBundle(messageBundle(tlog, digest, signature), artifact, k.pem);

  const bad = (mutate: (t: any) => void): void => {
    const t = structuredClone(tlog);
    mutate(t);
    assert.throws(() => verifyBundle(messageBundle(t, digest, signature), artifact, k.pem));
  };
  bad((t) => (t.inclusionProof.hashes[0] = Buffer.alloc(32, 7).toString('base64')));
  bad((t) => (t.inclusionProof.logIndex = String(Number(t.inclusionProof.logIndex) - 1)));
  bad((t) => {
    const lines = t.inclusionProof.checkpoint.envelope.split('\n');
    lines[2] = Buffer.alloc(32, 1).toString('base64');
    t.inclusionProof.checkpoint.envelope = lines.join('\n');
  });
  bad((t) => {
    const set = Buffer.from(t.inclusionPromise.signedEntryTimestamp, 'base64');
    set[set.length - 2]! ^= 1;
    t.inclusionPromise.signedEntryTimestamp = set.toString('base64');
  });
  bad((t) => (t.integratedTime = String(Number(t.integratedTime) + 1)));
  // And the wrong artifact.
  assert.throws(() => verifyBundle(messageBundle(tlog, digest, signature), Buffer.from('other'), k.pem));

  // Reading the entry back (by UUID, entry ID and index) gives a proof against the current head.
  for (let i = 0; i < 3; i++) await post(`${log.url}/api/v1/log/entries`, hashedRekord(Buffer.from(`later ${i}`)).entry);
  const uuid = entryId!.slice(16);
  for (const path of [`entries/${uuid}`, `entries/${entryId}`, `entries?logIndex=${tlog.logIndex}`]) {
    const got = (await (await fetch(`${log.url}/api/v1/log/${path}`)).json()) as Record<string, any>;
    const t2 = toTlogEntry(got);
    assert.equal(t2.canonicalizedBody, tlog.canonicalizedBody);
    assert.ok(Number(t2.inclusionProof.treeSize) > Number(tlog.inclusionProof.treeSize));
    verifyBundle(messageBundle(t2, digest, signature), artifact, k.pem);
  }
});

test('dsse 0.0.1 and intoto 0.0.2 entries verify with @sigstore/verify', async () => {
  const k = keyPair();
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a', digest: { sha256: createHash('sha256').update('a').digest('hex') } }], predicateType: 'https://example/p', predicate: {} }));
  const env = dsseEnvelope(statement, k);
  const dsse = await post(`${log.url}/api/v1/log/entries`, { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: JSON.stringify(env), verifiers: [b64(k.pem)] } } });
  assert.equal(dsse.status, 201);
  const bundle = (tlog: any) => ({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'signer' }, tlogEntries: [tlog], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: { payload: env.payload, payloadType: env.payloadType, signatures: [{ sig: env.signatures[0]!.sig, keyid: '' }] },
  });
  verifyBundle(bundle(toTlogEntry(dsse.json)), undefined, k.pem);

  // intoto 0.0.2 as @sigstore/sign builds it (double base64, hash over the JCS envelope).
  const intoto = await post(`${log.url}/api/v1/log/entries`, intoto002(statement, k, env));
  assert.equal(intoto.status, 201, JSON.stringify(intoto.json));
  verifyBundle(bundle(toTlogEntry(intoto.json)), undefined, k.pem);
  // Search by the subject digest of the statement finds both attestations.
  const found = await post(`${log.url}/api/v1/index/retrieve`, { hash: `sha256:${createHash('sha256').update('a').digest('hex')}` });
  assert.deepEqual(found.json.sort(), [...Object.keys(dsse.json), ...Object.keys(intoto.json)].sort());
});

test('Rekor v2 hashedrekord 0.0.2: protojson response; proof + checkpoint verify (own code and @sigstore/verify without timestamps)', async () => {
  const k = keyPair();
  const artifact = Buffer.from('v2 artifact');
  const digest = createHash('sha256').update(artifact).digest();
  const signature = sign('sha256', artifact, k.privateKey);
  const certLess = { publicKey: { rawBytes: PublicKey.fromPem(k.pem).spki.toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' };
  const res = await post(`${log.url}/api/v2/log/entries`, { hashedRekordRequestV002: { digest: digest.toString('base64'), signature: { content: signature.toString('base64'), verifier: certLess } } });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const e = res.json;
  assert.deepEqual(Object.keys(e), ['logIndex', 'logId', 'kindVersion', 'inclusionProof', 'canonicalizedBody']);
  assert.deepEqual(Object.keys(e.inclusionProof), ['logIndex', 'rootHash', 'treeSize', 'hashes', 'checkpoint']);
  assert.deepEqual(e.kindVersion, { kind: 'hashedrekord', version: '0.0.2' });
  assert.equal(e.logId.keyId, log.trust.logId);
  const body = Buffer.from(e.canonicalizedBody, 'base64');
  assert.equal(
    body.toString(),
    `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":"${digest.toString('base64')}"},"signature":{"content":"${signature.toString('base64')}","verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{"rawBytes":"${certLess.publicKey.rawBytes}"}}}}}}`,
  );
  // Own verification: checkpoint signed by the log key under name = origin = URL hostname.
  const hostname = new URL(log.url).hostname;
  const note = parseSignedNote(e.inclusionProof.checkpoint.envelope);
  const cp = parseCheckpoint(note.text);
  assert.equal(cp.origin, hostname);
  assert.ok(verifyNoteSignature(note, hostname, new LocalVerifier(PublicKey.fromSpki(Buffer.from(log.trust.publicKey, 'base64')))));
  assert.equal(cp.size, Number(e.inclusionProof.treeSize));
  assert.ok(verifyInclusion(leafHash(body), Number(e.logIndex), cp.size, e.inclusionProof.hashes.map((h: string) => Buffer.from(h, 'base64')), cp.rootHash));
  // @sigstore/verify 3.1.1 would need an RFC 3161 timestamp for a v2 entry (§3.6); with the
  // timestamp threshold at 0 it still checks the checkpoint, the inclusion proof and the body.
  const tlog = { ...e, integratedTime: '0' };
  verifyBundle(messageBundle(tlog, digest, signature), artifact, k.pem, 0);
  const tampered = structuredClone(tlog);
  tampered.canonicalizedBody = Buffer.from(body.toString().replace('SHA2_256', 'SHA2_384')).toString('base64');
  assert.throws(() => verifyBundle(messageBundle(tampered, digest, signature), artifact, k.pem, 0));
  // Duplicate: 409 with x-log-index.
  const dup = await post(`${log.url}/api/v2/log/entries`, { hashedRekordRequestV002: { digest: digest.toString('base64'), signature: { content: signature.toString('base64'), verifier: certLess } } });
  assert.equal(dup.status, 409);
  assert.equal(dup.json.code, 'DUPLICATE_ENTRY');
  assert.equal(dup.headers.get('x-log-index'), e.logIndex);
  void pae;
});
}
