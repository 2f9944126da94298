/**
 * Transparency-log entry verification (sigstore-protocols §2.3-2.8, §3.2-3.6, §7.1 step 3):
 * the entry's log must be in the trusted root; its canonicalized body must describe exactly this
 * bundle (kind-specific checks); its SET (Rekor v1 inclusion promise) must verify; its inclusion
 * proof must lead to the root of a checkpoint signed by the log.
 */
import type { KeyObject } from 'node:crypto';
import { canonicalizeJcs, fromPemAll, isRecord, PublicKey, LocalVerifier, toBase64, toPem } from '@cairn/shared';
import { leafHash, verifyInclusion } from '@cairn/shared/merkle';
import { parseCheckpoint, parseSignedNote, verifyNoteSignature } from '@cairn/shared/checkpoint';
import { logNames } from '@cairn/shared/log-names';
import type { TransparencyLogEntry } from './bundle/index.ts';
import { decodeBase64 } from './bundle/json-fields.ts';
import { fail } from './errors.ts';
import { memoEnabled, verifySignature } from './memo.ts';
import { within, type TransparencyLogAuthority } from './trusted-root.ts';

/** What a log entry must agree with, derived from the bundle being verified. */
export interface EntryExpectations {
  /** The signature bytes (message signature, or the single DSSE signature). */
  signature: Buffer;
  /** hashedrekord: the digest the log recorded (artifact digest, or Hash(PAE) for DSSE). */
  digest: { algorithm: 'sha256' | 'sha384' | 'sha512'; value: Buffer } | undefined;
  /** DSSE bundles: SHA-256 of the envelope payload, and its payload type. */
  payloadSha256: Buffer | undefined;
  payloadType?: string;
  /** The signing certificate (DER), or undefined for key-based bundles. */
  certificate: Buffer | undefined;
  /** DER SPKI of the signing key (from the certificate or the operator's --key). */
  spki: Buffer;
  isDsse: boolean;
}

export interface VerifiedEntry {
  entry: TransparencyLogEntry;
  log: TransparencyLogAuthority;
  /** Integrated time vouched for by a verified SET, if any (Rekor v2 entries carry none). */
  integratedTime: Date | undefined;
}

const MAX_BODY_DEPTH = 16;
/** A log body field (signature, key, certificate, digest) is never larger than this. */
const MAX_BODY_FIELD_BYTES = 256 * 1024;

export function findLog(logs: readonly TransparencyLogAuthority[], logId: Buffer): TransparencyLogAuthority | undefined {
  return logs.find((l) => l.logId.equals(logId));
}

/** Hash used for ECDSA/RSA log signatures: Rekor signs SETs and checkpoints with SHA-256. */
function logDigest(key: KeyObject): string | null {
  return key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

export function verifyTlogEntry(entry: TransparencyLogEntry, logs: readonly TransparencyLogAuthority[], expect: EntryExpectations): VerifiedEntry {
  const log = findLog(logs, entry.logId);
  if (!log) fail('TLOG_UNTRUSTED', `the log entry names log ${entry.logId.toString('hex')}, which is not in the trusted root`);

  checkBody(entry, expect);

  let integratedTime: Date | undefined;
  if (entry.signedEntryTimestamp) {
    verifySet(entry, log);
    if (entry.integratedTime > 0) integratedTime = new Date(entry.integratedTime * 1000);
  }
  if (entry.inclusionProof) {
    verifyProof(entry, log);
  } else if (!entry.signedEntryTimestamp) {
    fail('TLOG_INCLUSION_MISSING', 'the log entry has neither an inclusion proof nor a signed entry timestamp');
  }
  return { entry, log, integratedTime };
}

/** The bytes a Rekor v1 SET signs: JCS of {body, integratedTime, logID, logIndex} (§2.6). */
export function setSignedBytes(entry: Pick<TransparencyLogEntry, 'canonicalizedBody' | 'integratedTime' | 'logId' | 'logIndex'>): Buffer {
  const payload = canonicalizeJcs({
    body: toBase64(entry.canonicalizedBody),
    integratedTime: entry.integratedTime,
    logID: entry.logId.toString('hex'),
    logIndex: entry.logIndex,
  });
  return Buffer.from(payload, 'utf8');
}

/** Rekor v1 SET: the log's signature over JCS {body, integratedTime, logID, logIndex} (§2.6). */
export function verifySet(entry: TransparencyLogEntry, log: TransparencyLogAuthority): void {
  const t = new Date(entry.integratedTime * 1000);
  if (!within(log.validFor, t)) fail('SET_INVALID', `the log key was not valid at the entry's integrated time ${t.toISOString()}`);
  if (entry.signedEntryTimestamp === undefined) fail('SET_INVALID', 'the entry carries no signed entry timestamp');
  const ok = verifySignature(logDigest(log.publicKey), setSignedBytes(entry), log.publicKey, log.rawKey, entry.signedEntryTimestamp);
  if (!ok) fail('SET_INVALID', 'the signed entry timestamp does not verify with the log key');
}

/** A checkpoint whose signature by the log, under one of its names, verified. */
export interface VerifiedCheckpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  /** The signed-note name the log's signature is under. */
  signer: string;
}

