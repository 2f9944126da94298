/**
 * Offline checks of a Rekor v1 `LogEntry` against the log's public key, as `cairn log` prints
 * them: the entry UUID is the RFC 6962 leaf hash of the body (§2.4), the SET signs the JCS of
 * {body, integratedTime, logID, logIndex} (§2.6), the inclusion proof leads from that leaf to the
 * checkpoint's root (RFC 6962 §2.1.1), and the checkpoint is a signed note by the same key (§2.8).
 */
import { canonicalizeJcs, fromBase64, LocalVerifier, type PublicKey } from '@cairn/shared';
import { leafHash, verifyConsistency, verifyInclusion } from '@cairn/shared/merkle';
import { parseCheckpoint, parseSignedNote, verifyNoteSignature } from '@cairn/shared/checkpoint';
import { SignError } from './errors.ts';
import type { LogEntry, LogInfo, RekorClient } from './rekor.ts';

export interface EntryVerification {
  uuid: string;
  leafHash: string;
  setVerified: true;
  inclusion: { logIndex: number; treeSize: number; rootHash: string };
  checkpoint: { origin: string; size: number; signer: string };
}

/** The JCS bytes the SET signs (reference §2.6). */
export function setPayload(e: LogEntry): Buffer {
  return Buffer.from(canonicalizeJcs({ body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex }), 'utf8');
}

/** Throws SignError (PROOF_INVALID, SET_INVALID, CHECKPOINT_INVALID) at the first check that fails. */
export function verifyLogEntry(e: LogEntry, logKey: PublicKey): EntryVerification {
  const verifier = new LocalVerifier(logKey);
  const logId = logKey.keyId;
  if (e.logID !== logId.toString('hex')) throw new SignError('SET_INVALID', `the entry names log ${e.logID}, not the log whose key was given (${logId.toString('hex')})`);

  const body = fromBase64(e.body, 'entry body');
  const leaf = leafHash(body);
  const uuid = e.uuid.slice(-64);
  if (leaf.toString('hex') !== uuid) throw new SignError('PROOF_INVALID', 'the entry UUID is not the leaf hash of its body');

  const set = e.verification?.signedEntryTimestamp;
  if (set === undefined) throw new SignError('SET_INVALID', 'the entry carries no signed entry timestamp');
  if (!verifier.verify(setPayload(e), fromBase64(set, 'signedEntryTimestamp'))) throw new SignError('SET_INVALID', 'the signed entry timestamp does not verify with the log key');

  const proof = e.verification?.inclusionProof;
  if (proof === undefined) throw new SignError('PROOF_INVALID', 'the entry carries no inclusion proof');
  const hashes = proof.hashes.map((h) => Buffer.from(h, 'hex'));
  const root = Buffer.from(proof.rootHash, 'hex');
  let included: boolean;
  try {
    included = verifyInclusion(leaf, proof.logIndex, proof.treeSize, hashes, root);
  } catch {
    included = false;
  }
  if (!included) throw new SignError('PROOF_INVALID', `the inclusion proof does not lead from leaf ${proof.logIndex} to the root of a tree of ${proof.treeSize}`);

  let note;
  let cp;
  try {
    note = parseSignedNote(proof.checkpoint);
    cp = parseCheckpoint(note.text);
  } catch (err) {
    throw new SignError('CHECKPOINT_INVALID', 'the checkpoint is not a well-formed signed note', { cause: err });
  }
  if (cp.size !== proof.treeSize || !cp.rootHash.equals(root)) throw new SignError('CHECKPOINT_INVALID', 'the checkpoint does not commit to the proof tree size and root');
  // Rekor v1 key hint: the first four bytes of the log ID (C2SP signed-note, reference §2.8).
  const hint = logId.subarray(0, 4);
  const signer = note.signatures.find((s) => s.keyHint.equals(hint) && verifyNoteSignature(note, s.name, verifier, hint));
  if (signer === undefined) throw new SignError('CHECKPOINT_INVALID', 'no checkpoint signature verifies with the log key');
  return {
    uuid: e.uuid,
    leafHash: leaf.toString('hex'),
    setVerified: true,
    inclusion: { logIndex: proof.logIndex, treeSize: proof.treeSize, rootHash: proof.rootHash },
    checkpoint: { origin: cp.origin, size: cp.size, signer: signer.name },
  };
}

export interface HeadConsistency {
  /** The log's current signed tree head (GET /api/v1/log), verified with the log key. */
  head: { origin: string; size: number; rootHash: string };
  /** Checkpoint sizes shown to be prefixes of the head (RFC 6962 §2.1.2). */
  consistent: number[];
}

/** Opens a checkpoint signed by the log key (Rekor v1 key hint = first 4 bytes of the log ID). */
export function openLogCheckpoint(envelope: string, logKey: PublicKey): { origin: string; size: number; rootHash: Buffer } {
  const verifier = new LocalVerifier(logKey);
  const hint = logKey.keyId.subarray(0, 4);
  let note;
  let cp;
  try {
    note = parseSignedNote(envelope);
    cp = parseCheckpoint(note.text);
  } catch (err) {
    throw new SignError('CHECKPOINT_INVALID', 'the tree head is not a well-formed signed note', { cause: err });
  }
  if (!note.signatures.some((s) => s.keyHint.equals(hint) && verifyNoteSignature(note, s.name, verifier, hint))) {
    throw new SignError('CHECKPOINT_INVALID', 'no tree head signature verifies with the log key');
  }
  return { origin: cp.origin, size: cp.size, rootHash: cp.rootHash };
}

/**
 * Checks that every checkpoint the entries were proven against is a prefix of the log's current
 * signed tree head: a consistency proof per distinct size (RFC 6962 §2.1.2). A log that showed
 * one client a tree and later forked or shrank it fails here with PROOF_INVALID.
 */
export async function verifyConsistencyWithHead(client: RekorClient, logKey: PublicKey, checkpoints: readonly { size: number; rootHash: string }[]): Promise<HeadConsistency> {
  const info: LogInfo = await client.logInfo();
  const head = openLogCheckpoint(info.signedTreeHead, logKey);
  if (head.size !== info.treeSize || head.rootHash.toString('hex') !== info.rootHash) {
    throw new SignError('CHECKPOINT_INVALID', 'the signed tree head does not match the tree size and root the log reports');
  }
  const distinct = [...new Map(checkpoints.map((c) => [c.size, c.rootHash])).entries()].sort((a, b) => a[0] - b[0]);
  const consistent: number[] = [];
  for (const [size, root] of distinct) {
    if (size > head.size) throw new SignError('PROOF_INVALID', `the log's head (size ${head.size}) is smaller than a checkpoint it signed before (size ${size})`);
    if (size === head.size) {
      if (root !== info.rootHash) throw new SignError('PROOF_INVALID', `two different roots signed for tree size ${size}: the log forked`);
    } else {
      const proof = await client.consistencyProof(size, head.size);
      if (proof.rootHash !== info.rootHash) throw new SignError('PROOF_INVALID', 'the consistency proof names another root than the signed tree head');
      const ok = verifyConsistency(size, head.size, proof.hashes.map((h) => Buffer.from(h, 'hex')), Buffer.from(root, 'hex'), head.rootHash);
      if (!ok) throw new SignError('PROOF_INVALID', `tree size ${size} is not a prefix of the current tree (size ${head.size}): the log forked or rewrote history`);
    }
    consistent.push(size);
  }
  return { head: { origin: head.origin, size: head.size, rootHash: head.rootHash.toString('hex') }, consistent };
}
