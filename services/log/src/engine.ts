/**
 * The log ENGINE: an append-only RFC 6962 Merkle log over opaque leaf bytes, shared by the
 * Rekor-compatible transparency log and the RFC 6962 CT log. Kind-specific logic (Rekor entry
 * types, CT MerkleTreeLeaf structures, how tree heads are signed) stays outside.
 *
 * API
 *   const engine = await openLogEngine({
 *     dbPath,                      // SQLite file (created with its folder, 0700)
 *     clock,                       // Clock: batch timestamps
 *     signTreeHead,                // async (head: {size, rootHash, timestampMs}) => Record<string, string>
 *                                  //   e.g. {v1: '<signed note>', v2: '<signed note>'} or {sth: '<b64 sig>'}
 *     batchMaxSize?,               // default 256 leaves per batch
 *     batchMaxDelayMs?,            // default 2 ms: how long the first leaf of a batch may wait
 *     extraMigrations?,            // {namespace, migrations: [{version, sql}]}: your own tables
 *     batchWrites?,                // (leaves: AppendedLeaf[]) => [{sql, params}]: rows of your own
 *                                  //   tables, run by the writer INSIDE the batch transaction
 *     tileCacheSize?,              // tile blobs kept in memory (16 KiB each), default 512
 *     leafKeys?,                   // (data, meta) => string[]: secondary keys of a new leaf
 *                                  //   (e.g. Rekor search keys), found by engine.leavesWithKey
 *     leafIndexEvery?,             // default 32,768: leaves added to the on-disk indexes at a
 *                                  //   time (in the batch that crosses the mark)
 *   });
 *   await engine.append(leafBytes, meta?)  -> {index, leafHash, timestampMs, integratedTime,
 *                                             treeHead, duplicateOf?}
 *       Resolves only after the batch holding the leaf is committed (fsync) and its tree head
 *       signed. A leaf whose leaf hash is already in the log (or earlier in the same batch) is not
 *       appended: the result carries `duplicateOf` = the existing index.
 *   engine.size, engine.checkpoint() (latest signed tree head), engine.headAt(size)
 *   engine.leaf(index) -> {index, leafHash, data, timestampMs} | undefined
 *   engine.leafHashesAt(indexes) -> the leaf hashes alone, one query | undefined each
 *   engine.indexOfLeafHash(hash) -> number | undefined
 *   engine.leavesWithKey(key, limit) -> indexes of leaves with that secondary key, ascending
 *   engine.rootAt(size), engine.inclusionProof(index, size), engine.consistencyProof(m, n)
 *   engine.tile(level, index, width?)  -> C2SP tile bytes | undefined
 *   engine.entryBundle(index, width?)  -> C2SP entry bundle bytes | undefined
 *   engine.getMeta(key) / engine.setMeta(key, value), engine.db (read your own tables)
 *   engine.ready(), await engine.close()  (drains queued appends first)
 *
 * Invariants: one sequencer, one SQLite transaction per batch (leaves + tiles + tree head +
 * batchWrites), the tree head is signed BEFORE the commit and the callers are answered AFTER it, so
 * every acknowledged leaf and every published head survives kill -9.
 *
 * Threads: commits run on a writer worker (store/writer.worker.js), so the commit and its fsync
 * never block the event loop. The sequencer works ahead of the disk: while one batch commits the
 * next fills up (group commit), and a full batch may be sequenced and queued behind it. Readers
 * (checkpoint, proofs, leaves) only ever see committed state. If a commit fails, the batches
 * built on it are refused too, their callers get STORE_WRITE_FAILED, and the in-memory tree is
 * rebuilt from disk before the next batch. On open the stored tiles
 * must reproduce the latest signed root, else the engine refuses to start (STORE_CORRUPT).
 *
 * Duplicates: a leaf hash is looked up in the on-disk leaf_index (SQLite, keyed by the first 48
 * bits, the full hash compared) and in memory for the leaves not yet in it (`tail`: at most
 * leafIndexEvery plus the in-flight batches). The tail is added to leaf_index in one sorted bulk
 * insert inside the batch that crosses the mark, so the random-key index costs one pass over its
 * pages per mark instead of thousands of dirty pages per batch; on open the tail is re-read from
 * the leaves above the mark. A Bloom filter over leaf_index's keys (LeafFilter, about 1.3 bytes
 * per leaf) answers most lookups of new leaves without SQLite: the on-disk lookup runs only for
 * the leaves it cannot rule out. On open it is rebuilt from the index in small steps between
 * requests (about 0.4 s per million leaves in all); until it is complete every leaf is looked
 * up on disk. Secondary keys (leafKeys) work the same way: each batch appends its
 * keys to an unindexed staging table (sequential pages), the batch that crosses the mark moves the
 * staged keys into leaf_keys in key order, and the keys above the mark are kept in memory.
 */
