/**
 * The seed article's build -> scan -> sign pipeline with `cairn` alone: each stage runs in its own
 * workspace (as separate CI jobs would), artifacts cross stage boundaries through `cairn check
 * --expect sha256:...` gates, every stage records a signed link with `cairn intoto run`, and the
 * project owner's layout (made with `cairn intoto layout` + `sign`) is verified at the end.
 * Then one stage's output is replaced in three ways; each fails naming the step and artifact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cairnIn, failureCode, type CliResult } from './intoto-cli.ts';

const LAYOUT = `expires_in_days: 7
readme: seed pipeline (build, scan, sign) with a no-critical-CVE inspection
keys: {build-runner: keys/build, scan-runner: keys/scan.pub, signing: keys/sign.pub}
steps:
  - name: build
    functionaries: [build-runner]
    expected_command: tar --sort=name --mtime=@0 --owner=0 --group=0 -cf image.tar Dockerfile requirements.txt
    expected_materials: ["ALLOW Dockerfile", "ALLOW requirements.txt", "DISALLOW *"]
    expected_products: ["CREATE image.tar", "DISALLOW *"]
  - name: scan
    functionaries: [scan-runner]
    expected_command: sh -c "tar -tf image.tar | sed 's/.*/{\\"pkg\\":\\"&\\",\\"severity\\":\\"LOW\\"}/' > scan-report.json"
    expected_materials: ["MATCH image.tar WITH PRODUCTS FROM build", "DISALLOW *"]
    expected_products: ["CREATE scan-report.json", "DISALLOW *"]
  - name: sign
    functionaries: [signing]
    expected_command: sh -c "sha256sum image.tar > image.tar.sha256"
    expected_materials: ["MATCH image.tar WITH PRODUCTS FROM build", "MATCH scan-report.json WITH PRODUCTS FROM scan", "DISALLOW *"]
    expected_products: ["CREATE image.tar.sha256", "DISALLOW *"]
inspect:
  - name: verify-no-critical-cves
    run: sh -c "! grep -q CRITICAL scan-report.json"
    expected_materials:
      - MATCH image.tar WITH PRODUCTS FROM build
      - MATCH scan-report.json WITH PRODUCTS FROM scan
      - MATCH image.tar.sha256 WITH PRODUCTS FROM sign
      - DISALLOW image.tar*
      - DISALLOW scan-report.json
      - ALLOW *
    expected_products: ["ALLOW *"]
