/**
 * `npm run bench -- image`: image signing and verification against a local docker-registry
 * (distribution 2.8.2, started here on a loopback port). Key-based signatures without a log
 * entry (the registry path is what is measured, not the log): `signImage` per second; library
 * `verifyImage` cold (a new client: first fetches) and warm (the same client and trust root);
 * `cairn image verify` as a process (the built bundle), wall clock and CPU (user + system of the
 * child, from bash's `time`). Peers measured in the same run, against the same registry and image:
 * `skopeo inspect --raw` (a Go registry client fetching one manifest, a process floor for registry
 * work), `node -e 0` and `cairn --version` (process floors), and the same HTTP reads verifyImage
 * makes done with Node's fetch (undici) with no verification (the library's network floor).
 * Targets (issue #16): library warm < 20 ms, process < 150 ms.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, LocalSigner } from '@cairn/shared';
import { parseTrustedRootJson } from '@cairn/verify';
import { digestTag, RegistryClient, signImage, verifyImage } from '@cairn/oci';
import { pushImage, startRegistry } from '../../test/oci-fixtures.ts';

const TRUST = JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Wall clock and CPU (user + system) of one child process, from bash's `time`. */
function child(cmd: string[]): { wall: number; cpu: number; status: number; stderr: string } {
  const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const errFile = join(tmpdir(), `cairn-bench-image-err-${process.pid}`);
  const t = performance.now();
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; { time ${quoted} >/dev/null 2>${errFile}; } 2>&1; echo "rc=$?"`], { encoding: 'utf8' });
  const wall = performance.now() - t;
  const m = /(\d+\.\d+) (\d+\.\d+)\s+rc=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`could not time ${cmd.join(' ')}: ${r.stdout} ${r.stderr}`);
  let stderr = '';
  try {
    stderr = readFileSync(errFile, 'utf8');
    rmSync(errFile);
  } catch {
    /* none */
  }
  return { wall, cpu: (Number(m[1]) + Number(m[2])) * 1000, status: Number(m[3]), stderr };
}

/** Runs `fn` `n` times: per-run wall clock and this process's CPU (ms). */
async function timed(n: number, fn: () => Promise<void>): Promise<{ wall: number[]; cpuPerOp: number }> {
  const wall: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    wall.push(performance.now() - t);
  }
  const c = process.cpuUsage(c0);
  return { wall, cpuPerOp: (c.user + c.system) / 1000 / n };
}

export async function run(): Promise<string> {
  const reg = await startRegistry();
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-image-'));
  try {
    const client = new RegistryClient({ dockerConfig: false });
    const ref = `${reg.host}/bench:v1`;
    await pushImage(client, ref, 'bench');
    const signer = new LocalSigner(generateKey('ecdsa-p256'));
    const n = 20;
    const t = performance.now();
    for (let i = 0; i < n; i++) await signImage({ client, reference: ref, sign: { signer, tlogUpload: false } });
    const sigsPerSec = n / ((performance.now() - t) / 1000);
    // Verification of an image carrying one signature: a second repository signed once.
    const vref = `${reg.host}/bench-verify:v1`;
    await pushImage(client, vref, 'bench-verify');
    await signImage({ client, reference: vref, sign: { signer, tlogUpload: false } });
    const trust = parseTrustedRootJson(TRUST);
    const policy = { publicKeys: [signer.publicKey.toPem()], tlogThreshold: 0, timestampThreshold: 0 };
    const check = (r: { verified: boolean; code?: string }): void => {
      if (!r.verified) throw new Error(`not verified: ${r.code}`);
    };
    const load0 = loadavg()[0]!;
    // Cold: a new client and trust root each time (new connections, nothing cached).
    const cold = await timed(10, async () => check(await verifyImage({ client: new RegistryClient({ dockerConfig: false }), reference: vref, trustedRoot: parseTrustedRootJson(TRUST), policy })));
    // Warm: the same client (kept-alive connections, immutable content cached) and trust root.
    const warmClient = new RegistryClient({ dockerConfig: false });
    check(await verifyImage({ client: warmClient, reference: vref, trustedRoot: trust, policy }));
    const warm = await timed(50, async () => check(await verifyImage({ client: warmClient, reference: vref, trustedRoot: trust, policy })));

    // Peer floor: the reads a cold verify makes (tag, referrers API, referrers tag, referrer
    // manifest, bundle blob, .sig and .att tags), sequentially with fetch, nothing verified.
    const v = await verifyImage({ client: warmClient, reference: vref, trustedRoot: trust, policy });
    const repo = `http://${reg.host}/v2/bench-verify`;
    const refIdx = JSON.parse(await (await fetch(`${repo}/manifests/${digestTag(v.digest)}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })).text()) as { manifests: { digest: string }[] };
    const refManifest = refIdx.manifests[0]!.digest;
    const refM = JSON.parse(await (await fetch(`${repo}/manifests/${refManifest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).text()) as { layers: { digest: string }[] };
    const urls = [
      `${repo}/manifests/v1`,
      `${repo}/referrers/${v.digest}`,
      `${repo}/manifests/${digestTag(v.digest)}`,
      `${repo}/manifests/${refManifest}`,
      `${repo}/blobs/${refM.layers[0]!.digest}`,
      `${repo}/manifests/${digestTag(v.digest, 'sig')}`,
      `${repo}/manifests/${digestTag(v.digest, 'att')}`,
    ];
    const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';
    const peerFetch = await timed(50, async () => {
      for (const u of urls) await (await fetch(u, { headers: { accept } })).arrayBuffer();
    });

    writeFileSync(join(work, 'trusted_root.json'), TRUST);
    writeFileSync(join(work, 'key.pub'), signer.publicKey.toPem());
    const RUNS = 10;
    const runs = (cmd: string[]): { wall: number; cpu: number } => {
      const first = child(cmd);
      if (first.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${first.stderr}`);
      const w: number[] = [];
      const c: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = child(cmd);
        if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
        w.push(r.wall);
        c.push(r.cpu);
      }
      return { wall: median(w), cpu: median(c) };
    };
    const proc = runs([process.execPath, 'client/cli/bin/cairn.js', 'image', 'verify', vref, '--key', join(work, 'key.pub'), '--trusted-root', join(work, 'trusted_root.json'), '--tlog-threshold', '0', '--timestamp-threshold', '0']);
    const skopeo = runs(['skopeo', 'inspect', '--raw', '--tls-verify=false', `docker://${vref}`]);
    const version = runs([process.execPath, 'client/cli/bin/cairn.js', '--version']);
    const bare = runs([process.execPath, '-e', '0']);
    const load1 = loadavg()[0]!;
    const skopeoVersion = /skopeo version (\S+)/.exec(spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
    const ms = (x: number): string => `${x.toFixed(1)} ms`;
    return [
      `| measure (median) | wall | CPU per op | target |`,
      `|---|---:|---:|---|`,
      `| image sign --key (library, bundle referrer + fallback index, no log) | ${sigsPerSec.toFixed(1)} sigs/s | | |`,
      `| **library verifyImage, cold** (new client and trust root: new connections, nothing cached) | ${ms(median(cold.wall))} | ${ms(cold.cpuPerOp)} | |`,
      `| **library verifyImage, warm** (same client and trust root) | ${ms(median(warm.wall))} | ${ms(warm.cpuPerOp)} | < 20 ms |`,
      `| peer floor: the same 7 registry reads with fetch (undici), sequential, nothing verified | ${ms(median(peerFetch.wall))} | ${ms(peerFetch.cpuPerOp)} | |`,
      `| **\`cairn image verify\` (process)** | ${ms(proc.wall)} | ${ms(proc.cpu)} | < 150 ms |`,
      `| peer: \`skopeo inspect --raw\` (skopeo ${skopeoVersion}, one manifest fetch) | ${ms(skopeo.wall)} | ${ms(skopeo.cpu)} | |`,
      `| floor: \`cairn --version\` | ${ms(version.wall)} | ${ms(version.cpu)} | |`,
      `| floor: \`node -e 0\` | ${ms(bare.wall)} | ${ms(bare.cpu)} | |`,
      '',
      `Local docker-registry (distribution 2.8.2, no referrers API: the tag schema path), one image with one key-signed bundle referrer; processes: median of ${RUNS} after one unmeasured run. ` +
        `1-minute load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after, on ${cpus().length} cores (wall-clock figures of processes include waiting for a core).`,
    ].join('\n');
  } finally {
    await reg.stop();
  }
}
