/**
 * The online service keys in a SoftHSM2 token (issue 18, acceptance 2): `cairn hsm init` makes
 * the CA root and intermediate, log, CT, TSA root and signing, and TUF snapshot/timestamp keys in
 * the token (non-extractable) and the certificates around them; `cairn up --pkcs11-module` serves
 * keyless signing with them; `cairn sign`, `cairn verify` and @sigstore/verify (through
 * @sigstore/tuf from the stack's own mirror) accept the bundle, whose every signature chains to a
 * token key. Refusals: no PIN, a wrong PIN, a second init, a token without the keys. Then the
 * token is deleted under the running server (softhsm2-util --delete-token, the real thing):
 * /readyz answers 503 with PKCS11_DEVICE_ERROR for every component holding a token key, signing
 * requests answer 503 with a stable code, and the process stays up.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as sigstoreTuf from '@sigstore/tuf';
import * as sigstoreVerify from '@sigstore/verify';
import * as sigstoreBundle from '@sigstore/bundle';
import { cairn, startCairn, tempDir, type RunResult, type UpProcess } from './helpers/cli.ts';
import { SOFTHSM_MODULE, softHsm } from './helpers/softhsm.ts';

const PIN = '482916';
const SUBJECT = 'https://ci.example.internal/pipelines/18';
let base: string;
let dataDir: string;
let up: UpProcess | undefined;
const hsm = ['--pkcs11-module', SOFTHSM_MODULE];

function code(r: RunResult): string | undefined {
  return /error \[([A-Z0-9_]+)\]/.exec(r.stderr)?.[1];
}

/** Every file under a directory, relative paths. */
function files(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

before(() => {
  base = tempDir('cairn-hsm-up-');
  const h = softHsm(join(base, 'softhsm'));
  h.initToken('cairn', PIN);
  h.initToken('empty', PIN);
  dataDir = join(base, 'data');
});
after(async () => {
  await up?.stop();
});

test('cairn hsm init: refusals change nothing; then eight keys in the token, certificates around them', () => {
  const noPin = cairn(['hsm', 'init', '--data-dir', dataDir, ...hsm], { env: { CAIRN_PKCS11_PIN: undefined } });
  assert.equal(code(noPin), 'PKCS11_PIN_MISSING', noPin.stderr);
  const wrong = cairn(['hsm', 'init', '--data-dir', dataDir, ...hsm], { env: { CAIRN_PKCS11_PIN: '000000' } });
  assert.equal(code(wrong), 'PKCS11_PIN_INCORRECT', wrong.stderr);
  assert.doesNotMatch(wrong.stderr + wrong.stdout, /000000/, 'the PIN is never printed');
  assert.deepEqual(files(dataDir), [], 'a refused init writes nothing');
  const badUri = cairn(['hsm', 'init', '--data-dir', dataDir, ...hsm, '--pkcs11-token', 'x'.repeat(33)], { env: { CAIRN_PKCS11_PIN: PIN } });
  assert.equal(code(badUri), 'USAGE', badUri.stderr);

  const pinFile = join(base, 'pin.txt');
  writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
  const ok = cairn(['hsm', 'init', '--data-dir', dataDir, ...hsm, '--pin-file', pinFile, '--org', 'Example']);
  assert.equal(ok.status, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /generated 8 ECDSA P-256 keys in token cairn \(sensitive, not extractable/);
  assert.doesNotMatch(ok.stdout + ok.stderr, new RegExp(PIN));
  assert.deepEqual(files(dataDir).sort(), [
    'ca/intermediate.crt.pem', 'ca/root.crt.pem',
    'hsm/ct.pub', 'hsm/log.pub', 'hsm/tuf-snapshot.pub', 'hsm/tuf-timestamp.pub',
    'tsa/root.crt.pem', 'tsa/signing.crt.pem',
  ], 'certificates and public keys only: no private key file');
  const root = new X509Certificate(readFileSync(join(dataDir, 'ca', 'root.crt.pem')));
  const inter = new X509Certificate(readFileSync(join(dataDir, 'ca', 'intermediate.crt.pem')));
  assert.ok(inter.verify(root.publicKey) && inter.ca && root.ca);
  assert.match(root.subject, /O=Example/);

  const status = cairn(['hsm', 'status', ...hsm, '--json'], { env: { CAIRN_PKCS11_PIN: PIN } });
  assert.equal(status.status, 0, status.stderr);
  const rows = JSON.parse(status.stdout) as { label: string; present: boolean; extractable: boolean; keyId: string }[];
  assert.equal(rows.length, 8);
  assert.ok(rows.every((r) => r.present && r.extractable === false), status.stdout);
  // The certificate's key is the token's key.
  const interKeyId = rows.find((r) => r.label === 'cairn-ca-intermediate')!.keyId;
  assert.equal(createHash('sha256').update(inter.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'), interKeyId);

  // A second set in the same token is refused, and the fresh data directory stays empty.
  const again = cairn(['hsm', 'init', '--data-dir', join(base, 'data2'), ...hsm], { env: { CAIRN_PKCS11_PIN: PIN } });
  assert.equal(code(again), 'PKCS11_OBJECT_EXISTS', again.stderr);
  assert.deepEqual(files(join(base, 'data2')), []);
  const emptyStatus = cairn(['hsm', 'status', ...hsm, '--pkcs11-token', 'empty'], { env: { CAIRN_PKCS11_PIN: PIN } });
  assert.equal(emptyStatus.status, 1);
  assert.match(emptyStatus.stdout, /cairn-log\s+missing/);
});

test('cairn up with a token that lacks the keys, or a wrong PIN, does not start', async () => {
  await assert.rejects(startCairn(['up', '--port', '0', '--data-dir', dataDir, ...hsm, '--pkcs11-token', 'empty'], { CAIRN_PKCS11_PIN: PIN }), /PKCS11_OBJECT_NOT_FOUND[^\n]*cairn hsm init/);
  await assert.rejects(startCairn(['up', '--port', '0', '--data-dir', dataDir, ...hsm], { CAIRN_PKCS11_PIN: '111111' }), /PKCS11_PIN_INCORRECT/);
  await assert.rejects(startCairn(['up', '--port', '0', '--data-dir', dataDir, ...hsm, '--set', 'pkcs11.frob=1'], { CAIRN_PKCS11_PIN: PIN }), /INVALID_CONFIG/);
});

test('production TUF ceremony with the online keys in the server token: tuf import --server --pkcs11-module signs snapshot and timestamp', () => {
  const coord = join(base, 'coordinator');
  const repo = join(coord, 'repo');
  const keyholders = join(coord, 'keyholders');
  const init = cairn(['tuf', 'init', '--dir', repo, '--generate-keys', '1', '--keys-out', keyholders,
    '--snapshot-key', join(dataDir, 'hsm', 'tuf-snapshot.pub'), '--timestamp-key', join(dataDir, 'hsm', 'tuf-timestamp.pub')]);
  assert.equal(init.status, 0, init.stderr + init.stdout);
  const target = join(coord, 'hello.txt');
  writeFileSync(target, 'hello\n');
  assert.equal(cairn(['tuf', 'add-target', '--dir', repo, '--file', target]).status, 0);
  const signed = cairn(['tuf', 'sign', '--dir', repo, '--key', join(keyholders, 'keyholder-1.pem')]);
  assert.equal(signed.status, 0, signed.stderr);
  const pub = cairn(['tuf', 'publish', '--dir', repo]);
  assert.equal(pub.status, 0, pub.stderr + pub.stdout);
  const archive = join(coord, 'repo.tar.gz');
  assert.equal(cairn(['tuf', 'export', '--dir', repo, '--out', archive]).status, 0);

  const server = join(base, 'server-tuf');
  const without = cairn(['tuf', 'import', '--in', archive, '--dir', server, '--server']);
  assert.equal(code(without), 'ONLINE_KEY_MISSING', without.stderr + without.stdout);
  const wrongPin = cairn(['tuf', 'import', '--in', archive, '--dir', server, '--server', ...hsm], { env: { CAIRN_PKCS11_PIN: '000000' } });
  assert.equal(code(wrongPin), 'PKCS11_PIN_INCORRECT', wrongPin.stderr);
  const ok = cairn(['tuf', 'import', '--in', archive, '--dir', server, '--server', ...hsm], { env: { CAIRN_PKCS11_PIN: PIN } });
  assert.equal(ok.status, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /signed snapshot v\d+ and timestamp v\d+ with the online keys/);
  const ts = JSON.parse(readFileSync(join(server, 'repository', 'timestamp.json'), 'utf8')) as { signatures: { keyid: string }[] };
  const root = JSON.parse(readFileSync(join(server, 'repository', '1.root.json'), 'utf8')) as { signed: { roles: { timestamp: { keyids: string[] } } } };
  assert.deepEqual(ts.signatures.map((x) => x.keyid), root.signed.roles.timestamp.keyids, 'timestamp.json is signed by the token key the root names');
});

test('cairn up --pkcs11-module: keyless cairn sign, cairn verify and @sigstore/verify accept the bundle; then the token is removed', async () => {
  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir, ...hsm], { CAIRN_PKCS11_PIN: PIN });
  const url = up.url;
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200, await ready.clone().text());
  // No private key was written by the start either (the OIDC issuer's and the development TUF
  // root's keys are files by design: they are not online service keys of the signing path).
  const keyFiles = files(dataDir).filter((f) => /(^|\/)[^/]*key[^/]*\.pem$/.test(f));
  assert.deepEqual(keyFiles.filter((f) => !f.startsWith('oidc/') && !f.startsWith('tuf/DEVELOPMENT-keys/')), [], keyFiles.join(', '));
  assert.ok(!existsSync(join(dataDir, 'tuf', 'online')), 'the TUF online keys are in the token');

  const work = tempDir('cairn-hsm-work-');
  const home = { HOME: work, XDG_DATA_HOME: join(work, 'xdg'), CAIRN_TRUST_CACHE: join(work, 'trust') };
  const rootJson = join(dataDir, 'tuf', 'repository', '1.root.json');
  const init = cairn(['trust', 'init', '--mirror', `${url}/tuf`, '--root', rootJson], { env: home });
  assert.equal(init.status, 0, init.stderr + init.stdout);
  const artifact = join(work, 'artifact.txt');
  writeFileSync(artifact, 'signed with keys that never left the token\n');
  const token = cairn(['token', '--data-dir', dataDir, '--subject', SUBJECT]);
  assert.equal(token.status, 0, token.stderr);
  const bundlePath = join(work, 'artifact.sigstore.json');
  const sign = cairn(['sign', artifact, '--url', url, '--bundle', bundlePath, '--identity-token', token.stdout.trim()], { env: home });
  assert.equal(sign.status, 0, sign.stderr + sign.stdout);
  const verify = cairn(['verify', artifact, '--bundle', bundlePath, '--tuf-mirror', `${url}/tuf`, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', `${url}/oidc`], { env: home });
  assert.equal(verify.status, 0, verify.stderr + verify.stdout);
  assert.match(verify.stdout, /Verified OK/);
  const wrongId = cairn(['verify', artifact, '--bundle', bundlePath, '--tuf-mirror', `${url}/tuf`, '--certificate-identity', `${SUBJECT}0`, '--certificate-oidc-issuer', `${url}/oidc`], { env: home });
  assert.notEqual(wrongId.status, 0, 'another identity does not verify');

  // @sigstore/verify with the trusted root @sigstore/tuf fetched from the stack's mirror.
  const trustedRoot = await sigstoreTuf.getTrustedRoot({ mirrorURL: `${url}/tuf`, rootPath: rootJson, cachePath: join(work, 'sigstore-tuf'), forceInit: true });
  const bundleJson = JSON.parse(readFileSync(bundlePath, 'utf8')) as unknown;
  const verifier = new sigstoreVerify.Verifier(sigstoreVerify.toTrustMaterial(trustedRoot));
  verifier.verify(sigstoreVerify.toSignedEntity(sigstoreBundle.bundleFromJSON(bundleJson), readFileSync(artifact)), { subjectAlternativeName: SUBJECT, extensions: { issuer: `${url}/oidc` } });
  assert.throws(() => verifier.verify(sigstoreVerify.toSignedEntity(sigstoreBundle.bundleFromJSON(bundleJson), Buffer.from('other bytes\n'))));

  // The trust material names the token's keys: log and CT keys are hsm/log.pub and hsm/ct.pub,
  // the TUF root's online keys are hsm/tuf-*.pub.
  const spki = (f: string): string => createPublicKey(readFileSync(join(dataDir, 'hsm', f))).export({ type: 'spki', format: 'der' }).toString('base64');
  const tr = trustedRoot as unknown as { tlogs: { publicKey: { rawBytes: Buffer } }[]; ctlogs: { publicKey: { rawBytes: Buffer } }[] };
  assert.deepEqual(tr.tlogs.map((t) => Buffer.from(t.publicKey.rawBytes).toString('base64')), [spki('log.pub')]);
  assert.deepEqual(tr.ctlogs.map((t) => Buffer.from(t.publicKey.rawBytes).toString('base64')), [spki('ct.pub')]);
  const tufRoot = JSON.parse(readFileSync(rootJson, 'utf8')) as { signed: { keys: Record<string, { keyval: { public: string } }>; roles: Record<string, { keyids: string[] }> } };
  for (const [role, file] of [['snapshot', 'tuf-snapshot.pub'], ['timestamp', 'tuf-timestamp.pub']] as const) {
    const id = tufRoot.signed.roles[role]!.keyids[0]!;
    assert.equal(createPublicKey(tufRoot.signed.keys[id]!.keyval.public).export({ type: 'spki', format: 'der' }).toString('base64'), spki(file), role);
  }

  // The token goes away under the running server.
  execFileSync('softhsm2-util', ['--delete-token', '--token', 'cairn'], { env: process.env, stdio: 'pipe' });
  let body: { status: string; checks: { component: string; ok: boolean; code?: string; reason?: string }[] } | undefined;
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`${url}/readyz`);
    body = (await r.json()) as typeof body;
    if (r.status === 503 && body!.checks.filter((c) => !c.ok).length === 5) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(body?.status, 'not ready', JSON.stringify(body));
  for (const c of body.checks) {
    if (c.component === 'oidc') assert.equal(c.ok, true);
    else {
      assert.equal(c.ok, false, c.component);
      assert.equal(c.code, 'PKCS11_DEVICE_ERROR', c.component);
    }
  }
  // Signing requests: 503 with a stable code, never 500; the process keeps serving.
  const tsa = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ artifactHash: Buffer.alloc(32, 7).toString('base64'), hashAlgorithm: 'sha256' }),
  });
  assert.equal(tsa.status, 503);
  assert.equal(((await tsa.json()) as { code: string }).code, 'PKCS11_DEVICE_ERROR');
  const again = cairn(['sign', artifact, '--url', url, '--bundle', join(work, 'b2.json'), '--identity-token', cairn(['token', '--data-dir', dataDir, '--subject', SUBJECT]).stdout.trim()], { env: home });
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /HTTP 503: \[PKCS11_DEVICE_ERROR\]/);
  assert.ok(!existsSync(join(work, 'b2.json')), 'no bundle is written');
  assert.equal((await fetch(`${url}/healthz`)).status, 200, 'the process is still up');
  assert.equal(up.child.exitCode, null);
});
