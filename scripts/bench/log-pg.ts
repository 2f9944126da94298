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
 * server processes are not counted: their CPU shows in the machine's load). Needs
 * CAIRN_TEST_POSTGRES or BENCH_POSTGRES (a server URL; a database is created and dropped).
 */
import { generateKeyPairSync, randomBytes, sign as ecSign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogEngine, type LogEngine, type TreeHead } from '@cairn/log/engine';
import { createTestDatabase } from '@cairn/log/test-stores';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WINDOW = Number(process.env.BENCH_LOG_PG_WINDOW ?? 1024);

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
  return [
    `Engine level, ${SECONDS} s per configuration, ${WINDOW} appends outstanding, 200-byte leaves, ECDSA P-256 head per batch:`,
    '',
    '| store | entries | entries/s | p50 ms | p99 ms | CPU µs/entry (this process) |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
