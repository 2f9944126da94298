/**
 * Soak (CAIRN_SOAK=1 only): tens of thousands of precertificates through the in-process CT log.
 * Memory stays flat (the engine keeps no tree in memory), every early tree head stays consistent
 * with the last one, and sampled leaves still prove into the final root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry, silentLogger, systemClock } from '@cairn/shared';
import { leafHash, verifyConsistency, verifyInclusion } from '@cairn/shared/merkle';
import { EngineCtLog } from '@cairn/ct';
import { leafExtensions, makeIntermediate, makeLeaf, makeRoot, newKey, spkiOf } from './ct-fixtures.ts';

const TOTAL = Number(process.env.CAIRN_CT_SOAK_N ?? 30_000);
const WAVE = 500;

test(`CT log soak: ${TOTAL} precertificates, flat memory, consistent heads, valid proofs`, { timeout: 30 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ct-soak-'));
  const log = await EngineCtLog.open({ dataDir: dir, clock: systemClock, logger: silentLogger, metrics: new MetricsRegistry() });
  try {
    const root = makeRoot();
    const int = makeIntermediate(root);
    log.addRoot(root.der);
    const spki = spkiOf(newKey());
    const extensions = leafExtensions(int, spki);
    const heads: { size: number; root: Buffer }[] = [];
    const rss: number[] = [];
    const t0 = performance.now();
    for (let done = 0; done < TOTAL; done += WAVE) {
      const wave = Array.from({ length: Math.min(WAVE, TOTAL - done) }, () => makeLeaf(int, { spki, extensions, poisonAt: extensions.length }).der);
      await Promise.all(wave.map((p) => log.addPreChain([p, int.der, root.der])));
      const sth = log.signedTreeHead();
      heads.push({ size: sth.tree_size, root: Buffer.from(sth.sha256_root_hash, 'base64') });
      if (done % 5000 === 0) {
        global.gc?.();
        rss.push(process.memoryUsage().rss);
        console.log(`  ${sth.tree_size} leaves, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
    const last = heads[heads.length - 1]!;
    assert.equal(last.size, TOTAL);
    for (const h of heads.filter((_, i) => i % 7 === 0)) {
      verifyConsistency(h.size, last.size, log.consistency(h.size, last.size), h.root, last.root);
    }
    for (let i = 0; i < 50; i++) {
      const idx = Math.floor(Math.random() * TOTAL);
      const [e] = log.entries(idx, idx);
      const lh = leafHash(Buffer.from(e!.leaf_input, 'base64'));
      const p = log.proofByHash(lh, last.size);
      assert.equal(p.leafIndex, idx);
      verifyInclusion(lh, idx, last.size, p.auditPath, last.root);
    }
    // After warm-up, memory does not grow with the tree.
    const warm = rss[Math.min(1, rss.length - 1)]!;
    const end = rss[rss.length - 1]!;
    assert.ok(end - warm < 150 * 2 ** 20, `rss grew by ${((end - warm) / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