import type { Database as Db } from 'better-sqlite3';
import { CompactRange, consistencyProof, HASH_SIZE, inclusionProof, leafHash as merkleLeafHash, rootAt } from '@cairn/shared/merkle';
import { encodeEntryBundle, TILE_WIDTH } from '@cairn/shared/tiles';
import type { Clock } from '@cairn/shared';
import { LogError } from './errors.ts';
import { LeafFilter } from './leaf-filter.ts';
import { LeafHashTail } from './leaf-tail.ts';
import { BatchWriter, type WriterBatch } from './store/batch-writer.ts';
import type { LogStore, LogWriter } from './store/log-store.ts';
import {
  LEAF_INDEX_UPTO,
  MAX_TILE_LEVEL,
  SqliteLogStore,
  hashKey,
  nodeLocation,
  tileKey,
  type Migration,
  type StoredLeaf,
  type StoredTreeHead,
} from './store/sqlite-log-store.ts';

/** C2SP tlog-tiles entry bundles prefix each entry with a uint16 length. */
export const MAX_LEAF_BYTES = 0xffff;
export const DEFAULT_BATCH_MAX_SIZE = 256;
export const DEFAULT_BATCH_MAX_DELAY_MS = 2;
export const DEFAULT_LEAF_INDEX_EVERY = 32_768;
const NO_KEYS: readonly string[] = [];
/** Upper bounds on the batch settings (config validation). */
export const MAX_BATCH_SIZE = 65_536;
export const MAX_BATCH_DELAY_MS = 5_000;

export interface TreeHead {
  size: number;
  rootHash: Buffer;
  timestampMs: number;
}

export type SignedTreeHead = StoredTreeHead;

export type TreeHeadSigner = (head: TreeHead) => Promise<Record<string, string>>;

export interface AppendedLeaf {
  index: number;
  leafHash: Buffer;
  data: Buffer;
  timestampMs: number;
  meta: unknown;
}

export interface AppendResult {
  index: number;
  leafHash: Buffer;
  timestampMs: number;
  /** Unix seconds of the batch (Rekor's integratedTime). */
  integratedTime: number;
  /** The signed tree head of the batch that holds the leaf (or the current one for duplicates). */
  treeHead: SignedTreeHead;
  /** Set when the leaf was already in the log: its existing index. Nothing was written. */
  duplicateOf?: number;
}

/** One SQL statement with its parameters (numbers, strings, Buffers, bigints or null). */
export interface BatchStatement {
  sql: string;
  params: unknown[];
}

export interface LogEngineOptions {
  dbPath: string;
  /**
   * `postgres://…`: the PostgreSQL store (pg-engine.ts) instead of the SQLite file at dbPath,
   * with one elected sequencer among the replicas on that database.
   */
  storeUrl?: string;
  /** PostgreSQL store: schema of this log's tables (default `cairn_<extraMigrations.namespace>`). */
  storeSchema?: string;
  /** PostgreSQL store: sequencer lease in ms (default 3,000: failover well under 5 s). */
  leaseMs?: number;
  clock: Clock;
  signTreeHead: TreeHeadSigner;
  batchMaxSize?: number;
  batchMaxDelayMs?: number;
  extraMigrations?: { namespace: string; migrations: readonly Migration[] };
  /**
   * Rows of your own tables that must commit atomically with the leaves: statements run by the
   * writer inside the batch transaction (called on the main thread when the batch is sequenced).
   */
  batchWrites?: (leaves: readonly AppendedLeaf[]) => BatchStatement[];
  tileCacheSize?: number;
  /** Secondary keys of a new leaf, found later with leavesWithKey (e.g. Rekor's search index). */
  leafKeys?: (data: Buffer, meta: unknown) => readonly string[];
  /** Leaves added to the on-disk indexes at a time; until then they are looked up in memory. */
  leafIndexEvery?: number;
}

