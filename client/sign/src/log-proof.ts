/**
 * Offline checks of a Rekor v1 `LogEntry` against the log, as `cairn log` and `cairn sign` print
 * them: the entry UUID is the RFC 6962 leaf hash of the body (§2.4, a v1 API matter checked here);
 * the SET, the inclusion proof and the checkpoint (signature under the log's name, origin) are
 * `@cairn/verify`'s checks, the ones a bundle's entry passes, so the two can never disagree.
 */
import { fromBase64 } from '@cairn/shared';
import { leafHash, verifyConsistency } from '@cairn/shared/merkle';
import {
  setSignedBytes,
  verifyCheckpoint,
  verifyProof,
  verifySet,
  VerifyError,
  type TransparencyLogAuthority,
  type TransparencyLogEntry,
  type VerifiedCheckpoint,
} from '@cairn/verify';
import { SignError, type SignErrorCode } from './errors.ts';
import type { LogEntry, LogInfo, RekorClient } from './rekor.ts';

export interface EntryVerification {
  uuid: string;
  leafHash: string;
  setVerified: true;
  inclusion: { logIndex: number; treeSize: number; rootHash: string };
  checkpoint: { origin: string; size: number; signer: string };
}

/** The entry as `@cairn/verify` reads a bundle's tlog entry. */
function asTlogEntry(e: LogEntry): TransparencyLogEntry {
  const p = e.verification?.inclusionProof;
  return {
    logIndex: e.logIndex,
    logId: Buffer.from(e.logID, 'hex'),
    kind: '',
    version: '',
    integratedTime: e.integratedTime,
    signedEntryTimestamp: e.verification?.signedEntryTimestamp === undefined ? undefined : fromBase64(e.verification.signedEntryTimestamp, 'signedEntryTimestamp'),
    inclusionProof:
      p === undefined
        ? undefined
        : { logIndex: p.logIndex, treeSize: p.treeSize, rootHash: Buffer.from(p.rootHash, 'hex'), hashes: p.hashes.map((h) => Buffer.from(h, 'hex')), checkpoint: p.checkpoint },
    canonicalizedBody: fromBase64(e.body, 'entry body'),
  };
}

const CODES: Record<string, SignErrorCode> = {
  SET_INVALID: 'SET_INVALID',
  CHECKPOINT_INVALID: 'CHECKPOINT_INVALID',
  TLOG_INCLUSION_INVALID: 'PROOF_INVALID',
  TLOG_INCLUSION_MISSING: 'PROOF_INVALID',
};

/** `@cairn/verify`'s refusal under the signing client's code. */
function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VerifyError) throw new SignError(CODES[e.code] ?? 'PROOF_INVALID', e.message, { cause: e });
    throw e;
  }
}

/** The JCS bytes the SET signs (reference §2.6). */
export function setPayload(e: LogEntry): Buffer {
  return setSignedBytes(asTlogEntry(e));
}

/** Throws SignError (PROOF_INVALID, SET_INVALID, CHECKPOINT_INVALID) at the first check that fails. */
export function verifyLogEntry(e: LogEntry, log: TransparencyLogAuthority): EntryVerification {
  if (e.logID !== log.logId.toString('hex')) throw new SignError('SET_INVALID', `the entry names log ${e.logID}, not the log whose key was given (${log.logId.toString('hex')})`);
  const entry = asTlogEntry(e);
  const leaf = leafHash(entry.canonicalizedBody);
  if (leaf.toString('hex') !== e.uuid.slice(-64)) throw new SignError('PROOF_INVALID', 'the entry UUID is not the leaf hash of its body');
  checked(() => verifySet(entry, log));
  const cp: VerifiedCheckpoint = checked(() => verifyProof(entry, log));
  const proof = e.verification!.inclusionProof!;
  return {
    uuid: e.uuid,
    leafHash: leaf.toString('hex'),
    setVerified: true,
    inclusion: { logIndex: proof.logIndex, treeSize: proof.treeSize, rootHash: proof.rootHash },
    checkpoint: { origin: cp.origin, size: cp.size, signer: cp.signer },
  };
}

export interface HeadConsistency {
  /** The log's current signed tree head (GET /api/v1/log), verified with the log key. */
  head: { origin: string; size: number; rootHash: string };
  /** Checkpoint sizes shown to be prefixes of the head (RFC 6962 §2.1.2). */
  consistent: number[];
}

/** Opens a checkpoint signed by the log (`@cairn/verify`'s checkpoint check). */
export function openLogCheckpoint(envelope: string, log: TransparencyLogAuthority): { origin: string; size: number; rootHash: Buffer } {
  const cp = checked(() => verifyCheckpoint(envelope, log));
  return { origin: cp.origin, size: cp.size, rootHash: cp.rootHash };
}

/**
 * Checks that every checkpoint the entries were proven against is a prefix of the log's current
 * signed tree head: a consistency proof per distinct size (RFC 6962 §2.1.2). A log that showed
 * one client a tree and later forked or shrank it fails here with PROOF_INVALID.
 */
export async function verifyConsistencyWithHead(client: RekorClient, log: TransparencyLogAuthority, checkpoints: readonly { size: number; rootHash: string }[]): Promise<HeadConsistency> {
  const info: LogInfo = await client.logInfo();
  const head = openLogCheckpoint(info.signedTreeHead, log);
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
