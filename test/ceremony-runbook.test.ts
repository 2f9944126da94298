/**
 * deploy/RUNBOOK.md as an end-to-end test. Folders stand for machines: the offline CA machine,
 * the coordinator, four keyholders (three at first, threshold 2) and the server (the stack's data
 * directory); `usb/` is what crosses the air gap. Every `cairn` call below is a runbook command,
 * run in that machine's folder with the paths the runbook uses.
 *
 * After each step (initial ceremony; root rotation adding a fourth key, revoking one and raising
 * the threshold; targets key revocation; online key rotation; CA intermediate rotation; log key
 * rotation = new log shard; CT key rotation) the real clients start again from the original
 * 1.root.json and must reach the new state: tuf-js, @sigstore/tuf, the `sigstore` CLI
 * (`initialize`, `verify`) and `cairn trust refresh`; every bundle signed so far (before and after
 * each rotation) must still verify, its certificate, log entry and SCT inside the validity
 * windows trusted_root.json gives the retired keys.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as sigstore from 'sigstore';
import { Updater } from 'tuf-js';
import { getTrustedRoot } from '@sigstore/tuf';
import { COMPONENTS, loadConfig, silentLogger, systemClock } from '@cairn/shared';
import { mintDevToken } from '@cairn/oidc';
import { parseMetadata } from '@cairn/shared/tuf';
import { startStack, type Stack } from '@cairn/host';
import { main } from '@cairn/cli';

const execFileP = promisify(execFile);
const SIGSTORE_BIN = join(process.cwd(), 'node_modules', '.bin', 'sigstore');
const SUBJECT = 'https://ci.example.internal/pipelines/runbook';
const STEP_TIMEOUT = 120_000;

let base: string;
let usb: string;
const m = { ca: '', coordinator: '', server: '', keyholder: [] as string[] };
let stack: Stack | undefined;
let port = 0;
let url = '';
let originalRoot = '';

interface Signed {
  name: string;
  path: string;
}
const bundles: Signed[] = [];

/** `cairn ARGS` on a machine: its folder is the working directory, as in the runbook. */
async function cairn(machine: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env, cwd: machine });
  if (code !== 0) throw new Error(`cairn ${args.join(' ')} (in ${machine}) failed with ${code}: ${err}`);
  return out;
}

async function startServer(): Promise<void> {
  const config = loadConfig({ overrides: { port, dataDir: m.server, dev: true, logLevel: 'silent' } });
  stack = await startStack(config, { components: COMPONENTS, logger: silentLogger });
  url = stack.url;
  port = Number(new URL(url).port);
}

async function stopServer(): Promise<void> {
  await stack?.close();
  stack = undefined;
}

/** The tuf component re-reads its directory every few seconds; the test does not wait for that. */
async function refreshTuf(): Promise<void> {
  const tuf = stack!.services.find((s) => s.name === 'tuf') as unknown as { refresh(): Promise<void> };
  await tuf.refresh();
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200, await ready.text());
}

/** Runbook §2: the public material of the running services, carried to the coordinator. */
async function collectTrustInfo(): Promise<void> {
  const r = await fetch(`${url}/api/cairn/v1/trust-info`);
  assert.equal(r.status, 200);
  writeFileSync(join(usb, 'trust-info.json'), Buffer.from(await r.arrayBuffer()));
  copyFileSync(join(usb, 'trust-info.json'), join(m.coordinator, 'trust-info.json'));
}

/** Runbook §3: the coordinator exports, each keyholder imports, signs, exports back. */
async function collectSignatures(who: number[]): Promise<void> {
  await cairn(m.coordinator, ['tuf', 'export', '--dir', 'repo', '--out', join(usb, 'repo.tar.gz')]);
  for (const i of who) {
    const kh = m.keyholder[i - 1]!;
    await cairn(kh, ['tuf', 'import', '--in', join(usb, 'repo.tar.gz'), '--dir', 'repo']);
    assert.match(await cairn(kh, ['tuf', 'status', '--dir', 'repo']), /staged (root|targets) v\d+/);
    await cairn(kh, ['tuf', 'sign', '--dir', 'repo', '--key', 'usb-key/key.pem', '--passphrase-env', 'KEY_PASS'], { KEY_PASS: `passphrase of keyholder ${i}` });
    await cairn(kh, ['tuf', 'export', '--dir', 'repo', '--out', join(usb, `signed-${i}.tar.gz`)]);
  }
  for (const i of who) await cairn(m.coordinator, ['tuf', 'import', '--in', join(usb, `signed-${i}.tar.gz`), '--dir', 'repo']);
}

