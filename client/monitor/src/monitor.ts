/**
 * One monitoring pass over a tiled log:
 *  1. fetch `/checkpoint` and verify the log's note signature (C2SP signed-note);
 *  2. against the last verified checkpoint (state file): same size must mean same root, a larger
 *     tree must be consistent (RFC 9162 §2.1.4 proof built from tiles), a smaller one (stale
 *     cache) must be consistent the other way round — any failure is a consistency alarm;
 *  3. fetch every new entry bundle, extend the stored tree edge with the entries' leaf hashes and
 *     require the result to equal the signed root (the entries ARE the tree), checking each
 *     entry's signer against the policy on the way;
 *  4. deliver alerts, then — only if no consistency alarm — save the new state atomically, and
 *     optionally cosign the checkpoint as a witness (C2SP tlog-cosignature) and post it to the log.
 */
import type { Clock, PublicKey, Signer } from '@cairn/shared';
import {
  cosignCheckpoint,
  formatSignedNote,
  noteKeyId,
  parseCheckpoint,
  parseSignedNote,
  type Checkpoint,
  type SignedNote,
} from '@cairn/shared/checkpoint';
import { LocalVerifier } from '@cairn/shared';
import { fetchCapped } from '@cairn/shared/fetch';
import { CompactRange, consistencyProof, leafHash, verifyConsistency, type NodeReader } from '@cairn/shared/merkle';
import { TILE_WIDTH, TileNodeReader, entryBundlesFor, tilesForConsistencyProof, type TileCoord } from '@cairn/shared/tiles';
import type { Alert, AlertSinks, TreeRef } from './alerts.ts';
import { deliverAlerts } from './alerts.ts';
import { EntryParseError, parseEntry } from './entry.ts';
import { MonitorError } from './errors.ts';
import { evaluate, type Policy } from './policy.ts';
import { loadState, saveState, type MonitorState } from './state.ts';
import type { TlogReader } from './tlog-client.ts';

/** Alerts listed (and delivered) per run; more are counted in `alertsDropped`. */
export const MAX_ALERTS_PER_RUN = 10_000;
/** Entry bundles fetched ahead of the one being checked. */
export const DEFAULT_CONCURRENCY = 8;
/** Path of the cosignature endpoint under the log URL (services/log/src/witness.ts). */
export const WITNESS_PATH = 'api/cairn/v1/witness/cosignatures';
/** What is read of the log's answer to a cosignature (an error message at most). */
const MAX_WITNESS_ANSWER_BYTES = 64 * 1024;

export type Outcome = 'ok' | 'identity-alert' | 'consistency-alarm';

export interface Progress {
  done: number;
  total: number;
  entriesPerSecond: number;
}

export interface WitnessConfig {
  name: string;
  signer: Signer;
  /** Where to POST; default `<log>/api/cairn/v1/witness/cosignatures`. */
  url?: string;
}

export interface MonitorOptions {
  logUrl: string;
  reader: TlogReader;
  statePath: string;
  policy: Policy;
  logKey: PublicKey;
  /** Expected checkpoint origin (flag or policy); otherwise pinned by the first run's state. */
  origin?: string | undefined;
  clock: Clock;
  sinks?: AlertSinks;
  witness?: WitnessConfig | undefined;
  /** With no state yet: trust the current checkpoint and check only later entries. */
  startAtLatest?: boolean;
  concurrency?: number;
  onProgress?: (p: Progress) => void;
  /** Milliseconds between progress reports. */
  progressIntervalMs?: number;
}

export interface RunResult {
  outcome: Outcome;
  log: string;
  origin: string;
  previous: TreeRef | undefined;
  checkpoint: TreeRef;
  /** The checkpoint was older than the stored one but consistent with it (a stale cache). */
  stale: boolean;
  entriesChecked: number;
  alerts: Alert[];
  /** Alerts beyond MAX_ALERTS_PER_RUN (not listed). */
  alertsDropped: number;
  stateAdvanced: boolean;
  cosigned: boolean;
  /** Why delivering a consistency alarm failed (identity alerts that cannot be delivered fail the run). */
  deliveryError?: string | undefined;
  /** Why cosigning or posting the cosignature failed (the run's checks still stand). */
  witnessError?: string | undefined;
  elapsedMs: number;
  entriesPerSecond: number;
}

