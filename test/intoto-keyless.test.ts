/**
 * Keyless in-toto links against the whole stack (`cairn up` as a process): `cairn intoto run
 * --keyless` gets a certificate from Cairn's CA (Fulcio v2 wire protocol, dev-mode OIDC token),
 * signs the link as DSSE, records it in the transparency log (Rekor v1 dsse 0.0.1), and writes the
 * link plus a Sigstore bundle that the real `sigstore` CLI verifies through Cairn's TUF mirror.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cairn, run, SIGSTORE_BIN, startCairn, type UpProcess } from './helpers/cli.ts';
import { cairnIn, failureCode } from './intoto-cli.ts';
import { checkSignature, parseMetadata, publicKeyFromKeyObject } from '@cairn/intoto';

const SUBJECT = 'https://ci.example.internal/pipelines/7';
let up: UpProcess;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cairn-intoto-keyless-data-'));
  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir]);
});

after(async () => {
  await up?.stop();
});

function token(): string {
  const r = cairn(['token', '--data-dir', dataDir, '--subject', SUBJECT]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function sigstoreVerify(bundle: string): { status: number | null; stdout: string; stderr: string } {
  const home = mkdtempSync(join(tmpdir(), 'cairn-home-'));
  return run(
    SIGSTORE_BIN,
    ['verify', bundle, '--tuf-mirror-url', `${up.url}/tuf`, '--tuf-root-path', join(dataDir, 'tuf/repository/1.root.json'), '--certificate-issuer', `${up.url}/oidc`, '--certificate-identity-uri', SUBJECT],
    { env: { HOME: home, XDG_DATA_HOME: join(home, 'd'), XDG_CACHE_HOME: join(home, 'c') } },
  );
}

test('keyless link: certificate from the CA, DSSE entry in the log, bundle verified by sigstore-js', { timeout: 120_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'cairn-intoto-keyless-'));
  writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\n');
  const r = await cairnIn(work, ['intoto', 'run', '--step', 'build', '--keyless', '--url', up.url, '-m', 'Dockerfile', '-p', 'image.tar', '--', 'tar', '-cf', 'image.tar', 'Dockerfile'], {
    ...process.env,
    SIGSTORE_ID_TOKEN: token(),
  });
  assert.equal(r.code, 0, r.stderr);
  const [linkPath, bundlePath] = r.stdout.trim().split('\n') as [string, string];
  assert.match(linkPath, /\/build\.[0-9a-f]{8}\.link$/);
  assert.equal(bundlePath, `${linkPath}.sigstore.json`);

  // The link is a DSSE in-toto link whose signature is the certified key's, named by its keyid.
  const md = parseMetadata(readFileSync(linkPath), 'link');
  assert.equal(md.kind, 'dsse');
  assert.equal(md.type, 'link');
  if (md.type !== 'link') return;
  assert.deepEqual(Object.keys(md.link.products), ['image.tar']);
  const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
  const cert = new X509Certificate(Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'));
  assert.match(cert.subjectAltName ?? '', new RegExp(SUBJECT.replace(/[.]/g, '\\.')));
  const certKey = publicKeyFromKeyObject(cert.publicKey);
  assert.equal(checkSignature(md, certKey), 'valid');
  assert.ok(linkPath.endsWith(`build.${certKey.keyid.slice(0, 8)}.link`));
  assert.equal(bundle.dsseEnvelope.payload, JSON.parse(readFileSync(linkPath, 'utf8')).payload);

  // The log holds it as a dsse entry at the index the bundle names.
  const entry = bundle.verificationMaterial.tlogEntries[0];
  assert.equal(entry.kindVersion.kind, 'dsse');
  const got = await fetch(`${up.url}/api/v1/log/entries?logIndex=${entry.logIndex}`);
  assert.equal(got.status, 200);
  const logged = (await got.json()) as Record<string, { body: string }>;
  const body = JSON.parse(Buffer.from(Object.values(logged)[0]!.body, 'base64').toString());
  assert.equal(body.kind, 'dsse');

  // The real sigstore client verifies the bundle through Cairn's TUF mirror; a changed payload does not.
  const ok = sigstoreVerify(bundlePath);
  assert.equal(ok.status, 0, ok.stderr + ok.stdout);
  const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
  payload[payload.length - 3]! ^= 0x01;
  bundle.dsseEnvelope.payload = payload.toString('base64');
  const tampered = join(work, 'tampered.sigstore.json');
  writeFileSync(tampered, JSON.stringify(bundle));
  assert.notEqual(sigstoreVerify(tampered).status, 0);
});

test('keyless with a token the CA rejects: CA_REQUEST_FAILED and no link written', { timeout: 60_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'cairn-intoto-keyless-bad-'));
  const forged = token().split('.');
  forged[2] = Buffer.from('not the signature').toString('base64url');
  const r = await cairnIn(work, ['intoto', 'run', '--step', 'build', '--keyless', '--url', up.url, '--identity-token', forged.join('.'), '--no-command']);
  assert.equal(r.code, 1);
  assert.equal(failureCode(r), 'CA_REQUEST_FAILED');
  assert.deepEqual(readdirSync(work), []);
});
