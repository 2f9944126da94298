/**
 * Trust from TUF instead of a file: `cairn up` (a separate process) serves its TUF repository,
 * `cairn trust init` caches the trusted root, and `cairn sign` / `cairn log` take the log key from
 * that cache (`--tuf-cache DIR` or the mirror URL), offline.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '@cairn/shared';
import { startCairn, tempDir, cairn as cairnProcess, type UpProcess } from './helpers/cli.ts';
import { cli, errorCode, readJson } from './sign-fixtures.ts';

let up: UpProcess;
let dataDir: string;
let work: string;
let cache: string;
let env: Record<string, string>;

before(async () => {
  dataDir = tempDir('cairn-logtuf-data-');
  work = tempDir('cairn-logtuf-work-');
  cache = join(work, 'trust-cache');
  env = { CAIRN_TRUST_CACHE: cache };
  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir]);
  const root = /initial root: (\S+)/.exec(up.output())?.[1];
  assert.ok(root, up.output());
  const init = await cli(['trust', 'init', '--mirror', `${up.url}/tuf`, '--root', root], env);
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  await up?.stop();
});

test('sign checks its log entry with the TUF-cached root; log get/search verify with it', async () => {
  const artifact = join(work, 'a.txt');
  writeFileSync(artifact, 'tuf-backed\n');
  const token = cairnProcess(['token', '--data-dir', dataDir]).stdout.trim();
  const out = join(work, 'a.sigstore.json');
  const s = await cli(['sign', artifact, '--bundle', out, '--url', up.url, '--identity-token', token, '--tuf-cache', `${up.url}/tuf`, '--rekor-version', '1'], env);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /Log entry verified with the trusted root/);
  const index = readJson(out).verificationMaterial.tlogEntries[0].logIndex as string;

  const byMirror = await cli(['log', 'get', '--index', index, '--url', up.url, '--tuf-cache', `${up.url}/tuf`], env);
  assert.equal(byMirror.code, 0, byMirror.stderr + byMirror.stdout);
  assert.match(byMirror.stdout, /log key from the trusted root/);
  assert.match(byMirror.stdout, /consistent with it/);
  const dirs = await cli(['log', 'search', '--sha', `sha256:${sha256Hex('tuf-backed\n')}`, '--url', up.url, '--tuf-cache', join(cache, encodeURIComponent(new URL(`${up.url}/tuf`).host + '/tuf')), '--json'], env);
  assert.equal(dirs.code, 0, dirs.stderr + dirs.stdout);
  assert.equal((JSON.parse(dirs.stdout) as { verification: { ok: boolean } }[])[0]!.verification.ok, true);
  // Both trust sources at once is a usage mistake; a cache that was never initialised is an error.
  assert.equal(errorCode(await cli(['log', 'get', '--index', index, '--url', up.url, '--tuf-cache', cache, '--trusted-root', out], env)), 'INPUT_INVALID');
  const empty = await cli(['log', 'get', '--index', index, '--url', up.url, '--tuf-cache', join(work, 'nothing-here')], env);
  assert.equal(empty.code, 1);
  assert.ok(errorCode(empty) !== undefined, empty.stderr);
});
