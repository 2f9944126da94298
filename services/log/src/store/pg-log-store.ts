/**
 * The PostgreSQL store under the log engine: the same tables as the SQLite store
 * (sqlite-log-store.ts) in a schema of their own (one per log: `cairn_rekor`, `cairn_ct`), the
 * same numbered migration steps, plus the replication tables (sequencer lease, append queue).
 *
 * Differences from SQLite, and why:
 *   - leaves keeps its index on hkey (SQLite's step 2 drops it): a replica that is not the
 *     sequencer has no in-memory tail of recent leaf hashes, so lookups must find every
 *     committed leaf in the database. leaf_keys_staging is indexed by key for the same reason.
 *   - The tile cache is invalidated by tree size: a cached tile that was not complete when it
 *     was read is used only while the tree size it was read at is still the current one (a
 *     complete tile never changes). The sequencer writes the tiles itself (remember()).
 *   - Every batch commit is FENCED (PgBatchWriter): in the same transaction it checks that this
 *     replica still holds the lease (holder and epoch, not expired, row locked) and that the
 *     latest stored tree head is the size the batch extends; tree_heads rows are inserted, never
 *     replaced. A paused sequencer that wakes up after losing the lease cannot commit.
 */
import { LogError } from '../errors.ts';
import type { WriterBatch } from './batch-writer.ts';
import type { LogStore, LogWriter, Migration, StoredLeaf, StoredTreeHead, StoreSql } from './log-store.ts';
import type { PgBridge, TxStep } from './pg-bridge.ts';
import { HASH_SIZE } from '@cairn/shared/merkle';
import { TILE_WIDTH } from '@cairn/shared/tiles';
import { LEAF_INDEX_UPTO, hashKey, storedNode, tileKey, writableTile } from './sqlite-log-store.ts';

/** The engine's schema steps on PostgreSQL: same namespace and versions as SQLite's ENGINE_MIGRATIONS. */
export const PG_ENGINE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: '',
    pgSql: `
      CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
      CREATE TABLE leaves (idx bigint PRIMARY KEY, hkey bigint NOT NULL, leaf_hash bytea NOT NULL, data bytea NOT NULL, ts_ms bigint NOT NULL);
      CREATE INDEX leaves_hkey ON leaves (hkey);
      CREATE TABLE tiles (key bigint PRIMARY KEY, data bytea NOT NULL);
      CREATE TABLE tree_heads (size bigint PRIMARY KEY, root bytea NOT NULL, ts_ms bigint NOT NULL, signatures text NOT NULL);`,
  },
  {
    // As SQLite's step 2, except that leaves_hkey stays (see the file comment).
    version: 2,
    sql: '',
    pgSql: `
      CREATE TABLE leaf_index (hkey bigint NOT NULL, idx bigint NOT NULL, PRIMARY KEY (hkey, idx));
      INSERT INTO leaf_index (hkey, idx) SELECT hkey, idx FROM leaves ORDER BY hkey, idx;
      INSERT INTO meta (key, value) VALUES ('${LEAF_INDEX_UPTO}', (SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves)::text)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;`,
  },
  {
    version: 3,
    sql: '',
    pgSql: `
      CREATE TABLE leaf_keys (key text NOT NULL, idx bigint NOT NULL, PRIMARY KEY (key, idx));
      CREATE TABLE leaf_keys_staging (idx bigint NOT NULL, key text NOT NULL);
      CREATE INDEX leaf_keys_staging_key ON leaf_keys_staging (key);`,
  },
];

/** PostgreSQL only: the sequencer lease and the queue through which other replicas hand in leaves. */
export const PG_REPLICATION_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: '',
    pgSql: `
      CREATE TABLE sequencer_lease (name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL, expires_at timestamptz NOT NULL);
      INSERT INTO sequencer_lease VALUES ('sequencer', '', 0, 'epoch');
      CREATE TABLE append_queue (
        id bigserial PRIMARY KEY,
        data bytea NOT NULL,
        keys text NOT NULL,
        meta bytea,
        idx bigint,
        ts_ms bigint,
        dup boolean NOT NULL DEFAULT false,
        failed text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX append_queue_open ON append_queue (id) WHERE idx IS NULL AND failed IS NULL;`,
  },
];