interface Pending {
  data: Buffer;
  leafHash: Buffer;
  meta: unknown;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

export interface LogEngine {
  readonly size: number;
  readonly db: Db;
  append(leaf: Uint8Array, meta?: unknown): Promise<AppendResult>;
  checkpoint(): SignedTreeHead;
  headAt(size: number): SignedTreeHead | undefined;
  leaf(index: number): StoredLeaf | undefined;
  /** The leaf hashes at these indexes in one store query, without the leaves' data (undefined past the tree). */
  leafHashesAt(indexes: readonly number[]): (Buffer | undefined)[];
  indexOfLeafHash(hash: Uint8Array): number | undefined;
  leavesWithKey(key: string, limit: number): number[];
  rootAt(size: number): Buffer;
  inclusionProof(index: number, size: number): Buffer[];
  consistencyProof(first: number, second: number): Buffer[];
  tile(level: number, index: number, width?: number): Buffer | undefined;
  entryBundle(index: number, width?: number): Buffer | undefined;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** PostgreSQL store: whether this replica holds the sequencer lease now (SQLite: always the sequencer). */
  readonly isSequencer?: boolean;
  /** Rows of a read of your own tables (`?` parameters), on either store. */
  query<T>(sql: string, params: readonly unknown[]): T[];
  ready(): boolean;
  close(): Promise<void>;
}

/** SQLite page cache of the writer connection (pages touched by batch inserts and the bulk index steps). */
const WRITER_CACHE_KIB = 6_000;

/** leaf_index keys added to the filter per event-loop turn while it is rebuilt on open. */
const FILTER_STEP = 4_096;

/** After a failed batch, when the store cannot be re-read: how soon to try again. */
const RECOVER_RETRY_MS = 200;

/** Batches sequenced ahead of the disk: one committing, one more queued behind it. */
const MAX_IN_FLIGHT = 2;

interface Sequenced {
  seq: number;
  items: Pending[];
  /** hkey: the leaf hash's 48-bit key (hashKey), computed once for the filter, the lookup and the writer. */
  results: { item: Pending; index: number; duplicate: boolean; hkey: number; keys: readonly string[] }[];
  head: SignedTreeHead;
  tiles: Map<number, Buffer>;
  /** New leaves in the batch (0: duplicates only). */
  added: number;
  /** Set when this batch's transaction also moves the leaves below it into leaf_index. */
  indexUpTo?: number;
  timestampMs: number;
  /** Batches of duplicates only, answered once this batch is durable (they may point into it). */
  followers: Sequenced[];
}

export class SequencedLogEngine implements LogEngine {
  private range: CompactRange;
  /** The latest COMMITTED head: what readers see and what callers are answered with. */
  private head: SignedTreeHead;
  /** The head of the last sequenced batch (ahead of `head` while batches are in flight). */
  private seqHead: SignedTreeHead;
  private readonly queue: Pending[] = [];
  private firstQueuedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private sequencing = false;
  private readonly inFlight: Sequenced[] = [];
  private nextSeq = 1;
  /** Tiles written by in-flight batches (newest version), by tile key, with the batch that wrote it last. */
  private readonly pendingTiles = new Map<number, { blob: Buffer; seq: number }>();
  /**
   * The leaf hashes of every leaf at or above the committed leaf_index mark, committed or in
   * flight: the duplicates leaf_index cannot find yet.
   */
  private tail: LeafHashTail;
  /** Secondary keys of the same leaves (committed or in flight): key -> indexes, ascending. */
  private tailKeys: Map<string, number[]>;
  /** leaf_index mark of the last sequenced batch (ahead of the committed one while in flight). */
  private seqIndexUpTo: number;
  private needsRecovery = false;
  private closed = false;
  private drained: (() => void) | undefined;
  private readonly maxSize: number;
  private readonly maxDelay: number;
  private readonly leafIndexEvery: number;
  /** Over leaf_index's hash keys; trusted only once `filterComplete` (see rebuildFilter). */
  private readonly filter: LeafFilter;
  private filterComplete = false;

  constructor(
    private readonly store: LogStore,
    private readonly writer: LogWriter,
    private readonly options: LogEngineOptions,
    head: SignedTreeHead,
    range: CompactRange,
    indexUpTo: number,
    tail: LeafHashTail,
    tailKeys: Map<string, number[]>,
  ) {
    this.seqIndexUpTo = indexUpTo;
    this.tail = tail;
    this.tailKeys = tailKeys;
    this.head = head;
    this.seqHead = head;
    this.range = range;
    this.maxSize = options.batchMaxSize ?? DEFAULT_BATCH_MAX_SIZE;
    this.maxDelay = options.batchMaxDelayMs ?? DEFAULT_BATCH_MAX_DELAY_MS;
    this.leafIndexEvery = options.leafIndexEvery ?? DEFAULT_LEAF_INDEX_EVERY;
    this.filter = new LeafFilter(indexUpTo);
    this.rebuildFilter(-1);
  }