/** Checkpoints verified before, keyed by log and exact envelope text (sound: same bytes, same key). */
const verifiedCheckpoints = new WeakMap<TransparencyLogAuthority, Map<string, VerifiedCheckpoint>>();
const MAX_CACHED_CHECKPOINTS = 1024;
const verifierCache = new WeakMap<TransparencyLogAuthority, LocalVerifier>();

const namesCache = new WeakMap<TransparencyLogAuthority, string[]>();

/** The names a log may sign its checkpoints under, derived once per trusted log. */
function checkpointNames(log: TransparencyLogAuthority): string[] {
  let names = namesCache.get(log);
  if (!names) namesCache.set(log, (names = logNames(log.baseUrl)));
  return names;
}

/**
 * A checkpoint (C2SP signed note) signed by the log: a signature under one of the log's names
 * (derived from its baseUrl) with its key hint and key, and an origin that is that name (v2) or
 * "<name> - <tree id>" (Rekor v1). CHECKPOINT_INVALID otherwise.
 */
export function verifyCheckpoint(envelope: string, log: TransparencyLogAuthority): VerifiedCheckpoint {
  let perLog = memoEnabled() ? verifiedCheckpoints.get(log) : undefined;
  const hit = perLog?.get(envelope);
  if (hit) return hit;
  let note;
  let cp;
  try {
    note = parseSignedNote(envelope);
    cp = parseCheckpoint(note.text);
  } catch (e) {
    return fail('CHECKPOINT_INVALID', `the checkpoint is malformed: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  let verifier = verifierCache.get(log);
  if (!verifier) {
    const pk = new PublicKey(log.publicKey);
    // Rekor signs ECDSA checkpoints over SHA-256 whatever the curve (§2.8).
    verifier = new LocalVerifier(pk, pk.algorithm.startsWith('ecdsa') ? 'ecdsa-p256-sha256' : pk.algorithm);
    verifierCache.set(log, verifier);
  }
  const hint = log.logId.subarray(0, 4);
  const names = checkpointNames(log);
  // C2SP signed-note: a verifier is (name, key); unknown signature lines (witnesses) are ignored.
  const name = names.find((n) => note.signatures.some((s) => s.name === n && s.keyHint.equals(hint)) && verifyNoteSignature(note, n, verifier, hint));
  if (name === undefined) fail('CHECKPOINT_INVALID', `the checkpoint carries no valid signature by the log ${log.baseUrl}`);
  // The origin is the log's name (v2, C2SP tlog-checkpoint) or "<name> - <tree id>" (Rekor v1).
  const rest = cp.origin.startsWith(`${name} - `) ? cp.origin.slice(name.length + 3) : undefined;
  if (cp.origin !== name && !(rest !== undefined && /^[0-9]{1,20}$/.test(rest))) {
    fail('CHECKPOINT_INVALID', `the checkpoint origin "${cp.origin.slice(0, 128)}" is not the log's name "${name}"`);
  }
  const result: VerifiedCheckpoint = { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, signer: name };
  if (memoEnabled()) {
    if (!perLog) verifiedCheckpoints.set(log, (perLog = new Map<string, VerifiedCheckpoint>()));
    if (perLog.size >= MAX_CACHED_CHECKPOINTS) perLog.clear();
    perLog.set(envelope, result);
  }
  return result;
}

/** The inclusion proof leads from the entry to the root of a checkpoint the log signed. */
export function verifyProof(entry: TransparencyLogEntry, log: TransparencyLogAuthority): VerifiedCheckpoint {
  const proof = entry.inclusionProof;
  if (proof === undefined) return fail('TLOG_INCLUSION_MISSING', 'the log entry carries no inclusion proof');
  const cp = verifyCheckpoint(proof.checkpoint, log);
  if (cp.size !== proof.treeSize || !cp.rootHash.equals(proof.rootHash)) {
    fail('CHECKPOINT_INVALID', 'the checkpoint does not match the inclusion proof (tree size or root hash differ)');
  }
  // RFC 9162 §2.1.3.2, leaf = SHA-256(0x00 || canonicalized body), against the signed root.
  if (!verifyInclusion(leafHash(entry.canonicalizedBody), proof.logIndex, cp.size, proof.hashes, cp.rootHash)) {
    fail('TLOG_INCLUSION_INVALID', 'the inclusion proof does not lead from the entry to the checkpoint root');
  }
  return cp;
}

// ---- body checks (§2.3, §3.2, §3.6) ------------------------------------------------------

function mismatch(message: string): never {
  return fail('TLOG_ENTRY_MISMATCH', `the log entry does not match the bundle: ${message}`);
}

function get(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const k of path.slice(0, MAX_BODY_DEPTH)) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') mismatch(`${what} is missing`);
  return v;
}

