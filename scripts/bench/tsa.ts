/**
 * The timestamp authority: RFC 3161 timestamps per second over HTTP (DER TimeStampReq with a
 * nonce, certReq off, as sigstore-go sends them) at 32 concurrent keep-alive clients from a load
 * generator in a child process (its own core and event loop), with p50/p99 latency and the serving
 * process's CPU per timestamp (process.cpuUsage: independent of what else runs on the machine).
 * Then a full keyless Rekor v2 sign through the library (OIDC token -> CA certificate with SCT ->
 * TSA timestamp and Rekor v2 entry in parallel -> bundle), sequential, with its latency.
 * Target (issue 15): >= 3,000 timestamps/s on this machine, one ECDSA P-256 signature each.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { loadConfig, systemClock } from '@cairn/shared';
import { integer, nullValue, octetString, oid, seq } from '@cairn/shared/der';
import { mintDevToken } from '@cairn/oidc';
import { initTsa } from '@cairn/tsa';
import { startStack } from '@cairn/host';
import { sign } from '@cairn/sign';

const DURATION_MS = Number(process.env.BENCH_TSA_DURATION_MS ?? 6000);
const WARMUP_MS = 1000;
const CONCURRENCY = 32;
const SIGNS = Number(process.env.BENCH_TSA_SIGNS ?? 40);
const QUERIES = 512;

interface LoadResult {
  latencies: number[];
  elapsedMs: number;
  errors: number;
  firstError?: string;
}

const LOADGEN = `
const http = require('node:http');
process.once('message', ({ url, bodies, concurrency, durationMs }) => {
const u = new URL(url + '/api/v1/timestamp');
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const bufs = bodies.map((b) => Buffer.from(b, 'base64'));
let next = 0;
function post() {
  const body = bufs[next++ % bufs.length];
  return new Promise((resolve) => {
    const t = performance.now();
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/timestamp-query', 'content-length': body.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - t, ok: res.statusCode === 200, text: res.statusCode === 200 ? '' : String(res.statusCode) }));
    });
    req.on('error', (e) => resolve({ ms: performance.now() - t, ok: false, text: String(e) }));
    req.end(body);
  });
}
(async () => {
  const latencies = [];
  let errors = 0, firstError;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() - start < durationMs) {
      const r = await post();
      if (r.ok) latencies.push(r.ms); else { errors++; firstError ??= r.text; }
    }
  }));
  process.send({ latencies, elapsedMs: performance.now() - start, errors, firstError }, () => process.exit(0));
})();
});
`;

async function load(dir: string, url: string, bodies: string[], durationMs: number): Promise<LoadResult & { cpuMsPer: number }> {
  const script = join(dir, 'loadgen.cjs');
  writeFileSync(script, LOADGEN);
  const cpu0 = process.cpuUsage();
  const r = await new Promise<LoadResult>((resolve, reject) => {
    const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve(m as LoadResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
    });
    child.send({ url, bodies, concurrency: CONCURRENCY, durationMs });
  });
  const cpu = process.cpuUsage(cpu0);
  return { ...r, cpuMsPer: (cpu.user + cpu.system) / 1000 / Math.max(1, r.latencies.length) };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function query(): string {
  // TimeStampReq { version 1, messageImprint { sha256, 32 bytes }, nonce }.
  return seq(integer(1), seq(seq(oid('2.16.840.1.101.3.4.2.1'), nullValue()), octetString(randomBytes(32))), integer(BigInt(`0x${randomBytes(8).toString('hex')}`))).toString('base64');
}

export async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-tsa-'));
  const lines: string[] = [];
  try {
    await initTsa(join(dir, 'tsa'), { clock: systemClock });
    const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent', dev: true } }), { components: ['oidc', 'ct', 'log', 'ca', 'tsa'] });
    try {
      const bodies = Array.from({ length: QUERIES }, query);
      await load(dir, stack.url, bodies, WARMUP_MS);
      const r = await load(dir, stack.url, bodies, DURATION_MS);
      const perSec = (r.latencies.length / r.elapsedMs) * 1000;
      lines.push(
        `Timestamps over HTTP (DER query, ${CONCURRENCY} keep-alive clients, ${(r.elapsedMs / 1000).toFixed(1)} s): ${Math.round(perSec)}/s, p50 ${pct(r.latencies, 50).toFixed(1)} ms, p99 ${pct(r.latencies, 99).toFixed(1)} ms, ${r.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ''}`,
        `Server CPU per timestamp: ${(r.cpuMsPer * 1000).toFixed(0)} µs (parse, TSTInfo, ECDSA P-256 signature, DER reply, HTTP)`,
      );

      const tsaUrl = `${stack.url}/api/v1/timestamp`;
      const ms: number[] = [];
      for (let i = 0; i < SIGNS; i++) {
        const token = await mintDevToken(join(dir, 'oidc'), { subject: 'https://ci.example.internal/pipelines/42' }, systemClock);
        const t = performance.now();
        await sign(Buffer.from(`artifact ${i}`), { identityToken: token, fulcioUrl: stack.url, rekorUrl: stack.url, rekorVersion: 2, tsaUrl });
        ms.push(performance.now() - t);
      }
      lines.push(`Full keyless Rekor v2 sign (token -> certificate with SCT -> TSA + v2 entry -> bundle), ${SIGNS} sequential: p50 ${pct(ms, 50).toFixed(1)} ms, p99 ${pct(ms, 99).toFixed(1)} ms`);
    } finally {
      await stack.close();
    }
    lines.push('', `Load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores (other work lowers timestamps/s; CPU per timestamp does not depend on it).`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines.join('\n');
}