  /**
   * Adds leaf_index's keys to the filter, FILTER_STEP at a time, one step per event-loop turn.
   * Leaves sequenced meanwhile are added as they are sequenced, so when the scan ends the filter
   * covers everything leaf_index holds or will hold.
   */
  private rebuildFilter(after: number): void {
    if (this.closed || !this.store.isOpen) return;
    const keys = this.store.leafIndexKeysAfter(after, FILTER_STEP);
    for (const k of keys) this.filter.add(k);
    if (keys.length < FILTER_STEP) {
      this.filterComplete = true;
      return;
    }
    setImmediate(() => this.rebuildFilter(keys[keys.length - 1]!)).unref();
  }

  get size(): number {
    return this.head.size;
  }

  get db(): Db {
    if (this.store instanceof SqliteLogStore) return this.store.db;
    throw new TypeError('engine.db is the SQLite store only: use engine.query');
  }

  query<T>(sql: string, params: readonly unknown[]): T[] {
    return this.store.all<T>(sql, params);
  }

  ready(): boolean {
    return !this.closed && this.store.isOpen && this.writer.alive;
  }

  append(leaf: Uint8Array, meta?: unknown): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new LogError('STORE_CLOSED', 'the log is closing'));
    if (leaf.length > MAX_LEAF_BYTES) {
      return Promise.reject(new LogError('ENTRY_TOO_LARGE', `a leaf is limited to ${MAX_LEAF_BYTES} bytes`));
    }
    const data = Buffer.from(leaf);
    return new Promise<AppendResult>((resolve, reject) => {
      if (this.queue.length === 0) this.firstQueuedAt = Date.now();
      this.queue.push({ data, leafHash: merkleLeafHash(data), meta, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Starts sequencing a batch when the size bound is reached or the oldest queued leaf has waited
   * long enough, and the pipeline has room: while one batch commits on the writer thread the
   * next one fills up (group commit), and a FULL batch may be sequenced behind it.
   */
  private schedule(): void {
    if (this.sequencing || this.needsRecovery || this.queue.length === 0) return;
    const waited = Date.now() - this.firstQueuedAt;
    const full = this.queue.length >= this.maxSize;
    const due = full || waited >= this.maxDelay || this.closed;
    if (due && (this.inFlight.length === 0 || (full && this.inFlight.length < MAX_IN_FLIGHT))) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.runBatch();
      return;
    }
    // Not due yet: wake up when it is. (A due batch waiting for the pipeline is started by the
    // commit that frees it.)
    if (!due) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.maxDelay - waited);
    }
  }

  private async runBatch(): Promise<void> {
    const items = this.queue.splice(0, this.maxSize);
    // The remaining leaves arrived while this batch was waiting: their clock starts now at the latest.
    this.firstQueuedAt = Date.now();
    this.sequencing = true;
    let batch: Sequenced | undefined;
    try {
      batch = await this.sequence(items);
    } catch (e) {
      for (const it of items) it.reject(e);
      this.needsRecovery = true;
    } finally {
      this.sequencing = false;
    }
    if (batch) {
      if (batch.added === 0) {
        // Only duplicates: nothing to write. They may point into a batch still in flight, so
        // they are answered when the last one is durable.
        const last = this.inFlight[this.inFlight.length - 1];
        if (last) last.followers.push(batch);
        else this.answer(batch, this.head);
      } else {
        let write: WriterBatch | undefined;
        try {
          write = this.pack(batch);
        } catch (e) {
          // batchWrites refused the batch: nothing is written, the tree is rebuilt from disk.
          for (const it of batch.items) it.reject(e);
          this.needsRecovery = true;
        }
        if (write) {
          this.inFlight.push(batch);
          this.send(batch, write);
        }
      }
    }
    this.afterSettle();
  }

  /** Sequences `items` on top of the last sequenced state: indexes, tiles, signed head. */
  private async sequence(items: Pending[]): Promise<Sequenced> {
    const timestampMs = Math.max(this.options.clock.now().getTime(), this.seqHead.timestampMs);
    const seq = this.nextSeq++;
    const dirty = new Map<number, Buffer>();
    // Duplicates already on disk (one query per chunk, only for what the filter cannot rule
    // out), then above the leaf_index mark: committed, in flight, or earlier in this batch.
    const hkeys = items.map((i) => hashKey(i.leafHash));
    const maybe: number[] = [];
    for (let n = 0; n < items.length; n++) if (!this.filterComplete || this.filter.mayContain(hkeys[n]!)) maybe.push(n);
    const stored = new Array<number | undefined>(items.length);
    if (maybe.length > 0) {
      const found = this.store.findLeafHashes(maybe.map((n) => items[n]!.leafHash));
      for (let j = 0; j < maybe.length; j++) stored[maybe[j]!] = found[j];
    }
    let added = 0;
    const results: Sequenced['results'] = [];
    for (let n = 0; n < items.length; n++) {
      const item = items[n]!;
      // The tail holds this batch's earlier leaves too (a failed batch rebuilds it from disk).
      const dup = stored[n] ?? this.tail.get(item.leafHash);
      if (dup !== undefined) {
        results.push({ item, index: dup, duplicate: true, hkey: hkeys[n]!, keys: NO_KEYS });
        continue;
      }
      const index = this.range.size;
      this.range.append(item.leafHash, (level, idx, hash) => {
        const loc = nodeLocation(level, idx);
        const tk = tileKey(loc.tileLevel, loc.tileIndex);
        let blob = dirty.get(tk);
        if (!blob) {
          blob = this.tileForWrite(tk, loc.tileLevel, loc.tileIndex);
          dirty.set(tk, blob);
        }
        hash.copy(blob, loc.offset);
      });
      this.tail.push(item.leafHash);
      this.filter.add(hkeys[n]!);
      const keys = this.options.leafKeys?.(item.data, item.meta) ?? NO_KEYS;
      for (const k of keys) addKey(this.tailKeys, k, index);
      added++;
      results.push({ item, index, duplicate: false, hkey: hkeys[n]!, keys });
    }
    let head = this.seqHead;
    if (added > 0) {
      const unsigned: TreeHead = { size: this.range.size, rootHash: this.range.root(), timestampMs };
      let signatures: Record<string, string>;
      try {
        signatures = await this.options.signTreeHead(unsigned);
      } catch (e) {
        throw new LogError('SIGNING_FAILED', 'the tree head could not be signed; nothing was written', { cause: e });
      }
      head = { ...unsigned, signatures };
      this.seqHead = head;
      for (const [tk, blob] of dirty) this.pendingTiles.set(tk, { blob, seq });
    }
    return { seq, items, results, head, tiles: dirty, added, timestampMs, followers: [] };
  }

  /** A private, writable copy of a tile: the newest in-flight version, else the stored one. */
  private tileForWrite(tk: number, level: number, index: number): Buffer {
    const pending = this.pendingTiles.get(tk);
    if (!pending) return this.store.tileForWrite(level, index);
    return Buffer.from(pending.blob);
  }

  /** The writer's packing of a sequenced batch, with the caller's batchWrites rows. */
  private pack(batch: Sequenced): WriterBatch {
    const leaves: AppendedLeaf[] = [];
    const indexes: number[] = [];
    const hkeys: number[] = [];
    const offsets: number[] = [0];
    const datas: Buffer[] = [];
    const hashes: Buffer[] = [];
    let offset = 0;
    for (const r of batch.results) {
      if (r.duplicate) continue;
      const { data, leafHash, meta } = r.item;
      if (this.options.batchWrites) leaves.push({ index: r.index, leafHash, data, timestampMs: batch.timestampMs, meta });
      indexes.push(r.index);
      hkeys.push(r.hkey);
      datas.push(data);
      hashes.push(leafHash);
      offset += data.length;
      offsets.push(offset);
    }
    const sql = this.store.sql;
    const stage = { sql: sql.leafKeyStage, arity: 2, params: [] as unknown[] };
    const extra = new Map<string, { sql: string; arity: number; params: unknown[] }>();
    for (const w of this.options.batchWrites?.(leaves) ?? []) {
      let group = extra.get(w.sql);
      if (!group) {
        group = { sql: w.sql, arity: w.params.length, params: [] };
        extra.set(w.sql, group);
      }
      if (w.params.length !== group.arity) throw new TypeError(`batchWrites: every row of one statement needs ${group.arity} parameters`);
      for (const p of w.params) group.params.push(p);
    }
    for (const r of batch.results) if (!r.duplicate) for (const k of r.keys) stage.params.push(r.index, k);
    if (stage.params.length > 0) extra.set(stage.sql, stage);
    // Crossing the mark: this transaction also moves every leaf up to its last into leaf_index.
    if (batch.head.size - this.seqIndexUpTo >= this.leafIndexEvery) {
      batch.indexUpTo = batch.head.size;
      extra.set(sql.leafIndexFlush, { sql: sql.leafIndexFlush, arity: 2, params: [this.seqIndexUpTo, batch.indexUpTo] });
      extra.set(sql.putMeta, { sql: sql.putMeta, arity: 2, params: [LEAF_INDEX_UPTO, String(batch.indexUpTo)] });
      extra.set(sql.leafKeysFlush, { sql: sql.leafKeysFlush, arity: 1, params: [batch.indexUpTo] });
      extra.set(sql.leafKeysUnstage, { sql: sql.leafKeysUnstage, arity: 1, params: [batch.indexUpTo] });
      this.seqIndexUpTo = batch.indexUpTo;
    }
    const h = batch.head;
    return {
      indexes,
      hkeys,
      offsets,
      data: Buffer.concat(datas, offset),
      hashes: Buffer.concat(hashes, 32 * hashes.length),
      timestampMs: batch.timestampMs,
      tiles: [...batch.tiles],
      head: [h.size, h.rootHash, h.timestampMs, JSON.stringify(h.signatures)],
      extra: [...extra.values()],
    };
  }

  private send(batch: Sequenced, write: WriterBatch): void {
    this.writer.commit(write).then(
      () => {
        // Commits are applied in order, so this is the oldest in-flight batch.
        this.inFlight.shift();
        this.head = batch.head;
        for (const [tk, blob] of batch.tiles) {
          this.store.remember(tk, blob);
          if (this.pendingTiles.get(tk)?.seq === batch.seq) this.pendingTiles.delete(tk);
        }
        if (batch.indexUpTo !== undefined) {
          // leaf_index now holds everything below the mark: the tail keeps the leaves above it.
          this.tail.dropBelow(batch.indexUpTo);
          for (const [k, list] of this.tailKeys) {
            const keep = list.filter((i) => i >= batch.indexUpTo!);
            if (keep.length === 0) this.tailKeys.delete(k);
            else if (keep.length !== list.length) this.tailKeys.set(k, keep);
          }
        }
        this.answer(batch, batch.head);
        for (const f of batch.followers) this.answer(f, batch.head);
        this.afterSettle();
      },
      (e: unknown) => {
        this.inFlight.shift();
        for (const it of batch.items) it.reject(e);
        for (const f of batch.followers) for (const it of f.items) it.reject(e);
        this.needsRecovery = true;
        this.afterSettle();
      },
    );
  }

  private answer(batch: Sequenced, head: SignedTreeHead): void {
    for (const r of batch.results) {
      if (r.duplicate) {
        const existing = r.index < this.head.size ? this.store.leaf(r.index) : undefined;
        const ts = existing?.timestampMs ?? batch.timestampMs;
        r.item.resolve({
          index: r.index,
          leafHash: r.item.leafHash,
          timestampMs: ts,
          integratedTime: Math.floor(ts / 1000),
          treeHead: this.head,
          duplicateOf: r.index,
        });
      } else {
        r.item.resolve({ index: r.index, leafHash: r.item.leafHash, timestampMs: batch.timestampMs, integratedTime: Math.floor(batch.timestampMs / 1000), treeHead: head });
      }
    }
  }

  /** After a batch was sequenced, committed or failed: recover when the pipeline is empty, then go on. */
  private afterSettle(): void {
    if (this.needsRecovery && this.inFlight.length === 0 && !this.sequencing) {
      try {
        this.recover();
      } catch {
        // The store cannot be read right now (a database store that is unreachable): retry.
        setTimeout(() => this.afterSettle(), RECOVER_RETRY_MS).unref();
        return;
      }
      this.needsRecovery = false;
      this.writer.reset();
    }
    if (this.inFlight.length === 0 && !this.sequencing && this.queue.length === 0) this.drained?.();
    this.schedule();
  }

  /** After a failed batch: forget uncommitted state and rebuild the right edge from disk. */
  private recover(): void {
    this.pendingTiles.clear();
    if (!this.store.isOpen) return;
    this.store.clearCache();
    const latest = this.store.latestHead();
    if (latest) {
      this.head = latest;
      this.seqHead = latest;
      this.range = rebuildRange(this.store, latest.size);
    }
    this.seqIndexUpTo = this.store.leafIndexUpTo();
    this.tail = readTail(this.store, this.seqIndexUpTo);
    this.tailKeys = readTailKeys(this.store);
  }

  checkpoint(): SignedTreeHead {
    return this.head;
  }

  headAt(size: number): SignedTreeHead | undefined {
    return this.store.headAt(size);
  }

  leaf(index: number): StoredLeaf | undefined {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.head.size) return undefined;
    return this.store.leaf(index);
  }