`;

const SCAN_CMD = `tar -tf image.tar | sed 's/.*/{"pkg":"&","severity":"LOW"}/' > scan-report.json`;

interface Pipeline {
  root: string;
  final: string;
}

async function ok(p: Promise<CliResult>): Promise<CliResult> {
  const r = await p;
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return r;
}

async function digestOf(dir: string, file: string): Promise<string> {
  const r = await ok(cairnIn(dir, ['digest', join(dir, file)]));
  return r.stdout.split(/\s+/)[0]!;
}

/** `cairn check` between stages: the gate of the seed's multi-stage workflow. */
async function gate(dir: string, file: string, expected: string): Promise<CliResult> {
  return cairnIn(dir, ['check', join(dir, file), '--expect', expected]);
}

/** Runs the whole pipeline; `tamper` may replace a stage's output before the next stage picks it up. */
async function pipeline(tamper: { afterBuild?: (dir: string) => void; skipGate?: boolean } = {}): Promise<Pipeline> {
  const root = mkdtempSync(join(tmpdir(), 'cairn-intoto-seed-'));
  const keys = join(root, 'keys');
  mkdirSync(keys);
  for (const [n, t] of [['owner', 'ed25519'], ['build', 'ecdsa'], ['scan', 'ed25519'], ['sign', 'ecdsa']] as const) await ok(cairnIn(root, ['intoto', 'keygen', '-t', t, `keys/${n}`]));
  writeFileSync(join(root, 'layout.yaml'), LAYOUT);
  await ok(cairnIn(root, ['intoto', 'layout', 'layout.yaml', '--out', 'root.layout']));
  await ok(cairnIn(root, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner']));

  // Stage 1: build (its own workspace).
  const build = join(root, 'build');
  mkdirSync(build);
  writeFileSync(join(build, 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
  writeFileSync(join(build, 'requirements.txt'), 'flask==3.0.3\n');
  await ok(
    cairnIn(build, ['intoto', 'run', '--step', 'build', '--key', '../keys/build', '-m', 'Dockerfile', 'requirements.txt', '-p', 'image.tar', '--', 'tar', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', 'image.tar', 'Dockerfile', 'requirements.txt']),
  );
  const imageDigest = await digestOf(build, 'image.tar');
  tamper.afterBuild?.(build);

  // Stage 2: scan, after the checksum gate.
  const scan = join(root, 'scan');
  mkdirSync(scan);
  copyFileSync(join(build, 'image.tar'), join(scan, 'image.tar'));
  const g = await gate(scan, 'image.tar', imageDigest);
  if (!tamper.skipGate) assert.equal(g.code, 0, g.stderr);
  await ok(cairnIn(scan, ['intoto', 'run', '--step', 'scan', '--key', '../keys/scan', '-m', 'image.tar', '-p', 'scan-report.json', '--', 'sh', '-c', SCAN_CMD]));
  const reportDigest = await digestOf(scan, 'scan-report.json');

  // Stage 3: sign, after gates on both inputs.
  const sign = join(root, 'sign');
  mkdirSync(sign);
  copyFileSync(join(scan, 'image.tar'), join(sign, 'image.tar'));
  copyFileSync(join(scan, 'scan-report.json'), join(sign, 'scan-report.json'));
  if (!tamper.skipGate) assert.equal((await gate(sign, 'image.tar', imageDigest)).code, 0);
  assert.equal((await gate(sign, 'scan-report.json', reportDigest)).code, 0);
  await ok(cairnIn(sign, ['intoto', 'run', '--step', 'sign', '--key', '../keys/sign', '-m', 'image.tar', 'scan-report.json', '-p', 'image.tar.sha256', '--', 'sh', '-c', 'sha256sum image.tar > image.tar.sha256']));

  // What the deployment receives.
  const final = join(root, 'final');
  mkdirSync(final);
  for (const [dir, f] of [[sign, 'image.tar'], [sign, 'scan-report.json'], [sign, 'image.tar.sha256'], [root, 'root.layout'], [keys, 'owner.pub']] as const) copyFileSync(join(dir, f), join(final, f));
  for (const dir of [build, scan, sign]) for (const f of readdirSync(dir).filter((n) => n.endsWith('.link'))) copyFileSync(join(dir, f), join(final, f));
  return { root, final };
}

function verify(final: string): Promise<CliResult> {
  return cairnIn(final, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'owner.pub', '--link-dir', '.']);
}

test('seed pipeline: build, scan, sign with checksum gates; the chain verifies (twice, same answer)', async () => {
  const { final } = await pipeline();
  const before = readdirSync(final).sort();
  for (let i = 0; i < 2; i++) {
    const r = await verify(final);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /passed all verification/);
    assert.equal(r.stderr, '', 'no command-alignment warnings for the commands the layout expects');
  }
  assert.deepEqual(readdirSync(final).sort(), before, 'verification leaves nothing behind');
});

test('image replaced between build and scan: the checksum gate says INTEGRITY FAILURE, and without the gate verification fails at scan on image.tar', async () => {
  const evil = (dir: string): void => writeFileSync(join(dir, 'image.tar'), 'a backdoored image');
  // With the gate: the scan stage stops before using the tampered file.
  const root = mkdtempSync(join(tmpdir(), 'cairn-intoto-gate-'));
  writeFileSync(join(root, 'image.tar'), 'the built image');
  const expected = await digestOf(root, 'image.tar');
  evil(root);
  const g = await gate(root, 'image.tar', expected);
  assert.equal(g.code, 1);
  assert.match(g.stderr, /INTEGRITY FAILURE/);
  // Without the gate (a compromised runner skipped it): the chain of custody catches it.
  const { final } = await pipeline({ afterBuild: evil, skipGate: true });
  const r = await verify(final);
  assert.equal(r.code, 1);
  assert.equal(failureCode(r), 'RULE_VIOLATION');
  assert.match(r.stderr, /item: scan\n/);
  assert.match(r.stderr, /rule: expected_materials: DISALLOW \*/);
  assert.match(r.stderr, /artifacts: \["image.tar"\]/);
});

test('delivered image replaced after signing: the inspection rules name image.tar', async () => {
  const { final } = await pipeline();
  writeFileSync(join(final, 'image.tar'), 'swapped at the registry');
  const r = await verify(final);
  assert.equal(failureCode(r), 'RULE_VIOLATION');
  assert.match(r.stderr, /item: verify-no-critical-cves\n/);
  assert.match(r.stderr, /artifacts: \["image.tar"\]/);
});

test('a scan report with a CRITICAL finding fails the inspection; a clean-looking fake report fails the inspection rules', async () => {
  const { final } = await pipeline();
  // The inspection reads the report: a report with CRITICAL (however it got there) stops the release,
  // even before rules look at it (the reference runs inspections before their rules).
  writeFileSync(join(final, 'scan-report.json'), '{"pkg":"openssl","severity":"CRITICAL"}\n');
  const r = await verify(final);
  assert.equal(r.code, 1);
  assert.equal(failureCode(r), 'INSPECTION_FAILED');
  assert.match(r.stderr, /inspection: verify-no-critical-cves/);
  // A report that hides the finding passes the inspection command but not its MATCH rule.
  writeFileSync(join(final, 'scan-report.json'), '{"pkg":"openssl","severity":"LOW"}\n');
  const f = await verify(final);
  assert.equal(failureCode(f), 'RULE_VIOLATION');
  assert.match(f.stderr, /item: verify-no-critical-cves\n/);
  assert.match(f.stderr, /artifacts: \["scan-report.json"\]/);
});

test('the same chain in DSSE envelopes (links and layout) verifies; a DSSE link with a changed payload does not', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cairn-intoto-dsse-'));
  mkdirSync(join(root, 'keys'));
  for (const [n, t] of [['owner', 'ecdsa'], ['build', 'rsa'], ['scan', 'ed25519'], ['sign', 'ecdsa']] as const) await ok(cairnIn(root, ['intoto', 'keygen', '-t', t, '-b', '2048', `keys/${n}`]));
  writeFileSync(join(root, 'layout.yaml'), LAYOUT.replace(/\n {2}- name: verify-no-critical-cves[\s\S]*$/, '\n').replace('inspect:\n', ''));
  await ok(cairnIn(root, ['intoto', 'layout', 'layout.yaml', '--out', 'root.layout']));
  await ok(cairnIn(root, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner', '--dsse']));
  const w = join(root, 'w');
  mkdirSync(w);
  writeFileSync(join(w, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(w, 'requirements.txt'), 'flask\n');
  await ok(cairnIn(w, ['intoto', 'run', '--dsse', '--step', 'build', '--key', '../keys/build', '-m', 'Dockerfile', 'requirements.txt', '-p', 'image.tar', '--', 'tar', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', 'image.tar', 'Dockerfile', 'requirements.txt']));
  await ok(cairnIn(w, ['intoto', 'run', '--dsse', '--step', 'scan', '--key', '../keys/scan', '-m', 'image.tar', '-p', 'scan-report.json', '--', 'sh', '-c', SCAN_CMD]));
  await ok(cairnIn(w, ['intoto', 'run', '--dsse', '--step', 'sign', '--key', '../keys/sign', '-m', 'image.tar', 'scan-report.json', '-p', 'image.tar.sha256', '--', 'sh', '-c', 'sha256sum image.tar > image.tar.sha256']));
  const linkFile = readdirSync(w).find((n) => n.startsWith('scan.'))!;
  const env = JSON.parse(readFileSync(join(w, linkFile), 'utf8'));
  assert.equal(env.payloadType, 'application/vnd.in-toto+json');
  const r = await cairnIn(w, ['intoto', 'verify', '--layout', '../root.layout', '--layout-key', '../keys/owner.pub']);
  assert.equal(r.code, 0, r.stderr);
  const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString());
  payload.products['scan-report.json'].sha256 = '0'.repeat(64);
  writeFileSync(join(w, linkFile), JSON.stringify({ ...env, payload: Buffer.from(JSON.stringify(payload)).toString('base64') }));
  const bad = await cairnIn(w, ['intoto', 'verify', '--layout', '../root.layout', '--layout-key', '../keys/owner.pub']);
  assert.equal(failureCode(bad), 'LINK_SIGNATURE_INVALID');
});

test('--base-path records relative to a directory while the command runs in the current one (as in-toto-run)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cairn-intoto-base-'));
  mkdirSync(join(root, 'keys'));
  mkdirSync(join(root, 'tree'));
  writeFileSync(join(root, 'tree/in.txt'), 'x');
  await ok(cairnIn(root, ['intoto', 'keygen', '-t', 'ed25519', 'keys/k']));
  const r = await ok(cairnIn(root, ['intoto', 'run', '--step', 's', '--key', 'keys/k', '--base-path', 'tree', '-m', 'in.txt', '-p', 'out.txt', '--', 'sh', '-c', 'pwd > tree/out.txt']));
  const link = JSON.parse(readFileSync(r.stdout.trim(), 'utf8')).signed;
  assert.deepEqual(Object.keys(link.materials), ['in.txt']);
  assert.deepEqual(Object.keys(link.products), ['out.txt']);
  assert.equal(readFileSync(join(root, 'tree/out.txt'), 'utf8').trim(), root);
});

test('links and the product in separate directories: --link-dir and --artifact-dir', async () => {
  const { root, final } = await pipeline();
  const links = join(root, 'links');
  const product = join(root, 'product');
  mkdirSync(links);
  mkdirSync(product);
  for (const f of readdirSync(final)) copyFileSync(join(final, f), join(f.endsWith('.link') ? links : product, f));
  const r = await cairnIn(root, ['intoto', 'verify', '--layout', 'product/root.layout', '--layout-key', 'product/owner.pub', '--link-dir', 'links', '--artifact-dir', 'product']);
  assert.equal(r.code, 0, r.stderr);
  // The inspection looks at the artifact directory: a swapped image there is caught.
  writeFileSync(join(product, 'image.tar'), 'swapped');
  const bad = await cairnIn(root, ['intoto', 'verify', '--layout', 'product/root.layout', '--layout-key', 'product/owner.pub', '--link-dir', 'links', '--artifact-dir', 'product']);
  assert.equal(failureCode(bad), 'RULE_VIOLATION');
  assert.match(bad.stderr, /item: verify-no-critical-cves\n/);
});