function b64(v: unknown, what: string): Buffer {
  return decodeBase64(str(v, what), what, MAX_BODY_FIELD_BYTES, (m) => mismatch(m));
}

function parseBody(entry: TransparencyLogEntry): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(entry.canonicalizedBody.toString('utf8'));
  } catch {
    mismatch('the canonicalized body is not JSON');
  }
  if (!isRecord(body)) mismatch('the canonicalized body is not an object');
  if (body.kind !== entry.kind || body.apiVersion !== entry.version) {
    mismatch(`kindVersion ${entry.kind}/${entry.version} differs from the body's ${String(body.kind)}/${String(body.apiVersion)}`);
  }
  return body;
}

/** The signing key recorded in the log must be the bundle's (sigstore-go CompareKey). */
function checkPemKey(pemB64: unknown, expect: EntryExpectations, what: string): void {
  const bytes = b64(pemB64, what);
  // Fast path: the body holds exactly the canonical PEM (64-column lines, trailing newline) of the
  // expected certificate or key, as Cairn and sigstore-js write it. Anything else is parsed below.
  const label = expect.certificate !== undefined ? 'CERTIFICATE' : 'PUBLIC KEY';
  const expected = expect.certificate ?? expect.spki;
  if (bytes.equals(Buffer.from(toPem(label, expected), 'latin1'))) return;
  let blocks;
  try {
    blocks = fromPemAll(bytes.toString('utf8'), what);
  } catch {
    return mismatch(`${what} is not a PEM key or certificate`);
  }
  const b = blocks[0]!;
  const ok = b.label === 'CERTIFICATE' ? expect.certificate !== undefined && b.der.equals(expect.certificate) : b.der.equals(expect.spki);
  if (!ok) keyMismatch(what);
}

function checkV2Verifier(verifier: unknown, expect: EntryExpectations, what: string): void {
  const cert = get(verifier, 'x509Certificate', 'rawBytes');
  const key = get(verifier, 'publicKey', 'rawBytes');
  if (cert !== undefined) {
    if (!expect.certificate || !b64(cert, what).equals(expect.certificate)) keyMismatch(what);
  } else if (key !== undefined) {
    if (!b64(key, what).equals(expect.spki)) keyMismatch(what);
  } else {
    mismatch(`${what} names no key or certificate`);
  }
}

function keyMismatch(what: string): never {
  return fail(
    'KEY_MISMATCH',
    `the key or certificate recorded in the log (${what}) is not the one that signed the bundle`,
  );
}

const V2_HASHES: Record<string, 'sha256' | 'sha384' | 'sha512'> = { SHA2_256: 'sha256', SHA2_384: 'sha384', SHA2_512: 'sha512' };

function checkDigest(algorithm: string | undefined, value: Buffer, expect: EntryExpectations): void {
  if (!expect.digest) mismatch('the bundle has no digest to compare with the log');
  if (algorithm !== expect.digest.algorithm) mismatch(`the log recorded a ${String(algorithm)} digest, the bundle a ${expect.digest.algorithm} one`);
  if (!value.equals(expect.digest.value)) mismatch('the digest recorded in the log is not the artifact digest');
}

