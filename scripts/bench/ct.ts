/**
 * The CT log: add-pre-chain throughput and latency over real HTTP (durable before answer, so the
 * sequential figure is the fsync cost of one batch), the in-process path the CA uses, and
 * embedded-SCT verification with Cairn's sct.ts next to sigstore-js's own `verifySCTs` (the peer:
 * what `@sigstore/verify` runs for every certificate).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { loadConfig, PublicKey } from '@cairn/shared';
import { encodeSctList, verifyEmbeddedScts } from '@cairn/shared/sct';
import type { CtService } from '@cairn/ct';
import { startStack } from '@cairn/host';
import { makeIntermediate, makeRoot, precertWithFinal } from '../../test/ct-fixtures.ts';

const N = Number(process.env.BENCH_CT_N ?? 2000);
const SEQ = Number(process.env.BENCH_CT_SEQ ?? 200);
const CONCURRENCY = 32;
const VERIFY_N = Number(process.env.BENCH_CT_VERIFY_N ?? 2000);

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

export async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-ct-'));
  const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'warn' } }), { components: ['ct'] });
  try {
    const ct = stack.services.find((s) => s.name === 'ct') as CtService;
    const root = makeRoot();
    const int = makeIntermediate(root);
    ct.addRoot(root.der);
    const body = (p: Buffer): string => JSON.stringify({ chain: [p, int.der, root.der].map((c) => c.toString('base64')) });
    const post = async (p: Buffer): Promise<number> => {
      const t = performance.now();
      const res = await fetch(`${stack.url}/ct/v1/add-pre-chain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(p) });
      if (res.status !== 200) throw new Error(`add-pre-chain answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      return performance.now() - t;
    };

    console.log(`  generating ${N + SEQ + N / 2} precertificates`);
    const http = Array.from({ length: N }, () => precertWithFinal(int).precert);
    const seq = Array.from({ length: SEQ }, () => precertWithFinal(int).precert);
    const local = Array.from({ length: N / 2 }, () => precertWithFinal(int).precert);

    // Warm-up (JIT, SQLite page cache).
    for (const p of Array.from({ length: 50 }, () => precertWithFinal(int).precert)) await post(p);

    console.log(`  HTTP add-pre-chain x${N}, ${CONCURRENCY} in flight`);
    const lat: number[] = [];
    let next = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < http.length) lat.push(await post(http[next++]!));
      }),
    );
    const httpSecs = (performance.now() - t0) / 1000;
    const c1 = process.cpuUsage(c0);
    // CPU per SCT is less sensitive to a busy machine than wall-clock throughput.
    const httpCpuUs = (c1.user + c1.system) / N;

    console.log(`  HTTP add-pre-chain x${SEQ}, one at a time`);
    const seqLat: number[] = [];
    for (const p of seq) seqLat.push(await post(p));

    console.log(`  in-process addPreChain x${local.length}, all at once`);
    const c2 = process.cpuUsage();
    const t1 = performance.now();
    const scts = await Promise.all(local.map((p) => ct.addPreChain([p, int.der, root.der])));
    const localSecs = (performance.now() - t1) / 1000;
    const c3 = process.cpuUsage(c2);
    const localCpuUs = (c3.user + c3.system) / local.length;

    // Embedded-SCT verification: ours vs sigstore-js on the same final certificates.
    const items = Array.from({ length: Math.min(VERIFY_N, 200) }, () => precertWithFinal(int));
    const finals = await Promise.all(items.map(async (it) => it.finalWith(encodeSctList([await ct.addPreChain([it.precert, int.der, root.der])]))));
    const key = PublicKey.fromSpki(ct.publicKey.spki);
    const ctlogs = [{ logID: ct.logId, baseURL: stack.url, publicKey: key.keyObject, validFor: { start: new Date(0), end: new Date(8.64e15) } }];
    const issuer = SigstoreX509.parse(Buffer.from(int.der));
    console.log(`  verifying ${VERIFY_N} embedded SCTs with each implementation`);
    let t2 = performance.now();
    for (let i = 0; i < VERIFY_N; i++) {
      if (verifyEmbeddedScts(finals[i % finals.length]!, int.der, key).verified !== 1) throw new Error('cairn SCT verification failed');
    }
    const oursUs = ((performance.now() - t2) * 1000) / VERIFY_N;
    t2 = performance.now();
    for (let i = 0; i < VERIFY_N; i++) {
      // Parsing is part of what sigstore-js does per bundle, as it is for ours.
      if (verifySCTs(SigstoreX509.parse(Buffer.from(finals[i % finals.length]!)), issuer, ctlogs).length !== 1) throw new Error('sigstore-js SCT verification failed');
    }
    const theirsUs = ((performance.now() - t2) * 1000) / VERIFY_N;
    if (scts.length !== local.length) throw new Error('missing SCTs');

    const size = ((await (await fetch(`${stack.url}/ct/v1/get-sth`)).json()) as { tree_size: number }).tree_size;
    return [
      '| CT log | figure |',
      '|---|---|',
      `| HTTP add-pre-chain, ${CONCURRENCY} in flight (${N} precerts) | ${(N / httpSecs).toFixed(0)} SCTs/s; p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms; ${(httpCpuUs / 1000).toFixed(2)} ms CPU/SCT (server + client) |`,
      `| HTTP add-pre-chain, one at a time (${SEQ}) | p50 ${pct(seqLat, 50).toFixed(1)} ms, p99 ${pct(seqLat, 99).toFixed(1)} ms (one fsync'd batch each) |`,
      `| in-process addPreChain (the CA's path), ${local.length} at once | ${(local.length / localSecs).toFixed(0)} SCTs/s; ${(localCpuUs / 1000).toFixed(2)} ms CPU/SCT |`,
      `| embedded SCT verification, Cairn sct.ts | ${oursUs.toFixed(0)} µs/cert |`,
      `| embedded SCT verification, sigstore-js verifySCTs (peer) | ${theirsUs.toFixed(0)} µs/cert |`,
      `| tree size after the run | ${size} |`,
    ].join('\n');
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
