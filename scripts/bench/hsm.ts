/**
 * Keys in a PKCS#11 token (SoftHSM2, a software token: a hardware HSM is slower per operation
 * and often has parallel engines) against file keys, through the same `Signer` seam:
 *   - ECDSA P-256 signatures per second and CPU time per signature (this process's user+system
 *     CPU; SoftHSM runs in-process, so its work is counted), sequential and 8 in flight;
 *   - CA leaf certificates per second (CertificateAuthority.issue, no CT log) with the issuing
 *     key in the token versus in a file. The token CA reuses the file CA's certificates around a
 *     key made in the token: the work per certificate is the same, the chain is not meant to verify.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { LocalSigner, generateKey, systemClock, type Signer } from '@cairn/shared';
import { generatePkcs11Key } from '@cairn/shared/pkcs11';
import { CertificateAuthority, initCa, loadCa } from '@cairn/ca';
import { SOFTHSM_MODULE, softHsm } from '../../test/helpers/softhsm.ts';

const SECONDS = Number(process.env.BENCH_HSM_SECONDS ?? 3);

async function measure(op: () => Promise<unknown>, inFlight: number): Promise<{ perSecond: number; cpuUs: number }> {
  for (let i = 0; i < 20; i++) await op();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let n = 0;
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < deadline) {
        await op();
        n++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: n / seconds, cpuUs: (cpu.user + cpu.system) / n };
}

export async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-hsm-'));
  try {
    const h = softHsm(dir);
    h.initToken('bench', '1234');
    const file = new LocalSigner(generateKey('ecdsa-p256'));
    const token = generatePkcs11Key({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=bench;object=sig', pin: '1234' });
    const data = Buffer.alloc(512, 7);
    const rows: string[] = ['| operation | file key | SoftHSM key |', '|---|---|---|'];
    for (const inFlight of [1, 8]) {
      const f = await measure(() => file.sign(data), inFlight);
      const t = await measure(() => token.sign(data), inFlight);
      rows.push(`| P-256 signatures/s, ${inFlight} in flight | ${f.perSecond.toFixed(0)} | ${t.perSecond.toFixed(0)} |`);
      rows.push(`| CPU per signature, ${inFlight} in flight | ${f.cpuUs.toFixed(0)} µs | ${t.cpuUs.toFixed(0)} µs |`);
    }

    await initCa(join(dir, 'ca'), { curve: 'p256', clock: systemClock });
    const fileCa = loadCa(join(dir, 'ca'));
    const caKey = generatePkcs11Key({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=bench;object=ca-intermediate', pin: '1234' });
    const tokenCa = { ...fileCa, signer: caKey as Signer };
    const subject = createPublicKey(generateKey('ecdsa-p256')).export({ type: 'spki', format: 'der' });
    const principal = { name: 'https://ci.example/bench', san: { kind: 'uri' as const, value: 'https://ci.example/bench' }, extensions: { issuer: 'https://issuer.example', tokenSubject: 'bench' } };
    for (const [label, ca] of [['file key', fileCa], ['SoftHSM key', tokenCa]] as const) {
      const authority = new CertificateAuthority(ca, systemClock, undefined);
      const r = await measure(() => authority.issue(principal, subject), 4);
      rows.push(`| CA certificates/s (${label}, 4 in flight) | ${label === 'file key' ? r.perSecond.toFixed(0) : ''} | ${label === 'file key' ? '' : r.perSecond.toFixed(0)} |`);
    }
    token.close();
    caKey.close();
    return rows.join('\n') + `\n\n${SECONDS} s per cell, SoftHSM ${SOFTHSM_MODULE}; CPU is this process's user+system time per operation.`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
