/**
 * The whole stack (OIDC, CT, log, CA, TUF — bootstrapped as `cairn up` does) in-process on port 0:
 * the real `sigstore` library signs against it, `cairn trust init` caches the trust root through
 * the TUF mirror, and `cairn verify --offline` verifies from that cache alone (--tuf-cache and
 * --tuf-mirror), with the network refused during verification.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sigstore from 'sigstore';
import { COMPONENTS, loadConfig, silentLogger, systemClock } from '@cairn/shared';
import { mintDevToken } from '@cairn/oidc';
import { startStack, type Stack } from '@cairn/host';
import { bootstrapTrust, bootstrapTsa } from '@cairn/host';
import { main } from '@cairn/cli';

const SUBJECT = 'https://ci.example.internal/pipelines/7';
let stack: Stack;
let dataDir: string;
let work: string;

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env, cwd: process.cwd() });
  return { code, out, err };
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cairn-verify-tuf-data-'));
  work = mkdtempSync(join(tmpdir(), 'cairn-verify-tuf-work-'));
  const config = loadConfig({ overrides: { port: 0, dataDir, dev: true, logLevel: 'silent' } });
  stack = await startStack(config, {
    components: COMPONENTS,
    logger: silentLogger,
    beforeCreate: async (name, peers, baseUrl) => {
      if (name === 'tsa') await bootstrapTsa(join(dataDir, 'tsa'));
      if (name === 'tuf') await bootstrapTrust({ config, peers, baseUrl, tufDir: join(dataDir, 'tuf') });
    },
  });
});

after(async () => {
  await stack?.close();
});

test('sigstore.sign() against the full stack, verified offline from the TUF cache', async () => {
  const mirror = `${stack.url}/tuf`;
  const root = join(dataDir, 'tuf', 'repository', '1.root.json');
  const cacheHome = mkdtempSync(join(tmpdir(), 'cairn-verify-tuf-cache-'));
  const env = { CAIRN_TRUST_CACHE: cacheHome };
  const init = await cli(['trust', 'init', '--mirror', mirror, '--root', root], env);
  assert.equal(init.code, 0, init.err);
  assert.equal((statSync(join(cacheHome, 'default.json')).mode & 0o777).toString(8), '600');

  const blob = Buffer.from(`full stack ${Date.now()}\n`);
  const token = await mintDevToken(join(dataDir, 'oidc'), { subject: SUBJECT }, systemClock);
  const bundle = await sigstore.sign(blob, { fulcioURL: stack.url, rekorURL: stack.url, identityProvider: { getToken: () => Promise.resolve(token) } });
  const artifact = join(work, 'blob.txt');
  const bundlePath = join(work, 'blob.sigstore.json');
  writeFileSync(artifact, blob);
  writeFileSync(bundlePath, JSON.stringify(bundle));
  const id = ['--certificate-identity', SUBJECT, '--certificate-oidc-issuer', `${stack.url}/oidc`];

  const byMirror = await cli(['verify', artifact, '--bundle', bundlePath, ...id, '--tuf-mirror', mirror, '--offline'], env);
  assert.equal(byMirror.code, 0, byMirror.err);
  assert.match(byMirror.out, /Verified OK/);
  const byUrl = await cli(['verify', artifact, '--bundle', bundlePath, ...id, '--offline'], { ...env, CAIRN_URL: stack.url });
  assert.equal(byUrl.code, 0, byUrl.err);
  // No trust flag and no CAIRN_URL: the default that 'cairn trust init' recorded (as after cosign initialize).
  const byDefault = await cli(['verify', artifact, '--bundle', bundlePath, ...id, '--offline'], env);
  assert.equal(byDefault.code, 0, byDefault.err);
  assert.match(byDefault.out, /Verified OK/);
  // A trust home with no default: a usage error that says what to run.
  const empty = await cli(['verify', artifact, '--bundle', bundlePath, ...id, '--offline'], { CAIRN_TRUST_CACHE: mkdtempSync(join(tmpdir(), 'cairn-empty-trust-')) });
  assert.equal(empty.code, 2, empty.err);
  assert.match(empty.err, /\[USAGE\].*cairn trust init/);
  // A default file that names no mirror is refused with its code, not guessed around.
  writeFileSync(join(cacheHome, 'default.json'), '{"mirror": "file:///etc"}');
  const corrupt = await cli(['verify', artifact, '--bundle', bundlePath, ...id, '--offline'], env);
  assert.equal(corrupt.code, 1, corrupt.err);
  assert.match(corrupt.err, /\[CACHE_INVALID\]/);

  const wrong = await cli(['verify', artifact, '--bundle', bundlePath, '--certificate-identity', 'https://ci.example.internal/pipelines/8', '--certificate-oidc-issuer', `${stack.url}/oidc`, '--tuf-mirror', mirror, '--offline'], env);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /\[IDENTITY_MISMATCH\]/);
  // A cache for another mirror does not exist: nothing is fetched, the command says so.
  const other = await cli(['verify', artifact, '--bundle', bundlePath, ...id, '--tuf-mirror', 'http://127.0.0.1:9/tuf', '--offline'], env);
  assert.equal(other.code, 1);
  assert.match(other.err, /\[CACHE_NOT_INITIALISED\]/);
});
