/**
 * The log engine on PostgreSQL, for several replicas on one database (`storeUrl`).
 *
 * Roles. Exactly one replica at a time is the SEQUENCER: it holds the lease row
 * (sequencer_lease: holder, epoch, expires_at on the database's clock), renews it every
 * leaseMs/3, and runs the ordinary engine (SequencedLogEngine, engine.ts) over the PostgreSQL
 * store. Every batch commit is fenced (pg-log-store.ts PgBatchWriter): the lease and the tree
 * size it extends are checked in the batch's own transaction, so a sequencer that was paused
 * past its lease cannot commit, and no size ever gets two roots. A replica whose renewal fails
 * stops sequencing at once; another one takes the expired lease (default 3 s: failover < 5 s).
 *
 * Writes on the other replicas go through the database: append() inserts the leaf into
 * append_queue (batched, one statement per event-loop turn) and NOTIFYs the sequencer, which
 * sequences queued rows like its own and marks each row with its index in the same transaction
 * as the batch. The writer waits for that mark (NOTIFY of the new head, with polling as a
 * fallback) and answers only then, with a head that contains the leaf. Why the database and not
 * HTTP forwarding: it needs no replica addresses or service discovery, a queued leaf survives the
 * death of the sequencer (the next one picks it up), and it fences like everything else.
 *
 * Reads. Every replica reads leaves, proofs, tiles and checkpoints from the database, for the
 * latest head it has seen (the tile cache is invalidated by tree size, pg-log-store.ts). Each
 * replica signs the heads it serves with its own names (its public URL): the log key is shared,
 * the stored root is the same. If the database cannot be reached, or the replica's view of it
 * is older than one lease, it is not ready and every read and write is STORE_UNAVAILABLE (503):
 * nothing stale is served as current.
 */
import { randomUUID } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import { consistencyProof, inclusionProof, leafHash as merkleLeafHash, rootAt, CompactRange, HASH_SIZE } from '@cairn/shared/merkle';
import {
  MAX_LEAF_BYTES,
  leafHashesWithin,
  readEntryBundle,
  readTile,
  startSequencer,
  type AppendResult,
  type AppendedLeaf,
  type BatchStatement,
  type LogEngine,
  type LogEngineOptions,
  type SequencedLogEngine,
  type SignedTreeHead,
  type TreeHead,
} from './engine.ts';
import { LogError } from './errors.ts';
import type { StoredLeaf } from './store/log-store.ts';
import { PgBridge } from './store/pg-bridge.ts';
import { PG_ENGINE_MIGRATIONS, PG_REPLICATION_MIGRATIONS, PgBatchWriter, PgLogStore, QUEUE_DONE_SQL, migratePg } from './store/pg-log-store.ts';
import type { Database as Db } from 'better-sqlite3';

export const DEFAULT_LEASE_MS = 3_000;
export const MIN_LEASE_MS = 300;
export const MAX_LEASE_MS = 60_000;
/** How often a replica that is not the sequencer re-reads the head when no NOTIFY came. */
const HEAD_POLL_MS = 250;
/** A write handed to the sequencer that is not integrated by then is answered 503 (not acknowledged). */
export const QUEUED_APPEND_TIMEOUT_MS = 30_000;
/** Queue rows taken by the sequencer per pull. */
const QUEUE_PULL = 2_048;
/** Queue rows a failing batch is retried with before the row is marked failed. */
const QUEUE_ATTEMPTS = 3;
/** Integrated queue rows are deleted by their writer; leftovers older than this by the sequencer. */
const QUEUE_RETENTION = '10 minutes';

/** A leaf handed in by another replica: its queue row, its secondary keys, its caller's meta. */
class QueuedMeta {
  constructor(
    readonly id: number,
    readonly keys: readonly string[],
    readonly meta: unknown,
  ) {}
}

interface Waiter {
  leafHash: Buffer;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
  deadline: number;
}

