import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock } from '@cairn/shared';
import { leafHash, rootOfLeafHashes, verifyConsistency, verifyInclusion } from '@cairn/shared/merkle';
import { parseEntryBundle } from '@cairn/shared/tiles';
import { openLogEngine, type TreeHead } from './engine.ts';
import { LogError } from './errors.ts';
import type { Database as Db } from 'better-sqlite3';
import { storeTest } from './store/test-stores.ts';

/** A fresh folder, removed when the test ends (also when it fails). */
function tmp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-engine-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sign = (h: TreeHead): Promise<Record<string, string>> => Promise.resolve({ test: `${h.size}:${h.rootHash.toString('hex')}` });

storeTest('engine: appends, proofs for every index and size verify, tiles and bundles match, state survives reopen', async (_t, s) => {
  const clock = new FixedClock(1_700_000_000_000);
  let engine = await openLogEngine({ ...s.engine(), clock, signTreeHead: sign, batchMaxSize: 7, batchMaxDelayMs: 1 });
  const leaves = Array.from({ length: 600 }, (_, i) => Buffer.from(`leaf-${i}`));
  const hashes = leaves.map((l) => leafHash(l));
  const first = await Promise.all(leaves.slice(0, 300).map((l) => engine.append(l)));
  assert.deepEqual(first.map((r) => r.index), [...Array(300).keys()]);
  assert.equal(engine.size, 300);
  assert.deepEqual(engine.checkpoint().rootHash, rootOfLeafHashes(hashes.slice(0, 300)));
  await engine.close();
  engine = await openLogEngine({ ...s.engine(), clock, signTreeHead: sign, batchMaxSize: 64, batchMaxDelayMs: 1 });
  assert.equal(engine.size, 300);
  await Promise.all(leaves.slice(300).map((l) => engine.append(l)));
  assert.equal(engine.size, 600);
  // The leaf hashes alone, in one query, equal the stored leaves' (in the order asked, repeats
  // included); indexes outside the tree give undefined.
  const asked = [599, 0, 255, 256, 1, 599, 600, -1, 1.5, Number.NaN, 300];
  assert.deepEqual(engine.leafHashesAt(asked), asked.map((i) => (Number.isInteger(i) && i >= 0 && i < 600 ? hashes[i] : undefined)));
  assert.deepEqual(engine.leafHashesAt([...Array(600).keys()]), hashes);
  assert.deepEqual(engine.leafHashesAt([]), []);
  const roots = new Map<number, Buffer>();
  for (const n of [1, 2, 3, 255, 256, 257, 300, 511, 512, 513, 600]) roots.set(n, rootOfLeafHashes(hashes.slice(0, n)));
  for (const [n, root] of roots) {
    assert.deepEqual(engine.rootAt(n), root, `root at ${n}`);
    for (let i = 0; i < n; i += n > 300 ? 7 : 1) assert.ok(verifyInclusion(hashes[i]!, i, n, engine.inclusionProof(i, n), root), `incl ${i}/${n}`);
    for (const [m, mroot] of roots) {
      if (m > n) continue;
      assert.ok(verifyConsistency(m, n, engine.consistencyProof(m, n), mroot, root), `cons ${m}/${n}`);
    }
  }
  // Tiles: level 0 tile 1 is full (leaves 256..511); tile 2 partial of width 88.
  const t1 = engine.tile(0, 1)!;
  assert.equal(t1.length, 256 * 32);
  assert.deepEqual(t1.subarray(0, 32), hashes[256]);
  assert.equal(engine.tile(0, 2), undefined);
  assert.equal(engine.tile(0, 2, 88)!.length, 88 * 32);
  assert.equal(engine.tile(0, 2, 89), undefined);
  assert.deepEqual(engine.tile(0, 2, 10)!, engine.tile(0, 2, 88)!.subarray(0, 320));
  const l1 = engine.tile(1, 0, 2)!;
  assert.deepEqual(l1.subarray(0, 32), rootOfLeafHashes(hashes.slice(0, 256)));
  assert.deepEqual(parseEntryBundle(engine.entryBundle(2, 88)!), leaves.slice(512, 600));
  assert.equal(engine.entryBundle(2), undefined);
  await engine.close();
});