/** Runbook §3, last part: publish on the coordinator, carry the archive to the server, import. */
async function publishAndShip(): Promise<void> {
  const status = JSON.parse(await cairn(m.coordinator, ['tuf', 'status', '--dir', 'repo', '--json'])) as { staged: { ready: boolean }[] };
  assert.ok(status.staged.length > 0 && status.staged.every((s) => s.ready), JSON.stringify(status));
  await cairn(m.coordinator, ['tuf', 'publish', '--dir', 'repo']);
  await cairn(m.coordinator, ['tuf', 'export', '--dir', 'repo', '--out', join(usb, 'server.tar.gz'), '--include-online-keys']);
  await cairn(m.server, ['tuf', 'import', '--in', join(usb, 'server.tar.gz'), '--dir', 'tuf', '--server']);
  rmSync(join(usb, 'server.tar.gz'));
  await refreshTuf();
}

async function signBundle(name: string): Promise<void> {
  const token = await mintDevToken(join(m.server, 'oidc'), { subject: SUBJECT }, systemClock);
  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name, digest: { sha256: 'a'.repeat(64) } }],
      predicateType: 'https://example.com/runbook/v1',
      predicate: { step: name },
    }),
  );
  const bundle = await sigstore.attest(statement, 'application/vnd.in-toto+json', {
    fulcioURL: url,
    rekorURL: url,
    identityProvider: { getToken: () => Promise.resolve(token) },
  });
  const path = join(base, 'bundles', `${name}.sigstore.json`);
  mkdirSync(join(base, 'bundles'), { recursive: true });
  writeFileSync(path, JSON.stringify(bundle));
  bundles.push({ name, path });
}

function freshHome(): Record<string, string> {
  const home = mkdtempSync(join(base, 'home-'));
  return { ...(process.env as Record<string, string>), HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CACHE_HOME: join(home, 'cache') };
}

interface Expect {
  root: number;
  tlogs: number;
  ctlogs: number;
  cas: number;
  /** Bundles the sigstore CLI verifies (the library verifies all of them). */
  cliVerify: string[];
}

/** Every client starts from the original 1.root.json and must reach the state just published. */
async function clientsReach(e: Expect): Promise<void> {
  const mirror = `${url}/tuf`;
  // tuf-js
  const tufjs = mkdtempSync(join(base, 'tufjs-'));
  mkdirSync(join(tufjs, 'targets'));
  copyFileSync(originalRoot, join(tufjs, 'root.json'));
  const updater = new Updater({ metadataBaseUrl: mirror, metadataDir: tufjs, targetBaseUrl: `${mirror}/targets`, targetDir: join(tufjs, 'targets') });
  await updater.refresh();
  assert.equal(parseMetadata('root', readFileSync(join(tufjs, 'root.json'))).signed.version, e.root, 'tuf-js follows the root chain');
  const info = await updater.getTargetInfo('trusted_root.json');
  assert.ok(info);
  const tr = JSON.parse(readFileSync(await updater.downloadTarget(info, join(tufjs, 'targets', 'trusted_root.json')), 'utf8')) as {
    tlogs: unknown[];
    ctlogs: unknown[];
    certificateAuthorities: unknown[];
  };
  assert.deepEqual([tr.tlogs.length, tr.ctlogs.length, tr.certificateAuthorities.length], [e.tlogs, e.ctlogs, e.cas], 'retired keys stay');
  // Retired: an end at the time of its trust build (the current ones have none, or the end of the certificate).
  const soon = Date.now() + 3600_000;
  const ended = (xs: unknown[], window: (x: never) => { end?: string }): number =>
    xs.filter((x) => {
      const end = window(x as never).end;
      return end !== undefined && new Date(end).getTime() < soon;
    }).length;
  assert.deepEqual(
    [
      ended(tr.tlogs, (x: { publicKey: { validFor: { end?: string } } }) => x.publicKey.validFor),
      ended(tr.ctlogs, (x: { publicKey: { validFor: { end?: string } } }) => x.publicKey.validFor),
      ended(tr.certificateAuthorities, (x: { validFor: { end?: string } }) => x.validFor),
    ],
    [e.tlogs - 1, e.ctlogs - 1, e.cas - 1],
    'every retired key has a validFor.end, the current ones do not end now',
  );

  // @sigstore/tuf
  const st = await getTrustedRoot({ mirrorURL: mirror, rootPath: originalRoot, cachePath: mkdtempSync(join(base, 'sigstore-tuf-')), forceInit: true });
  assert.equal(st.tlogs.length, e.tlogs);

  // cairn trust init / refresh (a cache seeded once from 1.root.json and refreshed every step)
  const cache = join(base, 'cairn-cache');
  if (!existsSync(cache)) await cairn(base, ['trust', 'init', '--mirror', mirror, '--root', originalRoot, '--cache', cache]);
  assert.match(await cairn(base, ['trust', 'refresh', '--mirror', mirror, '--cache', cache]), new RegExp(`TUF root v${e.root},`));

  // sigstore CLI: initialize, then verify bundles from before and after the step.
  const env = freshHome();
  const cliCache = mkdtempSync(join(base, 'cli-cache-'));
  await execFileP(SIGSTORE_BIN, ['initialize', '--mirror', mirror, '--root', originalRoot, '--cache-path', cliCache], { env });
  const cachedRoot = join(cliCache, encodeURIComponent(new URL(mirror).host + '/tuf'), 'root.json');
  assert.equal(parseMetadata('root', readFileSync(cachedRoot)).signed.version, e.root, 'sigstore initialize reaches the new root');
  for (const name of e.cliVerify) {
    const b = bundles.find((x) => x.name === name)!;
    const args = ['verify', b.path, '--tuf-mirror-url', mirror, '--tuf-root-path', originalRoot, '--tuf-cache-path', mkdtempSync(join(base, 'cli-v-'))];
    await execFileP(SIGSTORE_BIN, [...args, '--certificate-issuer', `${url}/oidc`, '--certificate-identity-uri', SUBJECT], { env });
  }

  // the sigstore library: every bundle signed so far
  const tufCachePath = mkdtempSync(join(base, 'lib-cache-'));
  for (const b of bundles) {
    const bundle = JSON.parse(readFileSync(b.path, 'utf8')) as Parameters<typeof sigstore.verify>[0];
    await sigstore.verify(bundle, { tufMirrorURL: mirror, tufRootPath: originalRoot, tufCachePath, certificateIssuer: `${url}/oidc`, certificateIdentityURI: SUBJECT });
  }
}

