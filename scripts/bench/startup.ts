/**
 * Cold and warm start of `cairn up`, measured from process spawn to the printed "Cairn is up"
 * line (the moment the stack answers requests). Cold = a fresh data directory, so keys, CA
 * certificates and the development TUF repository are generated; warm = the same directory again,
 * on the same port (as a deployment restarts).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../client/cli/bin/cairn.js', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 3);

interface Start {
  ms: number;
  /** CPU of the process up to the ready line (user + system, from /proc; 10 ms ticks). */
  cpuMs: number;
}

function cpuOf(pid: number): number {
  // /proc/PID/stat: fields after the command name; utime and stime are the 12th and 13th of them.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** A free loopback port. The warm start must reuse the cold start's port: the URLs are part of the
 * trust material, and a new port would make every start publish a new TUF targets version. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function startOnce(dataDir: string, port: number): Promise<Start> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'up', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], {
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
        const cpuMs = cpuOf(child.pid!);
        clearTimeout(timer);
        child.once('exit', () => resolve({ ms, cpuMs }));
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
  const cold: Start[] = [];
  const warm: Start[] = [];
  const load0 = loadavg()[0]!;
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-start-'));
    const port = await freePort();
    cold.push(await startOnce(dir, port));
    warm.push(await startOnce(dir, port));
    rmSync(dir, { recursive: true, force: true });
    console.log(`  run ${i + 1}: cold ${cold[i]!.ms.toFixed(0)} ms (CPU ${cold[i]!.cpuMs} ms), warm ${warm[i]!.ms.toFixed(0)} ms (CPU ${warm[i]!.cpuMs} ms)`);
  }
  return [
    '| start | median of ' + RUNS + ' (wall) | CPU of the process | target |',
    '|---|---|---|---|',
    `| cold (fresh data dir: keys, CA, TUF ceremony) | ${(median(cold.map((c) => c.ms)) / 1000).toFixed(2)} s | ${median(cold.map((c) => c.cpuMs))} ms | < 1 s |`,
    `| warm (existing state) | ${(median(warm.map((c) => c.ms)) / 1000).toFixed(2)} s | ${median(warm.map((c) => c.cpuMs))} ms | < 0.5 s |`,
    '',
    `1-minute load average ${load0.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after, on ${cpus().length} cores.`,
  ].join('\n');
}
