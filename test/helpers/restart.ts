/**
 * Restart under load (issue 14): `cairn up` (the built CLI, one data dir) takes writes from
 * concurrent clients and is killed with SIGKILL at a random moment, round after round. Checked:
 * every acknowledged entry is re-read at the index it was acknowledged with, every tree head a
 * client saw is consistent with the final tree (RFC 6962 consistency proofs, our verifier), and
 * connections opened from the moment of each spawn are all answered within 1 s (503 STARTING
 * until the components exist). Shares its write loop with test/log-crash.test.ts's approach.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { verifyConsistency } from '@cairn/shared/merkle';
import { CAIRN_BIN, ROOT, tempDir } from './cli.ts';
import { freePort, histogram, probeUntil, type ProbeOutcome } from './probe.ts';
import { hashedRekord, keyPair, post } from '../log-helpers.ts';

const CLIENTS = 16;
const MIN_ACKS_PER_ROUND = 10;

interface Up {
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<unknown>;
  output: () => string;
}

function spawnUp(port: number, dataDir: string): Up {
  const child = spawn(process.execPath, [CAIRN_BIN, 'up', '--port', String(port), '--data-dir', dataDir, '--log-level', 'error'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /Cairn is up at (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`cairn up exited before it was up:\n${out}`)));
  });
  url.catch(() => undefined);
  return { child, url, exited, output: () => out };
}

export interface RestartFigures {
  rounds: number;
  acknowledged: number;
  heads: number;
  probes: Record<string, number>;
}

export async function restartRounds(rounds: number, t: TestContext): Promise<RestartFigures> {
  const dataDir = tempDir('cairn-restart-');
  const port = await freePort();
  const acked = new Map<string, number>();
  const heads = new Map<number, string>();
  const allProbes: ProbeOutcome[] = [];
  const signer = keyPair();
  let counter = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const up = spawnUp(port, dataDir);
      // Probe from the moment of spawn until the kill.
      let stopProbes!: () => void;
      const probesStopped = new Promise<void>((r) => (stopProbes = r));
      const probing = probeUntil(port, probesStopped, 2);
      const url = await up.url;
      let stop = false;
      const before = acked.size;
      const worker = async (): Promise<void> => {
        while (!stop) {
          const { entry } = hashedRekord(Buffer.from(`restart-${round}-${counter++}-${Math.random()}`), signer);
          try {
            const r = await post(`${url}/api/v1/log/entries`, entry);
            if (r.status !== 201) continue;
            const [id] = Object.keys(r.json as object);
            const e = (r.json as Record<string, { logIndex: number; verification: { inclusionProof: { treeSize: number; rootHash: string } } }>)[id!]!;
            acked.set(id!, e.logIndex);
            heads.set(e.verification.inclusionProof.treeSize, e.verification.inclusionProof.rootHash);
          } catch {
            return; // the connection died with the server: not acknowledged
          }
        }
      };
      const workers = Array.from({ length: CLIENTS }, worker);
      for (let waited = 0; acked.size - before < MIN_ACKS_PER_ROUND && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      stopProbes();
      const outcomes = await probing;
      allProbes.push(...outcomes);
      up.child.kill('SIGKILL');
      await up.exited;
      stop = true;
      await Promise.all(workers);
      const h = histogram(outcomes);
      assert.equal(h.hang, undefined, `round ${round}: a connection opened during start was not answered within 1 s: ${JSON.stringify(h)}`);
      assert.equal(h.error, undefined, `round ${round}: ${JSON.stringify(outcomes.filter((o) => o.kind === 'error').slice(0, 3))}`);
    }
    assert.ok(acked.size >= rounds * MIN_ACKS_PER_ROUND, `only ${acked.size} entries were acknowledged`);
    const up = spawnUp(port, dataDir);
    try {
      const url = await up.url;
      const info = (await (await fetch(`${url}/api/v1/log`)).json()) as { treeSize: number; rootHash: string };
      for (const [id, index] of acked) {
        const r = await fetch(`${url}/api/v1/log/entries/${id}`);
        assert.equal(r.status, 200, `acknowledged entry ${id} is missing`);
        const body = (await r.json()) as Record<string, { logIndex: number }>;
        assert.equal(body[id]!.logIndex, index, `entry ${id} moved`);
      }
      for (const [size, root] of heads) {
        const r = (await (await fetch(`${url}/api/v1/log/proof?firstSize=${size}&lastSize=${info.treeSize}`)).json()) as { hashes: string[]; rootHash: string };
        assert.equal(r.rootHash, info.rootHash);
        const proof = r.hashes.map((x) => Buffer.from(x, 'hex'));
        assert.ok(verifyConsistency(size, info.treeSize, proof, Buffer.from(root, 'hex'), Buffer.from(info.rootHash, 'hex')), `head ${size} is not consistent with the final tree`);
      }
    } finally {
      up.child.kill('SIGTERM');
      await up.exited;
    }
    const figures = { rounds, acknowledged: acked.size, heads: heads.size, probes: histogram(allProbes) };
    t.diagnostic(`${rounds} SIGKILL rounds, ${acked.size} acknowledged entries all re-read at their index, ${heads.size} tree heads consistent with the final tree; probes from spawn: ${JSON.stringify(figures.probes)}`);
    return figures;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