  leafHashesAt(indexes: readonly number[]): (Buffer | undefined)[] {
    return leafHashesWithin(this.store, indexes, this.head.size);
  }

  indexOfLeafHash(hash: Uint8Array): number | undefined {
    const i = hash.length === HASH_SIZE ? (this.tail.get(hash) ?? this.store.indexOfLeafHash(hash)) : undefined;
    return i !== undefined && i < this.head.size ? i : undefined;
  }

  leavesWithKey(key: string, limit: number): number[] {
    const size = this.head.size;
    const found = new Set(this.store.indexesWithKey(key, limit));
    for (const i of this.tailKeys.get(key) ?? []) found.add(i);
    return [...found]
      .filter((i) => i < size)
      .sort((a, b) => a - b)
      .slice(0, limit);
  }

  rootAt(size: number): Buffer {
    this.checkSize(size);
    if (size === this.head.size) return this.head.rootHash;
    return rootAt(size, this.store);
  }

  inclusionProof(index: number, size: number): Buffer[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new LogError('INVALID_PROOF_REQUEST', 'leaf index must be below the tree size');
    }
    return inclusionProof(index, size, this.store);
  }

  consistencyProof(first: number, second: number): Buffer[] {
    this.checkSize(second);
    if (!Number.isSafeInteger(first) || first < 0 || first > second) {
      throw new LogError('INVALID_PROOF_REQUEST', 'first size must be between 0 and the second size');
    }
    return consistencyProof(first, second, this.store);
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.head.size) {
      throw new LogError('INVALID_PROOF_REQUEST', `tree size must be between 0 and ${this.head.size}`);
    }
  }

  tile(level: number, index: number, width?: number): Buffer | undefined {
    return readTile(this.store, this.head.size, level, index, width);
  }

  entryBundle(index: number, width?: number): Buffer | undefined {
    return readEntryBundle(this.store, this.head.size, index, width);
  }

  getMeta(key: string): string | undefined {
    return this.store.getMeta(key);
  }

  setMeta(key: string, value: string): void {
    this.store.setMeta(key, value);
  }

  async close(): Promise<void> {
    if (this.closed && !this.store.isOpen) return;
    this.closed = true;
    // Drain: everything queued before close is sequenced, written and answered.
    if (this.queue.length > 0 || this.inFlight.length > 0 || this.sequencing) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.schedule();
      });
    }
    if (this.timer) clearTimeout(this.timer);
    await this.writer.close();
    this.store.close();
  }
}