storeTest('engine: duplicates inside one batch and across batches are not appended', async (_t, s) => {
  const engine = await openLogEngine({ ...s.engine(), clock: new FixedClock(0), signTreeHead: sign, batchMaxSize: 100, batchMaxDelayMs: 5 });
  const [a, b, c] = await Promise.all([engine.append(Buffer.from('x')), engine.append(Buffer.from('y')), engine.append(Buffer.from('x'))]);
  assert.equal(a.duplicateOf, undefined);
  assert.equal(b.index, 1);
  assert.equal(c.duplicateOf, 0);
  const d = await engine.append(Buffer.from('y'));
  assert.equal(d.duplicateOf, 1);
  assert.equal(engine.size, 2);
  assert.equal(engine.indexOfLeafHash(leafHash(Buffer.from('y'))), 1);
  await engine.close();
});

storeTest('engine: a failing signer writes nothing and the log continues', async (_t, s) => {
  let fail = false;
  const engine = await openLogEngine({
    ...s.engine(),
    clock: new FixedClock(0),
    signTreeHead: (h) => (fail ? Promise.reject(new Error('hsm down')) : sign(h)),
    batchMaxDelayMs: 0,
  });
  await engine.append(Buffer.from('a'));
  fail = true;
  await assert.rejects(engine.append(Buffer.from('b')), (e: unknown) => e instanceof LogError && e.code === 'SIGNING_FAILED');
  assert.equal(engine.size, 1);
  fail = false;
  const r = await engine.append(Buffer.from('b'));
  assert.equal(r.index, 1);
  assert.deepEqual(engine.rootAt(2), rootOfLeafHashes([leafHash(Buffer.from('a')), leafHash(Buffer.from('b'))]));
  assert.throws(() => engine.inclusionProof(2, 2), (e: unknown) => e instanceof LogError && e.code === 'INVALID_PROOF_REQUEST');
  assert.throws(() => engine.consistencyProof(1, 3), (e: unknown) => e instanceof LogError && e.code === 'INVALID_PROOF_REQUEST');
  await assert.rejects(engine.append(Buffer.alloc(70_000)), (e: unknown) => e instanceof LogError && e.code === 'ENTRY_TOO_LARGE');
  await engine.close();
  await assert.rejects(engine.append(Buffer.from('c')), (e: unknown) => e instanceof LogError && e.code === 'STORE_CLOSED');
});

test('engine: a failed commit on the writer thread answers STORE_WRITE_FAILED, also for the batch queued behind it, and the log recovers from disk', async (t) => {
  const dir = tmp(t);
  const dbPath = join(dir, 'log.db');
  const extra = { sql: 'INSERT INTO side (idx, v) VALUES (?, ?)', params: [] as unknown[] };
  const engine = await openLogEngine({
    dbPath,
    clock: new FixedClock(0),
    signTreeHead: sign,
    batchMaxSize: 4,
    // Batches are cut by size here (8 appends = two full batches), never by a busy machine's clock.
    batchMaxDelayMs: 200,
    extraMigrations: { namespace: 'test', migrations: [{ version: 1, sql: 'CREATE TABLE side (idx INTEGER PRIMARY KEY, v TEXT NOT NULL)' }] },
    batchWrites: (leaves) => leaves.map((l) => ({ ...extra, params: [l.index, l.data.toString()] })),
  });
  const first = await Promise.all(['a', 'b', 'c'].map((x) => engine.append(Buffer.from(x))));
  assert.deepEqual(
    first.map((r) => r.index),
    [0, 1, 2],
  );
  // A real SQLite failure inside the writer's transaction (as a full disk would raise one).
  const Database = (await import('better-sqlite3')).default;
  const other = new Database(dbPath);
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON leaves WHEN NEW.idx >= 5 BEGIN SELECT RAISE(ABORT, 'no space left'); END;");
  // Two full batches: [3..6] fails on idx 5, [7..10] was sequenced behind it and must fail too.
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => engine.append(Buffer.from(`d${i}`))));
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof LogError && r.reason.code === 'STORE_WRITE_FAILED', String(r.reason));
  }
  assert.equal(engine.size, 3);
  assert.equal(engine.leaf(3), undefined);
  assert.equal((other.prepare('SELECT COUNT(*) AS n FROM side').get() as { n: number }).n, 3, 'batch rows rolled back with their leaves');
  other.exec('DROP TRIGGER refuse');
  other.close();
  const again = await Promise.all(['d0', 'd1', 'd2'].map((x) => engine.append(Buffer.from(x))));
  assert.deepEqual(
    again.map((r) => r.index),
    [3, 4, 5],
  );
  assert.deepEqual(engine.rootAt(6), rootOfLeafHashes(['a', 'b', 'c', 'd0', 'd1', 'd2'].map((x) => leafHash(Buffer.from(x)))));
  assert.equal(engine.checkpoint().size, 6);
  await engine.close();
});

