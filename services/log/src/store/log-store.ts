/**
 * The store interface under the log engine (engine.ts), implemented by the embedded SQLite store
 * (sqlite-log-store.ts, the default) and the PostgreSQL store (pg-log-store.ts). Reads are
 * synchronous: the engine answers proofs, tiles and leaves without awaiting, as better-sqlite3
 * does; the PostgreSQL store gets there through its bridge (pg-bridge.ts). Batch commits go
 * through a LogWriter, off the event loop.
 */
import type { NodeReader } from '@cairn/shared/merkle';
import type { WriterBatch } from './batch-writer.ts';

export interface StoredLeaf {
  index: number;
  leafHash: Buffer;
  data: Buffer;
  timestampMs: number;
}

export interface StoredTreeHead {
  size: number;
  rootHash: Buffer;
  timestampMs: number;
  /** Opaque signatures made by the engine's TreeHeadSigner (e.g. signed notes by name). */
  signatures: Record<string, string>;
}

/**
 * A numbered schema step. Steps run once, in order, inside a transaction. `pgSql` is the same
 * step for the PostgreSQL store (same namespace and version); a step without it cannot run there.
 */
export interface Migration {
  version: number;
  sql: string;
  pgSql?: string;
}

/** The engine's bulk statements in the store's SQL dialect (`?` parameters on both stores). */
export interface StoreSql {
  /** The leaves [from, to) into leaf_index, in key order. */
  leafIndexFlush: string;
  /** (key, value) upsert into meta. */
  putMeta: string;
  /** (idx, key) into leaf_keys_staging. */
  leafKeyStage: string;
  /** Staged keys below the mark into leaf_keys, sorted. */
  leafKeysFlush: string;
  /** Staged keys below the mark removed. */
  leafKeysUnstage: string;
}

export interface LogStore extends NodeReader {
  readonly isOpen: boolean;
  readonly sql: StoreSql;
  tileBlob(level: number, index: number): Buffer | undefined;
  remember(key: number, blob: Buffer): void;
  tileForWrite(level: number, index: number): Buffer;
  putHead(head: StoredTreeHead): void;
  latestHead(): StoredTreeHead | undefined;
  headAt(size: number): StoredTreeHead | undefined;
  leaf(index: number): StoredLeaf | undefined;
  leafData(start: number, end: number): Buffer[];
  leafIndexUpTo(): number;
  leafIndexKeysAfter(after: number, limit: number): number[];
  leafHashesFrom(start: number): { idx: number; leaf_hash: Buffer }[];
  /** The leaf hashes at these indexes (undefined where there is no leaf), in one query, without the leaves' data. */
  leafHashesAt(indexes: readonly number[]): (Buffer | undefined)[];
  stagedKeys(): { idx: number; key: string }[];
  indexesWithKey(key: string, limit: number): number[];
  findLeafHashes(hashes: readonly Buffer[]): (number | undefined)[];
  indexOfLeafHash(hash: Uint8Array): number | undefined;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** Rows of a read of the caller's own tables (`?` parameters; both stores). */
  all<T>(sql: string, params: readonly unknown[]): T[];
  clearCache(): void;
  close(): void;
}

/** Commits packed batches in the order they were sent; after a failure refuses more until reset(). */
export interface LogWriter {
  readonly alive: boolean;
  commit(batch: WriterBatch): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}