/** Width of tile (level, index) in a tree of `size` leaves: 0 when it does not exist yet. */
function tileWidth(size: number, level: number, index: number): number {
  const nodes = Math.floor(size / TILE_WIDTH ** level);
  return Math.max(0, Math.min(TILE_WIDTH, nodes - index * TILE_WIDTH));
}

/** C2SP tile (level, index) of width `width` (default full) in a tree of `size`, or undefined. */
export function readTile(store: LogStore, size: number, level: number, index: number, width?: number): Buffer | undefined {
  if (!Number.isSafeInteger(level) || level < 0 || level > MAX_TILE_LEVEL || !Number.isSafeInteger(index) || index < 0) return undefined;
  const have = tileWidth(size, level, index);
  const want = width ?? TILE_WIDTH;
  // C2SP tlog-tiles: a partial tile of width W is the prefix of the tile; any W up to what exists.
  if (have === 0 || want < 1 || want > have) return undefined;
  const blob = store.tileBlob(level, index);
  if (!blob) throw new LogError('STORE_CORRUPT', `tile ${level}/${index} is missing`);
  return Buffer.from(blob.subarray(0, want * HASH_SIZE));
}

/** C2SP entry bundle `index` of width `width` (default full) in a tree of `size`, or undefined. */
export function readEntryBundle(store: LogStore, size: number, index: number, width?: number): Buffer | undefined {
  if (!Number.isSafeInteger(index) || index < 0) return undefined;
  const have = tileWidth(size, 0, index);
  const want = width ?? TILE_WIDTH;
  if (have === 0 || want < 1 || want > have) return undefined;
  const start = index * TILE_WIDTH;
  return Buffer.from(encodeEntryBundle(store.leafData(start, start + want)));
}

