/**
 * Transparency-log benchmark (`npm run bench -- log`).
 *
 * HTTP: the log runs alone in a child process (`cairn serve log`), this process is the load
 * generator: 64 concurrent keep-alive clients POST hashedrekord 0.0.1 entries with real P-256
 * signatures by leaf certificates of a throwaway CA (@peculiar/x509). Reports entries/s,
 * p50/p99 latency, the server's peak RSS and the CPU per entry of the server and of the load
 * generator (which shares the machine). BENCH_SECONDS shortens the run (default 30),
 * BENCH_LOG_CLIENTS changes the client count (default 64, the figure),
 * BENCH_SERVER_NODE_ARGS passes node flags to the server (e.g. "--cpu-prof").
 *
 * Engine: in another child process, 1,000,000 leaves appended through the engine (real ECDSA
 * P-256 signature per batch head, SQLite synchronous=FULL, commits on the writer thread) by an
 * importer-style loop keeping 4,096 appends outstanding in batches of 2,048 (BENCH_LOG_WINDOW,
 * BENCH_LOG_BATCH), then random inclusion and consistency
 * proofs at that size, and the RSS at 1M entries. BENCH_LOG_LEAVES overrides 1M.
 */
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { appendWindowed } from './pump.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLIENTS = Number(process.env.BENCH_LOG_CLIENTS ?? 64);
const SIGNERS = 64;
/** Engine run: leaves per batch and appends kept outstanding (BENCH_LOG_BATCH, BENCH_LOG_WINDOW). */
const ENGINE_BATCH = Number(process.env.BENCH_LOG_BATCH ?? 2048);
const WINDOW = Number(process.env.BENCH_LOG_WINDOW ?? 4096);

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from the state field (3rd) here.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

interface Signer {
  key: KeyObject;
  certPem: string;
}

/** A throwaway CA (P-256 root) and SIGNERS leaf certificates with email SANs. */
async function makeSigners(): Promise<Signer[]> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const rootKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3_600_000);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=bench root, O=cairn',
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const out: Signer[] = [];
  for (let i = 0; i < SIGNERS; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (i + 2).toString(16).padStart(2, '0'),
      subject: '',
      issuer: root.subject,
      notBefore,
      notAfter,
      publicKey: pub,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'email', value: `signer${i}@bench.example` }], true)],
    });
    out.push({ key: privateKey, certPem: cert.toString('pem') + '\n' });
  }
  return out;
}

function entryBody(s: Signer, n: number): string {
  const artifact = Buffer.from(`bench artifact ${n} ${Math.random()}`);
  const digest = createHash('sha256').update(artifact).digest('hex');
  return JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest } },
      signature: { content: sign('sha256', artifact, s.key).toString('base64'), publicKey: { content: Buffer.from(s.certPem).toString('base64') } },
    },
  });
}

function postEntry(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: '/api/v1/log/entries', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function startServer(dataDir: string): Promise<{ url: URL; pid: number; stop(): Promise<void> }> {
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'client/cli/bin/cairn.js'), 'serve', 'log', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.includes('listening on')) resolve(l);
    });
    child.once('exit', (c) => reject(new Error(`cairn serve log exited with ${c}`)));
  });
  const url = new URL(line.slice(line.indexOf('http')).trim());
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

