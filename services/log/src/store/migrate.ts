/**
 * Moving a log from its SQLite file to PostgreSQL (`cairn store migrate`): every table of the
 * engine (leaves, tiles, tree heads, meta, leaf_index, leaf keys) and the kind's own tables are
 * copied as they are, so the tree, its signed heads, the log ID (the key stays in the data dir)
 * and every inclusion proof are unchanged. The target schema must be empty (no leaves, no heads);
 * after the copy the stored tiles must reproduce the latest signed root, else STORE_CORRUPT.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { CompactRange } from '@cairn/shared/merkle';
import { rebuildRange } from '../engine.ts';
import { LogError } from '../errors.ts';
import type { Migration } from './log-store.ts';
import { PgBridge, type TxStep } from './pg-bridge.ts';
import { PG_ENGINE_MIGRATIONS, PG_REPLICATION_MIGRATIONS, PgLogStore, migratePg } from './pg-log-store.ts';
import { SqliteLogStore } from './sqlite-log-store.ts';

/** Rows per INSERT statement and per transaction while copying. */
const COPY_ROWS = 500;
const STEPS_PER_TX = 20;
/** The engine's tables, in copy order (tree heads last: a half-copied target has no head). */
const ENGINE_TABLES = ['meta', 'leaves', 'tiles', 'leaf_index', 'leaf_keys', 'leaf_keys_staging', 'tree_heads'];

export interface MigrateLogOptions {
  /** The SQLite file (log.db, ct.sqlite). */
  sqlitePath: string;
  url: string;
  schema: string;
  /** The kind's own schema steps and the tables they make (copied after the engine's). */
  extra?: { namespace: string; migrations: readonly Migration[]; tables: readonly string[] };
}

export interface MigrateLogResult {
  size: number;
  rows: Record<string, number>;
}

export async function migrateLogToPg(o: MigrateLogOptions): Promise<MigrateLogResult> {
  if (!existsSync(o.sqlitePath)) throw new LogError('STORE_CLOSED', `${o.sqlitePath} does not exist`);
  // Opening the SQLite store brings its schema up to date first (the same steps as a start).
  new SqliteLogStore(o.sqlitePath, o.extra ? { extraMigrations: { namespace: o.extra.namespace, migrations: o.extra.migrations } } : {}).close();
  const src = new Database(o.sqlitePath, { readonly: true });
  const bridge = await PgBridge.open(o.url, o.schema);
  try {
    await migratePg(bridge, o.schema, 'engine', PG_ENGINE_MIGRATIONS);
    await migratePg(bridge, o.schema, 'replication', PG_REPLICATION_MIGRATIONS);
    if (o.extra) await migratePg(bridge, o.schema, o.extra.namespace, o.extra.migrations);
    const [busy] = await bridge.query<{ n: number }>('SELECT (SELECT count(*) FROM leaves) + (SELECT count(*) FROM tree_heads) AS n', []);
    if (Number(busy?.n ?? 0) > 0) {
      throw new LogError('STORE_CORRUPT', `the target schema ${o.schema} already holds a log; migrate into an empty database (or drop the schema)`);
    }
    const rows: Record<string, number> = {};
    // The kind's tables before the heads too: nothing serves a head whose rows are missing.
    const tables = [...ENGINE_TABLES.slice(0, -1), ...(o.extra?.tables ?? []), 'tree_heads'];
    for (const table of tables) rows[table] = await copyTable(src, bridge, table);
    const store = new PgLogStore(bridge);
    const latest = await store.latestHeadAsync();
    const size = latest?.size ?? 0;
    if (latest) {
      const root = size === 0 ? new CompactRange().root() : rebuildRange(store, size).root();
      if (!root.equals(latest.rootHash)) throw new LogError('STORE_CORRUPT', `the copied tiles do not reproduce the signed root at size ${size}`);
    }
    return { size, rows };
  } finally {
    src.close();
    await bridge.close();
  }
}

async function copyTable(src: Database.Database, bridge: PgBridge, table: string): Promise<number> {
  const columns = (src.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  if (columns.length === 0) throw new LogError('STORE_CORRUPT', `the SQLite log has no table ${table}`);
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  // meta already has the rows the PostgreSQL steps wrote (the leaf_index mark): the source's win.
  const conflict = table === 'meta' ? ' ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value' : '';
  const insert = (n: number): string => `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array(n).fill(tuple).join(', ')}${conflict}`;
  let steps: TxStep[] = [];
  let rowsBuf: unknown[] = [];
  let count = 0;
  const flushRows = (): void => {
    if (rowsBuf.length === 0) return;
    steps.push({ sql: insert(rowsBuf.length / columns.length), params: rowsBuf });
    rowsBuf = [];
  };
  const flushTx = async (): Promise<void> => {
    flushRows();
    if (steps.length > 0) await bridge.tx(steps);
    steps = [];
  };
  for (const row of src.prepare(`SELECT ${columns.join(', ')} FROM ${table}`).raw().iterate() as Iterable<unknown[]>) {
    for (const v of row) rowsBuf.push(typeof v === 'bigint' ? Number(v) : v);
    count++;
    if (rowsBuf.length >= COPY_ROWS * columns.length) {
      flushRows();
      if (steps.length >= STEPS_PER_TX) await flushTx();
    }
  }
  await flushTx();
  return count;
}