before(() => {
  base = mkdtempSync(join(tmpdir(), 'cairn-runbook-'));
  usb = join(base, 'usb');
  m.ca = join(base, 'ca-machine');
  m.coordinator = join(base, 'coordinator');
  m.server = join(base, 'server');
  m.keyholder = [1, 2, 3, 4].map((i) => join(base, `keyholder-${i}`));
  for (const d of [usb, m.ca, m.coordinator, m.server, ...m.keyholder]) mkdirSync(d, { recursive: true });
});

after(async () => {
  await stopServer();
  rmSync(base, { recursive: true, force: true });
});

test('runbook §1-3: CA keys, services, the initial ceremony (3 keyholders, threshold 2)', { timeout: STEP_TIMEOUT }, async () => {
  // §1 the offline CA machine; the server gets the intermediate pair and the root certificate.
  await cairn(m.ca, ['ca', 'init', '--dir', 'ca-keys', '--curve', 'p256', '--org', 'Example', '--cn', 'Example code signing']);
  mkdirSync(join(m.server, 'ca'), { recursive: true });
  for (const f of ['root.crt.pem', 'intermediate.crt.pem', 'intermediate-key.pem']) copyFileSync(join(m.ca, 'ca-keys', f), join(m.server, 'ca', f));
  // §2 the services start (the log and CT keys are made on first start); the TUF component is not
  // ready until a ceremony's repository is imported.
  await startServer();
  assert.equal((await fetch(`${url}/readyz`)).status, 503);
  await collectTrustInfo();
  // §3 keyholders make their keys on their own machines; only the .pub files travel.
  for (const [i, kh] of m.keyholder.entries()) {
    await cairn(kh, ['tuf', 'keygen', '--out', 'usb-key/key.pem', '--passphrase-env', 'KEY_PASS'], { KEY_PASS: `passphrase of keyholder ${i + 1}` });
    copyFileSync(join(kh, 'usb-key', 'key.pem.pub'), join(m.coordinator, `keyholder-${i + 1}.pub`));
  }
  const keys = [1, 2, 3].flatMap((i) => ['--root-key', `keyholder-${i}.pub`]);
  await cairn(m.coordinator, ['tuf', 'init', '--dir', 'repo', ...keys, '--root-threshold', '2', '--targets-threshold', '2']);
  await cairn(m.coordinator, ['trust', 'build', '--trust-info', 'trust-info.json', '--dir', 'repo']);
  await collectSignatures([1, 2]);
  await publishAndShip();
  originalRoot = join(base, 'clients-1.root.json');
  copyFileSync(join(m.coordinator, 'repo', 'repository', '1.root.json'), originalRoot);
  await signBundle('initial');
  await clientsReach({ root: 1, tlogs: 1, ctlogs: 1, cas: 1, cliVerify: ['initial'] });
  // The verifiers are real: another identity is refused.
  const bundle = JSON.parse(readFileSync(bundles[0]!.path, 'utf8')) as Parameters<typeof sigstore.verify>[0];
  await assert.rejects(
    sigstore.verify(bundle, { tufMirrorURL: `${url}/tuf`, tufRootPath: originalRoot, tufCachePath: mkdtempSync(join(base, 'neg-')), certificateIssuer: `${url}/oidc`, certificateIdentityURI: `${SUBJECT}/other` }),
  );
});