function ref(size: number, root: Buffer): TreeRef {
  return { size, rootHash: root.toString('base64') };
}

/**
 * Verifies the note with the log key. The key name is whatever the log signs with (Rekor v1:
 * hostname; v2: origin); what binds it to the key is the key ID, which for Ed25519 commits to
 * the name (signed-note §Signatures).
 */
export function verifyLogNote(envelope: string, key: PublicKey): { note: SignedNote; checkpoint: Checkpoint } {
  let note: SignedNote;
  try {
    note = parseSignedNote(envelope);
  } catch (e) {
    throw new MonitorError('UNVERIFIED_CHECKPOINT', 'checkpoint is not a well-formed signed note', { cause: e });
  }
  const verifier = new LocalVerifier(key);
  const data = Buffer.from(note.text, 'utf8');
  const ok = note.signatures.some((s) => {
    let id: Buffer;
    try {
      id = noteKeyId(s.name, key);
    } catch {
      return false;
    }
    return s.keyHint.equals(id.subarray(0, 4)) && verifier.verify(data, s.signature);
  });
  if (!ok) throw new MonitorError('UNVERIFIED_CHECKPOINT', 'no signature by the log key verifies the checkpoint');
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(note.text);
  } catch (e) {
    throw new MonitorError('UNVERIFIED_CHECKPOINT', 'signed note is not a checkpoint', { cause: e });
  }
  return { note, checkpoint };
}

/** Fetches the tiles a set of coordinates names, in parallel, and serves them as a NodeReader. */
async function tileReader(reader: TlogReader, tiles: TileCoord[]): Promise<NodeReader> {
  const fetched = new Map<string, Buffer>();
  await Promise.all(
    tiles.map(async (t) => {
      fetched.set(`${t.level}/${t.index}`, await reader.tile(t.level, t.index, t.width));
    }),
  );
  return new TileNodeReader((l, n) => fetched.get(`${l}/${n}`));
}

/** Right edge of the tree of `size` from tiles (for --start-at-latest). */
async function edgeFromTiles(reader: TlogReader, size: number): Promise<Buffer[]> {
  const parts: { level: number; index: number }[] = [];
  let pos = 0;
  for (let level = 52; level >= 0; level--) {
    const span = 2 ** level;
    if (pos + span <= size) {
      parts.push({ level, index: pos / span });
      pos += span;
    }
  }
  const coords = new Map<string, TileCoord>();
  for (const p of parts) {
    const tileLevel = Math.floor(p.level / 8);
    const first = p.index * 2 ** (p.level % 8);
    const idx = Math.floor(first / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, Math.floor(size / TILE_WIDTH ** tileLevel) - idx * TILE_WIDTH);
    coords.set(`${tileLevel}/${idx}`, { level: tileLevel, index: idx, width });
  }
  const nodes = await tileReader(reader, [...coords.values()]);
  return parts.map((p) => nodes.node(p.level, p.index));
}

