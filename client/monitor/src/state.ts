/**
 * The monitor's memory between runs: the last checkpoint it verified and the right edge of the
 * tree at that size (so new entries extend a tree already checked). Written only after a run's
 * checks passed, atomically (temp file, fsync, rename, fsync of the folder), so a crash at any
 * moment leaves the previous verified state in place.
 */
import { readFileSync } from 'node:fs';
import { isRecord } from '@cairn/shared';
import { parseCheckpoint, parseSignedNote, MAX_NOTE_BYTES } from '@cairn/shared/checkpoint';
import { writeAtomic } from '@cairn/shared/io';
import { CompactRange } from '@cairn/shared/merkle';
import { MonitorError } from './errors.ts';

const STATE_VERSION = 1;
const MAX_STATE_BYTES = MAX_NOTE_BYTES + 64 * 1024;

export interface MonitorState {
  /** The signed checkpoint (note envelope) last verified. */
  checkpoint: string;
  origin: string;
  size: number;
  rootHash: Buffer;
  /** CompactRange right edge at `size`. */
  edge: Buffer[];
  /** When it was verified (ISO 8601). */
  verifiedAt: string;
}

function bad(why: string): never {
  throw new MonitorError('INVALID_STATE', `state file: ${why}`);
}

/** Reads the state; undefined when the file does not exist (first run). */
export function loadState(path: string): MonitorState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MonitorError('INVALID_STATE', `cannot read state ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (text.length > MAX_STATE_BYTES) bad('too large');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    bad('not JSON');
  }
  if (!isRecord(doc) || doc.version !== STATE_VERSION) bad('unknown version');
  const { checkpoint, edge, verifiedAt } = doc;
  if (typeof checkpoint !== 'string' || typeof verifiedAt !== 'string' || !Array.isArray(edge) || edge.length > 64) bad('missing fields');
  let cp;
  try {
    cp = parseCheckpoint(parseSignedNote(checkpoint).text);
  } catch {
    bad('checkpoint is malformed');
  }
  const edgeHashes = edge.map((h) => (typeof h === 'string' ? Buffer.from(h, 'base64') : bad('edge hash is not a string')));
  let range: CompactRange;
  try {
    range = new CompactRange(cp.size, edgeHashes);
  } catch {
    bad('tree edge does not fit the checkpoint size');
  }
  // The stored edge must reproduce the stored (signed) root, else new entries would extend a
  // tree nobody verified.
  if (!range.root().equals(cp.rootHash)) bad('tree edge does not match the checkpoint root');
  return { checkpoint, origin: cp.origin, size: cp.size, rootHash: cp.rootHash, edge: edgeHashes, verifiedAt };
}

/** Atomically replaces the state file. */
export function saveState(path: string, state: MonitorState): void {
  const doc = {
    version: STATE_VERSION,
    origin: state.origin,
    size: state.size,
    rootHash: state.rootHash.toString('base64'),
    checkpoint: state.checkpoint,
    edge: state.edge.map((h) => h.toString('base64')),
    verifiedAt: state.verifiedAt,
  };
  // Temporary file, fsync, rename, fsync of the directory: the old state or the new, durably.
  writeAtomic(path, `${JSON.stringify(doc, null, 2)}\n`, 0o644);
}