async function httpBench(): Promise<string[]> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 30);
  const signers = await makeSigners();
  // Bodies are signed before the clock starts so the load generator spends its CPU on HTTP only.
  const count = Math.min(400_000, Math.ceil(seconds * 7000));
  console.log(`log bench: signing ${count} entries with ${SIGNERS} certificates...`);
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) bodies.push(entryBody(signers[i % SIGNERS]!, i));
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-bench-log-'));
  const server = await startServer(dataDir);
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    // Warm-up (JIT, SQLite pages) outside the measurement.
    for (let i = 0; i < 200; i++) await postEntry(agent, server.url, entryBody(signers[0]!, -i - 1));
    console.log(`log bench: ${CLIENTS} clients for ${seconds}s against ${server.url.href}`);
    const latencies: number[] = [];
    const cpu0 = cpuSeconds(server.pid);
    const clientCpu0 = process.cpuUsage();
    const load0 = loadavg()[0]!;
    let next = 0;
    let failed = 0;
    const start = performance.now();
    const deadline = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < deadline && next < bodies.length) {
          const body = bodies[next++]!;
          const t = performance.now();
          const status = await postEntry(agent, server.url, body);
          latencies.push(performance.now() - t);
          if (status !== 201) failed++;
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    const serverCpu = cpuSeconds(server.pid) - cpu0;
    const clientCpuUsage = process.cpuUsage(clientCpu0);
    const clientCpu = (clientCpuUsage.user + clientCpuUsage.system) / 1e6;
    const load1 = loadavg()[0]!;
    latencies.sort((a, b) => a - b);
    const peak = peakRssMb(server.pid);
    const ok = latencies.length - failed;
    return [
      `| HTTP hashedrekord 0.0.1 (P-256 certs, ${CLIENTS} clients, ${elapsed.toFixed(1)} s) | value |`,
      '|---|---|',
      `| entries/s | ${Math.round(ok / elapsed)} |`,
      `| latency p50 / p99 | ${percentile(latencies, 0.5).toFixed(1)} ms / ${percentile(latencies, 0.99).toFixed(1)} ms |`,
      `| entries written / failed | ${ok} / ${failed} |`,
      `| server peak RSS | ${peak} MB |`,
      `| server CPU per entry | ${((serverCpu / ok) * 1e6).toFixed(0)} µs (= ${Math.round(ok / serverCpu)} entries per server CPU-second) |`,
      `| load generator CPU per entry (same machine) | ${((clientCpu / ok) * 1e6).toFixed(0)} µs |`,
      `| machine load average (1 min) before / after | ${load0.toFixed(1)} / ${load1.toFixed(1)} on ${cpus().length} cores |`,
    ];
  } finally {
    agent.destroy();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs in a child process: `node --import tsx scripts/bench/log.ts --engine-child`. */
async function engineChild(): Promise<void> {
  const { openLogEngine } = await import('@cairn/log/engine');
  const { LocalSigner, generateKey, systemClock } = await import('@cairn/shared');
  const { formatCheckpoint, formatSignedNote, signNote } = await import('@cairn/shared/checkpoint');
  const { verifyConsistency, verifyInclusion, leafHash } = await import('@cairn/shared/merkle');
  const total = Number(process.env.BENCH_LOG_LEAVES ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-engine-'));
  const signer = new LocalSigner(generateKey('ecdsa-p256'));
  try {
    const engine = await openLogEngine({
      dbPath: join(dir, 'log.db'),
      clock: systemClock,
      batchMaxSize: ENGINE_BATCH,
      batchMaxDelayMs: 5,
      signTreeHead: async (h) => {
        const text = formatCheckpoint({ origin: 'bench.example', size: h.size, rootHash: h.rootHash, extensions: [] });
        return { v2: formatSignedNote({ text, signatures: [await signNote(text, 'bench.example', signer)] }) };
      },
    });
    const leaf = (i: number): Buffer => {
      const b = Buffer.alloc(300, i % 251);
      b.writeUInt32BE(i, 0);
      return b;
    };
    // A bulk importer's loop: at most WINDOW appends outstanding, refilled as they are answered,
    // so the next batches are sequenced while earlier ones commit on the writer thread.
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await appendWindowed(total, WINDOW, (i) => engine.append(leaf(i)), (done) => {
      if (done % 100_000 === 0) process.stderr.write(`  engine: ${done} leaves\r`);
    });
    const appendSeconds = (performance.now() - t0) / 1000;
    const c1 = process.cpuUsage(c0);
    const appendCpu = (c1.user + c1.system) / 1e6;
    const rssAfterAppend = rssMb(process.pid);
    // The peak so far is the append's; Linux lets the high-water mark be reset so the proofs'
    // peak (tile reads churn 16 KiB buffers) is reported on its own.
    const peakAppend = peakRssMb(process.pid);
    let peakReset = false;
    try {
      writeFileSync(`/proc/${process.pid}/clear_refs`, '5');
      peakReset = true;
    } catch {
      /* not Linux, or not allowed: the proofs' peak then includes the append's */
    }
    const n = engine.size;
    const root = engine.checkpoint().rootHash;
    const proofs = 20_000;
    let t = performance.now();
    let cp = process.cpuUsage();
    for (let k = 0; k < proofs; k++) {
      const i = Math.floor(Math.random() * n);
      const p = engine.inclusionProof(i, n);
      if (k % 1000 === 0 && !verifyInclusion(leafHash(leaf(i)), i, n, p, root)) throw new Error('inclusion proof failed');
    }
    const inclusionPerSec = proofs / ((performance.now() - t) / 1000);
    let cu = process.cpuUsage(cp);
    const inclusionPerCpu = proofs / ((cu.user + cu.system) / 1e6);
    t = performance.now();
    cp = process.cpuUsage();
    for (let k = 0; k < proofs; k++) {
      const m = 1 + Math.floor(Math.random() * (n - 1));
      const p = engine.consistencyProof(m, n);
      if (k % 1000 === 0 && !verifyConsistency(m, n, p, engine.rootAt(m), root)) throw new Error('consistency proof failed');
    }
    const consistencyPerSec = proofs / ((performance.now() - t) / 1000);
    cu = process.cpuUsage(cp);
    const consistencyPerCpu = proofs / ((cu.user + cu.system) / 1e6);
    await engine.close();
    process.stdout.write(
      JSON.stringify({
        total: n,
        leavesPerSec: n / appendSeconds,
        leavesPerCpu: n / appendCpu,
        appendSeconds,
        inclusionPerSec,
        inclusionPerCpu,
        consistencyPerSec,
        consistencyPerCpu,
        rssAfterAppend,
        peakAppend,
        peakProofs: peakRssMb(process.pid),
        peakReset,
        load: loadavg()[0],
      }) + '\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function engineBench(): Promise<string[]> {
  console.log('log bench: engine child appending leaves...');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--engine-child'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`engine bench child exited with ${code}`);
  const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  return [
    '',
    `| engine (${r.total} leaves of 300 B, batches of ${ENGINE_BATCH}, ${WINDOW} outstanding, one signed checkpoint per batch) | value |`,
    '|---|---|',
    `| append | ${Math.round(r.leavesPerSec!)} leaves/s wall (${r.appendSeconds!.toFixed(1)} s); ${Math.round(r.leavesPerCpu!)} leaves per CPU-second |`,
    `| inclusion proofs at ${r.total} | ${Math.round(r.inclusionPerSec!)} /s wall; ${Math.round(r.inclusionPerCpu!)} per CPU-second |`,
    `| consistency proofs at ${r.total} | ${Math.round(r.consistencyPerSec!)} /s wall; ${Math.round(r.consistencyPerCpu!)} per CPU-second |`,
    `| RSS after append / peak during append | ${r.rssAfterAppend} MB / ${r.peakAppend} MB |`,
    `| peak RSS during the proofs | ${r.peakProofs} MB${r.peakReset ? '' : ' (peak since start: the high-water mark could not be reset)'} |`,
    `| machine load average (1 min) at the end | ${Number(r.load).toFixed(1)} on ${cpus().length} cores |`,
  ];
}

export async function run(): Promise<string> {
  const lines = [...(await httpBench()), ...(await engineBench())];
  return lines.join('\n');
}

if (process.argv.includes('--engine-child')) await engineChild();
