/**
 * `cairn monitor` catch-up over a log of 1,000,000 entries (BENCH_MONITOR_ENTRIES overrides):
 * entries/s and the monitor's peak RSS.
 *
 * Fixture (built in this process, not measured): Rekor entry bodies of three shapes (v1
 * hashedrekord with a PEM certificate, v2 hashedrekord with a DER certificate, v1 hashedrekord
 * with a bare key; 64 distinct certificates, a unique digest per entry, 1 in 1000 by an identity
 * the policy does not allow), their tree built with CompactRange straight into tile-level hash
 * arrays, a signed checkpoint, and a C2SP tlog-tiles HTTP server on 127.0.0.1 that renders entry
 * bundles on demand.
 *
 * Measured: the real CLI (`cairn monitor ... --json`) in a child process, reading and verifying
 * everything through HTTP — consistency, every entry's leaf hash into the tree edge, the final
 * root, every signer against the policy — then a second run with nothing new.
 */
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSigner, toPem } from '@cairn/shared';
import { formatCheckpoint, formatSignedNote, signNote } from '@cairn/shared/checkpoint';
import { CompactRange, leafHash } from '@cairn/shared/merkle';
import { TILE_WIDTH, encodeEntryBundle, parseTilePath, tileWidthAt } from '@cairn/shared/tiles';
import { OID_SOURCE_REPO, keySpki, makeCert } from '../../test/monitor-fixture.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const N = Number(process.env.BENCH_MONITOR_ENTRIES ?? 1_000_000);
/** The log then grows by this much for the incremental run (consistency proof from tiles + new entries). */
const GROWTH = Math.floor(N / 10);
const TOTAL = N + GROWTH;
const CERTS = 64;
const BAD_EVERY = 1000;
const ISSUER = 'https://token.actions.githubusercontent.com';
const REPO = 'https://github.com/acme/app';

interface Template {
  prefix: string;
  suffix: string;
  digest: 'hex' | 'b64';
}

function templates(): { good: Template[]; bad: Template; keyPem: string } {
  const b64 = (b: Buffer): string => b.toString('base64');
  const sig = b64(randomBytes(71));
  const good: Template[] = [];
  const keySpkiDer = keySpki();
  for (let i = 0; i < CERTS; i++) {
    const der = makeCert({ subject: `https://github.com/acme/app/.github/workflows/release-${i}.yml@refs/tags/v${i}`, issuer: ISSUER, extensions: { [OID_SOURCE_REPO]: REPO } });
    good.push(i % 4 === 3 ? v2(der) : v1(b64(Buffer.from(toPem('CERTIFICATE', der)))));
  }
  good.push(v1(b64(Buffer.from(toPem('PUBLIC KEY', keySpkiDer)))));
  const bad = v1(b64(Buffer.from(toPem('CERTIFICATE', makeCert({ subject: 'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main', issuer: ISSUER, extensions: { [OID_SOURCE_REPO]: REPO } })))));
  return { good, bad, keyPem: toPem('PUBLIC KEY', keySpkiDer) };

  // JCS key order, split around the per-entry digest.
  function v1(pemB64: string): Template {
    return {
      prefix: '{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"',
      suffix: `"}},"signature":{"content":"${sig}","publicKey":{"content":"${pemB64}"}}}}`,
      digest: 'hex',
    };
  }
  function v2(der: Buffer): Template {
    return {
      prefix: '{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":"',
      suffix: `"},"signature":{"content":"${sig}","verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":{"rawBytes":"${b64(der)}"}}}}}}`,
      digest: 'b64',
    };
  }
}

function bodyOf(t: { good: Template[]; bad: Template }, i: number): Buffer {
  const tpl = i % BAD_EVERY === BAD_EVERY - 1 ? t.bad : t.good[i % t.good.length]!;
  const d = createHash('sha256').update(`artifact ${i}`).digest();
  return Buffer.from(tpl.prefix + (tpl.digest === 'hex' ? d.toString('hex') : d.toString('base64')) + tpl.suffix);
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; maxRssKiB: number }> {
  // The real command through its entry point, reporting this process's peak RSS on exit.
  const code = `import { register } from 'tsx/esm/api'; register();
const { main } = await import(${JSON.stringify(join(ROOT, 'client/cli/src/main.ts'))});
process.on('exit', () => process.stderr.write('\\nMAXRSS ' + process.resourceUsage().maxRSS + '\\n'));
process.exitCode = await main(${JSON.stringify(args)});`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const lines = d.toString().split('\n').filter((l) => l.includes('entries checked'));
      for (const l of lines) console.log(`  ${l.trim()}`);
    });
    child.on('exit', (c) => {
      const m = /MAXRSS (\d+)/.exec(stderr);
      if (!m) console.error(stderr);
      resolve({ code: c, stdout, maxRssKiB: m ? Number(m[1]) : NaN });
    });
  });
}