interface Outgoing {
  data: Buffer;
  keys: string;
  meta: Buffer | null;
  leafHash: Buffer;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

function channelName(schema: string, what: string): string {
  return `${schema}_${what}`;
}

class PgReplicaEngine implements LogEngine {
  readonly holder = randomUUID();
  private epoch = 0;
  private inner: SequencedLogEngine | undefined;
  private writer: PgBatchWriter | undefined;
  private head: SignedTreeHead;
  /** When this replica last confirmed its view of the database (head read or lease renewed). */
  private freshAt = Date.now();
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly waiters = new Map<number, Waiter>();
  private outgoing: Outgoing[] = [];
  private flushScheduled = false;
  private readonly claimed = new Map<number, number>();
  private pulling = false;
  private refreshing: Promise<void> | undefined;
  private ticking = false;
  private readonly leaseMs: number;
  private readonly headChannel: string;
  private readonly queueChannel: string;
  /** Heads this replica signed, by size (the latest few). */
  private readonly signed = new Map<number, SignedTreeHead>();

  constructor(
    private readonly store: PgLogStore,
    private readonly bridge: PgBridge,
    private readonly options: LogEngineOptions,
    schema: string,
    head: SignedTreeHead,
  ) {
    this.head = head;
    this.store.treeSize = head.size;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.headChannel = channelName(schema, 'head');
    this.queueChannel = channelName(schema, 'queue');
  }

  /** Starts following the database; resolves after the first lease attempt (a lone replica is the sequencer then). */
  start(): Promise<void> {
    this.bridge.listen([this.headChannel, this.queueChannel], (channel) => {
      if (channel === this.headChannel) void this.refreshHead();
      else if (channel === this.queueChannel) void this.pull();
    });
    this.timers.push(setInterval(() => void this.tick(), Math.max(100, Math.floor(this.leaseMs / 3))));
    this.timers.push(
      setInterval(() => {
        if (!this.inner) void this.refreshHead();
        else void this.pull();
        if (this.waiters.size > 0) void this.collect();
      }, HEAD_POLL_MS),
    );
    for (const t of this.timers) t.unref();
    return this.tick();
  }

  /** Lease upkeep: renew it when sequencing, else try to take it if it expired. */
  private async tick(): Promise<void> {
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      if (this.inner) {
        const rows = await this.bridge.query(
          "UPDATE sequencer_lease SET expires_at = now() + ? * interval '1 millisecond' WHERE name = 'sequencer' AND holder = ? AND epoch = ? AND expires_at > now() RETURNING epoch",
          [this.leaseMs, this.holder, this.epoch],
        );
        if (rows.length === 0) {
          this.demote('the lease was lost');
          // Lost by a late renewal (a loaded machine): try to take it again at once if it is free.
          setImmediate(() => void this.tick());
        } else this.freshAt = Date.now();
      } else {
        const rows = await this.bridge.query<{ epoch: number }>(
          "UPDATE sequencer_lease SET holder = ?, epoch = epoch + 1, expires_at = now() + ? * interval '1 millisecond' WHERE name = 'sequencer' AND expires_at <= now() RETURNING epoch",
          [this.holder, this.leaseMs],
        );
        if (rows[0]) await this.promote(rows[0].epoch);
      }
    } catch {
      // Unreachable: reads turn STORE_UNAVAILABLE once the view is older than one lease.
      if (this.inner && Date.now() - this.freshAt > this.leaseMs) this.demote('the database is unreachable');
    } finally {
      this.ticking = false;
    }
  }

  private async promote(epoch: number): Promise<void> {
    this.epoch = epoch;
    this.store.clearCache();
    const latest = await this.store.latestHeadAsync();
    if (!latest) throw new LogError('STORE_CORRUPT', 'the database holds no tree head');
    const head = await this.sign(latest);
    this.store.leaderMode = true;
    this.store.treeSize = head.size;
    const writer = new PgBatchWriter(this.bridge, this.holder, epoch, this.headChannel);
    let inner: SequencedLogEngine;
    try {
      inner = startSequencer(this.store, writer, this.innerOptions(), head);
    } catch (e) {
      this.store.leaderMode = false;
      throw e;
    }
    this.writer = writer;
    this.inner = inner;
    this.head = head;
    this.freshAt = Date.now();
    void this.bridge.query(`DELETE FROM append_queue WHERE created_at < now() - interval '${QUEUE_RETENTION}'`, []).catch(() => undefined);
    void this.pull();
  }