/** The hashes of the stored leaves at and above the leaf_index mark. */
function readTail(store: LogStore, from: number): LeafHashTail {
  const tail = new LeafHashTail(from);
  for (const r of store.leafHashesFrom(from)) {
    if (r.idx !== tail.end) throw new LogError('STORE_CORRUPT', `leaf ${tail.end} is missing`);
    tail.push(r.leaf_hash);
  }
  return tail;
}

/** The staged (not yet moved) secondary keys: key -> indexes, ascending. */
function readTailKeys(store: LogStore): Map<string, number[]> {
  const keys = new Map<string, number[]>();
  for (const r of store.stagedKeys()) addKey(keys, r.key, r.idx);
  return keys;
}

/** Records that leaf `index` has secondary key `key` (indexes arrive ascending; a key listed twice for one leaf counts once). */
function addKey(keys: Map<string, number[]>, key: string, index: number): void {
  const list = keys.get(key);
  if (!list) keys.set(key, [index]);
  else if (list[list.length - 1] !== index) list.push(index);
}

/** The right edge of a tree of `size` leaves, read from stored complete subtrees. */
export function rebuildRange(store: LogStore, size: number): CompactRange {
  const edge: Buffer[] = [];
  let start = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (start + width <= size) {
      edge.push(Buffer.from(store.node(level, start / width)));
      start += width;
    }
  }
  return new CompactRange(size, edge);
}

