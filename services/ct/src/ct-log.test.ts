import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock, LocalSigner, MetricsRegistry, generateKey, silentLogger, type Signer } from '@cairn/shared';
import { parseMerkleTreeLeaf } from '@cairn/shared/sct';
import { EngineCtLog, MAX_GET_ENTRIES } from './ct-log.ts';
import { CtError } from './errors.ts';
import { makeIntermediate, makeRoot, precertWithFinal } from '../../../test/ct-fixtures.ts';
import { storeTest, type StoreUnderTest } from '@cairn/log/test-stores';

/** The store options of EngineCtLog.open for the store under test. */
function storeOptions(s: StoreUnderTest): { storeUrl?: string; leaseMs?: number } {
  const { storeUrl, leaseMs } = s.engine();
  return storeUrl !== undefined ? { storeUrl, leaseMs: leaseMs! } : {};
}

async function withLog(s: StoreUnderTest, fn: (log: EngineCtLog, clock: FixedClock, dir: string) => Promise<void>): Promise<void> {
  const clock = new FixedClock(Date.UTC(2026, 0, 1));
  const log = await EngineCtLog.open({ dataDir: s.dir, clock, logger: silentLogger, metrics: new MetricsRegistry(), batchMaxDelayMs: 1, ...storeOptions(s) });
  try {
    await fn(log, clock, s.dir);
  } finally {
    await log.close();
  }
}

const isCode = (code: string) => (e: unknown) => e instanceof CtError && e.code === code;

storeTest('get-entries pages at MAX_GET_ENTRIES and SCT / STH timestamps follow the clock', async (_t, s) => {
  await withLog(s, async (log, clock) => {
    const root = makeRoot();
    const int = makeIntermediate(root);
    log.addRoot(root.der);
    const n = MAX_GET_ENTRIES + 20;
    // In slices of 100 concurrent submissions: each one's chain checks (and the making of its
    // precertificate here) are synchronous, and one tick of hundreds of them on a loaded machine
    // can starve the PostgreSQL lease renewal (a lone replica then loses its lease and answers
    // NOT_SEQUENCER, which is right but not what this test is about). HTTP submissions arrive in
    // ticks of their own.
    const scts = [];
    for (let start = 0; start < n; start += 100) {
      if (start === 100) clock.advance(5000);
      const slice = Array.from({ length: Math.min(100, n - start) }, () => log.addPreChain([precertWithFinal(int).precert, int.der, root.der]));
      scts.push(...(await Promise.all(slice)));
    }
    assert.equal(log.size, n);
    const page = log.entries(0, n + 1000);
    assert.equal(page.length, MAX_GET_ENTRIES);
    const rest = log.entries(MAX_GET_ENTRIES, n + 1000);
    assert.equal(rest.length, n - MAX_GET_ENTRIES);
    const ts = [...page, ...rest].map((e) => parseMerkleTreeLeaf(Buffer.from(e.leaf_input, 'base64')).timestamp);
    assert.deepEqual(ts.sort(), scts.map((s) => s.timestamp).sort());
    const sth = log.signedTreeHead();
    assert.ok(sth.timestamp >= Math.max(...scts.map((s) => s.timestamp)));
    assert.equal(log.entries(5, 5).length, 1);
  });
});

