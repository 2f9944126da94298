/**
 * The CA: signing certificates per second with SCT embedding through the in-process CT log (every
 * answer waits for the CT batch to be durable), at 32 concurrent clients, with p50/p99 latency;
 * then latency at a fixed 300 requests/s (open loop). Each request is a full Fulcio v2 round trip
 * over HTTP: JSON parse, ES256 token verification, proof of possession, precertificate signing,
 * CT add-pre-chain, final certificate signing. The load generator is a child process (its own
 * core and event loop) with a keep-alive connection pool; tokens and keys are prepared up front,
 * as clients would hold them. The same closed-loop run is repeated with CT off to show its cost.
 * Server CPU per certificate (process.cpuUsage of the serving process, which holds no load
 * generator) is reported too: it does not depend on what else the machine is running.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { loadConfig, systemClock } from '@cairn/shared';
import { mintDevToken } from '@cairn/oidc';
import { startStack } from '@cairn/host';

const DURATION_MS = Number(process.env.BENCH_CA_DURATION_MS ?? 8000);
const WARMUP_MS = 1500;
const CONCURRENCY = 32;
const RATE = 300;
/** A rate a shared or small machine sustains, to show latency below saturation too. */
const LOW_RATE = Number(process.env.BENCH_CA_LOW_RATE ?? 50);
const KEYS = 128;
const SUBJECT = 'https://ci.example.internal/pipelines/42';

interface LoadResult {
  latencies: number[];
  elapsedMs: number;
  errors: number;
  firstError?: string;
}

/** Plain JS for the worker: node:http with keep-alive, closed loop or open loop. */
const LOADGEN = `
const http = require('node:http');
process.once('message', (workerData) => {
const { url, bodies, mode, concurrency, durationMs, rate } = workerData;
const u = new URL(url + '/api/v2/signingCert');
const agent = new http.Agent({ keepAlive: true, maxSockets: mode === 'closed' ? concurrency : 256 });
let next = 0;
function post() {
  const body = bodies[next++ % bodies.length];
  return new Promise((resolve) => {
    const t = performance.now();
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - t, ok: res.statusCode === 200, text: res.statusCode === 200 ? '' : res.statusCode + ' ' + Buffer.concat(chunks).toString().slice(0, 200) }));
    });
    req.on('error', (e) => resolve({ ms: performance.now() - t, ok: false, text: String(e) }));
    req.end(body);
  });
}
(async () => {
  const latencies = [];
  let errors = 0;
  let firstError;
  const record = (r) => { if (r.ok) latencies.push(r.ms); else { errors++; firstError ??= r.text; } };
  const start = performance.now();
  const end = start + durationMs;
  if (mode === 'closed') {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) record(await post());
    }));
  } else {
    const interval = 1000 / rate;
    const inflight = [];
    for (let i = 0; ; i++) {
      const due = start + i * interval;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      inflight.push(post().then(record));
    }
    await Promise.all(inflight);
  }
  agent.destroy();
  process.send({ latencies, elapsedMs: performance.now() - start, errors, firstError }, () => process.exit(0));
})();
});
`;

interface Measured extends LoadResult {
  /** Server CPU (user + system) per successful certificate. */
  cpuMsPerCert: number;
}

async function load(dir: string, url: string, bodies: string[], mode: 'closed' | 'open', durationMs: number, rate = RATE): Promise<Measured> {
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
    child.send({ url, bodies, mode, concurrency: CONCURRENCY, durationMs, rate });
  });
  const cpu = process.cpuUsage(cpu0);
  return { ...r, cpuMsPerCert: (cpu.user + cpu.system) / 1000 / Math.max(1, r.latencies.length) };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;

async function scenario(ct: boolean): Promise<{ closed: Measured; open?: Measured; low?: Measured }> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-ca-'));
  const config = loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'warn', dev: true } });
  if (!ct) config.sections.ca = { ctEnabled: 'false' };
  const stack = await startStack(config, { components: ct ? ['oidc', 'ct', 'ca'] : ['oidc', 'ca'] });
  try {
    const token = await mintDevToken(join(dir, 'oidc'), { subject: SUBJECT }, systemClock);
    const bodies = Array.from({ length: KEYS }, () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return JSON.stringify({
        credentials: { oidcIdentityToken: token },
        publicKeyRequest: {
          publicKey: { algorithm: 'ECDSA', content: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() },
          proofOfPossession: sign('sha256', Buffer.from(SUBJECT), privateKey).toString('base64'),
        },
      });
    });
    console.log(`  ${ct ? 'CT on' : 'CT off'}: warm-up ${WARMUP_MS} ms`);
    await load(dir, stack.url, bodies, 'closed', WARMUP_MS);
    console.log(`  ${ct ? 'CT on' : 'CT off'}: ${CONCURRENCY} concurrent clients for ${DURATION_MS} ms`);
    const closed = await load(dir, stack.url, bodies, 'closed', DURATION_MS);
    let open: Measured | undefined;
    let low: Measured | undefined;
    if (ct) {
      console.log(`  CT on: open loop at ${RATE}/s for ${DURATION_MS} ms`);
      open = await load(dir, stack.url, bodies, 'open', DURATION_MS);
      console.log(`  CT on: open loop at ${LOW_RATE}/s for ${DURATION_MS} ms`);
      low = await load(dir, stack.url, bodies, 'open', DURATION_MS, LOW_RATE);
    }
    return { closed, open, low };
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<string> {
  const withCt = await scenario(true);
  const noCt = await scenario(false);
  const row = (label: string, r: Measured): string =>
    `| ${label} | ${r.latencies.length} | ${((r.latencies.length * 1000) / r.elapsedMs).toFixed(0)} | ${ms(pct(r.latencies, 50))} | ${ms(pct(r.latencies, 99))} | ${r.cpuMsPerCert.toFixed(2)} ms | ${r.errors} |`;
  const lines = [
    'Fulcio v2 `POST /api/v2/signingCert` over HTTP (token verify + PoP + precert + CT + final cert), load from a child process:',
    '',
    '| scenario | certificates | certs/s | p50 | p99 | server CPU/cert | errors |',
    '|---|---|---|---|---|---|---|',
    row(`${CONCURRENCY} concurrent clients, SCT embedded (in-process CT, durable)`, withCt.closed),
    row(`fixed ${RATE}/s open loop, SCT embedded`, withCt.open!),
    row(`fixed ${LOW_RATE}/s open loop, SCT embedded`, withCt.low!),
    row(`${CONCURRENCY} concurrent clients, CT off (no precert, one signature)`, noCt.closed),
  ];
  lines.push('', `Load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores (other work on the machine lowers certs/s; CPU/cert does not depend on it).`);
  const errs = [withCt.closed, withCt.open!, withCt.low!, noCt.closed].map((r) => r.firstError).filter(Boolean);
  if (errs.length > 0) lines.push('', `first error: ${errs[0]}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await run());
}
