/**
 * Test support: one suite, both stores. `storeTest(name, fn)` registers the test once on the
 * SQLite store and once on PostgreSQL; the PostgreSQL variant runs when CAIRN_TEST_POSTGRES holds
 * a server URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) and is reported as skipped,
 * plainly, when it does not. Each PostgreSQL test gets a database of its own (CREATE DATABASE
 * with a random name, dropped when the test ends), so runs never see each other.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import pg from 'pg';

export type StoreKind = 'sqlite' | 'postgres';

export interface StoreUnderTest {
  kind: StoreKind;
  /** A fresh folder for the test's files (keys, SQLite files), removed at the end. */
  dir: string;
  /** The PostgreSQL URL of the test's own database (postgres only). */
  storeUrl: string | undefined;
  /** Engine options that select this store: dbPath in `dir`, plus storeUrl on PostgreSQL. */
  engine(file?: string): { dbPath: string; storeUrl?: string; leaseMs?: number };
}

/** The server the PostgreSQL variants run on, or undefined. */
export const TEST_POSTGRES = process.env.CAIRN_TEST_POSTGRES || undefined;
/** Short lease in tests: a replica that closes hands over at once anyway. */
export const TEST_LEASE_MS = 2_000;

let noted = false;
function noteSkipped(): void {
  if (noted) return;
  noted = true;
  console.log('# CAIRN_TEST_POSTGRES is not set: the PostgreSQL variants of the log and CT suites were SKIPPED');
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_POSTGRES, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates a database with a random name on the test server; returns its URL and a dropper. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_POSTGRES) throw new Error('CAIRN_TEST_POSTGRES is not set');
  const name = `cairn_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_POSTGRES);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

async function prepare(t: TestContext, kind: StoreKind): Promise<StoreUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), `cairn-${kind}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let storeUrl: string | undefined;
  if (kind === 'postgres') {
    const db = await createTestDatabase();
    storeUrl = db.url;
    // Runs after the test's own after-hooks (engines closed first).
    t.after(() => db.drop());
  }
  return {
    kind,
    dir,
    storeUrl,
    engine: (file = 'log.db') => ({ dbPath: join(dir, file), ...(storeUrl !== undefined ? { storeUrl, leaseMs: TEST_LEASE_MS } : {}) }),
  };
}

/** The stores a parameterised suite runs on (both; the PostgreSQL one is skipped without a server). */
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres'];

/** The skip reason of a suite on `kind`, or false. */
export function storeSkip(kind: StoreKind): string | false {
  if (kind === 'postgres' && !TEST_POSTGRES) {
    noteSkipped();
    return 'CAIRN_TEST_POSTGRES is not set';
  }
  return false;
}

/** Registers `fn` on both stores: `<name> [sqlite]` and `<name> [postgres]`. */
export function storeTest(name: string, fn: (t: TestContext, s: StoreUnderTest) => Promise<void>): void {
  test(`${name} [sqlite]`, async (t) => fn(t, await prepare(t, 'sqlite')));
  if (TEST_POSTGRES) test(`${name} [postgres]`, async (t) => fn(t, await prepare(t, 'postgres')));
  else {
    noteSkipped();
    test(`${name} [postgres]`, { skip: 'CAIRN_TEST_POSTGRES is not set' }, () => undefined);
  }
}
