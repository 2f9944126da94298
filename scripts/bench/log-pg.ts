/**
 * The log engine on PostgreSQL against SQLite (`npm run bench -- log-pg`).
 *
 * Engine level, in this process: writers keep WINDOW appends of 200-byte leaves outstanding for
 * BENCH_SECONDS (default 10) and each append's latency is recorded. Tree heads are signed with
 * ECDSA P-256 per batch (as the log does). Configurations, in one run:
 *   sqlite x1      the default store (synchronous=FULL, commits on the writer thread)
 *   postgres x1    one replica: the sequencer
 *   postgres x3    three replicas on one database (three engines, each with its own database
 *                  bridge); appends are spread evenly, so two thirds go through the append queue
 *                  to the sequencer and are answered once integrated
 * CPU per entry is this process's user+system time divided by the entries (PostgreSQL's own
 * server processes are not counted: their CPU shows in the machine's load).
 *
 * Processes: the same comparison as deployed, over HTTP: `cairn serve log` on SQLite (one
 * process) and 3 `cairn serve log --store postgres://…` replica processes on one database, with
 * CLIENTS keep-alive clients in this process POSTing hashedrekord 0.0.1 entries (P-256, signed
 * before the clock starts) spread evenly over the replicas; CPU per entry is the servers'
 * (/proc/<pid>/stat, summed over the replicas). Then failover with the default lease (3 s): the
 * sequencer is SIGKILLed under that load; reported are the time until another replica holds the
 * lease and until a survivor answers a write written after the kill with 201.
 *
 * Needs CAIRN_TEST_POSTGRES or BENCH_POSTGRES (a server URL; databases are created and dropped).
 */
import { createHash, generateKeyPairSync, randomBytes, sign as ecSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogEngine, type LogEngine, type TreeHead } from '@cairn/log/engine';
import { createTestDatabase } from '@cairn/log/test-stores';
import { isSequencer, startReplica, stopReplica, waitForSequencer, type Replica } from '@cairn/log/replica-harness';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WINDOW = Number(process.env.BENCH_LOG_PG_WINDOW ?? 1024);
/** HTTP clients of the process rows (BENCH_LOG_PG_CLIENTS). */
const CLIENTS = Number(process.env.BENCH_LOG_PG_CLIENTS ?? 64);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signTreeHead = (h: TreeHead): Promise<Record<string, string>> =>
  Promise.resolve({ sig: ecSign('sha256', Buffer.concat([Buffer.from(String(h.size)), h.rootHash]), privateKey).toString('base64') });

interface Figures {
  name: string;
  entries: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuUsPerEntry: number;
}

async function drive(name: string, engines: LogEngine[]): Promise<Figures> {
  const latencies: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (Date.now() < end) {
      const e = engines[(n++ + w) % engines.length]!;
      const s = performance.now();
      await e.append(randomBytes(200));
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, (_, w) => worker(w)));
  const wall = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return {
    name,
    entries: latencies.length,
    perSecond: Math.round(latencies.length / wall),
    p50: Math.round(q(0.5) * 10) / 10,
    p99: Math.round(q(0.99) * 10) / 10,
    cpuUsPerEntry: Math.round((cpu.user + cpu.system) / latencies.length),
  };
}

export async function run(): Promise<string> {
  const server = process.env.BENCH_POSTGRES ?? process.env.CAIRN_TEST_POSTGRES;
  if (!server) throw new Error('set CAIRN_TEST_POSTGRES (or BENCH_POSTGRES) to a PostgreSQL server URL');
  process.env.CAIRN_TEST_POSTGRES = server;
  const results: Figures[] = [];
  const clock = { now: () => new Date() };
  const base = { clock, signTreeHead, batchMaxSize: 512, batchMaxDelayMs: 2 };

  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-logpg-'));
  try {
    const sqlite = await openLogEngine({ ...base, dbPath: join(dir, 'log.db') });
    results.push(await drive('sqlite x1', [sqlite]));
    await sqlite.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const replicas of [1, 3]) {
    const db = await createTestDatabase();
    try {
      const engines: LogEngine[] = [];
      for (let i = 0; i < replicas; i++) engines.push(await openLogEngine({ ...base, dbPath: '', storeUrl: db.url }));
      results.push(await drive(`postgres x${replicas}`, engines));
      await Promise.all(engines.map((e) => e.close()));
    } finally {
      await db.drop();
    }
  }
  const rows = results.map((r) => `| ${r.name} | ${r.entries} | ${r.perSecond} | ${r.p50} | ${r.p99} | ${r.cpuUsPerEntry} |`);
  const load0 = loadavg()[0]!;
  const processes = await processRows();
  return [
    `Engine level, ${SECONDS} s per configuration, ${WINDOW} appends outstanding, 200-byte leaves, ECDSA P-256 head per batch:`,
    '',
    '| store | entries | entries/s | p50 ms | p99 ms | CPU µs/entry (this process) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Processes over HTTP (\`cairn serve log\`), ${SECONDS} s per configuration, ${CLIENTS} keep-alive clients in the bench process, hashedrekord 0.0.1 (P-256):`,
    '',
    '| deployment | entries | entries/s | p50 ms | p99 ms | server CPU µs/entry | refused |',
    '|---|---|---|---|---|---|---|',
    ...processes.rows,
    '',
    processes.failover,
    '',
    `Load average (1 min) before / after the process rows: ${load0.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (the 2 cores are shared: PostgreSQL, the clients and the servers all run on them).`,
  ].join('\n');
}