storeTest('engine: a duplicate of a leaf still being written is answered only once that leaf is durable', async (_t, s) => {
  const engine = await openLogEngine({ ...s.engine(), clock: new FixedClock(0), signTreeHead: sign, batchMaxSize: 2, batchMaxDelayMs: 0 });
  const all = await Promise.all(['p', 'q', 'p', 'q', 'r', 'p'].map((x) => engine.append(Buffer.from(x))));
  assert.deepEqual(
    all.map((r) => [r.index, r.duplicateOf]),
    [
      [0, undefined],
      [1, undefined],
      [0, 0],
      [1, 1],
      [2, undefined],
      [0, 0],
    ],
  );
  for (const r of all) assert.ok(r.treeHead.size > r.index, 'every answer carries a head that contains the leaf');
  for (const r of all) assert.ok(engine.leaf(r.index), 'every answered index is readable');
  await engine.close();
});

test('engine: duplicates are found below the leaf_index mark (on disk) and above it (in memory), across reopen and a failed bulk step', async (t) => {
  const dir = tmp(t);
  const dbPath = join(dir, 'log.db');
  const count = (db: Db, sql: string): number => (db.prepare(sql).get() as { n: number }).n;
  const opts = { dbPath, clock: new FixedClock(0), signTreeHead: sign, batchMaxSize: 4, batchMaxDelayMs: 0, leafIndexEvery: 10 };
  let engine = await openLogEngine(opts);
  const leaves = Array.from({ length: 27 }, (_, i) => Buffer.from(`leaf-${i}`));
  for (let i = 0; i < leaves.length; i += 4) await Promise.all(leaves.slice(i, i + 4).map((l) => engine.append(l)));
  assert.equal(engine.size, 27);
  // Batches end at 4, 8, 12 (mark crossed: 0..11 indexed), 16, 20, 24 (crossed: 12..23), 27.
  assert.equal(engine.getMeta('engine.leaf_index_upto'), '24');
  assert.equal(count(engine.db, 'SELECT COUNT(*) AS n FROM leaf_index'), 24);
  const check = async (e: typeof engine, size = 27): Promise<void> => {
    const again = await Promise.all(leaves.map((l) => e.append(l)));
    assert.deepEqual(
      again.map((r) => r.duplicateOf),
      [...leaves.keys()],
    );
    for (let i = 0; i < leaves.length; i++) assert.equal(e.indexOfLeafHash(leafHash(leaves[i]!)), i);
    assert.equal(e.indexOfLeafHash(leafHash(Buffer.from('absent'))), undefined);
    assert.equal(e.size, size);
  };
  await check(engine);
  await engine.close();
  // Reopen: 24..26 come back into memory from the leaves above the mark.
  engine = await openLogEngine(opts);
  await check(engine);
  // The batch holding leaf 33 is the first to end at or past 24 + 10: it crosses the mark, and
  // fails on the writer. Its bulk step rolls back with it.
  const Database = (await import('better-sqlite3')).default;
  const other = new Database(dbPath);
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON leaves WHEN NEW.idx = 33 BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  const extra = Array.from({ length: 12 }, (_, i) => Buffer.from(`more-${i}`));
  const settled = await Promise.allSettled(extra.map((l) => engine.append(l)));
  assert.ok(settled.some((r) => r.status === 'rejected'));
  other.exec('DROP TRIGGER refuse');
  assert.equal(count(other, 'SELECT COUNT(*) AS n FROM leaf_index'), 24, 'the failed bulk step left nothing');
  other.close();
  const written = settled.filter((r) => r.status === 'fulfilled').length;
  assert.ok(written <= 6, 'nothing from the failed batch on was written');
  assert.equal(engine.size, 27 + written);
  // Everything written so far is still found, and the refused leaves can be appended now.
  await check(engine, 27 + written);
  const retry = await Promise.all(extra.map((l) => engine.append(l)));
  const idx = retry.map((r) => r.duplicateOf ?? r.index);
  assert.equal(new Set(idx).size, extra.length);
  assert.equal(engine.size, 27 + extra.length);
  assert.ok(Number(engine.getMeta('engine.leaf_index_upto')) >= 36);
  await engine.close();
});