  private demote(_why: string): void {
    const inner = this.inner;
    if (!inner) return;
    this.inner = undefined;
    this.writer = undefined;
    this.store.leaderMode = false;
    this.store.clearCache();
    this.claimed.clear();
    // Queued work of the old term is refused (its commits are fenced anyway): not acknowledged.
    void inner.close().catch(() => undefined);
  }

  /** The engine options for the sequencer: queued leaves carry their keys and their row. */
  private innerOptions(): LogEngineOptions {
    const o = this.options;
    return {
      ...o,
      leafKeys: (data, meta) => (meta instanceof QueuedMeta ? meta.keys : (o.leafKeys?.(data, meta) ?? [])),
      batchWrites: (leaves) => {
        const own: AppendedLeaf[] = leaves.map((l) => (l.meta instanceof QueuedMeta ? { ...l, meta: l.meta.meta } : l));
        const rows: BatchStatement[] = o.batchWrites?.(own) ?? [];
        for (const l of leaves) if (l.meta instanceof QueuedMeta) rows.push({ sql: QUEUE_DONE_SQL, params: [l.index, l.timestampMs, l.meta.id] });
        return rows;
      },
      signTreeHead: o.signTreeHead,
    };
  }

  private async sign(h: SignedTreeHead): Promise<SignedTreeHead> {
    const have = this.signed.get(h.size);
    if (have && have.rootHash.equals(h.rootHash)) return have;
    const unsigned: TreeHead = { size: h.size, rootHash: h.rootHash, timestampMs: h.timestampMs };
    const signed = { ...unsigned, signatures: await this.options.signTreeHead(unsigned) };
    this.signed.set(h.size, signed);
    if (this.signed.size > 16) this.signed.delete(this.signed.keys().next().value as number);
    return signed;
  }

  /** Follows the database's latest head (replicas that are not the sequencer). */
  private refreshHead(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const latest = await this.store.latestHeadAsync();
        if (this.inner || !latest) return;
        if (latest.size > this.head.size) {
          const signed = await this.sign(latest);
          await this.store.prefetchEdge(this.head.size, signed.size).catch(() => undefined);
          if (this.inner) return;
          if (signed.size > this.head.size) {
            this.head = signed;
            this.store.treeSize = signed.size;
          }
        }
        this.freshAt = Date.now();
        if (this.waiters.size > 0) await this.collect();
      } catch {
        // Unreachable: the view ages; reads refuse once it is older than one lease.
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** The sequencer takes queued leaves of the other replicas. */
  private async pull(): Promise<void> {
    const inner = this.inner;
    if (!inner || this.pulling || this.closed) return;
    this.pulling = true;
    try {
      const rows = await this.bridge.query<{ id: number; data: Buffer; keys: string; meta: Buffer | null }>(
        'SELECT id, data, keys, meta FROM append_queue WHERE idx IS NULL AND failed IS NULL ORDER BY id LIMIT ?',
        [QUEUE_PULL + this.claimed.size],
      );
      for (const r of rows) {
        if (this.inner !== inner) break;
        if (this.claimed.has(r.id)) continue;
        this.claimed.set(r.id, (this.claimed.get(r.id) ?? 0) + 1);
        let meta: unknown;
        try {
          meta = r.meta ? deserialize(r.meta) : undefined;
        } catch {
          meta = undefined;
        }
        const queued = new QueuedMeta(r.id, JSON.parse(r.keys) as string[], meta);
        inner.append(r.data, queued).then(
          (res) => {
            this.claimed.delete(r.id);
            if (res.duplicateOf !== undefined) {
              void this.bridge
                .query('UPDATE append_queue SET idx = ?, ts_ms = ?, dup = true WHERE id = ? AND idx IS NULL', [res.duplicateOf, res.timestampMs, r.id])
                .catch(() => undefined);
            }
          },
          (e: unknown) => this.queuedFailed(r.id, e),
        );
      }
    } catch {
      // Unreachable or lost: the next pull retries.
    } finally {
      this.pulling = false;
    }
  }

  private attempts = new Map<number, number>();
  private queuedFailed(id: number, e: unknown): void {
    this.claimed.delete(id);
    const code = e instanceof LogError ? e.code : 'STORE_WRITE_FAILED';
    const transient = code === 'NOT_SEQUENCER' || code === 'STORE_UNAVAILABLE' || code === 'STORE_CLOSED';
    const n = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, n);
    if (transient && n < QUEUE_ATTEMPTS * 10) return;
    if (!transient && n < QUEUE_ATTEMPTS) return;
    this.attempts.delete(id);
    void this.bridge.query('UPDATE append_queue SET failed = ? WHERE id = ? AND idx IS NULL', [code, id]).catch(() => undefined);
  }