/** CPU seconds (user + system) a process has used so far (/proc/<pid>/stat, fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const { privateKey: entryKey, publicKey: entryPub } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const entryPubB64 = Buffer.from(entryPub.export({ type: 'spki', format: 'pem' })).toString('base64');

function entryBody(): string {
  const artifact = randomBytes(32);
  return JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      signature: { content: ecSign('sha256', artifact, entryKey).toString('base64'), publicKey: { content: entryPubB64 } },
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } },
    },
  });
}

function post(agent: Agent, url: string, body: string): Promise<number> {
  const u = new URL(`${url}/api/v1/log/entries`);
  return new Promise((resolve) => {
    const req = request(
      { agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.setTimeout(30_000, () => req.destroy());
    req.end(body);
  });
}

interface HttpFigures {
  entries: number;
  refused: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuUsPerEntry: number;
}

/** CLIENTS writers spread over `replicas` for `seconds`; bodies signed beforehand. */
async function httpLoad(replicas: readonly Replica[], seconds: number): Promise<HttpFigures> {
  const bodies = Array.from({ length: Math.ceil(seconds * 4000) + CLIENTS }, entryBody);
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    for (const r of replicas) for (let i = 0; i < 20; i++) await post(agent, r.url, entryBody());
    const pids = replicas.map((r) => r.proc.pid!);
    const cpu0 = pids.reduce((a, p) => a + cpuSeconds(p), 0);
    const latencies: number[] = [];
    let refused = 0;
    let next = 0;
    const start = performance.now();
    const deadline = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, w) => {
        while (performance.now() < deadline && next < bodies.length) {
          const body = bodies[next++]!;
          const t = performance.now();
          const status = await post(agent, replicas[w % replicas.length]!.url, body);
          if (status === 201) latencies.push(performance.now() - t);
          else refused++;
        }
      }),
    );
    const wall = (performance.now() - start) / 1000;
    const cpu = pids.reduce((a, p) => a + cpuSeconds(p), 0) - cpu0;
    latencies.sort((a, b) => a - b);
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    return {
      entries: latencies.length,
      refused,
      perSecond: Math.round(latencies.length / wall),
      p50: Math.round(q(0.5) * 10) / 10,
      p99: Math.round(q(0.99) * 10) / 10,
      cpuUsPerEntry: Math.round((cpu / Math.max(1, latencies.length)) * 1e6),
    };
  } finally {
    agent.destroy();
  }
}

async function processRows(): Promise<{ rows: string[]; failover: string }> {
  const rows: string[] = [];
  const row = (name: string, f: HttpFigures): string => `| ${name} | ${f.entries} | ${f.perSecond} | ${f.p50} | ${f.p99} | ${f.cpuUsPerEntry} | ${f.refused} |`;
  const sqliteDir = mkdtempSync(join(tmpdir(), 'cairn-bench-logpg-sqlite-'));
  try {
    const r = await startReplica(sqliteDir, '');
    try {
      rows.push(row('sqlite, 1 process', await httpLoad([r], SECONDS)));
    } finally {
      await stopReplica(r);
    }
  } finally {
    rmSync(sqliteDir, { recursive: true, force: true });
  }
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-bench-logpg-replicas-'));
  const replicas: Replica[] = [];
  try {
    // The first replica creates the shared log key and state; the others join it.
    replicas.push(await startReplica(dataDir, db.url));
    replicas.push(...(await Promise.all([startReplica(dataDir, db.url), startReplica(dataDir, db.url)])));
    rows.push(row('postgres, 3 replica processes', await httpLoad(replicas, SECONDS)));

    // Failover under load: SIGKILL the sequencer while writers keep going on every replica.
    const seq = await waitForSequencer(replicas);
    const rest = replicas.filter((r) => r !== seq);
    const background = httpLoad(rest, 8);
    await new Promise((r) => setTimeout(r, 1_000));
    const killedAt = performance.now();
    await stopReplica(seq, 'SIGKILL');
    const probe = (async (): Promise<number> => {
      const agent = new Agent({ keepAlive: false });
      try {
        for (;;) {
          if ((await post(agent, rest[0]!.url, entryBody())) === 201) return performance.now() - killedAt;
          if (performance.now() - killedAt > 30_000) return NaN;
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        agent.destroy();
      }
    })();
    await waitForSequencer(rest, 30_000);
    const leaseMs = performance.now() - killedAt;
    const firstWriteMs = await probe;
    const during = await background;
    const holders = (await Promise.all(rest.map(isSequencer))).filter((x) => x === true).length;
    return {
      rows,
      failover: `Failover (default lease 3 s): sequencer SIGKILLed under load; another replica held the lease after ${Math.round(leaseMs)} ms, a write sent after the kill was answered 201 after ${Math.round(firstWriteMs)} ms; ${during.entries} entries acknowledged and ${during.refused} refused by the 2 survivors over those 8 s; sequencers afterwards: ${holders}.`,
    };
  } finally {
    await Promise.all(replicas.map((r) => stopReplica(r, 'SIGKILL')));
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
