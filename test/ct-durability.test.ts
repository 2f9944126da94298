/**
 * "Durable before answer": a CT log process is killed with SIGKILL while it is issuing SCTs;
 * after a restart every SCT it had handed out is backed by a leaf in the tree and a resubmission
 * of the same precertificate returns the very same SCT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@cairn/shared';
import { parseMerkleTreeLeaf } from '@cairn/shared/sct';
import type { CtService } from '@cairn/ct';
import { startStack } from '@cairn/host';

interface Line {
  chain: string[];
  timestamp: number;
  signature: string;
}

test('SCTs handed out before a kill -9 are all in the log after restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ct-crash-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'ct-crash-child.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Line[] = [];
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child produced ${lines.length} SCTs in time; stderr: ${stderr}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buf.slice(0, nl)) as Line);
          buf = buf.slice(nl + 1);
        }
        if (lines.length >= 40) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`child exited early (${code}); stderr: ${stderr}`));
      });
    });
    await new Promise((r) => child.once('close', r));

    const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent' } }), { components: ['ct'] });
    try {
      const ct = stack.services.find((s) => s.name === 'ct') as CtService;
      const sth = (await (await fetch(`${stack.url}/ct/v1/get-sth`)).json()) as { tree_size: number };
      assert.ok(sth.tree_size >= lines.length, `tree has ${sth.tree_size} leaves for ${lines.length} SCTs`);
      const timestamps = new Set<number>();
      for (let start = 0; start < sth.tree_size; start += 256) {
        const r = (await (await fetch(`${stack.url}/ct/v1/get-entries?start=${start}&end=${sth.tree_size - 1}`)).json()) as { entries: { leaf_input: string }[] };
        for (const e of r.entries) timestamps.add(parseMerkleTreeLeaf(Buffer.from(e.leaf_input, 'base64')).timestamp);
      }
      for (const l of lines) {
        assert.ok(timestamps.has(l.timestamp), 'an acknowledged SCT has its leaf');
        const again = await ct.addPreChain(l.chain.map((c) => Buffer.from(c, 'base64')));
        assert.equal(again.timestamp, l.timestamp);
        assert.equal(again.signature.toString('base64'), l.signature);
      }
      const after = (await (await fetch(`${stack.url}/ct/v1/get-sth`)).json()) as { tree_size: number };
      assert.equal(after.tree_size, sth.tree_size, 'resubmissions after the crash added nothing');
    } finally {
      await stack.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