const PG_SQL: StoreSql = {
  leafIndexFlush: 'INSERT INTO leaf_index (hkey, idx) SELECT hkey, idx FROM leaves WHERE idx >= ? AND idx < ? ORDER BY hkey, idx ON CONFLICT DO NOTHING',
  putMeta: 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
  leafKeyStage: 'INSERT INTO leaf_keys_staging (idx, key) VALUES (?, ?)',
  leafKeysFlush: 'INSERT INTO leaf_keys (key, idx) SELECT key, idx FROM leaf_keys_staging WHERE idx < ? ORDER BY key, idx ON CONFLICT DO NOTHING',
  leafKeysUnstage: 'DELETE FROM leaf_keys_staging WHERE idx < ?',
};

/** The queue rows a batch integrates: (queue id, leaf index), set in the batch transaction. */
export const QUEUE_DONE_SQL = 'UPDATE append_queue SET idx = ?, ts_ms = ? WHERE id = ?';
const QUEUE_DONE_BULK =
  'UPDATE append_queue q SET idx = u.idx, ts_ms = u.ts FROM unnest(?::bigint[], ?::bigint[], ?::bigint[]) AS u(idx, ts, id) WHERE q.id = u.id AND q.idx IS NULL';

/** Parameters per statement when rows of one INSERT … VALUES (?, …) are sent as one statement. */
const MAX_PARAMS = 30_000;
const SINGLE_VALUES = /^\s*INSERT\s+INTO\s+[\s\S]*?\bVALUES\s*\((\s*\?\s*,)*\s*\?\s*\)\s*$/i;

/** Runs `migrations` of `namespace` once each, in order, one transaction each, under an advisory lock (replicas start together). */
export async function migratePg(bridge: PgBridge, schema: string, namespace: string, migrations: readonly Migration[]): Promise<void> {
  const lock = { sql: 'SELECT pg_advisory_xact_lock(hashtext(?))', params: [`cairn.migrate.${schema}`] };
  await bridge.tx([
    lock,
    { sql: `CREATE SCHEMA IF NOT EXISTS ${schema}`, params: [] },
    { sql: 'CREATE TABLE IF NOT EXISTS schema_migrations (namespace text NOT NULL, version integer NOT NULL, PRIMARY KEY (namespace, version))', params: [] },
  ]);
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.pgSql === undefined) throw new TypeError(`migration ${namespace} ${m.version} has no PostgreSQL step`);
    await bridge.tx([
      lock,
      // Another replica may have run the step while this one waited for the lock: then nothing happens.
      {
        sql: `DO $step$ BEGIN IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE namespace = '${namespace.replace(/'/g, "''")}' AND version = ${m.version}) THEN
          ${m.pgSql.replace(/\$step\$/g, '')}
          INSERT INTO schema_migrations (namespace, version) VALUES ('${namespace.replace(/'/g, "''")}', ${m.version});
        END IF; END $step$`,
        params: [],
      },
    ]);
  }
}

interface TileEntry {
  blob: Buffer;
  /** Tree size the blob was read at (partial tiles are valid at that size only). */
  size: number;
}

const DEFAULT_TILE_CACHE = 512;

export class PgLogStore implements LogStore {
  readonly sql = PG_SQL;
  private readonly cache = new Map<number, TileEntry>();
  private readonly cacheSize: number;
  /** The tree size reads are answered for (set by the replica engine on every new head). */
  treeSize = 0;
  /** Set while this replica sequences: it writes every tile itself, so cached tiles stay current. */
  leaderMode = false;

  constructor(
    private readonly bridge: PgBridge,
    tileCacheSize = DEFAULT_TILE_CACHE,
  ) {
    this.cacheSize = tileCacheSize;
  }

  get isOpen(): boolean {
    return this.bridge.reachable;
  }

  private q<T>(sql: string, params: readonly unknown[]): T[] {
    return this.bridge.querySync<T>(sql, params);
  }

  /** Complete tiles (every one of their 256 base nodes present) never change again. */
  private complete(level: number, index: number, size: number): boolean {
    return size >= (index + 1) * TILE_WIDTH ** (level + 1);
  }

