/**
 * Reliability findings of the attack run (issue 14) against `cairn up`: requests during start,
 * client errors that were 500s, oversized headers, the development secret in production mode,
 * readiness of a TUF repository that does not verify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { CAIRN_BIN, ROOT, tempDir } from './helpers/cli.ts';
import { freePort, histogram, probeUntil } from './helpers/probe.ts';

test('finding 2: connections opened from the moment `cairn up` is spawned are all answered within 1 s (503 STARTING until ready)', { timeout: 120_000 }, async (t) => {
  const dataDir = tempDir('cairn-start-');
  const port = await freePort();
  const child = spawn(process.execPath, [CAIRN_BIN, 'up', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const up = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (out.includes('Cairn is up at')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`cairn up exited with ${code}:\n${out}`)));
  });
  try {
    // Probe from spawn until a moment after the stack says it is up.
    const outcomes = await probeUntil(port, up.then(() => new Promise((r) => setTimeout(r, 300))));
    const h = histogram(outcomes);
    t.diagnostic(`${outcomes.length} probes: ${JSON.stringify(h)}`);
    assert.equal(h.hang, undefined, 'a request was not answered within 1 s');
    assert.equal(h.error, undefined, `a connection failed: ${JSON.stringify(outcomes.filter((o) => o.kind === 'error').slice(0, 3))}`);
    const starting = outcomes.filter((o) => o.kind === 'status' && o.code === 'STARTING');
    assert.ok(starting.length > 0, 'no request arrived in the start window (bootstrap of a fresh data dir takes seconds)');
    for (const o of starting) {
      assert.ok(o.kind === 'status' && o.status === 503 && o.retryAfter === '1', JSON.stringify(o));
      assert.notEqual(o.path, '/healthz');
    }
    // /healthz answers 200 in the start window too; after start, the real routes answer.
    assert.ok(outcomes.some((o) => o.kind === 'status' && o.path === '/healthz' && o.status === 200));
    const last = outcomes.filter((o) => o.kind === 'status').slice(-8);
    assert.ok(last.some((o) => o.kind === 'status' && o.path === '/api/v1/log' && o.status === 200), JSON.stringify(last));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