test('runbook §4: root rotation: add keyholder 4, revoke keyholder 3, root threshold 3', { timeout: STEP_TIMEOUT }, async () => {
  await cairn(m.coordinator, ['tuf', 'root-rotate', '--dir', 'repo', '--add-root-key', 'keyholder-4.pub', '--revoke-root-key', 'keyholder-3.pub', '--root-threshold', '3']);
  // root v2 needs 2 of v1's keys {1,2,3} and 3 of its own {1,2,4}.
  await collectSignatures([1, 2, 4]);
  await publishAndShip();
  assert.equal((await fetch(`${url}/tuf/2.root.json`)).status, 200);
  await signBundle('after-root-rotation');
  await clientsReach({ root: 2, tlogs: 1, ctlogs: 1, cas: 1, cliVerify: ['after-root-rotation'] });
});

test('runbook §4: targets key revocation with re-signing', { timeout: STEP_TIMEOUT }, async () => {
  await cairn(m.coordinator, ['tuf', 'root-rotate', '--dir', 'repo', '--revoke-targets-key', 'keyholder-3.pub', '--add-targets-key', 'keyholder-4.pub']);
  await cairn(m.coordinator, ['tuf', 'resign-targets', '--dir', 'repo']);
  await collectSignatures([1, 2, 4]);
  await publishAndShip();
  await signBundle('after-targets-revocation');
  await clientsReach({ root: 3, tlogs: 1, ctlogs: 1, cas: 1, cliVerify: ['after-targets-revocation'] });
});

test('runbook §4: online key rotation', { timeout: STEP_TIMEOUT }, async () => {
  const before = readFileSync(join(m.server, 'tuf', 'online', 'timestamp.pem'));
  await cairn(m.coordinator, ['tuf', 'root-rotate', '--dir', 'repo', '--rotate-online-keys']);
  await collectSignatures([1, 2, 4]);
  await publishAndShip();
  assert.notDeepEqual(readFileSync(join(m.server, 'tuf', 'online', 'timestamp.pem')), before, 'the server signs with the new online keys');
  await clientsReach({ root: 4, tlogs: 1, ctlogs: 1, cas: 1, cliVerify: [] });
});

test('runbook §4: CA intermediate rotation (old chain kept with validFor.end)', { timeout: STEP_TIMEOUT }, async () => {
  await cairn(m.ca, ['ca', 'rotate-intermediate', '--dir', 'ca-keys']);
  await stopServer();
  for (const f of ['intermediate.crt.pem', 'intermediate-key.pem']) copyFileSync(join(m.ca, 'ca-keys', f), join(m.server, 'ca', f));
  await startServer();
  await collectTrustInfo();
  await cairn(m.coordinator, ['trust', 'build', '--trust-info', 'trust-info.json', '--dir', 'repo']);
  await collectSignatures([1, 2]);
  await publishAndShip();
  await signBundle('after-ca-rotation');
  await clientsReach({ root: 4, tlogs: 1, ctlogs: 1, cas: 2, cliVerify: ['initial', 'after-ca-rotation'] });
});

test('runbook §4: log key rotation = a new log shard (the old key stays for its window)', { timeout: STEP_TIMEOUT }, async () => {
  await stopServer();
  renameSync(join(m.server, 'log'), join(m.server, 'log-shard-1'));
  await startServer();
  await collectTrustInfo();
  await cairn(m.coordinator, ['trust', 'build', '--trust-info', 'trust-info.json', '--dir', 'repo']);
  await collectSignatures([2, 4]);
  await publishAndShip();
  await signBundle('after-log-rotation');
  await clientsReach({ root: 4, tlogs: 2, ctlogs: 1, cas: 2, cliVerify: ['after-ca-rotation', 'after-log-rotation'] });
});

test('runbook §4: CT log key rotation', { timeout: STEP_TIMEOUT }, async () => {
  await stopServer();
  renameSync(join(m.server, 'ct'), join(m.server, 'ct-shard-1'));
  await startServer();
  await collectTrustInfo();
  await cairn(m.coordinator, ['trust', 'build', '--trust-info', 'trust-info.json', '--dir', 'repo']);
  await collectSignatures([1, 4]);
  await publishAndShip();
  await signBundle('after-ct-rotation');
  await clientsReach({ root: 4, tlogs: 2, ctlogs: 2, cas: 2, cliVerify: ['after-log-rotation', 'after-ct-rotation'] });
});
