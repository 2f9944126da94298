/** `cairn serve log`: prints its URL, creates the key (0600) on first start, keeps it after. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hashedRekord, post } from './log-helpers.ts';

const CAIRN = join(import.meta.dirname, '..', 'client', 'cli', 'bin', 'cairn.js');

async function serve(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [CAIRN, 'serve', 'log', '--port', '0', '--data-dir', dataDir, '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`cairn serve log exited with ${c}`)));
  });
  assert.match(line, /^cairn log listening on http:\/\/127\.0\.0\.1:\d+$/);
  return {
    url: line.slice(line.indexOf('http')),
    stop: () =>
      new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

test('cairn serve log: URL on stdout, key created 0600 on first start and reused, metrics exposed', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-serve-log-'));
  try {
    let s = await serve(dataDir);
    const keyPath = join(dataDir, 'log', 'log-key.pem');
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    const key = readFileSync(keyPath, 'utf8');
    const pem1 = await (await fetch(`${s.url}/api/v1/log/publicKey`)).text();
    assert.equal((await post(`${s.url}/api/v1/log/entries`, hashedRekord(Buffer.from('serve')).entry)).status, 201);
    const ready = await fetch(`${s.url}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /cairn_log_entries_appended_total\{api="v1"\} 1/);
    assert.match(metrics, /cairn_log_batch_size_count 1/);
    assert.match(metrics, /cairn_log_tree_size 1/);
    const info1 = (await (await fetch(`${s.url}/api/v1/log`)).json()) as { treeID: string };
    await s.stop();
    s = await serve(dataDir);
    assert.equal(readFileSync(keyPath, 'utf8'), key);
    assert.equal(await (await fetch(`${s.url}/api/v1/log/publicKey`)).text(), pem1);
    const info2 = (await (await fetch(`${s.url}/api/v1/log`)).json()) as { treeID: string; treeSize: number };
    assert.equal(info2.treeID, info1.treeID);
    assert.equal(info2.treeSize, 1);
    await s.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
