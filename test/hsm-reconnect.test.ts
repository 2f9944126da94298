/**
 * A token that goes away and comes back while `cairn up --pkcs11-module` serves (SoftHSM2: the
 * token's folder moved out of the token directory and back, as a token unplugged and plugged in
 * again): every component holding one of its keys is not ready while it is gone, and becomes
 * ready again by itself once it is back (new sessions, keys found again, the module
 * re-initialised), without a restart; keyless signing then works again. A token that comes back
 * with other keys under the same labels is never used: the components stay not ready and say so.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cairn, startCairn, tempDir, type UpProcess } from './helpers/cli.ts';
import { SOFTHSM_MODULE, softHsm, type SoftHsm } from './helpers/softhsm.ts';

const PIN = '604213';
const SUBJECT = 'https://ci.example.internal/pipelines/hsm-reconnect';
const hsm = ['--pkcs11-module', SOFTHSM_MODULE];
let base: string;
let dataDir: string;
let h: SoftHsm;
let up: UpProcess | undefined;

interface Ready {
  status: string;
  checks: { component: string; ok: boolean; code?: string; reason?: string }[];
}
async function readyz(url: string): Promise<{ status: number; body: Ready }> {
  const r = await fetch(`${url}/readyz`);
  return { status: r.status, body: (await r.json()) as Ready };
}
/** Polls /readyz until `want` holds (at most about 20 s); returns the last answer. */
async function until(url: string, want: (r: { status: number; body: Ready }) => boolean): Promise<{ status: number; body: Ready }> {
  let last = await readyz(url);
  for (let i = 0; i < 100 && !want(last); i++) {
    await new Promise((res) => setTimeout(res, 200));
    last = await readyz(url);
  }
  return last;
}
const failing = (r: { body: Ready }): Ready['checks'] => r.body.checks.filter((c) => !c.ok);

before(() => {
  base = tempDir('cairn-hsm-reconnect-');
  h = softHsm(join(base, 'softhsm'));
  h.initToken('cairn', PIN);
  dataDir = join(base, 'data');
});
after(async () => {
  await up?.stop();
});

test('the token goes away and comes back: not ready, then ready again without a restart, and signing works', async () => {
  const init = cairn(['hsm', 'init', '--data-dir', dataDir, ...hsm], { env: { CAIRN_PKCS11_PIN: PIN } });
  assert.equal(init.status, 0, init.stderr + init.stdout);
  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir, ...hsm], { CAIRN_PKCS11_PIN: PIN });
  const url = up.url;
  assert.equal((await readyz(url)).status, 200);
  const pid = up.child.pid;

  const [tokenFolder] = readdirSync(h.tokenDir);
  assert.ok(tokenFolder !== undefined);
  const away = join(base, 'unplugged');
  renameSync(join(h.tokenDir, tokenFolder), away);
  const gone = await until(url, (r) => r.status === 503 && failing(r).length === 5);
  assert.equal(gone.status, 503, JSON.stringify(gone.body));
  assert.deepEqual(failing(gone).map((c) => c.component).sort(), ['ca', 'ct', 'log', 'tsa', 'tuf']);
  for (const c of failing(gone)) assert.equal(c.code, 'PKCS11_DEVICE_ERROR', c.component);
  assert.match(failing(gone)[0]!.reason ?? '', /reconnects by itself once the token/);
  const tsaGone = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ artifactHash: Buffer.alloc(32, 7).toString('base64'), hashAlgorithm: 'sha256' }),
  });
  assert.equal(tsaGone.status, 503);

  renameSync(away, join(h.tokenDir, tokenFolder));
  const back = await until(url, (r) => r.status === 200);
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal(up.child.pid, pid);
  assert.equal(up.child.exitCode, null, 'no restart');

  const work = tempDir('cairn-hsm-reconnect-work-');
  const env = { HOME: work, XDG_DATA_HOME: join(work, 'xdg'), CAIRN_TRUST_CACHE: join(work, 'trust') };
  const trust = cairn(['trust', 'init', '--mirror', `${url}/tuf`, '--root', join(dataDir, 'tuf', 'repository', '1.root.json')], { env });
  assert.equal(trust.status, 0, trust.stderr + trust.stdout);
  const artifact = join(work, 'artifact.txt');
  writeFileSync(artifact, 'signed after the token came back\n');
  const bundle = join(work, 'artifact.sigstore.json');
  const token = cairn(['token', '--data-dir', dataDir, '--subject', SUBJECT]).stdout.trim();
  const sign = cairn(['sign', artifact, '--url', url, '--bundle', bundle, '--identity-token', token], { env });
  assert.equal(sign.status, 0, sign.stderr + sign.stdout);
  assert.match(sign.stdout + sign.stderr, /Timestamped by the TSA/);
  const verify = cairn(['verify', artifact, '--bundle', bundle, '--tuf-mirror', `${url}/tuf`, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', `${url}/oidc`], { env });
  assert.equal(verify.status, 0, verify.stderr + verify.stdout);
  assert.match(verify.stdout, /Verified OK/);
});

test('a token that comes back with other keys under the same labels is not used', async () => {
  const url = up!.url;
  const [tokenFolder] = readdirSync(h.tokenDir);
  const away = join(base, 'unplugged-again');
  renameSync(join(h.tokenDir, tokenFolder!), away);
  await until(url, (r) => r.status === 503 && failing(r).length === 5);
  // An impostor: a new token with the same label and a full set of keys under the same labels.
  h.initToken('cairn', PIN);
  const impostor = cairn(['hsm', 'init', '--data-dir', join(base, 'impostor-data'), ...hsm], { env: { CAIRN_PKCS11_PIN: PIN } });
  assert.equal(impostor.status, 0, impostor.stderr + impostor.stdout);
  const refused = await until(url, (r) => failing(r).length === 5 && failing(r).every((c) => /another key/.test(c.reason ?? '')));
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  for (const c of failing(refused)) assert.match(c.reason ?? '', /names another key than the one this service started with/, c.component);
  const tsa = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ artifactHash: Buffer.alloc(32, 9).toString('base64'), hashAlgorithm: 'sha256' }),
  });
  assert.equal(tsa.status, 503, 'the impostor key signs nothing');

  // The real token back (the impostor removed): ready again.
  for (const f of readdirSync(h.tokenDir)) rmSync(join(h.tokenDir, f), { recursive: true, force: true });
  renameSync(away, join(h.tokenDir, tokenFolder!));
  const back = await until(url, (r) => r.status === 200);
  assert.equal(back.status, 200, JSON.stringify(back.body));
});
