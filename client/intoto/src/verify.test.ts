import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FixedClock } from '@cairn/shared';
import { IntotoError } from './errors.ts';
import { loadPublicKey, publicKeyFromKeyObject, signingKeyFrom, type IntotoSigningKey } from './keys.ts';
import { linkFileName, loadMetadata, parseMetadata, signMetadata } from './metadata.ts';
import { parseLayout, type Layout } from './models.ts';
import { runStep } from './run.ts';
import { verifyLayout, type LayoutMetadata } from './verify.ts';

const REF = new URL('../../../test/fixtures/intoto/reference/final/', import.meta.url).pathname;
const KEYS = new URL('../../../test/fixtures/intoto/reference/keys/', import.meta.url).pathname;
const BEFORE_EXPIRY = new FixedClock(Date.parse('2026-11-25T14:00:00Z'));
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof IntotoError ? e.code : `OTHER ${String(e)}`;
  }
  return undefined;
}

test('the reference chain verifies offline; inspections run in a copy, so a second run agrees and nothing is left behind', { skip: !hasOpenssl && 'openssl is not installed' }, () => {
  const layout = loadMetadata(join(REF, 'root.layout'), 'layout') as LayoutMetadata;
  const keys = [loadPublicKey(join(KEYS, 'owner.pub'))];
  const before = readdirSync(REF).sort();
  for (let i = 0; i < 2; i++) {
    const r = verifyLayout({ layout, layoutKeys: keys, linkDir: REF, artifactDir: REF, clock: BEFORE_EXPIRY });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(Object.keys(r.summary.materials).sort(), ['src/README.md', 'src/app.sh']);
    assert.deepEqual(Object.keys(r.summary.products), ['dist/app.tar.gz.sig']);
  }
  assert.deepEqual(readdirSync(REF).sort(), before);
  // Past its expiry the same layout fails with LAYOUT_EXPIRED (after the signature check).
  assert.equal(code(() => verifyLayout({ layout, layoutKeys: keys, linkDir: REF, artifactDir: REF, clock: new FixedClock(Date.parse('2027-01-01T00:00:00Z')) })), 'LAYOUT_EXPIRED');
  // Every given key must have signed the layout.
  assert.equal(code(() => verifyLayout({ layout, layoutKeys: [...keys, loadPublicKey(join(KEYS, 'carol.pub'))], linkDir: REF, artifactDir: REF, clock: BEFORE_EXPIRY })), 'LAYOUT_SIGNATURE_INVALID');
  assert.equal(code(() => verifyLayout({ layout, layoutKeys: [], linkDir: REF, artifactDir: REF, clock: BEFORE_EXPIRY })), 'LAYOUT_SIGNATURE_INVALID');
});

function key(): IntotoSigningKey {
  const priv = generateKeyPairSync('ed25519').privateKey;
  return signingKeyFrom(priv, publicKeyFromKeyObject(createPublicKey(priv)));
}

function keyEntry(k: IntotoSigningKey): Record<string, unknown> {
  return { keyid: k.publicKey.keyid, ...k.publicKey.metadata };
}

async function signedLayout(owner: IntotoSigningKey, signed: Record<string, unknown>): Promise<LayoutMetadata> {
  const { layout } = parseLayout({ _type: 'layout', expires: '2030-01-01T00:00:00Z', readme: '', inspect: [], ...signed });
  const text = (await signMetadata(layout, owner)).text;
  return parseMetadata(Buffer.from(text), 'layout') as LayoutMetadata;
}

async function record(dir: string, k: IntotoSigningKey, name: string, m: string[], p: string[], cmd: string[]): Promise<void> {
  const link = runStep({ name, materials: m, products: p, command: cmd, basePath: dir });
  writeFileSync(join(dir, linkFileName(name, k.publicKey.keyid)), (await signMetadata(link, k)).text);
}

test('thresholds: two functionaries must both report identical artifacts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-thr-'));
  const [owner, a, b] = [key(), key(), key()];
  writeFileSync(join(dir, 'in.txt'), 'hello');
  const layout = await signedLayout(owner, {
    keys: { [a.publicKey.keyid]: keyEntry(a), [b.publicKey.keyid]: keyEntry(b) },
    steps: [{ _type: 'step', name: 'copy', threshold: 2, pubkeys: [a.publicKey.keyid, b.publicKey.keyid], expected_command: ['cp', 'in.txt', 'out.txt'], expected_materials: [['ALLOW', 'in.txt']], expected_products: [['CREATE', 'out.txt'], ['ALLOW', 'in.txt'], ['DISALLOW', '*']] }],
  });
  const opts = { layout, layoutKeys: [owner.publicKey], linkDir: dir, artifactDir: dir };
  await record(dir, a, 'copy', ['in.txt'], ['in.txt', 'out.txt'], ['cp', 'in.txt', 'out.txt']);
  assert.equal(code(() => verifyLayout(opts)), 'LINK_NOT_FOUND');
  await record(dir, b, 'copy', ['in.txt'], ['in.txt', 'out.txt'], ['cp', 'in.txt', 'out.txt']);
  assert.deepEqual(verifyLayout(opts).warnings, []);
  writeFileSync(join(dir, 'in.txt'), 'changed');
  await record(dir, b, 'copy', ['in.txt'], ['in.txt', 'out.txt'], ['cp', 'in.txt', 'out.txt']);
  assert.equal(code(() => verifyLayout(opts)), 'ARTIFACTS_DIFFER');
});

