/**
 * cairn image against Debian's docker-registry 2.8.2 (no referrers API: the tag schema path),
 * a second instance with htpasswd Basic auth, the in-process Cairn stack for keyless signing,
 * skopeo as an independent reader of cosign's legacy objects, and @sigstore/cli's `attach`
 * (@sigstore/oci) attaching a sigstore-js bundle that cairn finds and verifies.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sigstore from 'sigstore';
import { RegistryClient, verifyImage, digestTag, parseReference, OciError } from '@cairn/oci';
import { parseTrustedRoot } from '@cairn/verify';
import { cli, runAsync, startSignStack, SUBJECT, type SignStack } from './sign-fixtures.ts';
import { pushImage, pushIndex, startRegistry, type Registry } from './oci-fixtures.ts';

let s: SignStack;
let reg: Registry;
let authReg: Registry;
let client: RegistryClient;
let work: string;
const USER = 'ci';
const PASSWORD = 'registry-password-1';

before(async () => {
  s = await startSignStack({ tsa: true });
  reg = await startRegistry();
  authReg = await startRegistry({ user: USER, password: PASSWORD });
  client = new RegistryClient({ dockerConfig: false });
  work = mkdtempSync(join(tmpdir(), 'cairn-oci-'));
  writeFileSync(join(work, 'password'), `${PASSWORD}\n`);
});

after(async () => {
  await reg?.stop();
  await authReg?.stop();
  await s?.stack.close();
});

const env = (): Record<string, string> => ({ HOME: work });
const verifyFlags = (): string[] => ['--certificate-identity', SUBJECT, '--certificate-oidc-issuer', s.issuer, '--trusted-root', s.trustedRootPath];

for (const format of ['bundle', 'legacy'] as const) {
  test(`keyless ${format}: sign a tag, verify (exit 0, JSON), move the tag: exit 1 [real registry]`, async () => {
    const ref = `${reg.host}/app-${format}:v1`;
    const img = await pushImage(client, ref, `one-${format}`);
    const token = await s.token();
    const signed = await cli(['image', 'sign', ref, '--url', s.url, '--identity-token', token, '--format', format], env());
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(signed.stdout.trim(), `${reg.host}/app-${format}@${img.digest}`);

    const ok = await cli(['image', 'verify', ref, ...verifyFlags(), '--json'], env());
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const j = JSON.parse(ok.stdout);
    assert.equal(j.verified, true);
    assert.equal(j.digest, img.digest);
    const sig = j.signatures.find((f: any) => f.verified);
    assert.equal(sig.format, format);
    assert.deepEqual(sig.signer, { type: 'certificate', subject: SUBJECT, issuer: s.issuer });

    // Another identity never verifies.
    const wrong = await cli(['image', 'verify', ref, '--certificate-identity', 'https://ci.example.internal/pipelines/43', '--certificate-oidc-issuer', s.issuer, '--trusted-root', s.trustedRootPath, '--json'], env());
    assert.equal(wrong.code, 1);
    assert.equal(JSON.parse(wrong.stdout).code, 'IDENTITY_MISMATCH');

    // The tag moves to another image: the signature stays with the old digest.
    await pushImage(client, ref, `two-${format}`);
    const moved = await cli(['image', 'verify', ref, ...verifyFlags(), '--json'], env());
    assert.equal(moved.code, 1);
    assert.equal(JSON.parse(moved.stdout).code, 'NO_SIGNATURES');
  });
}

test('legacy: skopeo reads cosign media type and annotations; a second signature is appended, the first kept', async () => {
  const ref = `${reg.host}/legacy-append:v1`;
  const img = await pushImage(client, ref, 'append');
  for (let i = 0; i < 2; i++) {
    const r = await cli(['image', 'sign', ref, '--url', s.url, '--identity-token', await s.token(), '--format', 'legacy'], env());
    assert.equal(r.code, 0, r.stderr);
  }
  const sk = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/legacy-append:${digestTag(img.digest, 'sig')}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(sk.status, 0, sk.stderr);
  const m = JSON.parse(sk.stdout);
  assert.equal(m.layers.length, 2);
  for (const l of m.layers) {
    assert.equal(l.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    assert.match(l.annotations['dev.cosignproject.cosign/signature'], /^ME[QUY]C/);
    assert.match(l.annotations['dev.sigstore.cosign/certificate'], /BEGIN CERTIFICATE/);
    assert.match(l.annotations['dev.sigstore.cosign/chain'], /BEGIN CERTIFICATE/);
    assert.ok(JSON.parse(l.annotations['dev.sigstore.cosign/bundle']).SignedEntryTimestamp);
  }
  const r = await verifyImage({ client, reference: ref, trustedRoot: parseTrustedRoot(s.trustedRoot), policy: { identities: [{ issuer: s.issuer, subjectRegExp: '^https://ci\\.example\\.internal/pipelines/[0-9]+$' }] } });
  assert.equal(r.verified, true);
  assert.equal(r.signatures.filter((f) => f.verified && f.format === 'legacy').length, 2);
});

test('legacy with a TSA: the RFC 3161 token rides in cosign\'s rfc3161timestamp annotation and counts as a timestamp; a malformed one is PAYLOAD_INVALID', async () => {
  const ref = `${reg.host}/legacy-tsa:v1`;
  const img = await pushImage(client, ref, 'legacy-tsa');
  const r = await cli(['image', 'sign', ref, '--url', s.url, '--identity-token', await s.token(), '--format', 'legacy', '--tsa-url', `${s.url}/api/v1/timestamp`], env());
  assert.equal(r.code, 0, r.stderr);
  const repo = parseReference(`${reg.host}/legacy-tsa`);
  const sig = await client.getManifest(repo, digestTag(img.digest, 'sig'));
  const m = JSON.parse(sig.bytes.toString('utf8'));
  const annotation = JSON.parse(m.layers[0].annotations['dev.sigstore.cosign/rfc3161timestamp']);
  // openssl reads the token as a timestamp reply: granted, over SHA-256 of the signature.
  const der = join(work, 'legacy.tsr');
  writeFileSync(der, Buffer.from(annotation.SignedRFC3161Timestamp, 'base64'));
  const text = spawnSync('openssl', ['ts', '-reply', '-in', der, '-text'], { encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /Status: Granted/);
  assert.match(text.stdout, /Hash Algorithm: sha256/);
  // Two distinct timestamps: the SET's integrated time and the TSA's token (without the
  // annotation the threshold of 2 could not be met).
  const two = await cli(['image', 'verify', ref, ...verifyFlags(), '--timestamp-threshold', '2', '--json'], env());
  assert.equal(two.code, 0, two.stdout + two.stderr);
  const three = await cli(['image', 'verify', ref, ...verifyFlags(), '--timestamp-threshold', '3', '--json'], env());
  assert.equal(three.code, 1);
  assert.equal(JSON.parse(three.stdout).code, 'TIMESTAMP_THRESHOLD');

  // Someone with registry write access rewrites the annotation: refused, named.
  for (const bad of ['not json', '{"SignedRFC3161Timestamp":5}', '{"SignedRFC3161Timestamp":"%%%="}']) {
    m.layers[0].annotations['dev.sigstore.cosign/rfc3161timestamp'] = bad;
    await client.putManifest(repo, digestTag(img.digest, 'sig'), Buffer.from(JSON.stringify(m)), sig.mediaType);
    const v = await verifyImage({ client, reference: ref, trustedRoot: parseTrustedRoot(s.trustedRoot), policy: { identities: [{ issuer: s.issuer, subject: SUBJECT }] } });
    assert.equal(v.verified, false);
    assert.equal(v.signatures[0]?.code, 'PAYLOAD_INVALID', bad);
  }
});

test('a legacy signature whose payload names another digest never verifies (SUBJECT_MISMATCH)', async () => {
  const a = await pushImage(client, `${reg.host}/swap:a`, 'swap-a');
  const b = await pushImage(client, `${reg.host}/swap:b`, 'swap-b');
  assert.equal((await cli(['image', 'sign', `${reg.host}/swap:a`, '--url', s.url, '--identity-token', await s.token(), '--format', 'legacy'], env())).code, 0);
  // An attacker with registry write access copies A's signature object to B's tag.
  const repo = parseReference(`${reg.host}/swap`);
  const sigA = await client.getManifest(repo, digestTag(a.digest, 'sig'));
  await client.putManifest(repo, digestTag(b.digest, 'sig'), sigA.bytes, sigA.mediaType);
  const r = await verifyImage({ client, reference: `${reg.host}/swap:b`, trustedRoot: parseTrustedRoot(s.trustedRoot), policy: { identities: [{ issuer: s.issuer, subject: SUBJECT }] } });
  assert.equal(r.verified, false);
  assert.equal(r.signatures[0]?.code, 'SUBJECT_MISMATCH');
});

test('attest (bundle and legacy) then verify-attestation with conditions; a failed condition exits 1', async () => {
  const ref = `${reg.host}/attested:v1`;
  await pushImage(client, ref, 'attested');
  const predicate = join(work, 'provenance.json');
  writeFileSync(predicate, JSON.stringify({ buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: { repository: 'your-org/app' } }, runDetails: { builder: { id: 'https://ci.example.internal/builder' } } }));
  for (const format of ['bundle', 'legacy']) {
    const r = await cli(['image', 'attest', ref, '--predicate', predicate, '--type', 'slsaprovenance', '--url', s.url, '--identity-token', await s.token(), '--format', format], env());
    assert.equal(r.code, 0, r.stderr);
  }
  const ok = await cli(['image', 'verify-attestation', ref, '--type', 'slsaprovenance', '--condition', 'buildDefinition.externalParameters.repository=glob:your-org/*', ...verifyFlags(), '--json'], env());
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const j = JSON.parse(ok.stdout);
  assert.deepEqual(j.attestations.filter((f: any) => f.verified).map((f: any) => f.format).sort(), ['bundle', 'legacy']);
  const bad = await cli(['image', 'verify-attestation', ref, '--type', 'slsaprovenance', '--condition', 'buildDefinition.externalParameters.repository=other-org/app', ...verifyFlags(), '--json'], env());
  assert.equal(bad.code, 1);
  assert.equal(JSON.parse(bad.stdout).requirements[0].code, 'CONDITION_FAILED');
});

test('multi-platform: the index digest is signed; --recursive signs each platform manifest too', async () => {
  const ref = `${reg.host}/multi:v1`;
  const idx = await pushIndex(client, ref, 'multi');
  const r = await cli(['image', 'sign', ref, '--url', s.url, '--identity-token', await s.token(), '--recursive'], env());
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [idx.digest, ...idx.children].map((d) => `${reg.host}/multi@${d}`));
  for (const d of idx.children) {
    const v = await cli(['image', 'verify', `${reg.host}/multi@${d}`, ...verifyFlags()], env());
    assert.equal(v.code, 0, v.stdout);
  }
  const tree = await cli(['image', 'tree', ref, '--json'], env());
  const t = JSON.parse(tree.stdout);
  assert.equal(t.manifests.length, 2);
  assert.equal(t.referrers.length, 1);
});

test('save, load into the Basic-auth registry, verify there, and from the layout in a child process (files only)', async () => {
  const ref = `${reg.host}/carry:v1`;
  const img = await pushImage(client, ref, 'carry');
  assert.equal((await cli(['image', 'sign', ref, '--url', s.url, '--identity-token', await s.token()], env())).code, 0);
  assert.equal((await cli(['image', 'sign', ref, '--url', s.url, '--identity-token', await s.token(), '--format', 'legacy'], env())).code, 0);
  const dir = join(work, 'layout');
  const saved = await cli(['image', 'save', ref, '--dir', dir], env());
  assert.equal(saved.code, 0, saved.stderr);
  const dest = `${authReg.host}/inner/carry:v1`;
  const creds = ['--registry-username', USER, '--registry-password-file', join(work, 'password')];
  const noCreds = await cli(['image', 'load', '--dir', dir, dest], env());
  assert.equal(noCreds.code, 1);
  assert.match(noCreds.stderr, /\[AUTH_REQUIRED\]/);
  const loaded = await cli(['image', 'load', '--dir', dir, dest, ...creds], env());
  assert.equal(loaded.code, 0, loaded.stderr);
  const there = await cli(['image', 'verify', dest, ...verifyFlags(), ...creds, '--json'], env());
  assert.equal(there.code, 0, there.stdout + there.stderr);
  assert.equal(JSON.parse(there.stdout).digest, img.digest);
  assert.equal(JSON.parse(there.stdout).signatures.filter((f: any) => f.verified).length, 2);
  // cosign's --offline: only the registry is read, so the same verification passes with it.
  const offline = await cli(['image', 'verify', dest, ...verifyFlags(), ...creds, '--offline'], env());
  assert.equal(offline.code, 0, offline.stdout + offline.stderr);
  // From the layout: --layout reads files only, no registry is named; with --offline every
  // network use is refused for the run, and the verification still passes.
  for (const extra of [[], ['--offline']]) {
    const child = await runAsync(process.execPath, ['--import', 'tsx', 'client/cli/bin/cairn.js', 'image', 'verify', '--layout', dir, ...verifyFlags(), ...extra], { ...process.env, HOME: work });
    assert.equal(child.status, 0, child.stdout + child.stderr);
    assert.match(child.stdout, /Verified OK/);
  }
});

test('@sigstore/cli attach (@sigstore/oci, Basic auth) attaches a sigstore-js bundle that cairn image verify-attestation verifies', async () => {
  const ref = `${authReg.host}/attached:v1`;
  const authed = new RegistryClient({ dockerConfig: false, credentials: { [authReg.host]: { username: USER, password: PASSWORD } } });
  const img = await pushImage(authed, ref, 'attached');
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: `${authReg.host}/attached`, digest: { sha256: img.digest.slice(7) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: { repository: 'your-org/app' } }, runDetails: { builder: { id: 'https://ci.example.internal/builder' } } },
  };
  const token = await s.token();
  const bundle = await sigstore.attest(Buffer.from(JSON.stringify(statement)), 'application/vnd.in-toto+json', { fulcioURL: s.url, rekorURL: s.url, identityProvider: { getToken: () => Promise.resolve(token) } });
  const bundlePath = join(work, 'attached.sigstore.json');
  writeFileSync(bundlePath, JSON.stringify(bundle));
  const r = await runAsync('node_modules/.bin/sigstore', ['attach', '--attestation', bundlePath, '-u', USER, '-p', PASSWORD, `${authReg.host}/attached@${img.digest}`], { ...process.env, HOME: work });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const creds = ['--registry-username', USER, '--registry-password-file', join(work, 'password')];
  const v = await cli(['image', 'verify-attestation', ref, '--type', 'slsaprovenance', ...verifyFlags(), ...creds, '--json'], env());
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.equal(JSON.parse(v.stdout).attestations[0].format, 'bundle');
});

test('library: a deadline bounds every operation; a bad reference is REFERENCE_INVALID', async () => {
  assert.throws(() => parseReference('Not A Ref'), (e: unknown) => e instanceof OciError && e.code === 'REFERENCE_INVALID');
  assert.throws(() => parseReference('a/b@sha512:' + 'a'.repeat(128)), (e: unknown) => e instanceof OciError && e.code === 'DIGEST_UNSUPPORTED');
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(client.getManifest(parseReference(`${reg.host}/app-bundle:v1`), 'v1', { signal: aborted.signal }), (e: unknown) => e instanceof OciError && e.code === 'ABORTED');
});

test('legacy format and Rekor v2: the CLI refuses --format legacy --rekor-version 2 (USAGE), the library OPTIONS_INVALID, nothing is pushed', async () => {
  const ref = `${reg.host}/legacy-v2:v1`;
  const img = await pushImage(client, ref, 'legacy-v2');
  const r = await cli(['image', 'sign', ref, '--format', 'legacy', '--rekor-version', '2', '--url', s.url, '--identity-token', await s.token()], env());
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Rekor v1/);
  const { generateKey, LocalSigner } = await import('@cairn/shared');
  const { signImage } = await import('@cairn/oci');
  await assert.rejects(
    signImage({ client, reference: ref, format: 'legacy', sign: { signer: new LocalSigner(generateKey('ecdsa-p256')), rekorVersion: 2, rekorUrl: s.url } }),
    (e: unknown) => e instanceof OciError && e.code === 'OPTIONS_INVALID',
  );
  await assert.rejects(client.getManifest(parseReference(ref), digestTag(img.digest, 'sig')), (e: unknown) => e instanceof OciError && e.code === 'NOT_FOUND');
});
