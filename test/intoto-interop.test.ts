/**
 * Interop with the in-toto reference (Debian in-toto 1.3.1 / securesystemslib 0.26):
 * - the reference pipeline's chain verifies with `cairn intoto verify`, and each of its 9 tamper
 *   cases fails with cairn where and how it fails with in-toto-verify (same item, same class);
 * - a layout, keys and links made by `cairn` alone verify with `in-toto-verify`, and a tampered
 *   artifact fails in both.
 * Skips (with a message) only when the reference tool is not installed; .ci/run installs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cairnIn, failureCode, hasReference, PIPELINE_SCRIPT, ROOT, sh, shAsync } from './intoto-cli.ts';

const SKIP = hasReference() ? false : 'in-toto-verify (Debian package in-toto) or openssl is not installed; .ci/run installs it';

/** in-toto exception class -> the cairn codes that mean the same failure. */
const SAME_FAILURE: Record<string, string[]> = {
  RuleVerificationError: ['RULE_VIOLATION'],
  BadReturnValueError: ['INSPECTION_FAILED'],
  ThresholdVerificationError: ['THRESHOLD_NOT_MET', 'LINK_SIGNATURE_INVALID', 'UNAUTHORIZED_FUNCTIONARY', 'ARTIFACTS_DIFFER'],
  LinkNotFoundError: ['LINK_NOT_FOUND'],
  SignatureVerificationError: ['LAYOUT_SIGNATURE_INVALID'],
  LayoutExpiredError: ['LAYOUT_EXPIRED'],
};

/** What cairn says for each case of the script, exactly. */
const EXPECTED: Record<string, string> = {
  'tamper-between-steps': 'RULE_VIOLATION',
  'tamper-final-product': 'INSPECTION_FAILED',
  'tamper-final-product-valid-tar': 'RULE_VIOLATION',
  'link-modified': 'LINK_SIGNATURE_INVALID',
  'link-missing': 'LINK_NOT_FOUND',
  'unauthorized-functionary': 'UNAUTHORIZED_FUNCTIONARY',
  'layout-modified': 'LAYOUT_SIGNATURE_INVALID',
  'layout-expired': 'LAYOUT_EXPIRED',
  'inspection-fails': 'INSPECTION_FAILED',
};

test('reference pipeline: cairn verifies the good chain and fails every tamper case where in-toto-verify fails', { skip: SKIP, timeout: 170_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-intoto-interop-'));
  const refDir = join(base, 'ref');
  const cairnDir = join(base, 'cairn');
  const verifier = `${ROOT}/node_modules/.bin/cairn intoto verify --layout root.layout --layout-key owner.pub --link-dir .`;
  const [ref, mine] = await Promise.all([shAsync('bash', [PIPELINE_SCRIPT, refDir]), shAsync('bash', [PIPELINE_SCRIPT, cairnDir], { env: { VERIFIER: verifier } })]);
  assert.equal(ref.status, 0, `the reference pipeline itself must pass:\n${ref.stdout}\n${ref.stderr}`);
  assert.equal(mine.status, 0, `with VERIFIER=cairn every case must end as expected:\n${mine.stdout}\n${mine.stderr}`);
  assert.match(readFileSync(join(cairnDir, 'verify-good.log'), 'utf8'), /passed all verification/);
  for (const [label, want] of Object.entries(EXPECTED)) {
    const refLog = readFileSync(join(refDir, `verify-${label}.log`), 'utf8');
    const cairnLog = readFileSync(join(cairnDir, `verify-${label}.log`), 'utf8');
    const refClass = /\(in-toto-verify\) (\w+):/.exec(refLog)?.[1];
    const code = /FAILED \[([A-Z_]+)\]/.exec(cairnLog)?.[1];
    assert.ok(refClass, `${label}: reference log names an exception:\n${refLog}`);
    assert.equal(code, want, `${label}: ${cairnLog}`);
    assert.ok(SAME_FAILURE[refClass]?.includes(code), `${label}: ${refClass} vs ${code}`);
    // Rule failures name the same item and the same rule list.
    const refItem = /Full trace for '(expected_\w+)' of item '([^']+)'/.exec(refLog);
    if (refItem) {
      assert.match(cairnLog, new RegExp(`item: ${refItem[2]}\\n`), label);
      assert.match(cairnLog, new RegExp(`rule: ${refItem[1]}: DISALLOW \\*`), label);
    }
    // Threshold and missing-link failures name the same step.
    const refStep = /Step '([^']+)'/.exec(refLog)?.[1];
    if (refStep) assert.match(cairnLog, new RegExp(`step: ${refStep}\\n`), label);
  }
  // The artifacts named by the rule failure are the swapped ones.
  assert.match(readFileSync(join(cairnDir, 'verify-tamper-between-steps.log'), 'utf8'), /artifacts: \["dist\/app.tar.gz"\]/);
});

