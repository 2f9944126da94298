/**
 * `cairn verify`, `cairn verify-attestation` and `cairn check` driven through the real CLI
 * dispatcher (in process, with captured output).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '@cairn/cli';
import type { CliIO } from '@cairn/cli';
import { clone, CORPUS, flipBase64, loadCase, PRODUCTION_ROOT } from './verify-fixtures.ts';

/** An empty trust home: what `cairn trust init` left in this user's ~/.cairn never answers here. */
const TRUST_HOME = mkdtempSync(join(tmpdir(), 'cairn-verify-cli-trust-'));
after(() => rmSync(TRUST_HOME, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env: { CAIRN_TRUST_CACHE: TRUST_HOME }, cwd: process.cwd() };
  const code = await main(args, io);
  return { code, out, err };
}

const id = (c: ReturnType<typeof loadCase>) => ['--certificate-identity', c.identity, '--certificate-oidc-issuer', c.issuer];

test('cairn verify: a file and a digest verify; the output names the signer', async () => {
  const c = loadCase('happy-path-v0.3');
  const bundle = join(CORPUS, c.name, 'bundle.sigstore.json');
  for (const target of [c.artifactPath, c.digest]) {
    const r = await run(['verify', target, '--bundle', bundle, ...id(c), '--trusted-root', PRODUCTION_ROOT, '--offline']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Verified OK/);
    assert.ok(r.out.includes(c.identity));
  }
  const j = await run(['verify', c.artifactPath, '--bundle', bundle, ...id(c), '--trusted-root', PRODUCTION_ROOT, '--json']);
  assert.equal(j.code, 0, j.err);
  const parsed = JSON.parse(j.out);
  assert.equal(parsed.verified, true);
  assert.equal(parsed.signer.issuer, c.issuer);
});