  tileBlob(level: number, index: number): Buffer | undefined {
    const key = tileKey(level, index);
    const hit = this.cache.get(key);
    if (hit && (this.leaderMode || hit.size === this.treeSize || this.complete(level, index, hit.size))) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit.blob;
    }
    const row = this.q<{ data: Buffer }>('SELECT data FROM tiles WHERE key = ?', [key])[0];
    if (!row) return undefined;
    this.put(key, { blob: row.data, size: this.treeSize });
    return row.data;
  }

  private put(key: number, e: TileEntry): void {
    this.cache.delete(key);
    this.cache.set(key, e);
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as number);
  }

  /**
   * Loads the tiles that change when the tree grows from `from` to `to` (its right edge, every
   * level) in one asynchronous query and caches them for size `to`: a follower that then moves
   * its view to `to` answers the proofs of the new head without blocking on synchronous reads.
   * Tiles stay append-only, so a row newer than `to` holds the same nodes below `to`.
   */
  async prefetchEdge(from: number, to: number): Promise<void> {
    if (to <= from || this.leaderMode) return;
    const keys: number[] = [];
    for (let level = 0; level === 0 || TILE_WIDTH ** level < to; level++) {
      const span = TILE_WIDTH ** (level + 1);
      const last = Math.floor((to - 1) / span);
      for (let i = Math.max(Math.floor(from / span), last - 7); i <= last; i++) keys.push(tileKey(level, i));
    }
    const rows = await this.bridge.query<{ key: string | number; data: Buffer }>('SELECT key, data FROM tiles WHERE key = ANY(?::bigint[])', [keys]);
    for (const r of rows) this.put(Number(r.key), { blob: r.data, size: to });
  }

  remember(key: number, blob: Buffer): void {
    this.put(key, { blob, size: this.treeSize });
  }

  node(level: number, index: number): Buffer {
    return storedNode((l, i) => this.tileBlob(l, i), level, index);
  }

  tileForWrite(level: number, index: number): Buffer {
    return writableTile(this.tileBlob(level, index));
  }

  /** The genesis head (size 0) or re-signed signatures of a stored head; never a second root at one size. */
  putHead(head: StoredTreeHead): void {
    this.q(
      'INSERT INTO tree_heads (size, root, ts_ms, signatures) VALUES (?, ?, ?, ?) ON CONFLICT (size) DO UPDATE SET signatures = EXCLUDED.signatures WHERE tree_heads.root = EXCLUDED.root',
      [head.size, head.rootHash, head.timestampMs, JSON.stringify(head.signatures)],
    );
  }

  latestHead(): StoredTreeHead | undefined {
    const r = this.q<HeadRow>('SELECT size, root, ts_ms, signatures FROM tree_heads ORDER BY size DESC LIMIT 1', [])[0];
    return r && toHead(r);
  }

  /** The latest head without blocking the event loop. */
  async latestHeadAsync(): Promise<StoredTreeHead | undefined> {
    const r = (await this.bridge.query<HeadRow>('SELECT size, root, ts_ms, signatures FROM tree_heads ORDER BY size DESC LIMIT 1', []))[0];
    return r && toHead(r);
  }

  headAt(size: number): StoredTreeHead | undefined {
    const r = this.q<HeadRow>('SELECT size, root, ts_ms, signatures FROM tree_heads WHERE size = ?', [size])[0];
    return r && toHead(r);
  }

  leaf(index: number): StoredLeaf | undefined {
    const r = this.q<{ leaf_hash: Buffer; data: Buffer; ts_ms: number }>('SELECT leaf_hash, data, ts_ms FROM leaves WHERE idx = ?', [index])[0];
    return r && { index, leafHash: r.leaf_hash, data: r.data, timestampMs: r.ts_ms };
  }

  leafData(start: number, end: number): Buffer[] {
    return this.q<{ data: Buffer }>('SELECT data FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx', [start, end]).map((r) => r.data);
  }

  leafIndexUpTo(): number {
    return Number(this.getMeta(LEAF_INDEX_UPTO) ?? 0);
  }

  leafIndexKeysAfter(after: number, limit: number): number[] {
    return this.q<{ hkey: number }>('SELECT DISTINCT hkey FROM leaf_index WHERE hkey > ? ORDER BY hkey LIMIT ?', [after, limit]).map((r) => r.hkey);
  }

  leafHashesFrom(start: number): { idx: number; leaf_hash: Buffer }[] {
    return this.q('SELECT idx, leaf_hash FROM leaves WHERE idx >= ? ORDER BY idx', [start]);
  }

  leafHashesAt(indexes: readonly number[]): (Buffer | undefined)[] {
    if (indexes.length === 0) return [];
    const byIdx = new Map<number, Buffer>();
    for (const r of this.q<{ idx: number; leaf_hash: Buffer }>('SELECT idx, leaf_hash FROM leaves WHERE idx = ANY(?::bigint[])', [[...indexes]])) byIdx.set(Number(r.idx), r.leaf_hash);
    return indexes.map((i) => byIdx.get(i));
  }

  stagedKeys(): { idx: number; key: string }[] {
    return this.q('SELECT idx, key FROM leaf_keys_staging ORDER BY idx', []);
  }

  /** Staged keys count too: a replica that is not the sequencer keeps none in memory. */
  indexesWithKey(key: string, limit: number): number[] {
    return this.q<{ idx: number }>(
      'SELECT idx FROM (SELECT idx FROM leaf_keys WHERE key = ? UNION SELECT idx FROM leaf_keys_staging WHERE key = ?) k ORDER BY idx LIMIT ?',
      [key, key, limit],
    ).map((r) => r.idx);
  }

  findLeafHashes(hashes: readonly Buffer[]): (number | undefined)[] {
    const found = new Array<number | undefined>(hashes.length);
    if (hashes.length === 0) return found;
    const positions = new Map<number, number[]>();
    for (let j = 0; j < hashes.length; j++) {
      const k = hashKey(hashes[j]!);
      const at = positions.get(k);
      if (at) at.push(j);
      else positions.set(k, [j]);
    }
    const rows = this.q<{ idx: number; leaf_hash: Buffer }>('SELECT idx, leaf_hash FROM leaves WHERE hkey = ANY(?::bigint[])', [[...positions.keys()]]);
    for (const r of rows) {
      for (const j of positions.get(hashKey(r.leaf_hash)) ?? []) if (r.leaf_hash.equals(hashes[j]!) && (found[j] === undefined || r.idx < found[j])) found[j] = r.idx;
    }
    return found;
  }

  indexOfLeafHash(hash: Uint8Array): number | undefined {
    if (hash.length !== HASH_SIZE) return undefined;
    return this.findLeafHashes([Buffer.from(hash)])[0];
  }

  getMeta(key: string): string | undefined {
    return this.q<{ value: string }>('SELECT value FROM meta WHERE key = ?', [key])[0]?.value;
  }

  setMeta(key: string, value: string): void {
    this.q(PG_SQL.putMeta, [key, value]);
  }

  all<T>(sql: string, params: readonly unknown[]): T[] {
    return this.q<T>(sql, params);
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** The bridge (its connections) belongs to the replica engine, which closes it. */
  close(): void {
    this.cache.clear();
  }
}

