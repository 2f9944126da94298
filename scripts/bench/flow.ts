/**
 * The whole flow: N concurrent keyless signers against `cairn up` (a separate process), each
 * sign = OIDC token -> ephemeral key -> CA certificate with embedded SCT (CT append) -> signature ->
 * Rekor v1 entry with SET and inclusion proof -> bundle. Reports signs/s and latency.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sign } from '@cairn/sign';

const BIN = new URL('../../client/cli/bin/cairn.js', import.meta.url).pathname;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_FLOW_CONCURRENCY ?? 16);

export async function run(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-bench-flow-'));
  const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /Cairn is up at (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (c) => reject(new Error(`cairn up exited with ${c}`)));
    });
    const tok = spawnSync(process.execPath, [BIN, 'token', '--data-dir', dataDir, '--subject', 'https://ci.example.internal/bench'], { encoding: 'utf8' });
    if (tok.status !== 0) throw new Error(`cairn token failed: ${tok.stderr}`);
    const identityToken = tok.stdout.trim();
    const latencies: number[] = [];
    let errors = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await sign(randomBytes(64), { identityToken, fulcioUrl: url, rekorUrl: url });
          latencies.push(performance.now() - t0);
        } catch (e) {
          errors++;
          if (errors <= 3) console.error(`  sign failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
    return [
      `| concurrent signers | signs/s | p50 | p99 | errors | duration |`,
      `|---|---|---|---|---|---|`,
      `| ${CONCURRENCY} | ${(latencies.length / elapsed).toFixed(0)} | ${q(0.5).toFixed(1)} ms | ${q(0.99).toFixed(1)} ms | ${errors} | ${elapsed.toFixed(1)} s |`,
      '',
      'Each sign is a full keyless flow against `cairn up` on the same 2-core machine (signers and server share the cores).',
    ].join('\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}