export function checkBody(entry: TransparencyLogEntry, expect: EntryExpectations): void {
  const body = parseBody(entry);
  const kv = `${entry.kind}/${entry.version}`;
  switch (kv) {
    case 'hashedrekord/0.0.1': {
      const spec = get(body, 'spec');
      if (!b64(get(spec, 'signature', 'content'), 'spec.signature.content').equals(expect.signature)) mismatch('the signature differs');
      const hex = str(get(spec, 'data', 'hash', 'value'), 'spec.data.hash.value');
      if (!/^[0-9a-f]{64,128}$/.test(hex)) mismatch('spec.data.hash.value is not lowercase hex');
      checkDigest(str(get(spec, 'data', 'hash', 'algorithm'), 'spec.data.hash.algorithm'), Buffer.from(hex, 'hex'), expect);
      checkPemKey(get(spec, 'signature', 'publicKey', 'content'), expect, 'spec.signature.publicKey');
      return;
    }
    case 'hashedrekord/0.0.2': {
      const spec = get(body, 'spec', 'hashedRekordV002');
      if (!b64(get(spec, 'signature', 'content'), 'signature.content').equals(expect.signature)) mismatch('the signature differs');
      const alg = V2_HASHES[str(get(spec, 'data', 'algorithm'), 'data.algorithm')];
      checkDigest(alg, b64(get(spec, 'data', 'digest'), 'data.digest'), expect);
      checkV2Verifier(get(spec, 'signature', 'verifier'), expect, 'signature.verifier');
      return;
    }
    case 'dsse/0.0.1': {
      if (!expect.isDsse) mismatch('a dsse entry for a message-signature bundle');
      const spec = get(body, 'spec');
      const sigs = get(spec, 'signatures');
      if (!Array.isArray(sigs) || sigs.length !== 1) mismatch('a dsse entry must record exactly one signature');
      if (!b64(get(sigs[0], 'signature'), 'signatures[0].signature').equals(expect.signature)) mismatch('the envelope signature differs');
      checkPayloadHash(get(spec, 'payloadHash', 'algorithm'), get(spec, 'payloadHash', 'value'), expect);
      checkPemKey(get(sigs[0], 'verifier'), expect, 'signatures[0].verifier');
      return;
    }
    case 'dsse/0.0.2': {
      if (!expect.isDsse) mismatch('a dsse entry for a message-signature bundle');
      const spec = get(body, 'spec', 'dsseV002');
      const sigs = get(spec, 'signatures');
      if (!Array.isArray(sigs) || sigs.length !== 1) mismatch('a dsse entry must record exactly one signature');
      if (!b64(get(sigs[0], 'content'), 'signatures[0].content').equals(expect.signature)) mismatch('the envelope signature differs');
      if (get(spec, 'payloadHash', 'algorithm') !== 'SHA2_256') mismatch('payloadHash must be SHA2_256');
      if (!expect.payloadSha256 || !b64(get(spec, 'payloadHash', 'digest'), 'payloadHash.digest').equals(expect.payloadSha256)) {
        mismatch('the payload hash differs');
      }
      checkV2Verifier(get(sigs[0], 'verifier'), expect, 'signatures[0].verifier');
      return;
    }
    case 'intoto/0.0.2': {
      if (!expect.isDsse) mismatch('an intoto entry for a message-signature bundle');
      const content = get(body, 'spec', 'content');
      const sigs = get(content, 'envelope', 'signatures');
      if (!Array.isArray(sigs) || sigs.length !== 1) mismatch('an intoto entry must record exactly one signature');
      // intoto 0.0.2 stores the signature base64-encoded twice (§2.3).
      const once = b64(get(sigs[0], 'sig'), 'signatures[0].sig').toString('utf8');
      if (!b64(once, 'signatures[0].sig (inner)').equals(expect.signature)) mismatch('the envelope signature differs');
      checkPayloadHash(get(content, 'payloadHash', 'algorithm'), get(content, 'payloadHash', 'value'), expect);
      const loggedType = get(content, 'envelope', 'payloadType');
      if (loggedType !== undefined && loggedType !== expect.payloadType) mismatch('the logged payload type differs from the envelope');
      checkPemKey(get(sigs[0], 'publicKey'), expect, 'signatures[0].publicKey');
      return;
    }
    default:
      return mismatch(`unsupported log entry kind ${kv}`);
  }
}

function checkPayloadHash(algorithm: unknown, value: unknown, expect: EntryExpectations): void {
  if (algorithm !== 'sha256') mismatch('payloadHash must be sha256');
  const hex = str(value, 'payloadHash.value');
  if (!expect.payloadSha256 || hex !== expect.payloadSha256.toString('hex')) mismatch('the payload hash differs');
}