interface HeadRow {
  size: number;
  root: Buffer;
  ts_ms: number;
  signatures: string;
}

function toHead(r: HeadRow): StoredTreeHead {
  return { size: r.size, rootHash: r.root, timestampMs: r.ts_ms, signatures: JSON.parse(r.signatures) as Record<string, string> };
}

/** The batch statements of one extra group: rows of one INSERT … VALUES (…) go as multi-row statements. */
function extraSteps(sql: string, arity: number, params: unknown[]): TxStep[] {
  const rows = arity === 0 ? 1 : params.length / arity;
  if (sql === QUEUE_DONE_SQL) {
    const idx: unknown[] = [];
    const ts: unknown[] = [];
    const id: unknown[] = [];
    for (let i = 0; i < params.length; i += 3) {
      idx.push(params[i]);
      ts.push(params[i + 1]);
      id.push(params[i + 2]);
    }
    return [{ sql: QUEUE_DONE_BULK, params: [idx, ts, id] }];
  }
  if (rows > 1 && SINGLE_VALUES.test(sql)) {
    const head = sql.slice(0, sql.search(/\bVALUES\s*\(/i));
    const tuple = `(${Array(arity).fill('?').join(', ')})`;
    const perStep = Math.max(1, Math.floor(MAX_PARAMS / arity));
    const steps: TxStep[] = [];
    for (let r = 0; r < rows; r += perStep) {
      const n = Math.min(perStep, rows - r);
      steps.push({ sql: `${head}VALUES ${Array(n).fill(tuple).join(', ')}`, params: params.slice(r * arity, (r + n) * arity) });
    }
    return steps;
  }
  const steps: TxStep[] = [];
  for (let i = 0; i < params.length || (arity === 0 && i === 0); i += Math.max(arity, 1)) steps.push({ sql, params: params.slice(i, i + arity) });
  return steps;
}

/**
 * Commits the engine's batches on PostgreSQL, fenced by the lease (holder, epoch) this writer
 * was made for. Commits run one after another in the order sent; after a failure the later ones
 * are refused until reset() (they were built on the failed one).
 */
export class PgBatchWriter implements LogWriter {
  private chain: Promise<void> = Promise.resolve();
  private failed = false;
  private closed = false;

  constructor(
    private readonly bridge: PgBridge,
    private readonly holder: string,
    private readonly epoch: number,
    private readonly headChannel: string,
  ) {}

  get alive(): boolean {
    return !this.closed && this.bridge.reachable;
  }

  commit(batch: WriterBatch): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) throw new LogError('STORE_CLOSED', 'the log store is closed');
      if (this.failed) throw new LogError('STORE_WRITE_FAILED', 'an earlier batch failed; this one was built on it and is not written');
      try {
        await this.bridge.tx(this.steps(batch));
      } catch (e) {
        this.failed = true;
        if (e instanceof LogError) throw e;
        throw new LogError('STORE_WRITE_FAILED', `the batch could not be written: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    };
    const p = this.chain.then(run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private steps(b: WriterBatch): TxStep[] {
    const n = b.indexes.length;
    const [size, root, ts, sigs] = b.head;
    const hashes: Buffer[] = [];
    const datas: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      hashes.push(b.hashes.subarray(32 * i, 32 * i + 32));
      datas.push(b.data.subarray(b.offsets[i], b.offsets[i + 1]));
    }
    const steps: TxStep[] = [
      {
        sql: "SELECT 1 FROM sequencer_lease WHERE name = 'sequencer' AND holder = ? AND epoch = ? AND expires_at > now() FOR UPDATE",
        params: [this.holder, this.epoch],
        expect: 'row',
        refusal: 'this replica no longer holds the sequencer lease',
      },
      {
        sql: 'SELECT 1 WHERE (SELECT max(size) FROM tree_heads) = ?',
        params: [size - n],
        expect: 'row',
        refusal: `the stored tree is no longer at size ${size - n}`,
      },
      {
        sql: 'INSERT INTO leaves (idx, hkey, leaf_hash, data, ts_ms) SELECT i, k, h, d, ? FROM unnest(?::bigint[], ?::bigint[], ?::bytea[], ?::bytea[]) AS u(i, k, h, d)',
        params: [b.timestampMs, b.indexes, b.hkeys, hashes, datas],
      },
      {
        sql: 'INSERT INTO tiles (key, data) SELECT k, d FROM unnest(?::bigint[], ?::bytea[]) AS u(k, d) ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data',
        params: [b.tiles.map((t) => t[0]), b.tiles.map((t) => t[1])],
      },
      { sql: 'INSERT INTO tree_heads (size, root, ts_ms, signatures) VALUES (?, ?, ?, ?)', params: [size, root, ts, sigs] },
    ];
    for (const x of b.extra) steps.push(...extraSteps(x.sql, x.arity, x.params));
    // Delivered to the other replicas when (and only if) the transaction commits.
    steps.push({ sql: 'SELECT pg_notify(?, ?)', params: [this.headChannel, String(size)] });
    return steps;
  }

  reset(): void {
    this.failed = false;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.chain;
  }
}
