/**
 * Offline bundle verification throughput, one core, in one run: Cairn's verify library against
 * @sigstore/verify 3.1.1 (the reference) over the same bundles — the sigstore-conformance
 * happy-path bundles with their trusted roots (both verifiers must accept a bundle for it to be
 * in the set). Trust material is parsed once per verifier (a sound cache for both); each
 * iteration verifies an already JSON-decoded bundle object against the artifact bytes.
 * Cairn is measured twice: cold (its verified-signature, checkpoint and parsed-key memos off,
 * so every signature of every bundle is checked with a public-key operation; only the trusted
 * root's own intermediate->root links stay verified once) and warm (memos on: repeat
 * verification of the same bytes costs hashing — what an admission controller re-verifying an
 * image's bundle sees).
 */
import { createPublicKey } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { parseTrustedRoot, setVerificationMemo, verify as cairnVerify, type TrustMaterial } from '@cairn/verify';
import { HAPPY_CASES, loadCase, type Case } from '../../test/verify-fixtures.ts';

interface Prepared {
  c: Case;
  cairnTrust: TrustMaterial;
  refVerifier: Verifier;
}

function prepare(c: Case): Prepared {
  const cairnTrust = parseTrustedRoot(c.trust);
  const hint: string | undefined = c.bundle.verificationMaterial.publicKey?.hint;
  const keys =
    c.keyPem && hint !== undefined
      ? {
          [hint]: {
            rawBytes: createPublicKey(c.keyPem).export({ type: 'spki', format: 'der' }),
            keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
            validFor: { start: new Date(0), end: undefined },
          },
        }
      : undefined;
  const refTrust = toTrustMaterial(TrustedRoot.fromJSON(c.trust), keys);
  const refVerifier = new Verifier(refTrust, { ctlogThreshold: c.keyPem ? 0 : 1, tlogThreshold: 1, timestampThreshold: 1 });
  return { c, cairnTrust, refVerifier };
}

function cairnOnce(p: Prepared): void {
  const policy = p.c.keyPem ? { publicKey: p.c.keyPem } : { identity: p.c.identity, issuer: p.c.issuer };
  cairnVerify(p.c.bundle, p.c.artifact, policy, p.cairnTrust);
}

function refOnce(p: Prepared): void {
  const entity = toSignedEntity(bundleFromJSON(p.c.bundle), p.c.artifact);
  const policy = p.c.keyPem ? {} : { subjectAlternativeName: p.c.identity, extensions: { issuer: p.c.issuer } };
  p.refVerifier.verify(entity, policy);
}

interface Rate {
  /** Bundles per wall-clock second. */
  perSecond: number;
  /** Bundles per second of CPU time this process used (user + system): the one-core figure
   *  that does not depend on how busy the machine is. */
  perCpuSecond: number;
  count: number;
}

function measure(set: Prepared[], once: (p: Prepared) => void, seconds: number): Rate {
  // Warm-up pass (JIT, lazily built caches such as parsed trust-root keys).
  for (let i = 0; i < 3; i++) for (const p of set) once(p);
  let count = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) {
    for (const p of set) once(p);
    count += set.length;
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: count / elapsed, perCpuSecond: count / ((cpu.user + cpu.system) / 1e6), count };
}

export async function run(): Promise<string> {
  const seconds = Number(process.env.BENCH_SECONDS ?? '4');
  const set: Prepared[] = [];
  const excluded: string[] = [];
  for (const name of HAPPY_CASES) {
    const p = prepare(loadCase(name));
    cairnOnce(p); // must verify with Cairn
    try {
      refOnce(p);
      set.push(p);
    } catch (e) {
      excluded.push(`${name} (@sigstore/verify: ${e instanceof Error ? e.message.slice(0, 80) : String(e)})`);
    }
  }
  console.log(`verify bench: ${set.length} bundles in the set, ${seconds}s per verifier`);
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r)); // let progress output flush
  await tick();
  const ref = measure(set, refOnce, seconds);
  console.log(`  @sigstore/verify 3.1.1: ${ref.perSecond.toFixed(0)} bundles/s (${ref.perCpuSecond.toFixed(0)} per CPU-second)`);
  await tick();
  setVerificationMemo(false);
  const cold = measure(set, cairnOnce, seconds);
  console.log(`  cairn (cold, memo off): ${cold.perSecond.toFixed(0)} bundles/s (${cold.perCpuSecond.toFixed(0)} per CPU-second)`);
  setVerificationMemo(true);
  const cairn = measure(set, cairnOnce, seconds);
  console.log(`  cairn (warm, memo on): ${cairn.perSecond.toFixed(0)} bundles/s (${cairn.perCpuSecond.toFixed(0)} per CPU-second)`);
  const row = (name: string, r: Rate): string => `| ${name} | ${r.perCpuSecond.toFixed(0)} | ${r.perSecond.toFixed(0)} | ${r.count} |`;
  const load = loadavg()[0]!.toFixed(1);
  const lines = [
    '| verifier (one core, offline) | bundles per CPU-second | bundles per wall-clock second | verified in run |',
    '|---|---:|---:|---:|',
    row('cairn verify library, warm (verified-signature memo)', cairn),
    row('cairn verify library, cold (every signature checked)', cold),
    row('@sigstore/verify 3.1.1', ref),
    '',
    `Ratio cairn / @sigstore/verify per CPU-second: **${(cairn.perCpuSecond / ref.perCpuSecond).toFixed(1)}x** warm, ` +
      `**${(cold.perCpuSecond / ref.perCpuSecond).toFixed(1)}x** cold (wall clock: ${(cairn.perSecond / ref.perSecond).toFixed(1)}x, ` +
      `${(cold.perSecond / ref.perSecond).toFixed(1)}x; 1-minute load average during the run: ${load} on ${cpus().length} cores). Set: ${set.length} sigstore-conformance happy-path bundles ` +
      `(${set.map((p) => p.c.name).join(', ')}), each verified against its artifact bytes with its trusted root.`,
  ];
  if (excluded.length > 0) lines.push('', `Excluded (the reference rejects them, Cairn verifies them): ${excluded.join('; ')}.`);
  return lines.join('\n');
}