const DESCRIPTION = `expires_in_days: 30
readme: build, scan, sign (cairn-made, verified by the reference)
keys: {alice: keys/alice.pub, bob: keys/bob.pub, carol: keys/carol.pub}
steps:
  - name: build
    functionaries: [alice]
    expected_command: tar --sort=name --mtime=@0 --owner=0 --group=0 -cf image.tar src
    expected_materials: ["ALLOW src/*", "DISALLOW *"]
    expected_products: ["CREATE image.tar", "DISALLOW *"]
  - name: scan
    functionaries: [bob]
    expected_command: sh -c "tar -tf image.tar > scan-report.json"
    expected_materials: ["MATCH image.tar WITH PRODUCTS FROM build", "DISALLOW *"]
    expected_products: ["CREATE scan-report.json", "DISALLOW *"]
  - name: sign
    functionaries: [carol]
    expected_command: sh -c "sha256sum image.tar > image.tar.sha256"
    expected_materials: ["MATCH image.tar WITH PRODUCTS FROM build", "MATCH scan-report.json WITH PRODUCTS FROM scan", "DISALLOW *"]
    expected_products: ["CREATE image.tar.sha256", "DISALLOW *"]
inspect:
  - name: untar
    run: sh -c "mkdir -p unpacked && tar -xf image.tar -C unpacked"
    expected_materials: ["MATCH image.tar WITH PRODUCTS FROM build", "ALLOW *"]
    expected_products: ["MATCH src/* IN unpacked WITH MATERIALS FROM build", "ALLOW *"]
`;