test('cairn verify: failures exit 1 with the stable code; usage errors exit 2', async () => {
  const c = loadCase('happy-path-v0.3');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-verify-cli-'));
  const bad = clone(c.bundle);
  bad.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = flipBase64(bad.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp, 12);
  const badPath = join(dir, 'bad.json');
  writeFileSync(badPath, JSON.stringify(bad));
  const r = await run(['verify', c.artifactPath, '--bundle', badPath, ...id(c), '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(r.code, 1);
  assert.match(r.err, /\[SET_INVALID\]/);

  const wrongId = await run(['verify', c.artifactPath, '--bundle', join(CORPUS, c.name, 'bundle.sigstore.json'), '--certificate-identity', 'someone@example.com', '--certificate-oidc-issuer', c.issuer, '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(wrongId.code, 1);
  assert.match(wrongId.err, /\[IDENTITY_MISMATCH\]/);

  for (const args of [
    ['verify', c.artifactPath, '--trusted-root', PRODUCTION_ROOT, ...id(c)], // no --bundle
    ['verify', '--bundle', badPath, ...id(c), '--trusted-root', PRODUCTION_ROOT], // no target
    ['verify', c.artifactPath, '--bundle', badPath, '--certificate-identity', c.identity, '--trusted-root', PRODUCTION_ROOT], // no issuer
    ['verify', c.artifactPath, '--bundle', badPath, ...id(c), '--trusted-root', PRODUCTION_ROOT, '--tlog-threshold', 'many'],
    ['verify', c.artifactPath, '--bundle', badPath, ...id(c), '--no-such-flag'],
  ]) {
    const u = await run(args);
    assert.equal(u.code, 2, `${args.join(' ')}: ${u.err}`);
    assert.match(u.err, /\[USAGE\]/);
  }
  const missing = await run(['verify', join(dir, 'nope.txt'), '--bundle', badPath, ...id(c), '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /\[IO_ERROR\]/);
});

test('cairn verify --key for a managed-key bundle', async () => {
  const c = loadCase('managed-key-happy-path');
  const keyPath = join(CORPUS, c.name, 'key.pub');
  const ok = await run(['verify', c.artifactPath, '--bundle', join(CORPUS, c.name, 'bundle.sigstore.json'), '--key', keyPath, '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(ok.code, 0, ok.err);
  const noKey = await run(['verify', c.artifactPath, '--bundle', join(CORPUS, c.name, 'bundle.sigstore.json'), '--certificate-identity', 'x', '--certificate-oidc-issuer', 'y', '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(noKey.code, 1);
  assert.match(noKey.err, /\[KEY_REQUIRED\]/);
});

test('cairn verify-attestation: predicate type and conditions', async () => {
  const c = loadCase('happy-path-intoto-in-dsse-v3');
  const base = ['verify-attestation', c.artifactPath, '--bundle', join(CORPUS, c.name, 'bundle.sigstore.json'), ...id(c), '--trusted-root', PRODUCTION_ROOT];
  const ok = await run([
    ...base,
    '--type',
    'slsaprovenance',
    '--condition',
    'buildDefinition.externalParameters.workflow.repository=glob:https://github.com/loosebazooka/*',
    '--condition',
    'buildDefinition.internalParameters.github.event_name=one-of:push,workflow_dispatch',
    '--condition',
    'buildDefinition.externalParameters.workflow.ref=refs/heads/main',
  ]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /slsa\.dev\/provenance\/v1/);

  const wrongType = await run([...base, '--type', 'https://example.com/other/v1']);
  assert.equal(wrongType.code, 1);
  assert.match(wrongType.err, /\[PREDICATE_TYPE_MISMATCH\]/);

  const wrongCond = await run([...base, '--condition', 'buildDefinition.externalParameters.workflow.repository=glob:https://github.com/your-org/*']);
  assert.equal(wrongCond.code, 1);
  assert.match(wrongCond.err, /\[CONDITION_FAILED\]/);

  const missingField = await run([...base, '--condition', 'buildDefinition.nothing.here=x']);
  assert.equal(missingField.code, 1);
  assert.match(missingField.err, /\[CONDITION_FAILED\]/);

  const badCond = await run([...base, '--condition', 'no-equals-sign']);
  assert.equal(badCond.code, 1);
  assert.match(badCond.err, /\[POLICY_INVALID\]/);

  // A message-signature bundle is not an attestation.
  const v03 = loadCase('happy-path-v0.3');
  const notAtt = await run(['verify-attestation', v03.artifactPath, '--bundle', join(CORPUS, v03.name, 'bundle.sigstore.json'), ...id(v03), '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(notAtt.code, 1);
  assert.match(notAtt.err, /\[BUNDLE_INVALID\]/);
});

test('cairn check: the checksum gate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-check-'));
  const f = join(dir, 'artifact.bin');
  writeFileSync(f, 'hello\n');
  const good = 'sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';
  const ok = await run(['check', f, '--expect', good]);
  assert.equal(ok.code, 0, ok.err);
  assert.ok(ok.out.includes(good));
  const bad = await run(['check', f, '--expect', 'sha256:' + 'ab'.repeat(32)]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /INTEGRITY FAILURE/);
  assert.ok(bad.err.includes('expected: sha256:' + 'ab'.repeat(32)));
  assert.ok(bad.err.includes('actual:   ' + good));
  const upper = await run(['check', f, '--expect', good.toUpperCase().replace('SHA256', 'sha256')]);
  assert.equal(upper.code, 0);
  for (const args of [['check', f], ['check', f, '--expect', 'md5:abc'], ['check', '--expect', good]]) {
    const u = await run(args);
    assert.equal(u.code, 2);
  }
  const missing = await run(['check', join(dir, 'missing'), '--expect', good]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /\[IO_ERROR\]/);
});

test('cairn verify: trust from the TUF cache (errors when there is none)', async () => {
  const c = loadCase('happy-path-v0.3');
  const bundle = join(CORPUS, c.name, 'bundle.sigstore.json');
  const none = await run(['verify', c.artifactPath, '--bundle', bundle, ...id(c)]);
  assert.equal(none.code, 2);
  assert.match(none.err, /\[USAGE\]/);
  const both = await run(['verify', c.artifactPath, '--bundle', bundle, ...id(c), '--trusted-root', PRODUCTION_ROOT, '--tuf-cache', '/nonexistent']);
  assert.equal(both.code, 2);
  const empty = mkdtempSync(join(tmpdir(), 'cairn-empty-cache-'));
  const uninit = await run(['verify', c.artifactPath, '--bundle', bundle, ...id(c), '--tuf-cache', empty, '--offline']);
  assert.equal(uninit.code, 1);
  assert.match(uninit.err, /\[CACHE_NOT_INITIALISED\]/);
});

test('cairn verify: unreadable or oversized inputs are IO_ERROR', async () => {
  const c = loadCase('managed-key-happy-path');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-verify-io-'));
  const bigKey = join(dir, 'big.pem');
  writeFileSync(bigKey, 'x'.repeat(70 * 1024));
  const big = await run(['verify', c.artifactPath, '--bundle', join(CORPUS, c.name, 'bundle.sigstore.json'), '--key', bigKey, '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(big.code, 1);
  assert.match(big.err, /\[IO_ERROR\]/);
  const noBundle = await run(['verify', c.artifactPath, '--bundle', join(dir, 'missing.json'), '--key', join(CORPUS, c.name, 'key.pub'), '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(noBundle.code, 1);
  assert.match(noBundle.err, /\[IO_ERROR\]/);
  const noRoot = await run(['verify', c.artifactPath, '--bundle', join(CORPUS, c.name, 'bundle.sigstore.json'), '--key', join(CORPUS, c.name, 'key.pub'), '--trusted-root', join(dir, 'missing-root.json')]);
  assert.equal(noRoot.code, 1);
  assert.match(noRoot.err, /\[IO_ERROR\]/);
  const notKey = join(dir, 'not-a-key.pem');
  writeFileSync(notKey, 'hello');
  const badKey = await run(['verify', c.artifactPath, '--bundle', join(CORPUS, c.name, 'bundle.sigstore.json'), '--key', notKey, '--trusted-root', PRODUCTION_ROOT]);
  assert.equal(badKey.code, 1);
  assert.match(badKey.err, /\[POLICY_INVALID\]/);
});
