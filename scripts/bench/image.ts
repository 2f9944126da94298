/**
 * `npm run bench -- image`: image signing and verification against a local docker-registry
 * (distribution 2.8.2, started here on a loopback port). Key-based signatures without a log
 * entry (the registry path is what is measured, not the log): `signImage` per second; library
 * `verifyImage` cold (a new client: first fetches) and warm (the same client and trust root);
 * `cairn image verify` as a process (the built bundle). Targets (issue #16): library warm < 20 ms,
 * process < 150 ms.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, LocalSigner } from '@cairn/shared';
import { parseTrustedRootJson } from '@cairn/verify';
import { RegistryClient, signImage, verifyImage } from '@cairn/oci';
import { pushImage, startRegistry } from '../../test/oci-fixtures.ts';

const TRUST = JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
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
    let t = performance.now();
    for (let i = 0; i < n; i++) await signImage({ client, reference: ref, sign: { signer, tlogUpload: false } });
    const sigsPerSec = n / ((performance.now() - t) / 1000);
    // Verification of an image carrying one signature: a second repository signed once.
    const vref = `${reg.host}/bench-verify:v1`;
    await pushImage(client, vref, 'bench-verify');
    await signImage({ client, reference: vref, sign: { signer, tlogUpload: false } });
    const trust = parseTrustedRootJson(TRUST);
    const policy = { publicKeys: [signer.publicKey.toPem()], tlogThreshold: 0, timestampThreshold: 0 };
    const cold: number[] = [];
    for (let i = 0; i < 10; i++) {
      t = performance.now();
      const r = await verifyImage({ client: new RegistryClient({ dockerConfig: false }), reference: vref, trustedRoot: parseTrustedRootJson(TRUST), policy });
      cold.push(performance.now() - t);
      if (!r.verified) throw new Error(`not verified: ${r.code}`);
    }
    const warm: number[] = [];
    for (let i = 0; i < 30; i++) {
      t = performance.now();
      await verifyImage({ client, reference: vref, trustedRoot: trust, policy });
      warm.push(performance.now() - t);
    }
    writeFileSync(join(work, 'trusted_root.json'), TRUST);
    writeFileSync(join(work, 'key.pub'), signer.publicKey.toPem());
    const proc: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      const r = spawnSync(process.execPath, ['client/cli/bin/cairn.js', 'image', 'verify', vref, '--key', join(work, 'key.pub'), '--trusted-root', join(work, 'trusted_root.json'), '--tlog-threshold', '0', '--timestamp-threshold', '0'], { encoding: 'utf8' });
      proc.push(performance.now() - t);
      if (r.status !== 0) throw new Error(`cairn image verify failed: ${r.stdout}${r.stderr}`);
    }
    return [
      `| measure | median | target |`,
      `|---|---|---|`,
      `| image sign --key (library, bundle referrer + fallback index, no log) | ${sigsPerSec.toFixed(1)} sigs/s | |`,
      `| library verifyImage, cold (new client) | ${median(cold).toFixed(1)} ms | |`,
      `| library verifyImage, warm | ${median(warm).toFixed(1)} ms | < 20 ms |`,
      `| cairn image verify (process) | ${median(proc).toFixed(0)} ms | < 150 ms |`,
    ].join('\n');
  } finally {
    await reg.stop();
  }
}