/** Checks the batch settings of `options` (config validation). */
function checkOptions(options: LogEngineOptions): void {
  const maxSize = options.batchMaxSize ?? DEFAULT_BATCH_MAX_SIZE;
  const maxDelay = options.batchMaxDelayMs ?? DEFAULT_BATCH_MAX_DELAY_MS;
  if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > MAX_BATCH_SIZE) throw new TypeError(`batchMaxSize must be 1..${MAX_BATCH_SIZE}`);
  if (!Number.isFinite(maxDelay) || maxDelay < 0 || maxDelay > MAX_BATCH_DELAY_MS) throw new TypeError(`batchMaxDelayMs must be 0..${MAX_BATCH_DELAY_MS}`);
  const indexEvery = options.leafIndexEvery ?? DEFAULT_LEAF_INDEX_EVERY;
  if (!Number.isInteger(indexEvery) || indexEvery < 1) throw new TypeError('leafIndexEvery must be a positive integer');
}

/**
 * The sequencer over an opened store whose latest head is `head` (already checked or signed by
 * the caller): the right edge is rebuilt from the stored tiles and must reproduce the head's root.
 */
export function startSequencer(store: LogStore, writer: LogWriter, options: LogEngineOptions, head: SignedTreeHead): SequencedLogEngine {
  const range = head.size === 0 ? new CompactRange() : rebuildRange(store, head.size);
  if (!range.root().equals(head.rootHash)) {
    throw new LogError('STORE_CORRUPT', `stored tiles do not reproduce the signed root at size ${head.size}`);
  }
  const indexUpTo = store.leafIndexUpTo();
  const tail = readTail(store, indexUpTo);
  return new SequencedLogEngine(store, writer, options, head, range, indexUpTo, tail, readTailKeys(store));
}

export async function openLogEngine(options: LogEngineOptions): Promise<LogEngine> {
  checkOptions(options);
  if (options.storeUrl !== undefined) {
    const { openPgLogEngine } = await import('./pg-engine.ts');
    return openPgLogEngine(options, options.storeUrl);
  }
  const store = new SqliteLogStore(options.dbPath, {
    ...(options.extraMigrations ? { extraMigrations: options.extraMigrations } : {}),
    ...(options.tileCacheSize !== undefined ? { tileCacheSize: options.tileCacheSize } : {}),
  });
  try {
    const latest = store.latestHead();
    let head: SignedTreeHead;
    if (!latest) {
      const unsigned: TreeHead = { size: 0, rootHash: new CompactRange().root(), timestampMs: options.clock.now().getTime() };
      head = { ...unsigned, signatures: await options.signTreeHead(unsigned) };
      store.putHead(head);
    } else {
      if (!rebuildRange(store, latest.size).root().equals(latest.rootHash)) {
        throw new LogError('STORE_CORRUPT', `stored tiles do not reproduce the signed root at size ${latest.size}`);
      }
      // Re-sign the latest head: names in the signatures may have changed (new public URL or key).
      const unsigned: TreeHead = { size: latest.size, rootHash: latest.rootHash, timestampMs: latest.timestampMs };
      head = { ...unsigned, signatures: await options.signTreeHead(unsigned) };
      store.putHead(head);
    }
    const writer = await BatchWriter.open(options.dbPath, WRITER_CACHE_KIB);
    try {
      return startSequencer(store, writer, options, head);
    } catch (e) {
      await writer.close();
      throw e;
    }
  } catch (e) {
    store.close();
    throw e;
  }
}

export type { StoredLeaf, StoredTreeHead, Migration };

/**
 * Leaf hashes for indexes inside a tree of `size`, from the leaves table in one query. (Not from
 * the level-0 tiles: search hits are spread over the log, so each would read a whole 8 KiB tile.)
 */
export function leafHashesWithin(store: LogStore, indexes: readonly number[], size: number): (Buffer | undefined)[] {
  const ok = (i: number): boolean => Number.isSafeInteger(i) && i >= 0 && i < size;
  const found = store.leafHashesAt(indexes.filter(ok));
  let k = 0;
  return indexes.map((i) => (ok(i) ? found[k++] : undefined));
}