export async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-monitor-'));
  try {
    console.log(`building a ${TOTAL.toLocaleString('en')}-entry log fixture (checkpoints at ${N} and ${TOTAL})...`);
    let t0 = performance.now();
    const t = templates();
    // Tile-level hash arrays: tree levels 0, 8, 16, ... (tile levels 0, 1, 2, ...).
    const levels: Buffer[] = [];
    for (let w = TOTAL; w >= 1; w = Math.floor(w / TILE_WIDTH)) levels.push(Buffer.alloc(w * 32));
    const range = new CompactRange();
    let bodyBytes = 0;
    const logSigner = new LocalSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const signedAt = async (size: number): Promise<string> => {
      const text = formatCheckpoint({ origin: 'bench.cairn.test', size, rootHash: range.root(), extensions: [] });
      return formatSignedNote({ text, signatures: [await signNote(text, 'bench.cairn.test', logSigner)] });
    };
    let firstCheckpoint = '';
    for (let i = 0; i < TOTAL; i++) {
      const body = bodyOf(t, i);
      if (i < N) bodyBytes += body.length;
      range.append(leafHash(body), (level, index, hash) => {
        if (level % 8 === 0) hash.copy(levels[level / 8]!, index * 32);
      });
      if (range.size === N) firstCheckpoint = await signedAt(N);
    }
    const grownCheckpoint = await signedAt(TOTAL);
    let checkpoint = firstCheckpoint;
    let servedSize = N;
    console.log(`fixture built in ${((performance.now() - t0) / 1000).toFixed(1)} s (${(bodyBytes / N).toFixed(0)} bytes/entry on average)`);

    let served = 0;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const send = (status: number, body: Buffer | string): void => {
        res.writeHead(status, { 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (path === '/checkpoint') return send(200, checkpoint);
      let p;
      try {
        p = parseTilePath(path);
      } catch {
        return send(404, 'not found');
      }
      const level = p.kind === 'entries' ? 0 : p.level;
      if (tileWidthAt(level, p.index, servedSize) < p.width) return send(404, 'no such tile');
      if (p.kind === 'hashes') return send(200, levels[p.level]!.subarray(p.index * TILE_WIDTH * 32, (p.index * TILE_WIDTH + p.width) * 32));
      served += p.width;
      return send(200, encodeEntryBundle(Array.from({ length: p.width }, (_, i) => bodyOf(t, p.index * TILE_WIDTH + i))));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const policyPath = join(dir, 'policy.yaml');
    const keyPath = join(dir, 'log.pub');
    const statePath = join(dir, 'state.json');
    writeFileSync(keyPath, logSigner.publicKey.toPem());
    writeFileSync(
      policyPath,
      `identities:\n  - issuer: ${ISSUER}\n    subject: { glob: "https://github.com/acme/*" }\n    extensions:\n      ${OID_SOURCE_REPO}: ${REPO}\nkeys:\n  - |\n${t.keyPem.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`,
    );
    const args = ['monitor', '--log', url, '--state', statePath, '--policy', policyPath, '--log-key', keyPath, '--json'];
    console.log('monitor catch-up (child process, through HTTP)...');
    t0 = performance.now();
    const first = await runCli(args);
    const wallS = (performance.now() - t0) / 1000;
    const r1 = JSON.parse(first.stdout.trim().split('\n').pop()!);
    const expectedAlerts = Math.floor(N / BAD_EVERY);
    if (r1.entriesChecked !== N || r1.alerts.length + r1.alertsDropped !== expectedAlerts || first.code !== 2) {
      throw new Error(`monitor result is wrong: exit ${first.code}, checked ${r1.entriesChecked}, alerts ${r1.alerts.length}`);
    }
    console.log('monitor re-run with nothing new...');
    const second = await runCli(args);
    const r2 = JSON.parse(second.stdout.trim().split('\n').pop()!);
    if (second.code !== 0 || r2.entriesChecked !== 0) throw new Error(`second run: exit ${second.code}`);
    console.log(`the log grows by ${GROWTH.toLocaleString('en')} entries; incremental run...`);
    checkpoint = grownCheckpoint;
    servedSize = TOTAL;
    const third = await runCli(args);
    const r3 = JSON.parse(third.stdout.trim().split('\n').pop()!);
    const expectedNew = Math.floor(TOTAL / BAD_EVERY) - expectedAlerts;
    if (r3.entriesChecked !== GROWTH || r3.alerts.length !== expectedNew || r3.previous?.size !== N) {
      throw new Error(`incremental run is wrong: exit ${third.code}, checked ${r3.entriesChecked}, alerts ${r3.alerts.length}`);
    }
    server.close();

    return [
      `| measure | value |`,
      `|---|---|`,
      `| log size | ${N.toLocaleString('en')} entries (${(bodyBytes / 2 ** 20).toFixed(0)} MiB of entry bodies, ${(bodyBytes / N).toFixed(0)} B/entry) |`,
      `| catch-up from empty state (verify checkpoint, every leaf into the tree, root, policy on every signer) | ${Math.round(r1.entriesPerSecond).toLocaleString('en')} entries/s (${(r1.elapsedMs / 1000).toFixed(1)} s in the monitor, ${wallS.toFixed(1)} s wall incl. process start) |`,
      `| peak RSS of the monitor process (catch-up) | ${(first.maxRssKiB / 1024).toFixed(0)} MiB |`,
      `| alerts found (1 in ${BAD_EVERY} entries by a disallowed identity) | ${r1.alerts.length + r1.alertsDropped} of ${expectedAlerts} expected, exit ${first.code} |`,
      `| re-run, nothing new (checkpoint + state checks) | ${r2.elapsedMs.toFixed(0)} ms in the monitor, exit ${second.code}, peak RSS ${(second.maxRssKiB / 1024).toFixed(0)} MiB |`,
      `| incremental run: +${GROWTH.toLocaleString('en')} entries (consistency proof ${N} -> ${TOTAL} from tiles, then the new entries) | ${Math.round(r3.entriesPerSecond).toLocaleString('en')} entries/s (${(r3.elapsedMs / 1000).toFixed(1)} s), peak RSS ${(third.maxRssKiB / 1024).toFixed(0)} MiB, exit ${third.code} |`,
      `| entries served by the fixture | ${served.toLocaleString('en')} |`,
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
