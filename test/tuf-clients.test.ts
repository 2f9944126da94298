/**
 * The real clients against Cairn's TUF server: tuf-js Updater, @sigstore/tuf, the
 * `sigstore initialize` CLI (@sigstore/cli 0.8.1) and Cairn's own client; root rotations v1 -> v3.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Updater } from 'tuf-js';
import { getTrustedRoot } from '@sigstore/tuf';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { loadConfig } from '@cairn/shared';
import { startStack, type Stack } from '@cairn/host';
import { initTrustCache, loadCachedTrustedRoot, refreshTrustCache } from '@cairn/trust';
import { cli, makeTrustInfos, must, runCeremony, type Ceremony } from './tuf-helpers.ts';

const run = promisify(execFile);
let base: string;
let stack: Stack;
let ceremony: Ceremony;
let mirror: string;

async function tufJsTrustedRoot(rootPath: string): Promise<{ bytes: Buffer; updater: Updater; cache: string }> {
  const cache = mkdtempSync(join(base, 'tufjs-'));
  mkdirSync(join(cache, 'targets'));
  copyFileSync(rootPath, join(cache, 'root.json'));
  const updater = new Updater({ metadataBaseUrl: mirror, metadataDir: cache, targetBaseUrl: `${mirror}/targets`, targetDir: join(cache, 'targets') });
  await updater.refresh();
  const info = await updater.getTargetInfo('trusted_root.json');
  assert.ok(info, 'tuf-js finds trusted_root.json');
  const path = await updater.downloadTarget(info, join(cache, 'targets', 'trusted_root.json'));
  return { bytes: readFileSync(path), updater, cache };
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'cairn-tuf-clients-'));
  const dataDir = join(base, 'data');
  ceremony = await runCeremony(join(dataDir, 'tuf'), join(base, 'keys'), await makeTrustInfos());
  stack = await startStack(loadConfig({ overrides: { port: 0, dataDir, logLevel: 'silent' } }), { components: ['tuf'] });
  mirror = `${stack.url}/tuf`;
});

after(async () => {
  await stack?.close();
  rmSync(base, { recursive: true, force: true });
});

test('the server is ready and serves the consistent-snapshot layout', async () => {
  const ready = await fetch(`${stack.url}/readyz`);
  assert.equal(ready.status, 200);
  for (const p of ['1.root.json', 'root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json']) {
    assert.equal((await fetch(`${mirror}/${p}`)).status, 200, p);
  }
  assert.equal((await fetch(`${mirror}/2.root.json`)).status, 404);
  assert.equal((await fetch(`${mirror}/../ceremony.json`)).status, 404);
  assert.equal((await fetch(`${mirror}/online/snapshot.pem`)).status, 404);
});

test('tuf-js Updater refreshes and downloads trusted_root.json; @sigstore/tuf returns the same trusted root', async () => {
  const { bytes } = await tufJsTrustedRoot(ceremony.root);
  const json = JSON.parse(bytes.toString('utf8'));
  assert.equal(json.mediaType, 'application/vnd.dev.sigstore.trustedroot+json;version=0.1');
  assert.equal(json.tlogs.length, 1);
  assert.equal(json.ctlogs.length, 1);
  assert.equal(json.tlogs[0].hashAlgorithm, 'SHA2_256');

  const cachePath = mkdtempSync(join(base, 'sigstore-tuf-'));
  const fromSigstore = await getTrustedRoot({ mirrorURL: mirror, rootPath: ceremony.root, cachePath });
  assert.deepEqual(fromSigstore, TrustedRoot.fromJSON(json));

  const ours = await initTrustCache({ mirror, rootBytes: readFileSync(ceremony.root), cacheDir: join(base, 'cairn-cache') });
  assert.deepEqual(ours.trustedRoot, json);
  assert.deepEqual(loadCachedTrustedRoot(join(base, 'cairn-cache')), json);
});

test('signing_config.v0.2.json is a target too', async () => {
  const { updater, cache } = await tufJsTrustedRoot(ceremony.root);
  const info = await updater.getTargetInfo('signing_config.v0.2.json');
  assert.ok(info);
  const sc = JSON.parse(readFileSync(await updater.downloadTarget(info, join(cache, 'targets', 'sc.json')), 'utf8'));
  assert.equal(sc.mediaType, 'application/vnd.dev.sigstore.signingconfig.v0.2+json');
  assert.equal(sc.rekorTlogConfig.selector, 'ANY');
  assert.equal(sc.caUrls[0].majorApiVersion, 1);
});

test('`sigstore initialize` (@sigstore/cli) succeeds against the ceremony repository', async () => {
  const home = mkdtempSync(join(base, 'home-'));
  const bin = join(process.cwd(), 'node_modules', '.bin', 'sigstore');
  const r = await run(bin, ['initialize', '--mirror', mirror, '--root', ceremony.root], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CACHE_HOME: join(home, 'cache') },
  });
  assert.doesNotMatch(r.stderr, /error/i);
  // initialize runs the TUF refresh (root, timestamp, snapshot, targets) into its cache.
  const cacheDir = join(home, 'data', 'sigstore-js', encodeURIComponent(new URL(mirror).host + '/tuf'));
  for (const f of ['root.json', 'timestamp.json', 'snapshot.json', 'targets.json']) assert.ok(existsSync(join(cacheDir, f)), `${f} cached by the CLI`);
  // and with --cache-path too, then a failing run against a wrong root proves the check is real.
  const other = mkdtempSync(join(base, 'cli-cache-'));
  await run(bin, ['initialize', '--mirror', mirror, '--root', ceremony.root, '--cache-path', other], { env: { ...process.env, HOME: home } });
  assert.ok(existsSync(join(other, encodeURIComponent(new URL(mirror).host + '/tuf'), 'targets.json')));
  await assert.rejects(
    run(bin, ['initialize', '--mirror', mirror, '--root', ceremony.trustInfoFile, '--cache-path', mkdtempSync(join(base, 'cli-bad-'))], { env: { ...process.env, HOME: home } }),
  );
});

test('a client holding root v1 follows two rotations to v3 (tuf-js, @sigstore/tuf, Cairn)', async () => {
  const { repo, keys } = ceremony;
  // v2: add a fourth keyholder, raise the root threshold to 3, rotate the online keys.
  await must(cli(['tuf', 'keygen', '--out', join(keys, 'keyholder-4.pem')]));
  await must(cli(['tuf', 'root-rotate', '--dir', repo, '--add-root-key', join(keys, 'keyholder-4.pem.pub'), '--root-threshold', '3', '--rotate-online-keys']));
  for (const k of [1, 2, 4]) await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, `keyholder-${k}.pem`)]));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  // v3: revoke keyholder 1 (root and targets); the new targets version needs fresh signatures.
  await must(cli(['tuf', 'root-rotate', '--dir', repo, '--revoke-root-key', join(keys, 'keyholder-1.pem.pub'), '--revoke-targets-key', join(keys, 'keyholder-1.pem.pub'), '--root-threshold', '2']));
  await must(cli(['tuf', 'resign-targets', '--dir', repo]));
  for (const k of [1, 2, 3]) await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, `keyholder-${k}.pem`)]));
  const status = JSON.parse((await must(cli(['tuf', 'status', '--dir', repo, '--json']))).out);
  assert.deepEqual(status.staged.map((s: { ready: boolean }) => s.ready), [true, true]);
  await must(cli(['tuf', 'publish', '--dir', repo]));
  await (stack.services[0] as unknown as { refresh(): Promise<void> }).refresh();

  assert.equal((await fetch(`${mirror}/3.root.json`)).status, 200);
  const { updater, cache } = await tufJsTrustedRoot(ceremony.root);
  assert.ok(updater);
  assert.equal(JSON.parse(readFileSync(join(cache, 'root.json'), 'utf8')).signed.version, 3);

  const cachePath = mkdtempSync(join(base, 'sigstore-tuf-'));
  await getTrustedRoot({ mirrorURL: mirror, rootPath: ceremony.root, cachePath });
  const sigCache = join(cachePath, encodeURIComponent(new URL(mirror).host + '/tuf'));
  assert.equal(JSON.parse(readFileSync(join(sigCache, 'root.json'), 'utf8')).signed.version, 3);

  // Cairn's cache from the first test still holds v1: a refresh follows both rotations.
  const r = await refreshTrustCache({ mirror, cacheDir: join(base, 'cairn-cache') });
  assert.equal(r.rootVersion, 3);
  assert.equal(r.targetsVersion, 2);
});
