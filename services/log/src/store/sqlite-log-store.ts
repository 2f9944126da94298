/**
 * The SQLite store under the log engine: leaves, C2SP tlog-tiles hashes, signed tree heads and a
 * small key/value table, in one database file (WAL, synchronous=FULL: a committed batch survives
 * kill -9 and power loss).
 *
 * Tiles. A tile at tile level L, index N covers tree level 8L nodes [256N, 256N+256) (C2SP
 * tlog-tiles). We store each tile together with the seven levels of internal nodes above its
 * base (256 + 128 + ... + 2 = 510 hashes), so the hash of ANY complete subtree is one lookup in
 * one blob: proofs need O(log n) lookups and no hashing. The served tile is the base-level
 * prefix of the blob. Complete nodes never change, so a tile's bytes only grow to the right.
 *
 * Duplicates: leaf_index (first 48 bits of the leaf hash, index) is filled in sorted bulk steps
 * by the engine (see engine.ts); leaves above its mark (meta engine.leaf_index_upto) are looked
 * up in the engine's memory.
 *
 * Memory: an LRU of hot tile blobs (16 KiB each); nothing proportional to the tree size.
 *
 * Writes: batches are committed by the writer worker (writer.worker.js, same schema) on its own
 * connection; this class reads, migrates, and keeps the tile cache the engine feeds after commits.
 */
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { HASH_SIZE } from '@cairn/shared/merkle';
import { TILE_HEIGHT, TILE_WIDTH } from '@cairn/shared/tiles';
import { LogError } from '../errors.ts';
import type { LogStore, Migration, StoredLeaf, StoredTreeHead, StoreSql } from './log-store.ts';

/** Base level plus seven internal levels: 256 + 128 + ... + 2. */
const HASHES_PER_BLOB = 2 * TILE_WIDTH - 2;
export const TILE_BLOB_SIZE = HASHES_PER_BLOB * HASH_SIZE;
/** C2SP tlog-tiles levels are 0..63. */
const MAX_TILE_LEVEL = 63;

/** Where sub-level s (0..7) of a tile blob starts, in hashes: 0, 256, 384, ... */
function subLevelOffset(s: number): number {
  return 2 * TILE_WIDTH - ((2 * TILE_WIDTH) >> s);
}

export function tileKey(level: number, index: number): number {
  return index * 64 + level;
}

/** Where the complete node (treeLevel, index) lives: tile coordinates and byte offset. */
export function nodeLocation(treeLevel: number, index: number): { tileLevel: number; tileIndex: number; offset: number } {
  const tileLevel = Math.floor(treeLevel / TILE_HEIGHT);
  const s = treeLevel % TILE_HEIGHT;
  const perTile = TILE_WIDTH >> s;
  const tileIndex = Math.floor(index / perTile);
  const within = index - tileIndex * perTile;
  return { tileLevel, tileIndex, offset: (subLevelOffset(s) + within) * HASH_SIZE };
}

type TileBlobOf = (level: number, index: number) => Buffer | undefined;

/** The complete node (treeLevel, index) out of its stored tile blob; both stores read nodes this way. */
export function storedNode(tileBlob: TileBlobOf, level: number, index: number): Buffer {
  const loc = nodeLocation(level, index);
  const blob = tileBlob(loc.tileLevel, loc.tileIndex);
  if (!blob) throw new LogError('STORE_CORRUPT', `tree node ${level}/${index} is not stored`);
  return blob.subarray(loc.offset, loc.offset + HASH_SIZE);
}

/** A private, writable copy of a stored tile blob (zeros where none is stored yet). */
export function writableTile(blob: Buffer | undefined): Buffer {
  const copy = Buffer.alloc(TILE_BLOB_SIZE);
  if (blob) blob.copy(copy);
  return copy;
}

/** Leaf-hash key for the duplicate index: the first 48 bits, exact match checked on the full hash. */
export function hashKey(hash: Uint8Array): number {
  return hash[0]! * 2 ** 40 + hash[1]! * 2 ** 32 + ((hash[2]! << 24) >>> 0) + (hash[3]! << 16) + (hash[4]! << 8) + hash[5]!;
}

export type { StoredLeaf, StoredTreeHead, Migration } from './log-store.ts';

/** meta key: leaves with idx below it are in leaf_index; the ones above are not yet. */
export const LEAF_INDEX_UPTO = 'engine.leaf_index_upto';
/** The writer's bulk step: the leaves [from, to) into leaf_index, in key order. */
export const LEAF_INDEX_FLUSH_SQL = 'INSERT INTO leaf_index (hkey, idx) SELECT hkey, idx FROM leaves WHERE idx >= ? AND idx < ? ORDER BY hkey, idx';

