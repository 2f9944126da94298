/**
 * Cold and warm start of `cairn up`, measured from process spawn to the printed "Cairn is up"
 * line (the moment the stack answers requests). Cold = a fresh data directory, so keys, CA
 * certificates and the development TUF repository are generated; warm = the same directory again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../client/cli/bin/cairn.js', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 3);

function startOnce(dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cairn up did not start within 60 s:\n${out}`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Cairn is up at')) {
        const ms = performance.now() - t0;
        clearTimeout(timer);
        child.once('exit', () => resolve(ms));
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      if (!out.includes('Cairn is up at')) {
        clearTimeout(timer);
        reject(new Error(`cairn up exited with ${code}:\n${out}`));
      }
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<string> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-start-'));
    cold.push(await startOnce(dir));
    warm.push(await startOnce(dir));
    rmSync(dir, { recursive: true, force: true });
    console.log(`  run ${i + 1}: cold ${cold[i]!.toFixed(0)} ms, warm ${warm[i]!.toFixed(0)} ms`);
  }
  return [
    '| start | median of ' + RUNS + ' | target |',
    '|---|---|---|',
    `| cold (fresh data dir: keys, CA, TUF ceremony) | ${(median(cold) / 1000).toFixed(2)} s | < 5 s |`,
    `| warm (existing state) | ${(median(warm) / 1000).toFixed(2)} s | < 1 s |`,
  ].join('\n');
}