test('engine: a log made before leaf_index (schema 1) is migrated: every stored leaf is indexed', async (t) => {
  const dir = tmp(t);
  const dbPath = join(dir, 'log.db');
  const opts = { dbPath, clock: new FixedClock(0), signTreeHead: sign, batchMaxSize: 8, batchMaxDelayMs: 0 };
  let engine = await openLogEngine(opts);
  const leaves = Array.from({ length: 20 }, (_, i) => Buffer.from(`old-${i}`));
  await Promise.all(leaves.map((l) => engine.append(l)));
  await engine.close();
  // Back to schema 1: the per-leaf index on leaves(hkey), no leaf_index, no mark.
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(dbPath);
  db.exec(`DROP TABLE leaf_index; CREATE INDEX leaves_hkey ON leaves (hkey);
    DELETE FROM meta WHERE key = 'engine.leaf_index_upto';
    DELETE FROM schema_migrations WHERE namespace = 'engine' AND version = 2;`);
  db.close();
  engine = await openLogEngine(opts);
  assert.equal(engine.getMeta('engine.leaf_index_upto'), '20');
  assert.equal((engine.db.prepare('SELECT COUNT(*) AS n FROM leaf_index').get() as { n: number }).n, 20);
  assert.equal(engine.db.prepare("SELECT name FROM sqlite_master WHERE name = 'leaves_hkey'").get(), undefined);
  const again = await Promise.all(leaves.map((l) => engine.append(l)));
  assert.deepEqual(
    again.map((r) => r.duplicateOf),
    [...leaves.keys()],
  );
  await engine.close();
});