test('command alignment is a warning; a link recorded for another step is not evidence', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-cmd-'));
  const [owner, a] = [key(), key()];
  const layout = await signedLayout(owner, {
    keys: { [a.publicKey.keyid]: keyEntry(a) },
    steps: [{ _type: 'step', name: 'echo', pubkeys: [a.publicKey.keyid], expected_command: ['echo', 'hi'] }],
  });
  await record(dir, a, 'echo', [], [], ['echo', 'hello']);
  const r = verifyLayout({ layout, layoutKeys: [owner.publicKey], linkDir: dir, artifactDir: dir });
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /differs from expected command/);
  // The same functionary's link for step 'other', stored under this step's file name.
  const other = runStep({ name: 'other', materials: [], products: [], command: ['echo', 'hi'], basePath: dir });
  writeFileSync(join(dir, linkFileName('echo', a.publicKey.keyid)), (await signMetadata(other, a)).text);
  assert.equal(code(() => verifyLayout({ layout, layoutKeys: [owner.publicKey], linkDir: dir, artifactDir: dir })), 'LINK_SIGNATURE_INVALID');
});

test('sublayouts: verified recursively, summarised as first-step materials and last-step products', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-sub-'));
  const [owner, team, dev] = [key(), key(), key()];
  writeFileSync(join(dir, 'a.txt'), 'a');
  const sub: Layout = parseLayout({
    _type: 'layout', expires: '2030-01-01T00:00:00Z', readme: '', inspect: [],
    keys: { [dev.publicKey.keyid]: keyEntry(dev) },
    steps: [
      { _type: 'step', name: 'one', pubkeys: [dev.publicKey.keyid], expected_command: ['cp', 'a.txt', 'b.txt'], expected_materials: [['ALLOW', 'a.txt'], ['DISALLOW', '*']], expected_products: [['CREATE', 'b.txt'], ['ALLOW', 'a.txt'], ['DISALLOW', '*']] },
      { _type: 'step', name: 'two', pubkeys: [dev.publicKey.keyid], expected_command: ['cp', 'b.txt', 'c.txt'], expected_materials: [['MATCH', '*', 'WITH', 'PRODUCTS', 'FROM', 'one'], ['DISALLOW', '*']], expected_products: [['CREATE', 'c.txt'], ['MATCH', '*', 'WITH', 'PRODUCTS', 'FROM', 'one'], ['DISALLOW', '*']] },
    ],
  }).layout;
  writeFileSync(join(dir, linkFileName('package', team.publicKey.keyid)), (await signMetadata(sub, team)).text);
  const subDir = join(dir, `package.${team.publicKey.keyid.slice(0, 8)}`);
  mkdirSync(subDir);
  cpSync(join(dir, 'a.txt'), join(subDir, 'a.txt'));
  await record(subDir, dev, 'one', ['a.txt'], ['a.txt', 'b.txt'], ['cp', 'a.txt', 'b.txt']);
  await record(subDir, dev, 'two', ['a.txt', 'b.txt'], ['a.txt', 'b.txt', 'c.txt'], ['cp', 'b.txt', 'c.txt']);
  const layout = await signedLayout(owner, {
    keys: { [team.publicKey.keyid]: keyEntry(team) },
    steps: [{ _type: 'step', name: 'package', pubkeys: [team.publicKey.keyid], expected_command: ['cp', 'b.txt', 'c.txt'], expected_materials: [['ALLOW', 'a.txt'], ['DISALLOW', '*']], expected_products: [['CREATE', 'b.txt'], ['CREATE', 'c.txt'], ['ALLOW', 'a.txt'], ['DISALLOW', '*']] }],
  });
  const r = verifyLayout({ layout, layoutKeys: [owner.publicKey], linkDir: dir, artifactDir: dir });
  assert.deepEqual(Object.keys(r.summary.materials), ['a.txt']);
  // A sublayout step that breaks the sublayout's own rules fails the whole verification.
  writeFileSync(join(subDir, 'x.txt'), 'x');
  await record(subDir, dev, 'two', ['a.txt', 'b.txt'], ['a.txt', 'b.txt', 'c.txt', 'x.txt'], ['cp', 'b.txt', 'c.txt']);
  assert.equal(code(() => verifyLayout({ layout, layoutKeys: [owner.publicKey], linkDir: dir, artifactDir: dir })), 'RULE_VIOLATION');
});
