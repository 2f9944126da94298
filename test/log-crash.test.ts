/**
 * Crash safety: a log server process takes writes from 32 concurrent clients and is killed with
 * SIGKILL at random moments; after each restart every acknowledged entry is present at the
 * index it was acknowledged with, and every tree head a client saw is consistent with the final
 * tree (RFC 6962 consistency proofs, checked with our verifier).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { verifyConsistency } from '@cairn/shared/merkle';
import { hashedRekord, keyPair, post } from './log-helpers.ts';

const ROUNDS = 5;
const CLIENTS = 32;
const MIN_ACKS_PER_ROUND = 10;

function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'log-server-child.ts'), dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (url) => resolve({ child, url: url.trim() }));
    child.once('exit', (code) => reject(new Error(`log child exited early with ${code}`)));
  });
}

test('acknowledged entries and published tree heads survive kill -9', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-log-crash-'));
  const acked = new Map<string, number>();
  const heads = new Map<number, string>();
  const signer = keyPair();
  let counter = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const { child, url } = await startChild(dataDir);
      const exited = new Promise((r) => child.once('exit', r));
      let stop = false;
      const worker = async (): Promise<void> => {
        while (!stop) {
          const { entry } = hashedRekord(Buffer.from(`crash-${round}-${counter++}`), signer);
          try {
            const r = await post(`${url}/api/v1/log/entries`, entry);
            if (r.status !== 201) continue;
            const [id] = Object.keys(r.json);
            const e = r.json[id!];
            acked.set(id!, e.logIndex);
            heads.set(e.verification.inclusionProof.treeSize, e.verification.inclusionProof.rootHash);
          } catch {
            return; // connection died with the server: not acknowledged
          }
        }
      };
      const before = acked.size;
      const workers = Array.from({ length: CLIENTS }, worker);
      // Let some writes through (even on a busy machine), then kill at a random moment.
      for (let waited = 0; acked.size - before < MIN_ACKS_PER_ROUND && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      child.kill('SIGKILL');
      await exited;
      stop = true;
      await Promise.all(workers);
    }
    assert.ok(acked.size >= ROUNDS * MIN_ACKS_PER_ROUND, `only ${acked.size} entries were acknowledged`);
    t.diagnostic(`${ROUNDS} kills, ${acked.size} acknowledged entries, ${heads.size} distinct tree heads seen`);
    const { child, url } = await startChild(dataDir);
    try {
      const info = (await (await fetch(`${url}/api/v1/log`)).json()) as { treeSize: number; rootHash: string };
      for (const [id, index] of acked) {
        const r = await fetch(`${url}/api/v1/log/entries/${id}`);
        assert.equal(r.status, 200, `acknowledged entry ${id} is missing`);
        const body = (await r.json()) as Record<string, { logIndex: number }>;
        assert.equal(body[id]!.logIndex, index);
      }
      for (const [size, root] of heads) {
        const r = (await (await fetch(`${url}/api/v1/log/proof?firstSize=${size}&lastSize=${info.treeSize}`)).json()) as { hashes: string[]; rootHash: string };
        assert.equal(r.rootHash, info.rootHash);
        const proof = r.hashes.map((h) => Buffer.from(h, 'hex'));
        assert.ok(verifyConsistency(size, info.treeSize, proof, Buffer.from(root, 'hex'), Buffer.from(info.rootHash, 'hex')), `head ${size} is not consistent`);
      }
    } finally {
      child.kill('SIGTERM');
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