  /** Answers the writers whose queued leaves are integrated. */
  private async collect(): Promise<void> {
    const ids = [...this.waiters.keys()];
    const now = Date.now();
    for (const id of ids) {
      const w = this.waiters.get(id)!;
      if (now > w.deadline) {
        this.waiters.delete(id);
        w.reject(new LogError('STORE_UNAVAILABLE', 'the sequencer did not integrate the entry in time; it was not acknowledged'));
      }
    }
    if (this.waiters.size === 0) return;
    let rows: { id: number; idx: number | null; ts_ms: number | null; dup: boolean; failed: string | null }[];
    try {
      rows = await this.bridge.query('SELECT id, idx, ts_ms, dup, failed FROM append_queue WHERE id = ANY(?::bigint[]) AND (idx IS NOT NULL OR failed IS NOT NULL)', [
        [...this.waiters.keys()],
      ]);
    } catch {
      return;
    }
    if (rows.length === 0) return;
    const need = Math.max(...rows.map((r) => (r.idx ?? -1) + 1));
    if (need > this.head.size && !this.inner) {
      const latest = await this.store.latestHeadAsync().catch(() => undefined);
      if (latest && latest.size > this.head.size && !this.inner) {
        const signed = await this.sign(latest);
        await this.store.prefetchEdge(this.head.size, signed.size).catch(() => undefined);
        // Another refresh may have moved the view further meanwhile: never back.
        if (!this.inner && signed.size > this.head.size) {
          this.head = signed;
          this.store.treeSize = this.head.size;
          this.freshAt = Date.now();
        }
      }
    }
    const head = this.checkpointUnchecked();
    const done: number[] = [];
    for (const r of rows) {
      const w = this.waiters.get(r.id);
      if (!w) continue;
      if (r.failed !== null) {
        this.waiters.delete(r.id);
        done.push(r.id);
        w.reject(new LogError('STORE_WRITE_FAILED', `the sequencer could not integrate the entry (${r.failed}); it was not acknowledged`));
        continue;
      }
      if (r.idx === null || r.idx >= head.size) continue;
      this.waiters.delete(r.id);
      done.push(r.id);
      const ts = r.ts_ms ?? head.timestampMs;
      w.resolve({
        index: r.idx,
        leafHash: w.leafHash,
        timestampMs: ts,
        integratedTime: Math.floor(ts / 1000),
        treeHead: head,
        ...(r.dup ? { duplicateOf: r.idx } : {}),
      });
    }
    if (done.length > 0) void this.bridge.query('DELETE FROM append_queue WHERE id = ANY(?::bigint[])', [done]).catch(() => undefined);
  }

  /** While writers wait for the sequencer the process stays up (the polling timers are unref'd). */
  private keepAlive(): void {
    if (this.alive || this.waiters.size === 0) return;
    this.alive = setInterval(() => {
      if (this.waiters.size > 0 && !this.closed) return;
      clearInterval(this.alive);
      this.alive = undefined;
    }, HEAD_POLL_MS);
  }

  private alive: NodeJS.Timeout | undefined;

