import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { FixedClock } from '@cairn/shared';
import { openLogEngine, type TreeHead } from './engine.ts';
import { LogError } from './errors.ts';
import { TEST_LEASE_MS, TEST_POSTGRES, createTestDatabase } from './store/test-stores.ts';

const skip = TEST_POSTGRES ? false : 'CAIRN_TEST_POSTGRES is not set: the PostgreSQL store tests were skipped';
const sign = (h: TreeHead): Promise<Record<string, string>> => Promise.resolve({ test: `${h.size}` });
const unavailable = (e: unknown): boolean => e instanceof LogError && e.status === 503;

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('pg store: a server that cannot be reached refuses the start with STORE_UNAVAILABLE', { skip }, async () => {
  await assert.rejects(
    openLogEngine({ dbPath: '', storeUrl: 'postgres://postgres@127.0.0.1:1/nothing', clock: new FixedClock(0), signTreeHead: sign }),
    (e: unknown) => e instanceof LogError && e.code === 'STORE_UNAVAILABLE',
  );
  await assert.rejects(
    openLogEngine({ dbPath: '', storeUrl: TEST_POSTGRES!, clock: new FixedClock(0), signTreeHead: sign, leaseMs: 5 }),
    (e: unknown) => e instanceof TypeError,
    'a lease below the minimum is refused',
  );
});

test('pg store: while the database refuses connections the replica is not ready and answers 503 (never stale), then recovers with nothing lost', { skip }, async (t) => {
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const name = new URL(db.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: TEST_POSTGRES });
  await admin.connect();
  t.after(async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
  });
  const engine = await openLogEngine({ dbPath: '', storeUrl: db.url, clock: new FixedClock(0), signTreeHead: sign, leaseMs: TEST_LEASE_MS });
  t.after(() => engine.close());
  const before = await Promise.all(['a', 'b', 'c'].map((x) => engine.append(Buffer.from(x))));
  assert.equal(engine.size, 3);

  // A real fault: the database stops accepting connections and every open one is killed.
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
  await assert.rejects(engine.append(Buffer.from('during')), unavailable);
  await until('the replica to turn not ready', () => !engine.ready());
  assert.throws(() => engine.checkpoint(), (e: unknown) => e instanceof LogError && e.code === 'STORE_UNAVAILABLE');
  assert.throws(() => engine.inclusionProof(0, 3), (e: unknown) => e instanceof LogError && e.code === 'STORE_UNAVAILABLE');
  assert.throws(() => engine.leaf(0), unavailable);

  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
  await until('the replica to recover', () => engine.ready());
  let after: Awaited<ReturnType<typeof engine.append>> | undefined;
  const deadline = Date.now() + 20_000;
  while (!after) {
    try {
      after = await engine.append(Buffer.from('after'));
    } catch (e) {
      assert.ok(unavailable(e), 'only 503 refusals while it recovers');
      assert.ok(Date.now() < deadline, 'the replica accepts writes again');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const r of before) assert.ok(engine.leaf(r.index), `acknowledged leaf ${r.index} is still there`);
  assert.ok(after.index >= 3);
});