test('engine: secondary keys are found below the mark (leaf_keys), above it (memory), after reopen, and a failed batch leaves none behind', async (t) => {
  const dir = tmp(t);
  const dbPath = join(dir, 'log.db');
  // Key "even"/"odd" for every leaf, "n:<i>" for each, "none" never.
  const opts = {
    dbPath,
    clock: new FixedClock(0),
    signTreeHead: sign,
    batchMaxSize: 4,
    batchMaxDelayMs: 0,
    leafIndexEvery: 8,
    leafKeys: (data: Buffer): string[] => {
      const i = Number(data.toString().slice(2));
      return [i % 2 ? 'odd' : 'even', `n:${i}`];
    },
  };
  let engine = await openLogEngine(opts);
  for (let i = 0; i < 21; i += 3) await Promise.all([i, i + 1, i + 2].map((n) => engine.append(Buffer.from(`k:${n}`))));
  const mark = Number(engine.getMeta('engine.leaf_index_upto'));
  assert.ok(mark >= 8 && mark < 21, `mark ${mark}`);
  const expectKeys = (e: typeof engine, size: number): void => {
    const all = [...Array(size).keys()];
    assert.deepEqual(e.leavesWithKey('even', 100), all.filter((i) => i % 2 === 0));
    assert.deepEqual(e.leavesWithKey('odd', 5), all.filter((i) => i % 2 === 1).slice(0, 5));
    for (const i of all) assert.deepEqual(e.leavesWithKey(`n:${i}`, 10), [i]);
    assert.deepEqual(e.leavesWithKey('none', 10), []);
  };
  expectKeys(engine, 21);
  const staged = (engine.db.prepare('SELECT COUNT(*) AS n FROM leaf_keys_staging').get() as { n: number }).n;
  assert.equal(staged, 2 * (21 - mark), 'only keys above the mark are staged');
  await engine.close();
  engine = await openLogEngine(opts);
  expectKeys(engine, 21);
  // A failing batch: its keys are neither staged nor found.
  const Database = (await import('better-sqlite3')).default;
  const other = new Database(dbPath);
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON leaves WHEN NEW.idx = 21 BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  await assert.rejects(engine.append(Buffer.from('k:21')), (e: unknown) => e instanceof LogError && e.code === 'STORE_WRITE_FAILED');
  other.exec('DROP TRIGGER refuse');
  other.close();
  assert.deepEqual(engine.leavesWithKey('n:21', 10), []);
  expectKeys(engine, 21);
  await engine.append(Buffer.from('k:21'));
  expectKeys(engine, 22);
  await engine.close();
});

test('engine: after reopen, duplicates of leaves in leaf_index are found while the filter is rebuilt and after', async (t) => {
  const dir = tmp(t);
  const opts = { dbPath: join(dir, 'log.db'), clock: new FixedClock(0), signTreeHead: sign, batchMaxSize: 1024, batchMaxDelayMs: 1, leafIndexEvery: 1000 };
  let engine = await openLogEngine(opts);
  const leaves = Array.from({ length: 12_000 }, (_, i) => Buffer.from(`many-${i}`));
  await Promise.all(leaves.map((l) => engine.append(l)));
  await engine.close();
  engine = await openLogEngine(opts);
  // Right after open (12,000 keys: the filter is rebuilt in steps of 4,096 over later turns).
  const early = await Promise.all(leaves.slice(0, 3000).map((l) => engine.append(l)));
  assert.deepEqual(
    early.map((r) => r.duplicateOf),
    [...Array(3000).keys()],
  );
  await new Promise((r) => setTimeout(r, 50));
  const late = await Promise.all(leaves.slice(3000).map((l) => engine.append(l)));
  assert.deepEqual(
    late.map((r) => r.duplicateOf),
    [...Array(9000).keys()].map((i) => i + 3000),
  );
  const fresh = await engine.append(Buffer.from('not seen before'));
  assert.equal(fresh.index, 12_000);
  assert.equal(engine.size, 12_001);
  await engine.close();
});

test('engine: a leaf missing above the leaf_index mark refuses to open (STORE_CORRUPT); a bad leafIndexEvery is refused', async (t) => {
  const dir = tmp(t);
  const dbPath = join(dir, 'log.db');
  const opts = { dbPath, clock: new FixedClock(0), signTreeHead: sign, batchMaxDelayMs: 0 };
  await assert.rejects(openLogEngine({ ...opts, leafIndexEvery: 0 }), (e: unknown) => e instanceof TypeError && /leafIndexEvery/.test(e.message));
  await assert.rejects(openLogEngine({ ...opts, leafIndexEvery: 1.5 }), (e: unknown) => e instanceof TypeError && /leafIndexEvery/.test(e.message));
  const engine = await openLogEngine(opts);
  await Promise.all(['m0', 'm1', 'm2', 'm3'].map((x) => engine.append(Buffer.from(x))));
  await engine.close();
  // The tiles still reproduce the signed root; only the leaf row is gone (the tail cannot be rebuilt).
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(dbPath);
  db.exec('DELETE FROM leaves WHERE idx = 2');
  db.close();
  await assert.rejects(openLogEngine(opts), (e: unknown) => e instanceof LogError && e.code === 'STORE_CORRUPT' && /leaf 2 is missing/.test(e.message));
});
