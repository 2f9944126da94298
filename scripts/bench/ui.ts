/**
 * The explorer in Debian's Chromium (issue 19): first render of the search page and of an entry
 * page (to its in-browser "verified" mark) on loopback, and searches over a log of 1,000,000
 * entries (BENCH_UI_ENTRIES), p50/p99 as the browser measures them. Targets: first render
 * < 500 ms, search < 200 ms.
 *
 * The fixture: `cairn up` bootstraps a data dir and signs one real entry; the log's engine then
 * appends 1,000,000 hashedrekord bodies made from that entry with distinct digests, indexed by
 * digest and by one of 1,000 identities (so an identity search has 1,000 hits, the index's
 * result cap, and shows its newest 20); then `cairn up` serves that log. The peer in the same run
 * is the same search through the API alone (Node fetch: the index and the entries of the first
 * page), which is what the browser must add its rendering to.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { appendWindowed } from './pump.ts';

// Code passed to page.evaluate runs in the browser; these name its globals for the type checker.
declare const document: { body: { dataset: Record<string, string | undefined> } };
declare let location: { hash: string };

const BIN = new URL('../../client/cli/bin/cairn.js', import.meta.url).pathname;
const ENTRIES = Number(process.env.BENCH_UI_ENTRIES ?? 1_000_000);
const IDENTITIES = 1000;
const RENDERS = Number(process.env.BENCH_UI_RENDERS ?? 40);
const SEARCHES = Number(process.env.BENCH_UI_SEARCHES ?? 200);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function up(dataDir: string, port: number): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'up', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`cairn up did not start:\n${out}`)), 300_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /Cairn is up at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (c) => reject(new Error(`cairn up exited with ${c}:\n${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise((r) => {
    child.once('exit', r);
    child.kill('SIGTERM');
  });
}

function cairnCli(args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`cairn ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

async function fill(dataDir: string, url: string): Promise<{ seconds: number }> {
  const { RekorLog } = await import('@cairn/log');
  const { LocalSigner, systemClock } = await import('@cairn/shared');
  const { loadOrCreatePrivateKey } = await import('@cairn/shared/key-files');
  const state = JSON.parse(readFileSync(join(dataDir, 'log/state.json'), 'utf8')) as { treeId: string };
  const signer = new LocalSigner(loadOrCreatePrivateKey(join(dataDir, 'log/log-key.pem'), 'ecdsa-p256').key);
  const log = await RekorLog.open({ dbPath: join(dataDir, 'log/log.db'), signer, baseUrl: url, treeId: state.treeId, clock: systemClock, v1Writes: true, batchMaxSize: 2048 });
  const first = await log.entryByIndex(0);
  if (!first) throw new Error('the fixture has no signed entry');
  const template = JSON.parse(Buffer.from(first.entry.body, 'base64').toString('utf8')) as { spec: { data: { hash: { value: string } } } };
  const t0 = performance.now();
  const WINDOW = 8192;
  // Index 0 is the real entry; the rest are appended by the engine.
  await appendWindowed(ENTRIES - 1, WINDOW, (j) => {
    const i = j + 1;
    const digest = createHash('sha256').update(`ui bench artifact ${i}`).digest('hex');
    template.spec.data.hash.value = digest;
    const body = Buffer.from(JSON.stringify(template));
    const indexKeys = [`hash:sha256:${digest}`, `id:https://ci.example.internal/pipelines/${i % IDENTITIES}`];
    return log.engine.append(body, { indexKeys });
  }, (done) => {
    if ((done + 1) % 100_000 === 0) process.stderr.write(`  ui fixture: ${done + 1} entries\r`);
  });
  await log.close();
  return { seconds: (performance.now() - t0) / 1000 };
}

export async function run(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-bench-ui-'));
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-ui-work-'));
  let server: ChildProcess | undefined;
  try {
    // 1. Bootstrap and one real keyless entry (Rekor v1: no trust cache).
    const boot = await up(dataDir, 0);
    const port = Number(new URL(boot.url).port);
    const tokenText = cairnCli(['token', '--data-dir', dataDir, '--subject', 'https://ci.example.internal/pipelines/0']).trim();
    writeFileSync(join(work, 'a.txt'), 'ui bench\n');
    cairnCli(['sign', join(work, 'a.txt'), '--url', boot.url, '--bundle', join(work, 'a.json'), '--identity-token', tokenText], { CAIRN_TRUST_CACHE: join(work, 'trust') });
    await stop(boot.child);
    // 2. The log's engine appends the rest.
    console.log(`building a ${ENTRIES.toLocaleString('en')}-entry log...`);
    const filled = await fill(dataDir, boot.url);
    console.log(`fixture built in ${filled.seconds.toFixed(1)} s`);
    // 3. cairn up serves it on the same port (the checkpoint names the URL).
    const started = await up(dataDir, port);
    server = started.child;
    const url = started.url;
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
    try {
      const firstSearch: number[] = [];
      const firstEntry: number[] = [];
      const firstVerified: number[] = [];
      const entryIdOf = async (index: number): Promise<string> => {
        const r = (await (await fetch(`${url}/api/v1/log/entries?logIndex=${index}`)).json()) as Record<string, unknown>;
        return Object.keys(r)[0]!;
      };
      for (let k = 0; k < RENDERS; k++) {
        const ctx = await browser.newContext();
        const page = await ctx.newPage();
        await page.goto(`${url}/ui/`);
        await page.waitForSelector('body[data-state=ready]');
        firstSearch.push(Number(await page.getAttribute('body', 'data-ready-at')));
        await ctx.close();
        // A different entry each time, across the whole log.
        const id = await entryIdOf(Math.floor(((k + 0.5) / RENDERS) * ENTRIES));
        const ctx2 = await browser.newContext();
        const p2 = await ctx2.newPage();
        await p2.goto(`${url}/ui/#/entry/${id}`);
        await p2.waitForSelector('body[data-state=ready]');
        firstEntry.push(Number(await p2.getAttribute('body', 'data-ready-at')));
        await p2.waitForSelector('#verdict[data-state=verified]', { timeout: 30_000 });
        firstVerified.push(Number(await p2.getAttribute('#verdict', 'data-at')));
        await ctx2.close();
      }
      // Searches in one open page: distinct digests and identities, each a new route.
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(`${url}/ui/`);
      await page.waitForSelector('body[data-state=ready]');
      const byDigest: number[] = [];
      const byIdentity: number[] = [];
      const api: number[] = [];
      const load0 = loadavg()[0]!;
      const cpu0 = cpuMsOf(server.pid!);
      for (let k = 0; k < SEARCHES; k++) {
        const digestSearch = k % 2 === 0;
        const i = 1 + Math.floor(Math.random() * (ENTRIES - 1));
        const q = digestSearch ? `sha256:${createHash('sha256').update(`ui bench artifact ${i}`).digest('hex')}` : `https://ci.example.internal/pipelines/${(k * 7) % IDENTITIES}`;
        const before = Number(await page.evaluate(() => document.body.dataset.renders));
        await page.evaluate((h) => (location.hash = h), `#/search/${encodeURIComponent(q)}`);
        await page.waitForFunction((n) => Number(document.body.dataset.renders) > n && document.body.dataset.state === 'ready', before);
        const ms = Number(await page.evaluate(() => document.body.dataset.renderMs));
        const rows = await page.$$eval('table.results tbody tr', (t) => t.length);
        if (rows === 0) throw new Error(`search ${q} found nothing`);
        (digestSearch ? byDigest : byIdentity).push(ms);
      }
      const cpuSearch = cpuMsOf(server.pid!) - cpu0;
      const load1 = loadavg()[0]!;
      await ctx.close();
      // The peer: the same work through the API alone.
      for (let k = 0; k < SEARCHES / 2; k++) {
        const q = { subject: `https://ci.example.internal/pipelines/${(k * 13) % IDENTITIES}` };
        const t = performance.now();
        const ids = (await (await fetch(`${url}/api/v1/index/retrieve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q) })).json()) as string[];
        const page1 = ids.reverse().slice(0, 20);
        for (let j = 0; j < page1.length; j += 10) {
          await (await fetch(`${url}/api/v1/log/entries/retrieve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ entryUUIDs: page1.slice(j, j + 10) }) })).json();
        }
        api.push(performance.now() - t);
      }
      const f = (xs: number[]): string => `${pct(xs, 50).toFixed(0)} / ${pct(xs, 99).toFixed(0)} ms`;
      return [
        `Chromium ${browser.version()} headless on loopback; log of ${ENTRIES.toLocaleString('en')} entries (built in ${filled.seconds.toFixed(0)} s by the engine; bodies share one real certificate, distinct digests, ${IDENTITIES.toLocaleString('en')} identities of ${Math.round(ENTRIES / IDENTITIES).toLocaleString('en')} entries each). Times are the page's own performance.now() from navigation start (first renders) or of the route (searches).`,
        '',
        '| measure (p50 / p99) | result | target |',
        '|---|---|---|',
        `| first render, search page (navigation to rendered, fresh browser context, ${RENDERS} runs) | ${f(firstSearch)} | < 500 ms |`,
        `| first render, entry page (content shown; ${RENDERS} distinct entries) | ${f(firstEntry)} | < 500 ms |`,
        `| ... entry page to "verified" (TUF chain, checkpoint, inclusion proof, SET in WebCrypto) | ${f(firstVerified)} | |`,
        `| search by digest (${byDigest.length} distinct, 1 hit each) | ${f(byDigest)} | < 200 ms |`,
        `| search by identity (${byIdentity.length}, ${Math.min(1000, Math.round(ENTRIES / IDENTITIES)).toLocaleString('en')} hits each, newest 20 shown) | ${f(byIdentity)} | < 200 ms |`,
        `| peer: the identity search through the API alone (Node fetch, no rendering) | ${f(api)} | |`,
        `| server CPU per search (cairn up, /proc) | ${(cpuSearch / SEARCHES).toFixed(1)} ms |  |`,
        `| machine load average (1 min) before / after the searches | ${load0.toFixed(1)} / ${load1.toFixed(1)} on ${cpus().length} cores | |`,
      ].join('\n');
    } finally {
      await browser.close();
    }
  } finally {
    if (server) await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

