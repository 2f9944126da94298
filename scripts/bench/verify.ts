/**
 * Offline bundle verification, measured on realistic work: N distinct bundles (default 1,900, of
 * which the first 400 only warm up the JIT)
 * made by Cairn's own stack (`cairn up` as a process; each bundle a keyless sign of a different
 * artifact with its own ephemeral key, CA certificate with SCT and Rekor v1 entry), each verified
 * once by Cairn's verify library and once by @sigstore/verify, in the same run, against the
 * trusted_root.json obtained through Cairn's TUF mirror. The headline is that distinct-bundle
 * figure; the figure for verifying the same bytes again (Cairn's verified-signature memo hits) is
 * shown too, labelled as such.
 *
 * Then the command as a process: `cairn verify --offline` of one bundle against `sigstore verify`
 * (@sigstore/cli) from its warm TUF cache (`--tuf-force-cache`), CPU of the child process measured
 * by bash's `time` (user + system of the child).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { sign } from '@cairn/sign';
import { initTrustCache, loadCachedTrustedRoot } from '@cairn/trust';
import { parseTrustedRoot, setVerificationMemo, verify as cairnVerify } from '@cairn/verify';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'client/cli/bin/cairn.js');
const SIGSTORE_BIN = join(ROOT, 'node_modules/@sigstore/cli/bin/run');
const COUNT = Number(process.env.BENCH_VERIFY_BUNDLES ?? 1900);
/** Bundles verified before measuring (JIT tiers, trust-root key parsing), outside the measured set. */
const WARM = Number(process.env.BENCH_VERIFY_WARMUP ?? 400);
const PROCESS_RUNS = Number(process.env.BENCH_VERIFY_PROCESS_RUNS ?? 10);
const SUBJECT = 'https://ci.example.internal/pipelines/bench';

interface Made {
  artifact: Buffer;
  bundle: Record<string, unknown>;
}

interface Rate {
  count: number;
  wallSeconds: number;
  cpuSeconds: number;
}

