/**
 * in-toto verification time: a 3-step layout (build -> test -> package) with 1,000 artifacts per
 * step, every step's rules MATCHing all of its inputs against the previous step, links signed with
 * ed25519, ECDSA P-256 and RSA-PSS keys. The SAME layout, keys and links are verified by
 * `cairn intoto verify` and by the reference `in-toto-verify` (Debian in-toto 1.3.1), both as
 * fresh processes; cairn's library call (no process start) is reported too.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyFiles, linkFileName, loadMetadata, loadPublicKey, loadSigningKey, runStep, signMetadata, unsignedMetadataText, verifyLayout, type LayoutMetadata } from '@cairn/intoto';
import { parseLayout } from '@cairn/intoto';

const BIN = new URL('../../client/cli/bin/cairn.js', import.meta.url).pathname;
const ARTIFACTS = Number(process.env.BENCH_INTOTO_ARTIFACTS ?? 1000);
const RUNS = Number(process.env.BENCH_INTOTO_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeProcess(cmd: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return ms;
}

async function setup(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-intoto-'));
  const keys = join(dir, 'keys');
  mkdirSync(keys);
  generateKeyFiles('ed25519', join(keys, 'owner'));
  const fk = { build: generateKeyFiles('ed25519', join(keys, 'build')), test: generateKeyFiles('ecdsa', join(keys, 'test')), package: generateKeyFiles('rsa', join(keys, 'package'), 3072) };
  mkdirSync(join(dir, 'src'));
  for (let i = 0; i < ARTIFACTS; i++) writeFileSync(join(dir, 'src', `f${String(i).padStart(4, '0')}.c`), `int f${i}(void) { return ${i}; }\n`);
  const entry = (k: typeof fk.build): Record<string, unknown> => ({ keyid: k.keyid, ...k.metadata });
  const { layout } = parseLayout({
    _type: 'layout',
    expires: '2099-01-01T00:00:00Z',
    readme: `bench: 3 steps x ${ARTIFACTS} artifacts`,
    keys: Object.fromEntries(Object.values(fk).map((k) => [k.keyid, entry(k)])),
    steps: [
      { _type: 'step', name: 'build', pubkeys: [fk.build.keyid], expected_command: ['cp', '-r', 'src', 'out'], expected_materials: [['ALLOW', 'src/*'], ['DISALLOW', '*']], expected_products: [['CREATE', 'out/*'], ['DISALLOW', '*']] },
      { _type: 'step', name: 'test', pubkeys: [fk.test.keyid], expected_command: ['cp', '-r', 'out', 'reports'], expected_materials: [['MATCH', 'out/*', 'WITH', 'PRODUCTS', 'FROM', 'build'], ['DISALLOW', '*']], expected_products: [['MATCH', '*', 'IN', 'reports', 'WITH', 'PRODUCTS', 'IN', 'out', 'FROM', 'build'], ['DISALLOW', '*']] },
      { _type: 'step', name: 'package', pubkeys: [fk.package.keyid], expected_command: ['cp', '-r', 'out', 'pkg'], expected_materials: [['MATCH', 'out/*', 'WITH', 'PRODUCTS', 'FROM', 'build'], ['MATCH', 'reports/*', 'WITH', 'PRODUCTS', 'FROM', 'test'], ['DISALLOW', '*']], expected_products: [['MATCH', '*', 'IN', 'pkg', 'WITH', 'MATERIALS', 'IN', 'out', 'FROM', 'package'], ['DISALLOW', '*']] },
    ],
    inspect: [],
  });
  writeFileSync(join(dir, 'root.layout'), unsignedMetadataText(layout));
  const ownerKey = loadSigningKey(join(keys, 'owner'));
  writeFileSync(join(dir, 'root.layout'), (await signMetadata(layout, ownerKey)).text);
  cpSync(join(keys, 'owner.pub'), join(dir, 'owner.pub'));
  const steps: [string, string, string[], string[], string[]][] = [
    ['build', 'build', ['src'], ['out'], ['cp', '-r', 'src', 'out']],
    ['test', 'test', ['out'], ['reports'], ['cp', '-r', 'out', 'reports']],
    ['package', 'package', ['out', 'reports'], ['pkg'], ['cp', '-r', 'out', 'pkg']],
  ];
  for (const [name, key, m, p, cmd] of steps) {
    const k = loadSigningKey(join(keys, key));
    const link = runStep({ name, materials: m, products: p, command: cmd, basePath: dir });
    writeFileSync(join(dir, linkFileName(name, k.publicKey.keyid)), (await signMetadata(link, k)).text);
  }
  return dir;
}

export async function run(): Promise<string> {
  console.log(`setting up 3 steps x ${ARTIFACTS} artifacts ...`);
  const dir = await setup();
  try {
    // Library: parse + verify from disk each time, as the CLI does (first runs include JIT warm-up).
    const lib: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const md = loadMetadata(join(dir, 'root.layout'), 'layout') as LayoutMetadata;
      verifyLayout({ layout: md, layoutKeys: [loadPublicKey(join(dir, 'owner.pub'))], linkDir: dir, artifactDir: dir });
      lib.push(performance.now() - t0);
    }
    console.log(`cairn library: ${lib.map((x) => x.toFixed(1)).join(', ')} ms`);
    const hasRef = spawnSync('sh', ['-c', 'command -v in-toto-verify']).status === 0;
    // Processes interleaved, so load on the machine hits every verifier alike.
    const cli: number[] = [];
    const startup: number[] = [];
    const ref: number[] = [];
    const refStart: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      cli.push(timeProcess(process.execPath, [BIN, 'intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'owner.pub', '--link-dir', '.'], dir));
      startup.push(timeProcess(process.execPath, [BIN, '--version'], dir));
      if (hasRef) {
        ref.push(timeProcess('in-toto-verify', ['-l', 'root.layout', '-k', 'owner.pub', '-t', 'ed25519'], dir));
        refStart.push(timeProcess('in-toto-verify', ['--version'], dir));
      }
    }
    console.log(`cairn CLI: ${cli.map((x) => x.toFixed(0)).join(', ')} ms; cairn --version: ${startup.map((x) => x.toFixed(0)).join(', ')} ms`);
    if (hasRef) console.log(`in-toto-verify: ${ref.map((x) => x.toFixed(0)).join(', ')} ms; --version: ${refStart.map((x) => x.toFixed(0)).join(', ')} ms`);
    const lines = [
      `3-step layout, ${ARTIFACTS} artifacts per step (ed25519, ECDSA P-256, RSA-3072 PSS links; every input MATCHed), median of ${RUNS}; load average ${loadavg()[0]!.toFixed(1)} at the end:`,
      '',
      '| verifier | median ms |',
      '|---|---|',
      `| cairn intoto verify (process) | ${median(cli).toFixed(0)} |`,
      `| cairn --version (process start alone) | ${median(startup).toFixed(0)} |`,
      `| cairn verifyLayout() in-process | ${median(lib).toFixed(1)} |`,
      ...(hasRef
        ? [`| in-toto-verify 1.3.1 (process) | ${median(ref).toFixed(0)} |`, `| in-toto-verify --version (process start alone) | ${median(refStart).toFixed(0)} |`]
        : ['| in-toto-verify | not installed |']),
    ];
    if (hasRef) {
      lines.push('', `in-toto-verify / cairn intoto verify (both as processes): ${(median(ref) / median(cli)).toFixed(2)}x`);
      const refWork = median(ref) - median(refStart);
      const cairnWork = median(cli) - median(startup);
      if (refWork > 0 && cairnWork > 0) lines.push(`verification work alone (process time minus start-up): in-toto-verify ${refWork.toFixed(0)} ms, cairn ${cairnWork.toFixed(0)} ms (${(refWork / cairnWork).toFixed(1)}x)`);
    }
    return lines.join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
