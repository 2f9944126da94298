/**
 * The sigstore-conformance bundle-verify corpus through scripts/conformance (the protocol in
 * test/vectors/conformance/README.md), exactly as a conformance runner calls it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { REPO } from './verify-fixtures.ts';

test('conformance: bundle-verify corpus ends with 0 failed', { timeout: 540_000 }, async () => {
  const cmd = 'node test/vectors/conformance/run.mjs test/vectors/conformance/bundle-verify test/vectors/conformance/production_trusted_root.json -- scripts/conformance';
  const [exe, ...args] = cmd.split(' ');
  const child = spawn(exe!, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const lines = out.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  assert.match(last, /^\d+ passed, 0 failed$/, out);
  assert.ok(Number(last.split(' ')[0]) >= 100, `expected the whole corpus to run: ${last}`);
  assert.equal(code, 0);
});