async function postCosignature(w: WitnessConfig, logUrl: string, envelope: string, line: string): Promise<void> {
  const url = w.url ?? `${logUrl.replace(/\/+$/, '')}/${WITNESS_PATH}`;
  let res;
  try {
    res = await fetchCapped(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ checkpoint: envelope, cosignature: line }),
      timeoutMs: 15_000,
      maxBytes: MAX_WITNESS_ANSWER_BYTES,
    });
  } catch (e) {
    throw new MonitorError('WITNESS_FAILED', `posting the cosignature failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (res.status < 200 || res.status > 299) throw new MonitorError('WITNESS_FAILED', `log refused the cosignature (${res.status}): ${res.body.toString('utf8').slice(0, 200)}`);
}

export async function runOnce(opts: MonitorOptions): Promise<RunResult> {
  const started = performance.now();
  const now = (): string => opts.clock.now().toISOString();
  const state = loadState(opts.statePath);
  const { note, checkpoint: cp } = verifyLogNote(await opts.reader.checkpoint(), opts.logKey);
  const alerts: Alert[] = [];
  let dropped = 0;
  const alert = (a: Omit<Alert, 'log' | 'observedAt'>): void => {
    if (alerts.length < MAX_ALERTS_PER_RUN) alerts.push({ ...a, log: opts.logUrl, observedAt: now() });
    else dropped += 1;
  };
  const current = ref(cp.size, cp.rootHash);
  const previous = state ? ref(state.size, state.rootHash) : undefined;
  const result = (outcome: Outcome, extra: Partial<RunResult> = {}): RunResult => {
    const elapsedMs = performance.now() - started;
    const entriesChecked = extra.entriesChecked ?? 0;
    return {
      outcome,
      log: opts.logUrl,
      origin: cp.origin,
      previous,
      checkpoint: current,
      stale: false,
      entriesChecked,
      alerts,
      alertsDropped: dropped,
      stateAdvanced: false,
      cosigned: false,
      elapsedMs,
      entriesPerSecond: elapsedMs > 0 ? (entriesChecked * 1000) / elapsedMs : 0,
      ...extra,
    };
  };
  const alarm = async (a: Omit<Alert, 'log' | 'observedAt' | 'class'>): Promise<RunResult> => {
    alert({ ...a, class: 'consistency', previous, checkpoint: current });
    // The alarm outranks a delivery failure: it is still the result (and the exit code).
    try {
      await deliverAlerts(alerts, opts.sinks ?? {});
      return result('consistency-alarm');
    } catch (e) {
      return result('consistency-alarm', { deliveryError: e instanceof Error ? e.message : String(e) });
    }
  };

  const expectedOrigin = opts.origin ?? state?.origin;
  if (expectedOrigin !== undefined && cp.origin !== expectedOrigin) {
    return alarm({ kind: 'origin-changed', message: `checkpoint origin ${JSON.stringify(cp.origin)} is not the expected ${JSON.stringify(expectedOrigin)}` });
  }

  let range: CompactRange;
  let from: number;
  if (state === undefined) {
    if (opts.startAtLatest === true) {
      range = new CompactRange(cp.size, await edgeFromTiles(opts.reader, cp.size));
      if (!range.root().equals(cp.rootHash)) {
        return alarm({ kind: 'inconsistent-tree', message: 'the tiles do not hash to the signed root' });
      }
      from = cp.size;
    } else {
      range = new CompactRange();
      from = 0;
    }
  } else {
    // The stored checkpoint was verified when saved; re-check its signature so a swapped log key
    // or an edited state file cannot carry over.
    verifyLogNote(state.checkpoint, opts.logKey);
    if (cp.size === state.size) {
      if (!cp.rootHash.equals(state.rootHash)) {
        return alarm({ kind: 'split-view', message: `two signed checkpoints of size ${cp.size} with different roots` });
      }
    } else if (cp.size < state.size) {
      // A stale cache is fine as long as the older head is a prefix of the one we verified.
      const nodes = await tileReader(opts.reader, tilesForConsistencyProof(cp.size, state.size));
      const proof = consistencyProof(cp.size, state.size, nodes);
      if (!verifyConsistency(cp.size, state.size, proof, cp.rootHash, state.rootHash)) {
        return alarm({ kind: 'inconsistent-tree', message: `older checkpoint ${cp.size} is not consistent with verified checkpoint ${state.size}` });
      }
      return result('ok', { stale: true });
    } else {
      const nodes = await tileReader(opts.reader, tilesForConsistencyProof(state.size, cp.size));
      const proof = consistencyProof(state.size, cp.size, nodes);
      if (!verifyConsistency(state.size, cp.size, proof, state.rootHash, cp.rootHash)) {
        return alarm({ kind: 'inconsistent-tree', message: `checkpoint ${cp.size} is not consistent with verified checkpoint ${state.size}: the log was rewritten or forked` });
      }
    }
    range = new CompactRange(state.size, state.edge);
    from = state.size;
  }

  // Catch up: every entry from the verified size to the new one, in order.
  const bundles = entryBundlesFor(from, cp.size, cp.size);
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const inflight: Promise<Buffer[]>[] = [];
  let next = 0;
  const launch = (): void => {
    while (next < bundles.length && inflight.length < concurrency) {
      const b = bundles[next++]!;
      const p = opts.reader.entries(b.index, b.width);
      p.catch(() => undefined); // awaited in order below; avoid an unhandled rejection meanwhile
      inflight.push(p);
    }
  };
  let checked = 0;
  const total = cp.size - from;
  let lastReport = performance.now();
  const reportEvery = opts.progressIntervalMs ?? 1000;
  for (const b of bundles) {
    launch();
    const entries = await inflight.shift()!;
    const first = b.index * TILE_WIDTH;
    for (let i = Math.max(0, from - first); i < entries.length; i++) {
      const index = first + i;
      const body = entries[i]!;
      const lh = leafHash(body);
      range.append(lh);
      checked += 1;
      let parsed;
      try {
        parsed = parseEntry(body);
      } catch (e) {
        if (!(e instanceof EntryParseError)) throw e;
        alert({ kind: 'unreadable-entry', class: 'identity', index, leafHash: lh.toString('hex'), message: `entry ${index} cannot be read: ${e.message}` });
        continue;
      }
      for (const signer of parsed.signers) {
        const verdict = evaluate(opts.policy, signer);
        if (!verdict.allowed) {
          alert({
            kind: 'unexpected-signer',
            class: 'identity',
            index,
            leafHash: lh.toString('hex'),
            entryKind: `${parsed.kind}/${parsed.apiVersion}`,
            signer,
            message: `entry ${index}: ${verdict.reason}`,
          });
        }
      }
    }
    if (opts.onProgress !== undefined && performance.now() - lastReport >= reportEvery) {
      lastReport = performance.now();
      const secs = (lastReport - started) / 1000;
      opts.onProgress({ done: checked, total, entriesPerSecond: secs > 0 ? checked / secs : 0 });
    }
  }
  if (!range.root().equals(cp.rootHash)) {
    return alarm({ kind: 'entries-mismatch', message: `the entries served do not hash to the signed root of checkpoint ${cp.size}` });
  }

  // Alerts first: if they cannot be delivered, the state stays put and the next run finds them again.
  await deliverAlerts(alerts, opts.sinks ?? {});
  const newState: MonitorState = {
    checkpoint: formatSignedNote(note),
    origin: cp.origin,
    size: cp.size,
    rootHash: cp.rootHash,
    edge: range.edge(),
    verifiedAt: now(),
  };
  saveState(opts.statePath, newState);
  let cosigned = false;
  let witnessError: string | undefined;
  if (opts.witness !== undefined) {
    // The cosignature states only what was checked above: this checkpoint is consistent with
    // every earlier one this monitor verified (tlog-cosignature §Ed25519 signed message).
    try {
      const seconds = Math.floor(opts.clock.now().getTime() / 1000);
      const sig = await cosignCheckpoint(note.text, opts.witness.name, opts.witness.signer, seconds);
      const line = formatSignedNote({ text: note.text, signatures: [sig] }).slice(note.text.length + 1);
      await postCosignature(opts.witness, opts.logUrl, formatSignedNote(note), line);
      cosigned = true;
    } catch (e) {
      witnessError = e instanceof Error ? e.message : String(e);
    }
  }
  const outcome: Outcome = alerts.length + dropped > 0 ? 'identity-alert' : 'ok';
  return result(outcome, { entriesChecked: checked, stateAdvanced: true, cosigned, witnessError });
}