  private flushOutgoing(): void {
    this.flushScheduled = false;
    const batch = this.outgoing;
    this.outgoing = [];
    if (batch.length === 0) return;
    this.bridge
      .query<{ id: number }>(
        'INSERT INTO append_queue (data, keys, meta) SELECT d, k, m FROM unnest(?::bytea[], ?::text[], ?::bytea[]) WITH ORDINALITY AS u(d, k, m, o) ORDER BY o RETURNING id',
        [batch.map((b) => b.data), batch.map((b) => b.keys), batch.map((b) => b.meta)],
      )
      .then(
        (rows) => {
          const ids = rows.map((r) => r.id).sort((a, b) => a - b);
          const deadline = Date.now() + QUEUED_APPEND_TIMEOUT_MS;
          batch.forEach((b, i) => this.waiters.set(ids[i]!, { leafHash: b.leafHash, resolve: b.resolve, reject: b.reject, deadline }));
          this.keepAlive();
          void this.bridge.query('SELECT pg_notify(?, ?)', [this.queueChannel, '']).catch(() => undefined);
        },
        (e: unknown) => {
          for (const b of batch) b.reject(e instanceof LogError ? e : new LogError('STORE_UNAVAILABLE', 'the entry could not be handed to the sequencer'));
        },
      );
  }

  // ---- LogEngine ---------------------------------------------------------------------

  get size(): number {
    return this.inner ? this.inner.size : this.head.size;
  }

  get db(): Db {
    throw new TypeError('engine.db is the SQLite store only: use engine.query');
  }

  ready(): boolean {
    return !this.closed && this.bridge.reachable && Date.now() - this.freshAt <= this.leaseMs;
  }

  /** The head reads are answered for; STORE_UNAVAILABLE when this replica's view may be stale. */
  private current(): SignedTreeHead {
    if (this.closed) throw new LogError('STORE_CLOSED', 'the log is closing');
    if (!this.ready()) throw new LogError('STORE_UNAVAILABLE', 'the database is unreachable; this replica serves nothing it cannot confirm');
    return this.checkpointUnchecked();
  }

  private checkpointUnchecked(): SignedTreeHead {
    return this.inner ? this.inner.checkpoint() : this.head;
  }

  append(leaf: Uint8Array, meta?: unknown): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new LogError('STORE_CLOSED', 'the log is closing'));
    if (leaf.length > MAX_LEAF_BYTES) return Promise.reject(new LogError('ENTRY_TOO_LARGE', `a leaf is limited to ${MAX_LEAF_BYTES} bytes`));
    if (this.inner) return this.inner.append(leaf, meta);
    // A stale view does not matter for a write (it is answered only once integrated); an unreachable database does.
    if (!this.bridge.reachable) return Promise.reject(new LogError('STORE_UNAVAILABLE', 'the database is unreachable'));
    const data = Buffer.from(leaf);
    let metaBytes: Buffer | null = null;
    try {
      metaBytes = meta === undefined ? null : serialize(meta);
    } catch {
      metaBytes = null;
    }
    const keys = JSON.stringify(this.options.leafKeys?.(data, meta) ?? []);
    return new Promise<AppendResult>((resolve, reject) => {
      this.outgoing.push({ data, keys, meta: metaBytes, leafHash: merkleLeafHash(data), resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushOutgoing());
      }
    });
  }

  checkpoint(): SignedTreeHead {
    return this.current();
  }

  headAt(size: number): SignedTreeHead | undefined {
    const head = this.current();
    return size <= head.size ? this.store.headAt(size) : undefined;
  }

  leaf(index: number): StoredLeaf | undefined {
    const head = this.current();
    if (!Number.isSafeInteger(index) || index < 0 || index >= head.size) return undefined;
    return this.store.leaf(index);
  }

  leafHashesAt(indexes: readonly number[]): (Buffer | undefined)[] {
    return leafHashesWithin(this.store, indexes, this.current().size);
  }

  indexOfLeafHash(hash: Uint8Array): number | undefined {
    const head = this.current();
    const i = hash.length === HASH_SIZE ? this.store.indexOfLeafHash(hash) : undefined;
    return i !== undefined && i < head.size ? i : undefined;
  }

  leavesWithKey(key: string, limit: number): number[] {
    const head = this.current();
    return this.store.indexesWithKey(key, limit).filter((i) => i < head.size);
  }

  private checkSize(size: number): SignedTreeHead {
    const head = this.current();
    if (!Number.isSafeInteger(size) || size < 0 || size > head.size) {
      throw new LogError('INVALID_PROOF_REQUEST', `tree size must be between 0 and ${head.size}`);
    }
    return head;
  }

  rootAt(size: number): Buffer {
    const head = this.checkSize(size);
    if (size === head.size) return head.rootHash;
    return size === 0 ? new CompactRange().root() : rootAt(size, this.store);
  }

  inclusionProof(index: number, size: number): Buffer[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new LogError('INVALID_PROOF_REQUEST', 'leaf index must be below the tree size');
    return inclusionProof(index, size, this.store);
  }

  consistencyProof(first: number, second: number): Buffer[] {
    this.checkSize(second);
    if (!Number.isSafeInteger(first) || first < 0 || first > second) {
      throw new LogError('INVALID_PROOF_REQUEST', 'first size must be between 0 and the second size');
    }
    return consistencyProof(first, second, this.store);
  }

  tile(level: number, index: number, width?: number): Buffer | undefined {
    return readTile(this.store, this.current().size, level, index, width);
  }

  entryBundle(index: number, width?: number): Buffer | undefined {
    return readEntryBundle(this.store, this.current().size, index, width);
  }

  getMeta(key: string): string | undefined {
    return this.store.getMeta(key);
  }

  setMeta(key: string, value: string): void {
    this.store.setMeta(key, value);
  }

  query<T>(sql: string, params: readonly unknown[]): T[] {
    return this.store.all<T>(sql, params);
  }

  /** True while this replica holds the sequencer lease (tests, metrics). */
  get isSequencer(): boolean {
    return this.inner !== undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.alive) clearInterval(this.alive);
    this.flushOutgoing();
    const inner = this.inner;
    this.inner = undefined;
    if (inner) {
      // Drain what was queued here, then hand the lease over at once (no wait for expiry).
      await Promise.race([inner.close().catch(() => undefined), new Promise((r) => setTimeout(r, this.leaseMs).unref())]);
      await this.bridge
        .query("UPDATE sequencer_lease SET expires_at = now() WHERE name = 'sequencer' AND holder = ? AND epoch = ?", [this.holder, this.epoch])
        .catch(() => undefined);
    }
    for (const w of this.waiters.values()) w.reject(new LogError('STORE_CLOSED', 'the log is closing; the entry was not acknowledged'));
    this.waiters.clear();
    await this.bridge.close();
  }
}