const ENGINE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE leaves (
        idx INTEGER PRIMARY KEY,
        hkey INTEGER NOT NULL,
        leaf_hash BLOB NOT NULL,
        data BLOB NOT NULL,
        ts_ms INTEGER NOT NULL
      );
      CREATE INDEX leaves_hkey ON leaves (hkey);
      CREATE TABLE tiles (key INTEGER PRIMARY KEY, data BLOB NOT NULL);
      CREATE TABLE tree_heads (
        size INTEGER PRIMARY KEY,
        root BLOB NOT NULL,
        ts_ms INTEGER NOT NULL,
        signatures TEXT NOT NULL
      );`,
  },
  {
    // The duplicate index moves out of the append path: a per-leaf insert into a random-key
    // B-tree dirtied thousands of pages per batch. leaf_index is filled in bulk (sorted) every
    // few ten thousand leaves; the leaves above LEAF_INDEX_UPTO are looked up in memory.
    version: 2,
    sql: `
      CREATE TABLE leaf_index (hkey INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (hkey, idx)) WITHOUT ROWID;
      INSERT INTO leaf_index (hkey, idx) SELECT hkey, idx FROM leaves ORDER BY hkey, idx;
      DROP INDEX leaves_hkey;
      INSERT OR REPLACE INTO meta (key, value) VALUES ('${LEAF_INDEX_UPTO}', (SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves));`,
  },
  {
    // Secondary keys of leaves (the Rekor search index), filled the same way: a batch appends its
    // keys to the unindexed staging table; the batch that crosses the mark moves them, sorted.
    version: 3,
    sql: `
      CREATE TABLE leaf_keys (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) WITHOUT ROWID;
      CREATE TABLE leaf_keys_staging (idx INTEGER NOT NULL, key TEXT NOT NULL);`,
  },
];

export const LEAF_KEY_STAGE_SQL = 'INSERT INTO leaf_keys_staging (idx, key) VALUES (?, ?)';
/** The writer's bulk steps for secondary keys: staged keys below the mark into leaf_keys, sorted. */
export const LEAF_KEYS_FLUSH_SQL = 'INSERT OR IGNORE INTO leaf_keys (key, idx) SELECT key, idx FROM leaf_keys_staging WHERE idx < ? ORDER BY key, idx';
export const LEAF_KEYS_UNSTAGE_SQL = 'DELETE FROM leaf_keys_staging WHERE idx < ?';

const SQLITE_SQL: StoreSql = {
  leafIndexFlush: LEAF_INDEX_FLUSH_SQL,
  putMeta: 'INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)',
  leafKeyStage: LEAF_KEY_STAGE_SQL,
  leafKeysFlush: LEAF_KEYS_FLUSH_SQL,
  leafKeysUnstage: LEAF_KEYS_UNSTAGE_SQL,
};


export interface SqliteLogStoreOptions {
  /** Kind-specific tables, applied after the engine's own under their own namespace. */
  extraMigrations?: { namespace: string; migrations: readonly Migration[] };
  /** Tile blobs kept in memory (16 KiB each). */
  tileCacheSize?: number;
}

const DEFAULT_TILE_CACHE = 512;

/** Leaf hashes looked up per duplicate-detection query. */
const LOOKUP_CHUNK = 128;

/** SQLite-backed leaves + tiles + tree heads. Synchronous; the engine serialises writes. */
export class SqliteLogStore implements LogStore {
  readonly db: Db;
  readonly sql = SQLITE_SQL;
  private readonly reads = new Map<string, Statement>();
  private readonly cache = new Map<number, Buffer>();
  private readonly cacheSize: number;
  private readonly stmts: {
    getTile: Statement<[number], { data: Buffer }>;
    getLeaf: Statement<[number], { leaf_hash: Buffer; data: Buffer; ts_ms: number }>;
    leafRange: Statement<[number, number], { data: Buffer }>;
    byHashKey: Statement<[number], { idx: number; leaf_hash: Buffer }>;
    byHashKeys: Statement<number[], { idx: number; leaf_hash: Buffer }>;
    hashesFrom: Statement<[number], { idx: number; leaf_hash: Buffer }>;
    hashesAt: Statement<[string], { idx: number; leaf_hash: Buffer }>;
    staged: Statement<[], { idx: number; key: string }>;
    keysAfter: Statement<[number, number], number>;
    withKey: Statement<[string, number], { idx: number }>;
    putHead: Statement<[number, Buffer, number, string]>;
    latestHead: Statement<[], { size: number; root: Buffer; ts_ms: number; signatures: string }>;
    headAt: Statement<[number], { size: number; root: Buffer; ts_ms: number; signatures: string }>;
    getMeta: Statement<[string], { value: string }>;
    putMeta: Statement<[string, string]>;
  };
  private open = true;

  constructor(path: string, options: SqliteLogStoreOptions = {}) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.db = new Database(path);
    this.cacheSize = options.tileCacheSize ?? DEFAULT_TILE_CACHE;
    try {
      this.db.pragma('journal_mode = WAL');
      // An acknowledged batch must survive power loss: fsync on every commit.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      // Batch commits come from the writer thread's own connection (writer.worker.js); this one
      // reads, and writes only at open and for rare metadata, waiting for the writer if needed.
      this.db.pragma('busy_timeout = 10000');
      // 4 MiB of pages: hot index pages stay cached; memory stays flat as the log grows.
      this.db.pragma('cache_size = -4000');
      this.migrate('engine', ENGINE_MIGRATIONS);
      if (options.extraMigrations) this.migrate(options.extraMigrations.namespace, options.extraMigrations.migrations);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.stmts = {
      getTile: this.db.prepare('SELECT data FROM tiles WHERE key = ?'),
      getLeaf: this.db.prepare('SELECT leaf_hash, data, ts_ms FROM leaves WHERE idx = ?'),
      hashesAt: this.db.prepare('SELECT idx, leaf_hash FROM leaves WHERE idx IN (SELECT value FROM json_each(?))'),
      leafRange: this.db.prepare('SELECT data FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx'),
      byHashKey: this.db.prepare('SELECT l.idx, l.leaf_hash FROM leaf_index i JOIN leaves l ON l.idx = i.idx WHERE i.hkey = ?'),
      byHashKeys: this.db.prepare(
        `SELECT l.idx, l.leaf_hash FROM leaf_index i JOIN leaves l ON l.idx = i.idx WHERE i.hkey IN (${Array(LOOKUP_CHUNK).fill('?').join(',')})`,
      ),
      hashesFrom: this.db.prepare('SELECT idx, leaf_hash FROM leaves WHERE idx >= ? ORDER BY idx'),
      staged: this.db.prepare('SELECT idx, key FROM leaf_keys_staging ORDER BY idx'),
      keysAfter: this.db.prepare<[number, number], number>('SELECT DISTINCT hkey FROM leaf_index WHERE hkey > ? ORDER BY hkey LIMIT ?').pluck(),
      withKey: this.db.prepare('SELECT idx FROM leaf_keys WHERE key = ? ORDER BY idx LIMIT ?'),
      putHead: this.db.prepare('INSERT OR REPLACE INTO tree_heads (size, root, ts_ms, signatures) VALUES (?, ?, ?, ?)'),
      latestHead: this.db.prepare('SELECT size, root, ts_ms, signatures FROM tree_heads ORDER BY size DESC LIMIT 1'),
      headAt: this.db.prepare('SELECT size, root, ts_ms, signatures FROM tree_heads WHERE size = ?'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      putMeta: this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    };
  }

  private migrate(namespace: string, migrations: readonly Migration[]): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (namespace TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (namespace, version))');
    const done = new Set(
      this.db
        .prepare<[string], { version: number }>('SELECT version FROM schema_migrations WHERE namespace = ?')
        .all(namespace)
        .map((r) => r.version),
    );
    const mark = this.db.prepare('INSERT INTO schema_migrations (namespace, version) VALUES (?, ?)');
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        mark.run(namespace, m.version);
      })();
    }
  }

  get isOpen(): boolean {
    return this.open;
  }

  private ensureOpen(): void {
    if (!this.open) throw new LogError('STORE_CLOSED', 'the log store is closed');
  }

  /** The tile blob, or undefined if no node of it was ever stored. */
  tileBlob(level: number, index: number): Buffer | undefined {
    this.ensureOpen();
    const key = tileKey(level, index);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const row = this.stmts.getTile.get(key);
    if (!row) return undefined;
    this.remember(key, row.data);
    return row.data;
  }

  /** Puts a committed tile blob into the cache (the writer committed it on another connection). */
  remember(key: number, blob: Buffer): void {
    this.cache.delete(key);
    this.cache.set(key, blob);
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
    }
  }

  /** NodeReader over stored complete subtrees (RFC 6962 proof building). */
  node(level: number, index: number): Buffer {
    return storedNode((l, i) => this.tileBlob(l, i), level, index);
  }

  /** A private, writable copy of a tile blob for the batch being built. */
  tileForWrite(level: number, index: number): Buffer {
    return writableTile(this.tileBlob(level, index));
  }

  static tileKey(level: number, index: number): number {
    return tileKey(level, index);
  }

  /** Replaces the signatures of an already stored head (re-signing under a new name on start). */
  putHead(head: StoredTreeHead): void {
    this.ensureOpen();
    this.stmts.putHead.run(head.size, head.rootHash, head.timestampMs, JSON.stringify(head.signatures));
  }

  latestHead(): StoredTreeHead | undefined {
    this.ensureOpen();
    const r = this.stmts.latestHead.get();
    return r && toHead(r);
  }

  headAt(size: number): StoredTreeHead | undefined {
    this.ensureOpen();
    const r = this.stmts.headAt.get(size);
    return r && toHead(r);
  }

  leaf(index: number): StoredLeaf | undefined {
    this.ensureOpen();
    const r = this.stmts.getLeaf.get(index);
    return r && { index, leafHash: r.leaf_hash, data: r.data, timestampMs: r.ts_ms };
  }

  leafData(start: number, end: number): Buffer[] {
    this.ensureOpen();
    return this.stmts.leafRange.all(start, end).map((r) => r.data);
  }

  /** Leaves below this index are in leaf_index (committed state). */
  leafIndexUpTo(): number {
    this.ensureOpen();
    return Number(this.getMeta(LEAF_INDEX_UPTO) ?? 0);
  }

  /** Up to `limit` hash keys of leaf_index above `after`, in key order (the engine's filter is rebuilt in steps). */
  leafIndexKeysAfter(after: number, limit: number): number[] {
    this.ensureOpen();
    return this.stmts.keysAfter.all(after, limit);
  }

  /** Leaf hashes of the committed leaves from `start` on, in index order (the unindexed tail). */
  leafHashesFrom(start: number): { idx: number; leaf_hash: Buffer }[] {
    this.ensureOpen();
    return this.stmts.hashesFrom.all(start);
  }

  leafHashesAt(indexes: readonly number[]): (Buffer | undefined)[] {
    this.ensureOpen();
    if (indexes.length === 0) return [];
    const byIdx = new Map<number, Buffer>();
    for (const r of this.stmts.hashesAt.all(JSON.stringify(indexes))) byIdx.set(r.idx, r.leaf_hash);
    return indexes.map((i) => byIdx.get(i));
  }

  /** Secondary keys not yet moved into leaf_keys (committed state), in index order. */
  stagedKeys(): { idx: number; key: string }[] {
    this.ensureOpen();
    return this.stmts.staged.all();
  }

  /** Indexes under `key` in leaf_keys (ascending, at most `limit`); staged keys are not there. */
  indexesWithKey(key: string, limit: number): number[] {
    this.ensureOpen();
    return this.stmts.withKey.all(key, limit).map((r) => r.idx);
  }

  /**
   * The index in leaf_index of each of `hashes` (undefined when not there), in input order. One query
   * per LOOKUP_CHUNK hashes instead of one per leaf: duplicate detection is on the append hot path.
   */
  findLeafHashes(hashes: readonly Buffer[]): (number | undefined)[] {
    this.ensureOpen();
    const found = new Array<number | undefined>(hashes.length);
    for (let i = 0; i < hashes.length; i += LOOKUP_CHUNK) {
      const end = Math.min(hashes.length, i + LOOKUP_CHUNK);
      const keys: number[] = [];
      const positions = new Map<number, number[]>();
      for (let j = i; j < end; j++) {
        const k = hashKey(hashes[j]!);
        keys.push(k);
        const at = positions.get(k);
        if (at) at.push(j);
        else positions.set(k, [j]);
      }
      while (keys.length < LOOKUP_CHUNK) keys.push(-1);
      for (const r of this.stmts.byHashKeys.all(...keys)) {
        for (const j of positions.get(hashKey(r.leaf_hash)) ?? []) if (r.leaf_hash.equals(hashes[j]!)) found[j] = r.idx;
      }
    }
    return found;
  }

  /** The index of a leaf hash in leaf_index (leaves above leafIndexUpTo() are not there). */
  indexOfLeafHash(hash: Uint8Array): number | undefined {
    this.ensureOpen();
    if (hash.length !== HASH_SIZE) return undefined;
    for (const r of this.stmts.byHashKey.all(hashKey(hash))) {
      if (r.leaf_hash.equals(hash)) return r.idx;
    }
    return undefined;
  }

  getMeta(key: string): string | undefined {
    this.ensureOpen();
    return this.stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.ensureOpen();
    this.stmts.putMeta.run(key, value);
  }

  all<T>(sql: string, params: readonly unknown[]): T[] {
    this.ensureOpen();
    let st = this.reads.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.reads.set(sql, st);
    }
    return st.all(...params) as T[];
  }

  /** Drops cached tiles (after a failed batch the in-memory state is rebuilt from disk). */
  clearCache(): void {
    this.cache.clear();
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.cache.clear();
    this.db.close();
  }
}

export { MAX_TILE_LEVEL };

function toHead(r: { size: number; root: Buffer; ts_ms: number; signatures: string }): StoredTreeHead {
  return { size: r.size, rootHash: r.root, timestampMs: r.ts_ms, signatures: JSON.parse(r.signatures) as Record<string, string> };
}
