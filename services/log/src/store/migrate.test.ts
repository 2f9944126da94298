import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock } from '@cairn/shared';
import { leafHash, verifyInclusion } from '@cairn/shared/merkle';
import { openLogEngine, type LogEngineOptions, type TreeHead } from '../engine.ts';
import { LogError } from '../errors.ts';
import { REKOR_MIGRATIONS } from '../rekor-log.ts';
import { migrateLogToPg } from './migrate.ts';
import { TEST_POSTGRES, TEST_LEASE_MS, createTestDatabase } from './test-stores.ts';

const skip = TEST_POSTGRES ? false : 'CAIRN_TEST_POSTGRES is not set: the PostgreSQL migration test was skipped';
const sign = (h: TreeHead): Promise<Record<string, string>> => Promise.resolve({ test: `${h.size}:${h.rootHash.toString('hex')}` });

test('store migrate: a SQLite log moved to PostgreSQL keeps its tree, heads, duplicates, search keys and every inclusion proof; a non-empty target is refused', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const base: Omit<LogEngineOptions, 'dbPath'> = {
    clock: new FixedClock(1_700_000_000_000),
    signTreeHead: sign,
    batchMaxSize: 50,
    batchMaxDelayMs: 1,
    // A small mark: part of the leaves and keys are in leaf_index/leaf_keys, the rest staged.
    leafIndexEvery: 100,
    extraMigrations: { namespace: 'rekor', migrations: REKOR_MIGRATIONS },
    leafKeys: (data) => [`k${data.length % 7}`],
  };
  const sqlitePath = join(dir, 'log.db');
  const leaves = Array.from({ length: 530 }, (_, i) => Buffer.from(`entry-${i}-${'x'.repeat(i % 13)}`));
  const src = await openLogEngine({ ...base, dbPath: sqlitePath });
  for (let i = 0; i < leaves.length; i += 50) await Promise.all(leaves.slice(i, i + 50).map((l) => src.append(l)));
  const head = src.checkpoint();
  const proofs = leaves.map((_, i) => src.inclusionProof(i, head.size));
  const keyed = src.leavesWithKey('k3', 1000);
  const heads = [50, 100, 300, 530].map((n) => src.headAt(n));
  await src.close();

  const r = await migrateLogToPg({ sqlitePath, url: db.url, schema: 'cairn_rekor', extra: { namespace: 'rekor', migrations: REKOR_MIGRATIONS, tables: [] } });
  assert.equal(r.size, 530);
  assert.equal(r.rows.leaves, 530);

  const pg = await openLogEngine({ ...base, dbPath: sqlitePath, storeUrl: db.url, storeSchema: 'cairn_rekor', leaseMs: TEST_LEASE_MS });
  t.after(() => pg.close());
  assert.equal(pg.size, head.size);
  assert.deepEqual(pg.checkpoint().rootHash, head.rootHash);
  for (let i = 0; i < leaves.length; i++) {
    const p = pg.inclusionProof(i, head.size);
    assert.deepEqual(p, proofs[i], `inclusion proof ${i} unchanged`);
    assert.ok(verifyInclusion(leafHash(leaves[i]!), i, head.size, p, head.rootHash));
  }
  assert.deepEqual(pg.leavesWithKey('k3', 1000), keyed);
  assert.deepEqual([50, 100, 300, 530].map((n) => pg.headAt(n)), heads);
  const dup = await pg.append(leaves[7]!);
  assert.equal(dup.duplicateOf, 7, 'a migrated leaf is found as a duplicate');
  const next = await pg.append(Buffer.from('after the move'));
  assert.equal(next.index, 530);

  await assert.rejects(
    migrateLogToPg({ sqlitePath, url: db.url, schema: 'cairn_rekor', extra: { namespace: 'rekor', migrations: REKOR_MIGRATIONS, tables: [] } }),
    (e: unknown) => e instanceof LogError && e.code === 'STORE_CORRUPT',
  );
});