test('the in-process API refuses empty chains and works no more once closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ctlog-'));
  try {
    const log = await EngineCtLog.open({ dataDir: dir, clock: new FixedClock(0), logger: silentLogger, metrics: new MetricsRegistry() });
    await assert.rejects(log.addPreChain([]), isCode('INVALID_REQUEST'));
    await assert.rejects(log.addChain([Buffer.from('x')]), isCode('INVALID_CERTIFICATE'));
    await log.close();
    await log.close();
    assert.equal(log.ready(), false);
    await assert.rejects(log.addPreChain([Buffer.from('x')]), isCode('STORE_CLOSED'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a roots file from config is loaded; a bad one stops the start with INVALID_ROOT', async () => {
  const { writeFileSync } = await import('node:fs');
  const { toPem } = await import('@cairn/shared');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ctlog-'));
  try {
    const root = makeRoot();
    const int = makeIntermediate(root);
    const good = join(dir, 'roots.pem');
    writeFileSync(good, toPem('CERTIFICATE', root.der));
    const log = await EngineCtLog.open({ dataDir: join(dir, 'a'), clock: new FixedClock(0), logger: silentLogger, metrics: new MetricsRegistry(), rootsFile: good });
    assert.deepEqual(log.acceptedRoots().map((r) => r.der), [root.der]);
    const sct = await log.addPreChain([precertWithFinal(int).precert, int.der]);
    assert.equal(sct.logId.length, 32);
    await log.close();
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, toPem('CERTIFICATE', int.der));
    await assert.rejects(
      EngineCtLog.open({ dataDir: join(dir, 'b'), clock: new FixedClock(0), logger: silentLogger, metrics: new MetricsRegistry(), rootsFile: bad }),
      isCode('INVALID_ROOT'),
    );
    await assert.rejects(
      EngineCtLog.open({ dataDir: join(dir, 'c'), clock: new FixedClock(0), logger: silentLogger, metrics: new MetricsRegistry(), rootsFile: join(dir, 'missing.pem') }),
      isCode('INVALID_ROOT'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A signer that can be told to fail, on every call or only on tree heads (50-byte §3.5 structs). */
class FlakySigner implements Signer {
  readonly inner = new LocalSigner(generateKey('ecdsa-p256'));
  readonly algorithm = this.inner.algorithm;
  readonly publicKey = this.inner.publicKey;
  mode: 'ok' | 'all' | 'sth' = 'ok';
  sign(data: Uint8Array): Promise<Buffer> {
    if (this.mode === 'all' || (this.mode === 'sth' && data.length === 50)) return Promise.reject(new Error('HSM unavailable'));
    return this.inner.sign(data);
  }
}

test('a failing log key (SCT or tree head) refuses with SIGNING_FAILED and stores nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ctlog-'));
  const signer = new FlakySigner();
  const log = await EngineCtLog.open({ dataDir: dir, clock: new FixedClock(Date.UTC(2026, 0, 1)), logger: silentLogger, metrics: new MetricsRegistry(), signer });
  try {
    const root = makeRoot();
    const int = makeIntermediate(root);
    log.addRoot(root.der);
    assert.deepEqual(log.logId, signer.publicKey.keyId);
    const chain = [precertWithFinal(int).precert, int.der, root.der];
    for (const mode of ['all', 'sth'] as const) {
      signer.mode = mode;
      await assert.rejects(log.addPreChain(chain), isCode('SIGNING_FAILED'));
      assert.equal(log.size, 0);
      assert.equal(log.signedTreeHead().tree_size, 0);
    }
    // Nothing of the failed attempts was kept: the same precert now gets a fresh, stored SCT.
    signer.mode = 'ok';
    const sct = await log.addPreChain(chain);
    assert.equal(log.size, 1);
    assert.deepEqual(await log.addPreChain(chain), sct);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('log keys outside the allow-list are refused; P-384 is announced as such', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ctlog-'));
  try {
    const base = { clock: new FixedClock(0), logger: silentLogger, metrics: new MetricsRegistry() };
    await assert.rejects(EngineCtLog.open({ ...base, dataDir: join(dir, 'a'), signer: new LocalSigner(generateKey('ed25519')) }), TypeError);
    const p384 = await EngineCtLog.open({ ...base, dataDir: join(dir, 'b'), signer: new LocalSigner(generateKey('ecdsa-p384')) });
    assert.equal(p384.keyDetails, 'PKIX_ECDSA_P384_SHA_384');
    await p384.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

storeTest('beyond maxPending waiting submissions new ones get LOG_BUSY and store nothing', async (_t, s) => {
  const log = await EngineCtLog.open({
    dataDir: s.dir,
    clock: new FixedClock(0),
    logger: silentLogger,
    metrics: new MetricsRegistry(),
    maxPending: 3,
    batchMaxDelayMs: 50,
    ...storeOptions(s),
  });
  try {
    const root = makeRoot();
    const int = makeIntermediate(root);
    log.addRoot(root.der);
    const chains = Array.from({ length: 8 }, () => [precertWithFinal(int).precert, int.der, root.der]);
    const results = await Promise.allSettled(chains.map((c) => log.addPreChain(c)));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const busy = results.filter((r) => r.status === 'rejected' && isCode('LOG_BUSY')(r.reason)).length;
    assert.equal(ok, 3);
    assert.equal(busy, 5);
    assert.equal(log.size, 3);
    // Once the queue drained, a refused chain goes through.
    const last = results.findIndex((r) => r.status === 'rejected');
    await log.addPreChain(chains[last]!);
    assert.equal(log.size, 4);
  } finally {
    await log.close();
  }
});
