/**
 * Bad input to `cairn intoto`: each case exits non-zero with its stable code and changes nothing.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { cairnIn, failureCode, type CliResult } from './intoto-cli.ts';

let base: string;

const LAYOUT = `expires_in_days: 2
keys: {alice: keys/alice.pub}
steps:
  - name: build
    functionaries: [alice]
    expected_command: cp in.txt out.txt
    expected_materials: ["ALLOW in.txt", "DISALLOW *"]
    expected_products: ["CREATE out.txt", "ALLOW in.txt", "DISALLOW *"]
`;

async function ok(p: Promise<CliResult>): Promise<CliResult> {
  const r = await p;
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** A fresh copy of a valid signed layout + link + product directory. */
function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), 'cairn-intoto-bad-'));
  cpSync(base, d, { recursive: true });
  return d;
}

function verify(dir: string, extra: string[] = []): Promise<CliResult> {
  return cairnIn(dir, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'keys/owner.pub', ...extra]);
}

function linkName(dir: string): string {
  return readdirSync(dir).find((n) => n.startsWith('build.') && n.endsWith('.link'))!;
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'cairn-intoto-bad-base-'));
  mkdirSync(join(base, 'keys'));
  for (const [n, t] of [['owner', 'ed25519'], ['alice', 'ecdsa'], ['mallory', 'ed25519']] as const) await ok(cairnIn(base, ['intoto', 'keygen', '-t', t, `keys/${n}`]));
  writeFileSync(join(base, 'layout.yaml'), LAYOUT);
  await ok(cairnIn(base, ['intoto', 'layout', 'layout.yaml', '--out', 'root.layout']));
  await ok(cairnIn(base, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner']));
  writeFileSync(join(base, 'in.txt'), 'input');
  await ok(cairnIn(base, ['intoto', 'run', '--step', 'build', '--key', 'keys/alice', '-m', 'in.txt', '-p', 'in.txt', 'out.txt', '--', 'cp', 'in.txt', 'out.txt']));
  await ok(verify(base));
});