/** Runs `fn` over every item once, measuring wall clock and this process's CPU (user + system). */
function measure<T>(items: T[], fn: (t: T) => void): Rate {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const it of items) fn(it);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { count: items.length, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** CPU seconds (user + system) of one child process, from bash's `time`. */
function childCpu(cmd: string[], env: NodeJS.ProcessEnv): { cpu: number; status: number; stderr: string } {
  const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; { time ${quoted} >/dev/null 2>/tmp/cairn-bench-child-err; } 2>&1; echo "rc=$?"`], { encoding: 'utf8', env });
  const m = /(\d+\.\d+) (\d+\.\d+)\s+rc=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`could not time ${cmd.join(' ')}: ${r.stdout} ${r.stderr}`);
  let stderr = '';
  try {
    stderr = readFileSync('/tmp/cairn-bench-child-err', 'utf8');
  } catch {
    /* none */
  }
  return { cpu: Number(m[1]) + Number(m[2]), status: Number(m[3]), stderr };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-bench-verify-'));
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-verify-work-'));
  const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    const tok = spawnSync(process.execPath, [BIN, 'token', '--data-dir', dataDir, '--subject', SUBJECT], { encoding: 'utf8' });
    if (tok.status !== 0) throw new Error(`cairn token failed: ${tok.stderr}`);
    const identityToken = tok.stdout.trim();
    const issuer = `${url}/oidc`;

    // The trust root as a client gets it: the TUF workflow against the mirror, once.
    const cacheDir = join(work, 'trust-cache');
    const rootJson = join(dataDir, 'tuf', 'repository', '1.root.json');
    await initTrustCache({ mirror: `${url}/tuf`, rootBytes: readFileSync(rootJson), cacheDir });
    const trustedRootJson = loadCachedTrustedRoot(cacheDir);

    console.log(`verify bench: signing ${COUNT} distinct bundles against cairn up ...`);
    const made: Made[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < COUNT) {
        next++;
        const artifact = randomBytes(256);
        const r = await sign(artifact, { identityToken, fulcioUrl: url, rekorUrl: url });
        made.push({ artifact, bundle: r.bundle as unknown as Record<string, unknown> });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));

    const cairnTrust = parseTrustedRoot(trustedRootJson);
    const refVerifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(trustedRootJson)), { ctlogThreshold: 1, tlogThreshold: 1 });
    const policy = { identity: SUBJECT, issuer };
    const cairnOnce = (m: Made): void => void cairnVerify(m.bundle, m.artifact, policy, cairnTrust);
    const refOnce = (m: Made): void => void refVerifier.verify(toSignedEntity(bundleFromJSON(m.bundle), m.artifact), { subjectAlternativeName: SUBJECT, extensions: { issuer } });

    // Warm-up on bundles outside the measured set (JIT, trust-root key parsing), then each
    // measured bundle exactly once per verifier.
    const warm = made.slice(0, WARM);
    const measured = made.slice(WARM);
    for (const m of warm) {
      cairnOnce(m);
      refOnce(m);
    }
    const load0 = loadavg()[0]!;
    const ref = measure(measured, refOnce);
    const distinct = measure(measured, cairnOnce);
    // The same bytes again: Cairn's verified-signature memo answers (not the headline). The memo
    // holds 16,384 signatures, so every signature of the measured set is still in it.
    const again = measure(measured, cairnOnce);
    const load1 = loadavg()[0]!;

    // The command as a process, one bundle each run (different bundles per run).
    writeFileSync(join(work, 'tuf-root.json'), readFileSync(rootJson));
    const sigCache = join(work, 'sigstore-tuf');
    const env = { ...process.env, CAIRN_TRUST_CACHE: join(work, 'cairn-cache-home') };
    const init = spawnSync(process.execPath, [BIN, 'trust', 'init', '--mirror', `${url}/tuf`, '--root', rootJson], { encoding: 'utf8', env });
    if (init.status !== 0) throw new Error(`cairn trust init failed: ${init.stderr}`);
    const cairnCpu: number[] = [];
    const sigCpu: number[] = [];
    for (let i = 0; i < PROCESS_RUNS + 1; i++) {
      const m = made[i]!;
      const bundlePath = join(work, `b${i}.json`);
      const artifactPath = join(work, `a${i}.bin`);
      writeFileSync(bundlePath, JSON.stringify(m.bundle));
      writeFileSync(artifactPath, m.artifact);
      const c = childCpu([process.execPath, BIN, 'verify', artifactPath, '--bundle', bundlePath, '--tuf-mirror', `${url}/tuf`, '--offline', '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', issuer], env);
      if (c.status !== 0) throw new Error(`cairn verify failed: ${c.stderr}`);
      const sigArgs = [process.execPath, SIGSTORE_BIN, 'verify', bundlePath, '--blob-file', artifactPath, '--tuf-mirror-url', `${url}/tuf`, '--tuf-root-path', join(work, 'tuf-root.json'), '--tuf-cache-path', sigCache, '--certificate-issuer', issuer, '--certificate-identity-uri', SUBJECT];
      // The first sigstore run fills its TUF cache; the measured ones use it (--tuf-force-cache).
      const s = childCpu(i === 0 ? sigArgs : [...sigArgs, '--tuf-force-cache'], env);
      if (s.status !== 0) throw new Error(`sigstore verify failed: ${s.stderr}`);
      if (i > 0) {
        cairnCpu.push(c.cpu);
        sigCpu.push(s.cpu);
      }
    }
    const version = childCpu([process.execPath, BIN, '--version'], env).cpu;
    const versions = [version, ...Array.from({ length: 4 }, () => childCpu([process.execPath, BIN, '--version'], env).cpu)];
    const sigVersion = Array.from({ length: 5 }, () => childCpu([process.execPath, SIGSTORE_BIN, '--version'], env).cpu);
    const bare = Array.from({ length: 5 }, () => childCpu([process.execPath, '-e', '0'], env).cpu);

    const perCpu = (r: Rate): string => (r.count / r.cpuSeconds).toFixed(0);
    const perWall = (r: Rate): string => (r.count / r.wallSeconds).toFixed(0);
    const usPer = (r: Rate): string => ((r.cpuSeconds / r.count) * 1e6).toFixed(0);
    const row = (name: string, r: Rate): string => `| ${name} | ${perCpu(r)} | ${usPer(r)} µs | ${perWall(r)} | ${r.count} |`;
    const refVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/@sigstore/verify/package.json'), 'utf8')) as { version: string };
    const cliVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/@sigstore/cli/package.json'), 'utf8')) as { version: string };
    return [
      `| verifier (in-process, offline, one thread) | bundles per CPU-second | CPU per bundle | bundles per wall-clock second | bundles |`,
      '|---|---:|---:|---:|---:|',
      row('**cairn verify library, distinct bundles (each once)**', distinct),
      row(`@sigstore/verify ${refVersion.version}, the same bundles`, ref),
      row('cairn, the same bundles verified again (memo hits; not a headline)', again),
      '',
      `Ratio on distinct bundles, per CPU-second: **${(distinct.count / distinct.cpuSeconds / (ref.count / ref.cpuSeconds)).toFixed(1)}x** @sigstore/verify. ` +
        `Bundles: ${measured.length} keyless signs of distinct 256-byte artifacts made by \`cairn up\` (each its own ephemeral P-256 key, certificate with SCT, Rekor v1 entry with SET and inclusion proof), ` +
        `verified against trusted_root.json from Cairn's TUF mirror with identity and issuer policy. 1-minute load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after, on ${cpus().length} cores.`,
      '',
      `| command as a process (median of ${PROCESS_RUNS}, CPU = user + system of the child) | CPU |`,
      '|---|---:|',
      `| \`cairn verify --offline\` of one bundle (trust from \`cairn trust init\`'s cache) | ${(median(cairnCpu) * 1000).toFixed(0)} ms |`,
      `| \`sigstore verify\` (@sigstore/cli ${cliVersion.version}) of one bundle, warm TUF cache (\`--tuf-force-cache\`) | ${(median(sigCpu) * 1000).toFixed(0)} ms |`,
      `| \`cairn --version\` | ${(median(versions) * 1000).toFixed(0)} ms |`,
      `| \`sigstore --version\` | ${(median(sigVersion) * 1000).toFixed(0)} ms |`,
      `| \`node -e 0\` (the floor) | ${(median(bare) * 1000).toFixed(0)} ms |`,
      '',
      `\`cairn verify\` as a process: **${(median(sigCpu) / median(cairnCpu)).toFixed(1)}x** less CPU than \`sigstore verify\`. Load average after: ${loadavg()[0]!.toFixed(1)}.`,
    ].join('\n');
  } finally {
    setVerificationMemo(true);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