/** Keys, a signed layout and the three links of the build/scan/sign chain, all made by cairn. */
async function makeChain(): Promise<{ dir: string; work: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-made-'));
  mkdirSync(join(dir, 'keys'));
  for (const [name, type] of [['owner', 'ed25519'], ['alice', 'ecdsa'], ['bob', 'rsa'], ['carol', 'ed25519']] as const) {
    const r = await cairnIn(dir, ['intoto', 'keygen', '-t', type, '-b', '2048', `keys/${name}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  writeFileSync(join(dir, 'layout.yaml'), DESCRIPTION);
  assert.equal((await cairnIn(dir, ['intoto', 'layout', 'layout.yaml', '--out', 'root.layout'])).code, 0);
  const s = await cairnIn(dir, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner']);
  assert.equal(s.code, 0, s.stderr);
  const work = join(dir, 'work');
  mkdirSync(join(work, 'src'), { recursive: true });
  writeFileSync(join(work, 'src/Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(work, 'src/requirements.txt'), 'flask==3.0\n');
  const steps: string[][] = [
    ['--step', 'build', '--key', '../keys/alice', '-m', 'src', '-p', 'image.tar', '--', 'tar', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', 'image.tar', 'src'],
    ['--step', 'scan', '--key', '../keys/bob', '-m', 'image.tar', '-p', 'scan-report.json', '--', 'sh', '-c', 'tar -tf image.tar > scan-report.json'],
    ['--step', 'sign', '--key', '../keys/carol', '-m', 'image.tar', 'scan-report.json', '-p', 'image.tar.sha256', '--', 'sh', '-c', 'sha256sum image.tar > image.tar.sha256'],
  ];
  for (const st of steps) {
    const r = await cairnIn(work, ['intoto', 'run', ...st]);
    assert.equal(r.code, 0, r.stderr);
  }
  return { dir, work };
}

/** A fresh final-product directory: the artifacts and links, the layout and the owner key. */
function finalDir(dir: string, work: string, name: string): string {
  const out = join(dir, name);
  cpSync(work, out, { recursive: true, filter: (p) => !p.includes('/src') });
  cpSync(join(dir, 'root.layout'), join(out, 'root.layout'));
  cpSync(join(dir, 'keys/owner.pub'), join(out, 'owner.pub'));
  return out;
}

test('a layout, keys and links made by cairn verify with in-toto-verify; a swapped artifact fails in both', { skip: SKIP, timeout: 120_000 }, async () => {
  const { dir, work } = await makeChain();
  const final = finalDir(dir, work, 'final');
  const ok = sh('in-toto-verify', ['-l', 'root.layout', '-k', 'owner.pub', '-t', 'ed25519', '-v'], { cwd: final });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const fresh = finalDir(dir, work, 'final2');
  const mine = await cairnIn(fresh, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'owner.pub']);
  assert.equal(mine.code, 0, mine.stderr);

  // Swap the delivered image: the reference and cairn both fail, both on the inspection's rules.
  writeFileSync(join(fresh, 'image.tar'), 'not the built image');
  const refBad = sh('in-toto-verify', ['-l', 'root.layout', '-k', 'owner.pub', '-t', 'ed25519'], { cwd: fresh });
  assert.equal(refBad.status, 1);
  const bad = await cairnIn(fresh, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'owner.pub']);
  assert.equal(bad.code, 1);
  assert.ok(['INSPECTION_FAILED', 'RULE_VIOLATION'].includes(failureCode(bad)!), bad.stderr);
  assert.match(refBad.stderr + refBad.stdout, /BadReturnValueError|RuleVerificationError/);
});

test('artifact recording matches in-toto-run: directory walk, default excludes, symlinks, odd names, --exclude, --lstrip-paths', { skip: SKIP, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-record-'));
  const w = join(dir, 'w');
  for (const d of ['src/deep/er', '.git/objects', 'vendor/lib', 'other']) mkdirSync(join(w, d), { recursive: true });
  const files: Record<string, string> = {
    'src/main.c': 'int main(){}', 'src/deep/er/x.h': '#pragma once', 'src/café ünï.txt': 'unicode', 'src/with space.txt': 's',
    'src/mod.pyc': 'bytecode', 'src/backup~': 'old', 'src/step.abcdef12.link': '{}', 'src/x.link-unfinished': '{}',
    '.git/HEAD': 'ref: main', '.git/objects/ab': 'obj', 'vendor/lib/v.js': 'v', 'other/o.txt': 'o', 'top.txt': 't',
  };
  for (const [p, c] of Object.entries(files)) writeFileSync(join(w, p), c);
  symlinkSync('main.c', join(w, 'src/alias.c'));
  symlinkSync('../vendor', join(w, 'src/vendored'));
  symlinkSync('nowhere', join(w, 'src/dangling'));
  mkdirSync(join(dir, 'keys'));
  assert.equal((await cairnIn(dir, ['intoto', 'keygen', '-t', 'ed25519', 'keys/k'])).code, 0);
  const cases: string[][] = [['-m', '.'], ['-m', 'src', 'top.txt', './other/'], ['-m', '.', '--exclude', 'vendor', '*.txt'], ['-m', 'src', '--lstrip-paths', 'src/'], ['-m', '.']];
  // The last case takes its exclude patterns from in-toto's environment setting.
  const envOf = (i: number): Record<string, string | undefined> => (i === cases.length - 1 ? { IN_TOTO_ARTIFACT_EXCLUDE_PATTERNS: 'vendor:*.c:.git' } : {});
  for (const [i, c] of cases.entries()) {
    const name = `rec${i}`;
    // cairn first (its link goes elsewhere), so neither run sees the other's link file.
    const out = join(dir, `out${i}`);
    mkdirSync(out);
    const mine = await cairnIn(w, ['intoto', 'run', '--step', name, '--key', '../keys/k', '-d', out, '-x', ...c], { ...process.env, ...envOf(i) });
    assert.equal(mine.code, 0, mine.stderr);
    const ref = sh('in-toto-run', ['-n', name, '-k', '../keys/k', '-t', 'ed25519', '-x', ...c], { cwd: w, env: envOf(i) });
    assert.equal(ref.status, 0, ref.stderr);
    const refLink = readdirSync(w).find((f) => f.startsWith(`${name}.`))!;
    const refMaterials = JSON.parse(readFileSync(join(w, refLink), 'utf8')).signed.materials;
    const myLink = JSON.parse(readFileSync(join(out, refLink), 'utf8'));
    assert.deepEqual(myLink.signed.materials, refMaterials, c.join(' '));
    // Same key, same content: the classic signature bytes are identical too (ed25519 is deterministic).
    assert.deepEqual(myLink.signatures, JSON.parse(readFileSync(join(w, refLink), 'utf8')).signatures, c.join(' '));
  }
});

test('two-phase recording: in-toto-record start + cairn record stop, and cairn start + in-toto-record stop', { skip: SKIP, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-record2-'));
  mkdirSync(join(dir, 'keys'));
  assert.equal((await cairnIn(dir, ['intoto', 'keygen', '-t', 'ecdsa', 'keys/k'])).code, 0);
  const w = join(dir, 'w');
  mkdirSync(w);
  writeFileSync(join(w, 'in.txt'), 'input');
  const check = (step: string): Record<string, unknown> => {
    const f = readdirSync(w).find((n) => n.startsWith(`${step}.`) && n.endsWith('.link'))!;
    assert.ok(f, `${step} link written`);
    assert.equal(readdirSync(w).some((n) => n.endsWith('.link-unfinished')), false, 'preliminary link removed');
    return JSON.parse(readFileSync(join(w, f), 'utf8')).signed;
  };
  // reference start, cairn stop
  assert.equal(sh('in-toto-record', ['start', '-n', 'one', '-k', '../keys/k', '-t', 'ecdsa', '-m', 'in.txt'], { cwd: w }).status, 0);
  writeFileSync(join(w, 'out1.txt'), 'one');
  const stop = await cairnIn(w, ['intoto', 'record', 'stop', '--step', 'one', '--key', '../keys/k', '-p', 'out1.txt']);
  assert.equal(stop.code, 0, stop.stderr);
  const one = check('one');
  assert.deepEqual(Object.keys(one.materials as object), ['in.txt']);
  assert.deepEqual(Object.keys(one.products as object), ['out1.txt']);
  // cairn start, reference stop
  assert.equal((await cairnIn(w, ['intoto', 'record', 'start', '--step', 'two', '--key', '../keys/k', '-m', 'in.txt'])).code, 0);
  writeFileSync(join(w, 'out2.txt'), 'two');
  const refStop = sh('in-toto-record', ['stop', '-n', 'two', '-k', '../keys/k', '-t', 'ecdsa', '-p', 'out2.txt'], { cwd: w });
  assert.equal(refStop.status, 0, refStop.stderr);
  const two = check('two');
  assert.deepEqual(Object.keys(two.products as object), ['out2.txt']);
  // Stopping with another key than the one that started: refused, nothing written.
  assert.equal((await cairnIn(dir, ['intoto', 'keygen', '-t', 'ed25519', 'keys/other'])).code, 0);
  assert.equal((await cairnIn(w, ['intoto', 'record', 'start', '--step', 'three', '--key', '../keys/k', '-m', 'in.txt'])).code, 0);
  const unfinished = readdirSync(w).find((n) => n.startsWith('.three.'))!;
  cpSync(join(w, unfinished), join(w, unfinished.replace(/\.three\.[0-9a-f]{8}\./, `.three.${JSON.parse(readFileSync(join(dir, 'keys/other'), 'utf8')).keyid.slice(0, 8)}.`)));
  const wrong = await cairnIn(w, ['intoto', 'record', 'stop', '--step', 'three', '--key', '../keys/other', '-p', 'in.txt']);
  assert.equal(failureCode(wrong), 'LINK_SIGNATURE_INVALID');
  assert.equal(readdirSync(w).some((n) => n.startsWith('three.')), false);
});

test('mutations of a cairn-made chain: cairn and in-toto-verify agree on pass/fail and on the failure class', { skip: SKIP, timeout: 120_000 }, async () => {
  const { dir, work } = await makeChain();
  const link = (d: string, step: string): string => join(d, readdirSync(d).find((n) => n.startsWith(`${step}.`) && n.endsWith('.link'))!);
  const editJson = (f: string, edit: (o: any) => void): void => {
    const o = JSON.parse(readFileSync(f, 'utf8'));
    edit(o);
    writeFileSync(f, JSON.stringify(o));
  };
  const mutations: Record<string, (d: string) => void> = {
    'untouched': () => undefined,
    'extra file (allowed by the inspection)': (d) => writeFileSync(join(d, 'notes.txt'), 'hi'),
    'image bytes appended': (d) => writeFileSync(join(d, 'image.tar'), Buffer.concat([readFileSync(join(d, 'image.tar')), Buffer.from('x')])),
    'image replaced by the scan report': (d) => cpSync(join(d, 'scan-report.json'), join(d, 'image.tar')),
    'link command edited': (d) => editJson(link(d, 'scan'), (o) => o.signed.command.push('-v')),
    'link signatures removed': (d) => editJson(link(d, 'sign'), (o) => (o.signatures = [])),
    'link byproducts edited': (d) => editJson(link(d, 'build'), (o) => (o.signed.byproducts.stdout = 'changed')),
    'link deleted': (d) => rmSync(link(d, 'build')),
    'layout readme edited': (d) => editJson(join(d, 'root.layout'), (o) => (o.signed.readme = 'x')),
    'layout checked against another key': (d) => cpSync(join(dir, 'keys/carol.pub'), join(d, 'owner.pub')),
  };
  const refClassOf = (out: string): string | undefined => /\(in-toto-verify\) (\w+):/.exec(out)?.[1];
  const results: string[] = [];
  for (const [i, [label, mutate]] of Object.entries(mutations).entries()) {
    const d = finalDir(dir, work, `m${i}`);
    mutate(d);
    const probe = finalDir(dir, work, `p${i}`);
    mutate(probe);
    // Each verifier gets its own copy: the reference leaves inspection output behind.
    const ref = sh('in-toto-verify', ['-l', 'root.layout', '-k', 'owner.pub', '-t', 'ed25519'], { cwd: d });
    const mine = await cairnIn(probe, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'owner.pub']);
    assert.equal(mine.code, ref.status, `${label}: cairn ${mine.code} (${mine.stderr.split('\n')[0]}), reference ${ref.status} (${ref.stderr.split('\n')[0]})`);
    if (ref.status !== 0) {
      const cls = refClassOf(ref.stderr + ref.stdout);
      assert.ok(cls && SAME_FAILURE[cls]?.includes(failureCode(mine)!), `${label}: ${cls} vs ${failureCode(mine)}`);
      results.push(`${label}: ${cls} / ${failureCode(mine)}`);
    } else results.push(`${label}: pass / pass`);
  }
  assert.ok(results.filter((r) => r.endsWith('pass / pass')).length >= 2, results.join('\n'));
});

/** Builds, with the reference's Python API and in-toto-run, a root layout whose one step is a sublayout. */
const SUBLAYOUT_SCRIPT = String.raw`set -e
W=$1; mkdir -p $W/keys $W/final; cd $W
in-toto-keygen -t ed25519 keys/owner >/dev/null; in-toto-keygen -t ed25519 keys/team >/dev/null; in-toto-keygen -t ed25519 keys/dev >/dev/null
/usr/bin/python3 - "$W" <<'PY'
import sys, securesystemslib.interface as I
from in_toto.models.layout import Layout, Step
from in_toto.models.metadata import Metablock
W=sys.argv[1]
team=I.import_ed25519_publickey_from_file(W+'/keys/team.pub'); dev=I.import_ed25519_publickey_from_file(W+'/keys/dev.pub')
sub=Layout(keys={dev['keyid']: dev}, steps=[
  Step(name='one', pubkeys=[dev['keyid']], expected_command=['cp','a.txt','b.txt'], expected_materials=[['ALLOW','a.txt'],['DISALLOW','*']], expected_products=[['CREATE','b.txt'],['ALLOW','a.txt'],['DISALLOW','*']]),
  Step(name='two', pubkeys=[dev['keyid']], expected_command=['cp','b.txt','c.txt'], expected_materials=[['MATCH','*','WITH','PRODUCTS','FROM','one'],['DISALLOW','*']], expected_products=[['CREATE','c.txt'],['MATCH','*','WITH','PRODUCTS','FROM','one'],['DISALLOW','*']])])
m=Metablock(signed=sub); m.sign(I.import_ed25519_privatekey_from_file(W+'/keys/team'))
m.dump(W+'/final/package.%s.link' % team['keyid'][:8])
root=Layout(keys={team['keyid']: team}, steps=[Step(name='package', pubkeys=[team['keyid']], expected_command=['cp','b.txt','c.txt'], expected_materials=[['ALLOW','a.txt'],['DISALLOW','*']], expected_products=[['CREATE','b.txt'],['CREATE','c.txt'],['ALLOW','a.txt'],['DISALLOW','*']])])
r=Metablock(signed=root); r.sign(I.import_ed25519_privatekey_from_file(W+'/keys/owner')); r.dump(W+'/final/root.layout')
open(W+'/team8','w').write(team['keyid'][:8])
PY
T=$(cat team8); mkdir -p work final/package.$T; cd work; echo a > a.txt
in-toto-run -n one -k ../keys/dev -t ed25519 -m a.txt -p a.txt b.txt -d ../final/package.$T -- cp a.txt b.txt >/dev/null
in-toto-run -n two -k ../keys/dev -t ed25519 -m a.txt b.txt -p a.txt b.txt c.txt -d ../final/package.$T -- cp b.txt c.txt >/dev/null
cp ../keys/owner.pub ../final/
`;

test('sublayouts made by the reference: cairn and in-toto-verify agree (good chain, edited and missing sublayout links)', { skip: SKIP, timeout: 60_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-intoto-sublayout-'));
  writeFileSync(join(base, 'mk.sh'), SUBLAYOUT_SCRIPT);
  const made = sh('bash', [join(base, 'mk.sh'), join(base, 'w')]);
  assert.equal(made.status, 0, made.stderr + made.stdout);
  const final = join(base, 'w/final');
  const team8 = readFileSync(join(base, 'w/team8'), 'utf8').trim();
  const subDir = `package.${team8}`;
  const mutations: Record<string, (d: string) => void> = {
    'good chain': () => undefined,
    'sublayout link edited': (d) => {
      const f = join(d, subDir, readdirSync(join(d, subDir)).find((n) => n.startsWith('two.'))!);
      const o = JSON.parse(readFileSync(f, 'utf8'));
      o.signed.products['c.txt'].sha256 = '0'.repeat(64);
      writeFileSync(f, JSON.stringify(o));
    },
    'sublayout link missing': (d) => rmSync(join(d, subDir, readdirSync(join(d, subDir)).find((n) => n.startsWith('one.'))!)),
    'sublayout edited': (d) => {
      const f = join(d, `${subDir}.link`);
      const o = JSON.parse(readFileSync(f, 'utf8'));
      o.signed.readme = 'changed';
      writeFileSync(f, JSON.stringify(o));
    },
  };
  for (const [i, [label, mutate]] of Object.entries(mutations).entries()) {
    const a = join(base, `a${i}`);
    const b = join(base, `b${i}`);
    cpSync(final, a, { recursive: true });
    cpSync(final, b, { recursive: true });
    mutate(a);
    mutate(b);
    const ref = sh('in-toto-verify', ['-l', 'root.layout', '-k', 'owner.pub', '-t', 'ed25519'], { cwd: a });
    const mine = await cairnIn(b, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'owner.pub']);
    assert.equal(mine.code, ref.status, `${label}: cairn ${mine.stderr.split('\n')[0]} / reference ${ref.stderr.split('\n')[0]}`);
    if (ref.status !== 0) {
      const cls = /\(in-toto-verify\) (\w+):/.exec(ref.stderr + ref.stdout)?.[1];
      assert.ok(cls && SAME_FAILURE[cls]?.includes(failureCode(mine)!), `${label}: ${cls} vs ${failureCode(mine)}`);
    }
  }
});

test('threshold 2 with two functionaries: both verifiers pass identical links and fail differing ones', { skip: SKIP, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-threshold-'));
  mkdirSync(join(dir, 'keys'));
  for (const [n, t] of [['owner', 'ed25519'], ['a', 'ecdsa'], ['b', 'ed25519']] as const) assert.equal((await cairnIn(dir, ['intoto', 'keygen', '-t', t, `keys/${n}`])).code, 0);
  writeFileSync(
    join(dir, 'layout.yaml'),
    'keys: {a: keys/a.pub, b: keys/b.pub}\nsteps:\n  - {name: build, functionaries: [a, b], threshold: 2, expected_command: "cp in.txt out.txt", expected_materials: ["ALLOW in.txt", "DISALLOW *"], expected_products: ["CREATE out.txt", "ALLOW in.txt", "DISALLOW *"]}\n',
  );
  assert.equal((await cairnIn(dir, ['intoto', 'layout', 'layout.yaml', '--out', 'root.layout'])).code, 0);
  assert.equal((await cairnIn(dir, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner'])).code, 0);
  const w = join(dir, 'w');
  mkdirSync(w);
  cpSync(join(dir, 'root.layout'), join(w, 'root.layout'));
  cpSync(join(dir, 'keys/owner.pub'), join(w, 'owner.pub'));
  writeFileSync(join(w, 'in.txt'), 'in');
  const record = async (k: string): Promise<void> => {
    const r = await cairnIn(w, ['intoto', 'run', '--step', 'build', '--key', `../keys/${k}`, '-m', 'in.txt', '-p', 'in.txt', 'out.txt', '--', 'cp', 'in.txt', 'out.txt']);
    assert.equal(r.code, 0, r.stderr);
  };
  const both = async (): Promise<[number | null, number, string | undefined, string | undefined]> => {
    const a = join(dir, `v${Math.random().toString(16).slice(2)}`);
    const b = `${a}-c`;
    cpSync(w, a, { recursive: true });
    cpSync(w, b, { recursive: true });
    const ref = sh('in-toto-verify', ['-l', 'root.layout', '-k', 'owner.pub', '-t', 'ed25519'], { cwd: a });
    const mine = await cairnIn(b, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'owner.pub']);
    return [ref.status, mine.code, /\(in-toto-verify\) (\w+):/.exec(ref.stderr + ref.stdout)?.[1], failureCode(mine)];
  };
  await record('a');
  const one = await both();
  assert.deepEqual([one[0], one[1], one[2], one[3]], [1, 1, 'LinkNotFoundError', 'LINK_NOT_FOUND']);
  await record('b');
  const two = await both();
  assert.deepEqual([two[0], two[1]], [0, 0]);
  writeFileSync(join(w, 'in.txt'), 'different input for b');
  await record('b');
  const differ = await both();
  assert.deepEqual([differ[0], differ[1], differ[2], differ[3]], [1, 1, 'ThresholdVerificationError', 'ARTIFACTS_DIFFER']);
});