test('malformed layouts: MALFORMED_LAYOUT, and the file is left as it was', async () => {
  const d = fresh();
  const layout = JSON.parse(readFileSync(join(d, 'root.layout'), 'utf8'));
  const cases: unknown[] = [
    'not json at all',
    { signed: { ...layout.signed, _type: 'link' }, signatures: layout.signatures },
    { signed: { ...layout.signed, expires: 'tomorrow' }, signatures: layout.signatures },
    { signed: { ...layout.signed, steps: [{ ...layout.signed.steps[0], expected_products: [['CREATE']] }] }, signatures: layout.signatures },
    { signed: { ...layout.signed, steps: [{ ...layout.signed.steps[0], threshold: -1 }] }, signatures: layout.signatures },
    { payload: 'AAAA', payloadType: 'application/json', signatures: [] },
  ];
  for (const c of cases) {
    const text = typeof c === 'string' ? c : JSON.stringify(c);
    writeFileSync(join(d, 'root.layout'), text);
    const r = await verify(d);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(failureCode(r), 'MALFORMED_LAYOUT', text.slice(0, 100));
    // Signing a malformed layout fails the same way and does not touch the file.
    const s = await cairnIn(d, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner']);
    assert.equal(s.code, 1);
    assert.equal(failureCode(s), 'MALFORMED_LAYOUT');
    assert.equal(readFileSync(join(d, 'root.layout'), 'utf8'), text);
  }
});

test('malformed links: MALFORMED_LINK', async () => {
  const d = fresh();
  const name = linkName(d);
  const link = JSON.parse(readFileSync(join(d, name), 'utf8'));
  for (const c of ['{', JSON.stringify({ ...link, signed: { ...link.signed, materials: [] } }), JSON.stringify({ signatures: link.signatures })]) {
    writeFileSync(join(d, name), c);
    const r = await verify(d);
    assert.equal(failureCode(r), 'MALFORMED_LINK', c.slice(0, 80));
  }
});

test('unknown key types: in the layout, as a layout key, as a signing key', async () => {
  const d = fresh();
  const layout = JSON.parse(readFileSync(join(d, 'root.layout'), 'utf8'));
  const [id, key] = Object.entries(layout.signed.keys)[0] as [string, Record<string, unknown>];
  layout.signed.keys[id] = { ...key, keytype: 'dsa', scheme: 'dsa-sha256' };
  writeFileSync(join(d, 'root.layout'), JSON.stringify(layout));
  assert.equal(failureCode(await verify(d)), 'UNKNOWN_KEY_TYPE');
  // A layout key in JSON with an unsupported scheme.
  writeFileSync(join(d, 'keys/odd.pub'), JSON.stringify({ keytype: 'ed448', scheme: 'ed448', keyval: { public: 'ab' } }));
  const r = await cairnIn(d, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'keys/odd.pub']);
  assert.equal(failureCode(r), 'UNKNOWN_KEY_TYPE');
  // A PEM key of an unsupported type (X25519 cannot sign).
  writeFileSync(join(d, 'keys/x25519.pem'), generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  writeFileSync(join(d, 'in.txt'), 'input');
  const s = await cairnIn(d, ['intoto', 'run', '--step', 'build', '--key', 'keys/x25519.pem', '-m', 'in.txt', '--', 'true']);
  assert.equal(s.code, 1);
  assert.equal(failureCode(s), 'UNKNOWN_KEY_TYPE');
});

test('expired layout (validly signed): LAYOUT_EXPIRED', async () => {
  const d = fresh();
  const layout = JSON.parse(readFileSync(join(d, 'root.layout'), 'utf8'));
  layout.signed.expires = '2001-01-01T00:00:00Z';
  layout.signatures = [];
  writeFileSync(join(d, 'root.layout'), JSON.stringify(layout));
  await ok(cairnIn(d, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner']));
  assert.equal(failureCode(await verify(d)), 'LAYOUT_EXPIRED');
});

test('a layout edited after signing, or signed by another key: LAYOUT_SIGNATURE_INVALID', async () => {
  const d = fresh();
  const layout = JSON.parse(readFileSync(join(d, 'root.layout'), 'utf8'));
  layout.signed.readme = 'changed';
  writeFileSync(join(d, 'root.layout'), JSON.stringify(layout));
  assert.equal(failureCode(await verify(d)), 'LAYOUT_SIGNATURE_INVALID');
  const e = fresh();
  assert.equal(failureCode(await cairnIn(e, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'keys/mallory.pub'])), 'LAYOUT_SIGNATURE_INVALID');
});

test('links signed by keys the layout does not authorise: UNAUTHORIZED_FUNCTIONARY', async () => {
  // Mallory records the step herself: her link carries her keyid in its file name.
  const d = fresh();
  const name = linkName(d);
  writeFileSync(join(d, 'in.txt'), 'input');
  await ok(cairnIn(d, ['intoto', 'run', '--step', 'build', '--key', 'keys/mallory', '-m', 'in.txt', '-p', 'in.txt', 'out.txt', '--', 'cp', 'in.txt', 'out.txt']));
  rmSync(join(d, name));
  const r = await verify(d);
  assert.equal(r.code, 1);
  assert.equal(failureCode(r), 'UNAUTHORIZED_FUNCTIONARY');
  assert.match(r.stderr, /step: build/);
  // Mallory re-signs Alice's genuine link and stores it under Alice's file name.
  const e = fresh();
  await ok(cairnIn(e, ['intoto', 'sign', '--file', linkName(e), '--key', 'keys/mallory', '--out', linkName(e)]));
  assert.equal(failureCode(await verify(e)), 'UNAUTHORIZED_FUNCTIONARY');
});

test('a link edited after signing: LINK_SIGNATURE_INVALID; a missing link: LINK_NOT_FOUND', async () => {
  const d = fresh();
  const name = linkName(d);
  const link = JSON.parse(readFileSync(join(d, name), 'utf8'));
  link.signed.products['out.txt'].sha256 = '0'.repeat(64);
  writeFileSync(join(d, name), JSON.stringify(link));
  assert.equal(failureCode(await verify(d)), 'LINK_SIGNATURE_INVALID');
  rmSync(join(d, name));
  assert.equal(failureCode(await verify(d)), 'LINK_NOT_FOUND');
});

test('oversized metadata is refused before it is read: FILE_TOO_LARGE', async () => {
  const d = fresh();
  truncateSync(join(d, linkName(d)), 65 * 1024 * 1024); // sparse: no 65 MiB written
  assert.equal(failureCode(await verify(d)), 'FILE_TOO_LARGE');
});

test('run: a command that cannot start writes no link; --keyless needs a token; usage errors exit 2', async () => {
  const d = fresh();
  const before = readdirSync(d).sort();
  const r = await cairnIn(d, ['intoto', 'run', '--step', 'build', '--key', 'keys/alice', '-m', 'in.txt', '--', 'no-such-command-xyz']);
  assert.equal(r.code, 1);
  assert.equal(failureCode(r), 'COMMAND_NOT_FOUND');
  assert.deepEqual(readdirSync(d).sort(), before);
  const k = await cairnIn(d, ['intoto', 'run', '--step', 'x', '--keyless', '--url', 'http://127.0.0.1:1', '--', 'true'], { PATH: process.env.PATH });
  assert.equal(failureCode(k), 'NO_IDENTITY_TOKEN');
  const pubAsKey = await cairnIn(d, ['intoto', 'run', '--step', 'x', '--key', 'keys/alice.pub', '--', 'true']);
  assert.equal(failureCode(pubAsKey), 'NO_SIGNING_KEY');
  assert.deepEqual(readdirSync(d).sort(), before);
  for (const args of [
    ['intoto'],
    ['intoto', 'frobnicate'],
    ['intoto', 'verify', '--layout', 'root.layout'],
    ['intoto', 'run', '--step', 'x', '--key', 'keys/alice'],
    ['intoto', 'run', '--step', 'x', '--key', 'keys/alice', '--keyless', '--', 'true'],
    ['intoto', 'run', '--key', 'keys/alice', '--', 'true'],
    ['intoto', 'run', '--step', 'x', '--key', 'keys/alice', '--bogus', '--', 'true'],
    ['intoto', 'keygen', '-t', 'dsa', 'k'],
    ['intoto', 'sign', '--layout', 'root.layout'],
  ]) {
    const u = await cairnIn(d, args);
    assert.equal(u.code, 2, `${args.join(' ')}: ${u.stderr}`);
  }
  assert.equal(existsSync(join(d, 'k')), false);
});

test('bad layout descriptions: MALFORMED_DESCRIPTION', async () => {
  const d = fresh();
  for (const text of [
    'steps: [{name: build, functionaries: [nobody]}]',
    'keys: {alice: keys/alice.pub}\nsteps: [{name: build, functionaries: [alice], expected_materials: ["MATCH x FROM y"]}]',
    'steps: [{name: build}, {name: build}]',
    'expires: soon',
    '- a list',
    'steps: [{name: a, expected_command: "unterminated \'quote"}]',
  ]) {
    writeFileSync(join(d, 'bad.yaml'), text);
    const r = await cairnIn(d, ['intoto', 'layout', 'bad.yaml', '--out', 'bad.layout']);
    assert.equal(r.code, 1, text);
    assert.equal(failureCode(r), 'MALFORMED_DESCRIPTION', `${text}: ${r.stderr}`);
    assert.equal(existsSync(join(d, 'bad.layout')), false);
  }
});

test('run: a command past its time limit fails with COMMAND_TIMEOUT and writes no link; a directory named like a link is skipped', async () => {
  const d = fresh();
  const before = readdirSync(d).sort();
  const r = await cairnIn(d, ['intoto', 'run', '--step', 'slow', '--key', 'keys/alice', '--timeout', '1', '--', 'sleep', '5']);
  assert.equal(failureCode(r), 'COMMAND_TIMEOUT');
  assert.deepEqual(readdirSync(d).sort(), before);
  // IN_TOTO_LINK_CMD_EXEC_TIMEOUT is honoured like the reference's setting.
  const e = await cairnIn(d, ['intoto', 'run', '--step', 'slow', '--key', 'keys/alice', '--', 'sleep', '5'], { ...process.env, IN_TOTO_LINK_CMD_EXEC_TIMEOUT: '1' });
  assert.equal(failureCode(e), 'COMMAND_TIMEOUT');
  // A directory where a link file is expected is not a link (the reference skips what it cannot open).
  const name = linkName(d);
  rmSync(join(d, name));
  mkdirSync(join(d, name));
  assert.equal(failureCode(await verify(d)), 'LINK_NOT_FOUND');
});

test('several layout keys: sign with two owners (and --append), every --layout-key given must have signed', async () => {
  const d = fresh();
  await ok(cairnIn(d, ['intoto', 'keygen', '-t', 'ecdsa', 'keys/owner2']));
  await ok(cairnIn(d, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner', 'keys/owner2']));
  assert.equal(JSON.parse(readFileSync(join(d, 'root.layout'), 'utf8')).signatures.length, 2);
  await ok(cairnIn(d, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'keys/owner.pub', 'keys/owner2.pub']));
  // Re-signing without --append replaces the signatures: owner2's is gone.
  await ok(cairnIn(d, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner']));
  const r = await cairnIn(d, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'keys/owner.pub', 'keys/owner2.pub']);
  assert.equal(failureCode(r), 'LAYOUT_SIGNATURE_INVALID');
  await ok(cairnIn(d, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner2', '--append']));
  await ok(cairnIn(d, ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'keys/owner.pub', 'keys/owner2.pub']));
});