/** Opens (creating and migrating) the log in schema `cairn_<namespace>` of the database at `url`. */
export async function openPgLogEngine(options: LogEngineOptions, url: string): Promise<LogEngine> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < MIN_LEASE_MS || leaseMs > MAX_LEASE_MS) throw new TypeError(`leaseMs must be ${MIN_LEASE_MS}..${MAX_LEASE_MS}`);
  const schema = options.storeSchema ?? `cairn_${(options.extraMigrations?.namespace ?? 'log').toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  const bridge = await PgBridge.open(url, schema);
  try {
    try {
      await migratePg(bridge, schema, 'engine', PG_ENGINE_MIGRATIONS);
      await migratePg(bridge, schema, 'replication', PG_REPLICATION_MIGRATIONS);
      if (options.extraMigrations) await migratePg(bridge, schema, options.extraMigrations.namespace, options.extraMigrations.migrations);
    } catch (e) {
      if (e instanceof LogError) throw e;
      throw new LogError('STORE_UNAVAILABLE', `the PostgreSQL store could not be prepared: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const store = new PgLogStore(bridge, options.tileCacheSize);
    let latest = await store.latestHeadAsync();
    if (!latest) {
      const unsigned: TreeHead = { size: 0, rootHash: new CompactRange().root(), timestampMs: options.clock.now().getTime() };
      await bridge.query('INSERT INTO tree_heads (size, root, ts_ms, signatures) VALUES (0, ?, ?, ?) ON CONFLICT (size) DO NOTHING', [
        unsigned.rootHash,
        unsigned.timestampMs,
        JSON.stringify(await options.signTreeHead(unsigned)),
      ]);
      latest = (await store.latestHeadAsync())!;
    }
    const unsigned: TreeHead = { size: latest.size, rootHash: latest.rootHash, timestampMs: latest.timestampMs };
    const head = { ...unsigned, signatures: await options.signTreeHead(unsigned) };
    const engine = new PgReplicaEngine(store, bridge, options, schema, head);
    await engine.start();
    return engine;
  } catch (e) {
    await bridge.close();
    throw e;
  }
}

export type { PgReplicaEngine };
