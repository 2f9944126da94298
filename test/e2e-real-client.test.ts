/**
 * The real-client end-to-end test of issue 6: `cairn up` as a separate process, then the real
 * `sigstore` CLI (@sigstore/cli) and the `sigstore` library sign, attest and verify against it
 * through the TUF mirror it serves, and bundles cross between `cairn` and `sigstore` both ways.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { cairn, run, SIGSTORE_BIN, startCairn, tempDir, ROOT, type UpProcess } from './helpers/cli.ts';

const SUBJECT = 'https://ci.example.internal/pipelines/42';
let up: UpProcess;
let dataDir: string;
let work: string;
let rootJson: string;

function freshHome(): { HOME: string; XDG_DATA_HOME: string; XDG_CACHE_HOME: string } {
  // @sigstore/tuf caches per mirror under $XDG_DATA_HOME; every client run gets its own.
  const home = tempDir('cairn-home-');
  return { HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CACHE_HOME: join(home, 'cache') };
}

function token(subject = SUBJECT): string {
  const r = cairn(['token', '--data-dir', dataDir, '--subject', subject]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

before(async () => {
  dataDir = tempDir('cairn-e2e-data-');
  work = tempDir('cairn-e2e-work-');
  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir]);
  const m = /initial root: (\S+)/.exec(up.output());
  assert.ok(m, `cairn up printed the root.json path:\n${up.output()}`);
  rootJson = m[1]!.startsWith('/') ? m[1]! : join(ROOT, m[1]!);
  // The printed root is also served as /tuf/1.root.json.
  const served = await fetch(`${up.url}/tuf/1.root.json`);
  assert.equal(served.status, 200);
  assert.deepEqual(await served.json(), JSON.parse(readFileSync(rootJson, 'utf8')));
});

after(async () => {
  await up?.stop();
});

test('sigstore attest + sigstore verify through the TUF mirror with default thresholds', () => {
  const statement = join(work, 'statement.json');
  copyFileSync(join(ROOT, 'test/vectors/conformance/statement.json'), statement);
  const bundle = join(work, 'bundle.json');
  const a = run(SIGSTORE_BIN, ['attest', statement, '--fulcio-url', up.url, '--rekor-url', up.url, '-o', bundle], {
    env: { CI: 'true', SIGSTORE_ID_TOKEN: token(), ...freshHome() },
  });
  assert.equal(a.status, 0, a.stderr + a.stdout);

  const verifyArgs = (b: string, identity = SUBJECT): string[] => [
    'verify', b,
    '--tuf-mirror-url', `${up.url}/tuf`,
    '--tuf-root-path', rootJson,
    '--certificate-issuer', `${up.url}/oidc`,
    '--certificate-identity-uri', identity,
  ];
  const v = run(SIGSTORE_BIN, verifyArgs(bundle), { env: freshHome() });
  assert.equal(v.status, 0, v.stderr + v.stdout);

  // One changed byte in the signed payload: verification fails.
  const b = JSON.parse(readFileSync(bundle, 'utf8'));
  const payload = Buffer.from(b.dsseEnvelope.payload, 'base64');
  payload[payload.length - 2]! ^= 0x01;
  b.dsseEnvelope.payload = payload.toString('base64');
  const tampered = join(work, 'tampered.json');
  writeFileSync(tampered, JSON.stringify(b));
  const t = run(SIGSTORE_BIN, verifyArgs(tampered), { env: freshHome() });
  assert.notEqual(t.status, 0, 'a tampered bundle must not verify');

  // A different expected identity: verification fails.
  const w = run(SIGSTORE_BIN, verifyArgs(bundle, 'https://ci.example.internal/pipelines/43'), { env: freshHome() });
  assert.notEqual(w.status, 0, 'a different identity must not verify');
});

test('the sigstore library: sign() a blob, verify() with tufMirrorURL', async () => {
  const sigstore = await import('sigstore');
  const blob = Buffer.from('hello from the sigstore library\n');
  const home = freshHome();
  const idToken = token();
  const bundle = await sigstore.sign(blob, {
    fulcioURL: up.url,
    rekorURL: up.url,
    identityProvider: { getToken: () => Promise.resolve(idToken) },
  });
  // sigstore 4.1's top-level sign() writes v0.2 bundles (legacy compatibility); cairn reads both.
  assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle+json;version=0.2');
  await sigstore.verify(bundle, blob, {
    tufMirrorURL: `${up.url}/tuf`,
    tufRootPath: rootJson,
    tufCachePath: join(home.HOME, 'tuf-cache'),
    certificateIssuer: `${up.url}/oidc`,
    certificateIdentityURI: SUBJECT,
  });
  await assert.rejects(
    sigstore.verify(bundle, Buffer.from('something else\n'), {
      tufMirrorURL: `${up.url}/tuf`,
      tufRootPath: rootJson,
      tufCachePath: join(home.HOME, 'tuf-cache'),
    }),
  );
  // ... and the same bundle verifies with `cairn verify`.
  const artifact = join(work, 'lib-blob.txt');
  writeFileSync(artifact, blob);
  const bundlePath = join(work, 'lib-bundle.json');
  writeFileSync(bundlePath, JSON.stringify(bundle));
  // Trust from the TUF mirror, as a user would: 'cairn trust init' then an offline verify.
  const cache = join(home.HOME, 'cairn-trust');
  const ti = cairn(['trust', 'init', '--mirror', `${up.url}/tuf`, '--root', rootJson, '--cache', cache]);
  assert.equal(ti.status, 0, ti.stderr + ti.stdout);
  const cv = cairn([
    'verify', artifact, '--bundle', bundlePath, '--tuf-cache', cache, '--offline',
    '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', `${up.url}/oidc`,
  ]);
  assert.equal(cv.status, 0, cv.stderr + cv.stdout);
});

test('a bundle from cairn sign verifies with sigstore verify', () => {
  const artifact = join(work, 'artifact.txt');
  writeFileSync(artifact, 'hello from cairn\n');
  const bundle = join(work, 'artifact.sigstore.json');
  const s = cairn(['sign', artifact, '--url', up.url, '--bundle', bundle, '--identity-token', token()]);
  assert.equal(s.status, 0, s.stderr + s.stdout);
  const v = run(
    SIGSTORE_BIN,
    [
      'verify', bundle, '--blob-file', artifact,
      '--tuf-mirror-url', `${up.url}/tuf`, '--tuf-root-path', rootJson,
      '--certificate-issuer', `${up.url}/oidc`, '--certificate-identity-uri', SUBJECT,
    ],
    { env: freshHome() },
  );
  assert.equal(v.status, 0, v.stderr + v.stdout);
});
