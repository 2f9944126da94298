/**
 * TUF: client initialisation against Cairn's TUF server on loopback.
 *   - first-time initialisation: a fresh cache seeded with 1.root.json, the full TUF update
 *     (root chain, timestamp, snapshot, targets) and the trusted_root.json download;
 *   - no-change refresh: a new client over the warm cache (what every later `sigstore` /
 *     `cairn` process does): timestamp fetched, nothing else changes, target read from cache.
 * Measured for tuf-js 5 (the Updater @sigstore/tuf wraps), @sigstore/tuf getTrustedRoot, and
 * Cairn's own client; plus Cairn's offline cache load (what `cairn verify` does, no network).
 * The repository went through one root rotation (clients follow 1 -> 2). The server runs in this
 * process (one event loop shared with the client); operations run round-robin; medians and p90
 * over N runs after a warm-up.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { getTrustedRoot } from '@sigstore/tuf';
import { FixedClock, generateKey, loadConfig, sha256, silentLogger, type TrustInfo } from '@cairn/shared';
import { localTufSigner, tufKeyFor } from '@cairn/shared/tuf';
import { publishStaged, signStaged, stageRootRotation } from '@cairn/tuf/ceremony';
import { startStack } from '@cairn/host';
import { initTrustCache, loadCachedTrustedRoot, refreshTrustCache } from '@cairn/trust';
import { DEV_KEY_DIR, runDevelopmentCeremony } from '@cairn/tuf/ceremony';

const RUNS = Number(process.env.BENCH_TUF_RUNS ?? 40);
const WARMUP = 5;

function logInfo(kind: 'tlog' | 'ctlog', baseUrl: string): TrustInfo {
  const spki = createPublicKey(generateKey('ecdsa-p256')).export({ type: 'spki', format: 'der' });
  return { kind, baseUrl, publicKey: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', logId: sha256(spki).toString('base64'), validFrom: '2026-01-01T00:00:00Z' };
}

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p90: at(0.9) };
}

interface Op {
  name: string;
  fn: (i: number) => unknown;
}

/**
 * Runs the operations round-robin (run i of every operation before run i+1 of any), so load
 * from the rest of the machine spreads evenly over them and the comparison stays fair.
 */
async function measureAll(ops: Op[]): Promise<{ name: string; median: number; p90: number }[]> {
  for (let i = 0; i < WARMUP; i++) for (const op of ops) await op.fn(-1 - i);
  const times = ops.map(() => [] as number[]);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, op] of ops.entries()) {
      const t0 = performance.now();
      await op.fn(i);
      times[k]!.push(performance.now() - t0);
    }
  }
  return ops.map((op, k) => {
    const s = stats(times[k]!);
    console.log(`  ${op.name}: median ${s.median.toFixed(2)} ms, p90 ${s.p90.toFixed(2)} ms`);
    return { name: op.name, ...s };
  });
}

export async function run(): Promise<string> {
  const base = mkdtempSync(join(tmpdir(), 'cairn-bench-tuf-'));
  const dataDir = join(base, 'data');
  const dir = join(dataDir, 'tuf');
  const clock = new FixedClock(Date.now());
  const infos: TrustInfo[] = [logInfo('tlog', 'http://127.0.0.1:3000'), logInfo('ctlog', 'http://127.0.0.1:3000/ct'), { kind: 'oidc', issuer: 'http://127.0.0.1:3000/oidc' }];
  await runDevelopmentCeremony({ dir, infos, clock });
  // One root rotation (new online keys) so every first-time client follows 1 -> 2.
  const devKey = localTufSigner(createPrivateKey(readFileSync(join(dir, DEV_KEY_DIR, 'DEVELOPMENT-root-and-targets.pem'), 'utf8')));
  const snap = generateKey('ecdsa-p256');
  const ts = generateKey('ecdsa-p256');
  stageRootRotation({ dir, clock, snapshotKey: tufKeyFor(snap), timestampKey: tufKeyFor(ts), onlinePrivateKeys: { snapshot: snap, timestamp: ts } });
  await signStaged(dir, devKey);
  await publishStaged(dir, clock);
  const root1 = join(dir, 'repository', '1.root.json');

  const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir, logLevel: 'silent' } }), { components: ['tuf'], logger: silentLogger });
  const mirror = `${stack.url}/tuf`;
  const results: { name: string; median: number; p90: number }[] = [];
  try {
    console.log(`TUF client benchmark against ${mirror} (${RUNS} runs each, ${WARMUP} warm-up)`);
    const tufjsInit = async (cache: string): Promise<void> => {
      mkdirSync(join(cache, 'targets'), { recursive: true });
      copyFileSync(root1, join(cache, 'root.json'));
      const u = new Updater({ metadataBaseUrl: mirror, metadataDir: cache, targetBaseUrl: `${mirror}/targets`, targetDir: join(cache, 'targets') });
      await u.refresh();
      const info = await u.getTargetInfo('trusted_root.json');
      await u.downloadTarget(info!, join(cache, 'targets', 'trusted_root.json'));
    };
    const fresh = (tag: string, i: number): string => join(base, `${tag}-${i}`);
    const warm = fresh('tufjs-warm', 0);
    await tufjsInit(warm);
    const sigWarm = fresh('sigstore-warm', 0);
    await getTrustedRoot({ mirrorURL: mirror, rootPath: root1, cachePath: sigWarm });
    const rootBytes = readFileSync(root1);
    const cairnWarm = fresh('cairn-warm', 0);
    await initTrustCache({ mirror, rootBytes, cacheDir: cairnWarm });
    results.push(
      ...(await measureAll([
        { name: 'tuf-js first-time init + trusted_root.json', fn: (i) => tufjsInit(fresh('tufjs', i)) },
        {
          name: 'tuf-js no-change refresh (new Updater, cached target)',
          fn: async () => {
            const u = new Updater({ metadataBaseUrl: mirror, metadataDir: warm, targetBaseUrl: `${mirror}/targets`, targetDir: join(warm, 'targets') });
            await u.refresh();
            const info = await u.getTargetInfo('trusted_root.json');
            const cached = await u.findCachedTarget(info!, join(warm, 'targets', 'trusted_root.json'));
            if (!cached) throw new Error('tuf-js target not cached');
          },
        },
        { name: '@sigstore/tuf getTrustedRoot, fresh cache', fn: (i) => getTrustedRoot({ mirrorURL: mirror, rootPath: root1, cachePath: fresh('sigstore', i) }) },
        { name: '@sigstore/tuf getTrustedRoot, warm cache', fn: () => getTrustedRoot({ mirrorURL: mirror, rootPath: root1, cachePath: sigWarm }) },
        { name: 'Cairn client first-time init + trusted_root.json', fn: (i) => initTrustCache({ mirror, rootBytes, cacheDir: fresh('cairn', i) }) },
        { name: 'Cairn client no-change refresh', fn: () => refreshTrustCache({ mirror, cacheDir: cairnWarm }) },
        { name: 'Cairn offline cache load (cairn verify, no network)', fn: () => loadCachedTrustedRoot(cairnWarm) },
      ])),
    );
  } finally {
    await stack.close();
    rmSync(base, { recursive: true, force: true });
  }
  const lines = [
    `TUF client on loopback against Cairn's TUF server (root rotated once; ${RUNS} runs, median / p90):`,
    '',
    '| client operation | median ms | p90 ms |',
    '|---|---:|---:|',
    ...results.map((r) => `| ${r.name} | ${r.median.toFixed(2)} | ${r.p90.toFixed(2)} |`),
  ];
  return lines.join('\n');
}
