/**
 * Rekor v2 + TSA interop (issue 15): a whole stack in-process (OIDC, CT, log, CA, TSA, TUF with
 * the development ceremony, as `cairn up` runs it); the real sigstore-js signs against it through
 * `bundleBuilderFromSigningConfig` with the signing config from Cairn's TUF repository (v2 log +
 * TSA) and through `sign({tsaServerURL})`; `cairn sign`/`attest` follow the cached signing config.
 * Every bundle verifies with the real @sigstore/verify (trusted root fetched by @sigstore/tuf from
 * Cairn's TUF mirror) and with `cairn verify` offline, and the RFC 3161 tokens with OpenSSL.
 *
 * Written for both sigstore 4.1 / @sigstore/verify 3 (Node 20) and sigstore 5 / @sigstore/verify 4
 * (Node 22): only APIs present in both are called, and `bundleBuilderFromSigningConfig` is looked
 * up on the module rather than assumed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { COMPONENTS, loadConfig, silentLogger, systemClock, generateKey, privateKeyToPem } from '@cairn/shared';
import { mintDevToken } from '@cairn/oidc';
import { startStack, type Stack, bootstrapTrust, bootstrapTsa } from '@cairn/host';
import { defaultCacheDir, loadCachedSigningConfig } from '@cairn/trust';
import { cli, errorCode, readJson } from './sign-fixtures.ts';

// The sigstore-js modules are loaded untyped (and dynamically, as scripts/node22-interop.sh looks
// for) so that both majors fit; CommonJS modules arrive as `default`.
let sigstore: any;
let sigstoreSign: any;
let sigstoreVerify: any;
let sigstoreBundle: any;
let sigstoreTuf: any;
let protobufSpecs: any;

const SUBJECT = 'https://ci.example.internal/pipelines/42';
let stack: Stack;
let dataDir: string;
let work: string;
let mirror: string;
let rootPath: string;
let env: Record<string, string>;
let issuer: string;
let trustMaterial: any;

const token = (): Promise<string> => mintDevToken(join(dataDir, 'oidc'), { subject: SUBJECT }, systemClock);
const identityProvider = { getToken: () => token() };

before(async () => {
  sigstore = await import('sigstore').then((m: any) => m.default ?? m);
  sigstoreSign = await import('@sigstore/sign').then((m: any) => m.default ?? m);
  sigstoreVerify = await import('@sigstore/verify').then((m: any) => m.default ?? m);
  sigstoreBundle = await import('@sigstore/bundle').then((m: any) => m.default ?? m);
  sigstoreTuf = await import('@sigstore/tuf').then((m: any) => m.default ?? m);
  protobufSpecs = await import('@sigstore/protobuf-specs').then((m: any) => m.default ?? m);
  dataDir = mkdtempSync(join(tmpdir(), 'cairn-tsa-interop-data-'));
  work = mkdtempSync(join(tmpdir(), 'cairn-tsa-interop-work-'));
  const config = loadConfig({ overrides: { port: 0, dataDir, dev: true, logLevel: 'silent' } });
  stack = await startStack(config, {
    components: COMPONENTS,
    logger: silentLogger,
    beforeCreate: async (name, peers, baseUrl) => {
      if (name === 'tsa') await bootstrapTsa(join(dataDir, 'tsa'));
      if (name === 'tuf') await bootstrapTrust({ config, peers, baseUrl, tufDir: join(dataDir, 'tuf') });
    },
  });
  mirror = `${stack.url}/tuf`;
  rootPath = join(dataDir, 'tuf', 'repository', '1.root.json');
  issuer = `${stack.url}/oidc`;
  env = { CAIRN_TRUST_CACHE: join(work, 'trust-cache') };
  const init = await cli(['trust', 'init', '--mirror', mirror, '--root', rootPath], env);
  assert.equal(init.code, 0, init.stderr);
  // The trusted root as sigstore-js gets it: @sigstore/tuf from Cairn's TUF mirror.
  const trustedRoot = await sigstoreTuf.getTrustedRoot({ mirrorURL: mirror, rootPath, cachePath: join(work, 'sigstore-tuf'), forceInit: true });
  trustMaterial = sigstoreVerify.toTrustMaterial(trustedRoot);
});

after(async () => {
  await stack?.close();
});

function signingConfigJson(): any {
  return loadCachedSigningConfig(defaultCacheDir(mirror, env), { env });
}

function verifyWithSigstore(bundleJson: unknown, artifact: Buffer | undefined): void {
  const verifier = new sigstoreVerify.Verifier(trustMaterial);
  verifier.verify(sigstoreVerify.toSignedEntity(sigstoreBundle.bundleFromJSON(bundleJson), artifact), { subjectAlternativeName: SUBJECT, extensions: { issuer } });
}

async function cairnVerify(file: string, bundlePath: string, extra: string[] = []): Promise<{ code: number; stderr: string; stdout: string }> {
  return cli(['verify', file, '--bundle', bundlePath, '--tuf-mirror', mirror, '--offline', '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', issuer, ...extra], env);
}

function write(name: string, content: string | Buffer): string {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
}

/** openssl ts -verify of a bundle's token over the SHA-256 of its signature, against /certchain. */
async function opensslVerifiesToken(bundle: any, signature: Buffer): Promise<string> {
  const chain = write('chain.pem', await (await fetch(`${stack.url}/api/v1/timestamp/certchain`)).text());
  const pem = readFileSync(chain, 'utf8');
  const leaf = write('tsa-leaf.pem', pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 26));
  const tsr = write('token.tsr', Buffer.from(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64'));
  const digest = createHash('sha256').update(signature).digest('hex');
  const r = spawnSync('openssl', ['ts', '-verify', '-in', tsr, '-digest', digest, '-CAfile', chain, '-untrusted', leaf], { encoding: 'utf8', timeout: 20_000 });
  return `${r.stdout}${r.stderr}`;
}

test('the signing config from the TUF repository lists the v2 log first and the TSA; the trusted root lists the TSA', () => {
  const sc = signingConfigJson();
  assert.equal(sc.mediaType, 'application/vnd.dev.sigstore.signingconfig.v0.2+json');
  assert.deepEqual(sc.rekorTlogUrls.map((s: any) => [s.url, s.majorApiVersion]), [[stack.url, 2], [stack.url, 1]]);
  assert.ok(Date.parse(sc.rekorTlogUrls[0].validFor.start) >= Date.parse(sc.rekorTlogUrls[1].validFor.start));
  assert.deepEqual(sc.tsaUrls.map((s: any) => s.url), [`${stack.url}/api/v1/timestamp`]);
  assert.deepEqual(sc.tsaConfig, { selector: 'ANY' });
  const root = readJson(join(defaultCacheDir(mirror, env), 'targets', 'trusted_root.json'));
  assert.equal(root.timestampAuthorities.length, 1);
  assert.equal(root.timestampAuthorities[0].certChain.certificates.length, 2);
  assert.ok(root.timestampAuthorities[0].validFor.start);
  // What sigstore-js reads from the same repository agrees.
  assert.equal(trustMaterial.timestampAuthorities.length, 1);
});

function builderFor(bundleType: 'messageSignature' | 'dsseEnvelope'): any {
  const signingConfig = protobufSpecs.SigningConfig.fromJSON(signingConfigJson());
  if (typeof sigstoreSign.bundleBuilderFromSigningConfig === 'function') {
    return sigstoreSign.bundleBuilderFromSigningConfig({ signingConfig, identityProvider, bundleType });
  }
  // Fallback for a release without it: the same parts by hand.
  const signer = new sigstoreSign.FulcioSigner({ fulcioBaseURL: stack.url, identityProvider });
  const witnesses = [new sigstoreSign.RekorWitness({ rekorBaseURL: stack.url, majorApiVersion: 2 }), new sigstoreSign.TSAWitness({ tsaBaseURL: `${stack.url}/api/v1/timestamp` })];
  return bundleType === 'messageSignature' ? new sigstoreSign.MessageSignatureBundleBuilder({ signer, witnesses }) : new sigstoreSign.DSSEBundleBuilder({ signer, witnesses });
}

test('sigstore-js bundleBuilderFromSigningConfig (v2 log + TSA): message signature and DSSE verify with @sigstore/verify and cairn verify', async () => {
  const blob = Buffer.from(`v2 blob ${Date.now()}\n`);
  const built = await builderFor('messageSignature').create({ data: blob });
  const bundle = sigstoreBundle.bundleToJSON(built);
  const entry = bundle.verificationMaterial.tlogEntries[0];
  assert.deepEqual(entry.kindVersion, { kind: 'hashedrekord', version: '0.0.2' });
  assert.equal(entry.inclusionPromise, undefined, 'a v2 entry has no SET');
  assert.equal(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  verifyWithSigstore(bundle, blob);
  assert.throws(() => verifyWithSigstore(bundle, Buffer.from('other')), 'the oracle can fail');
  const artifact = write('v2-blob.txt', blob);
  const bundlePath = write('v2-blob.sigstore.json', JSON.stringify(bundle));
  const v = await cairnVerify(artifact, bundlePath);
  assert.equal(v.code, 0, v.stderr);
  // Without the TSA token the v2 entry alone proves no time: both verifiers refuse.
  const bare = structuredClone(bundle);
  bare.verificationMaterial.timestampVerificationData = {};
  assert.throws(() => verifyWithSigstore(bare, blob));
  const v2 = await cairnVerify(artifact, write('v2-bare.sigstore.json', JSON.stringify(bare)));
  assert.equal(errorCode(v2), 'TIMESTAMP_THRESHOLD');
  assert.match(await opensslVerifiesToken(bundle, Buffer.from(bundle.messageSignature.signature, 'base64')), /Verification: OK/);

  const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: createHash('sha256').update(blob).digest('hex') } }], predicateType: 'https://example.com/p', predicate: {} };
  const dsse = sigstoreBundle.bundleToJSON(await builderFor('dsseEnvelope').create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' }));
  assert.equal(dsse.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  verifyWithSigstore(dsse, undefined);
  const d = await cairnVerify(artifact, write('v2-dsse.sigstore.json', JSON.stringify(dsse)));
  assert.equal(d.code, 0, d.stderr);
});

test('sigstore.sign({tsaServerURL}) and attest: the TSA token is in the bundle; sigstore.verify from the TUF mirror and cairn verify accept', async () => {
  const blob = Buffer.from(`tsa blob ${Date.now()}\n`);
  const opts = { fulcioURL: stack.url, rekorURL: stack.url, tsaServerURL: stack.url, identityProvider };
  const bundle = await sigstore.sign(blob, opts);
  assert.equal(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  const vopts = { tufMirrorURL: mirror, tufRootPath: rootPath, tufCachePath: join(work, 'sigstore-verify-cache'), certificateIssuer: issuer, certificateIdentityURI: SUBJECT };
  await sigstore.verify(bundle, blob, vopts);
  await assert.rejects(sigstore.verify(bundle, Buffer.from('other'), vopts));
  const artifact = write('tsa-blob.txt', blob);
  const v = await cairnVerify(artifact, write('tsa-blob.sigstore.json', JSON.stringify(bundle)));
  assert.equal(v.code, 0, v.stderr);
  assert.match(await opensslVerifiesToken(bundle, Buffer.from(bundle.messageSignature.signature, 'base64')), /Verification: OK/);

  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: createHash('sha256').update(blob).digest('hex') } }], predicateType: 'https://example.com/p', predicate: {} }));
  const att = await sigstore.attest(statement, 'application/vnd.in-toto+json', opts);
  assert.equal(att.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  await sigstore.verify(att, vopts);
  const a = await cairnVerify(artifact, write('tsa-att.sigstore.json', JSON.stringify(att)));
  assert.equal(a.code, 0, a.stderr);
});

test('cairn sign and cairn attest follow the cached signing config: Rekor v2 + RFC 3161 token; verified by @sigstore/verify, cairn verify and openssl', async () => {
  const content = Buffer.from(`cairn v2 ${Date.now()}\n`);
  const artifact = write('cairn-v2.txt', content);
  const out = join(work, 'cairn-v2.sigstore.json');
  const r = await cli(['sign', artifact, '--bundle', out, '--url', stack.url, '--identity-token', await token()], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Rekor v2/);
  const b = readJson(out);
  assert.deepEqual(b.verificationMaterial.tlogEntries[0].kindVersion, { kind: 'hashedrekord', version: '0.0.2' });
  assert.equal(b.verificationMaterial.tlogEntries[0].integratedTime, undefined);
  assert.equal(b.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  verifyWithSigstore(b, content);
  const v = await cairnVerify(artifact, out, ['--json']);
  assert.equal(v.code, 0, v.stderr);
  assert.deepEqual(JSON.parse(v.stdout).timestamps.map((t: any) => t.source), ['timestamp-authority']);
  assert.match(await opensslVerifiesToken(b, Buffer.from(b.messageSignature.signature, 'base64')), /Verification: OK/);

  const att = join(work, 'cairn-v2-att.sigstore.json');
  const predicate = write('predicate.json', JSON.stringify({ ok: true }));
  const a = await cli(['attest', artifact, '--predicate', predicate, '--type', 'https://example.com/p', '--bundle', att, '--url', stack.url, '--identity-token', await token()], env);
  assert.equal(a.code, 0, a.stderr);
  const ab = readJson(att);
  // DSSE on v2: hashedrekord 0.0.2 over SHA-256(PAE), the form rekor-tiles and sigstore-go take.
  assert.deepEqual(ab.verificationMaterial.tlogEntries[0].kindVersion, { kind: 'hashedrekord', version: '0.0.2' });
  assert.equal(ab.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  const av = await cairnVerify(artifact, att);
  assert.equal(av.code, 0, av.stderr);
});

test('cairn sign flags: --rekor-version 1 keeps a v1 entry (with the token), --no-tsa falls back to v1 without one, keyless v2 without a TSA is TSA_REQUIRED', async () => {
  const artifact = write('flags.txt', 'flags\n');
  const v1 = join(work, 'flags-v1.json');
  const r1 = await cli(['sign', artifact, '--bundle', v1, '--url', stack.url, '--rekor-version', '1', '--identity-token', await token()], env);
  assert.equal(r1.code, 0, r1.stderr);
  assert.deepEqual(readJson(v1).verificationMaterial.tlogEntries[0].kindVersion, { kind: 'hashedrekord', version: '0.0.1' });
  assert.equal(readJson(v1).verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  assert.equal((await cairnVerify(artifact, v1)).code, 0);

  const nt = join(work, 'flags-notsa.json');
  const r2 = await cli(['sign', artifact, '--bundle', nt, '--url', stack.url, '--no-tsa', '--identity-token', await token()], env);
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(readJson(nt).verificationMaterial.tlogEntries[0].kindVersion, { kind: 'hashedrekord', version: '0.0.1' });
  assert.deepEqual(readJson(nt).verificationMaterial.timestampVerificationData, {});
  verifyWithSigstore(readJson(nt), Buffer.from('flags\n'));

  const bad = join(work, 'flags-bad.json');
  const r3 = await cli(['sign', artifact, '--bundle', bad, '--url', stack.url, '--rekor-version', '2', '--no-tsa', '--identity-token', await token()], env);
  assert.equal(errorCode(r3), 'TSA_REQUIRED');
  // Without any trust cache and no --tsa-url: the same refusal, before the CA is asked.
  const r4 = await cli(['sign', artifact, '--bundle', bad, '--url', stack.url, '--rekor-version', '2', '--identity-token', await token()], { CAIRN_TRUST_CACHE: join(work, 'no-cache') });
  assert.equal(errorCode(r4), 'TSA_REQUIRED');
  // --tsa-url explicitly, no cache.
  const ex = join(work, 'flags-explicit.json');
  const r5 = await cli(['sign', artifact, '--bundle', ex, '--url', stack.url, '--rekor-version', '2', '--tsa-url', `${stack.url}/api/v1/timestamp`, '--identity-token', await token()], { CAIRN_TRUST_CACHE: join(work, 'no-cache') });
  assert.equal(r5.code, 0, r5.stderr);
  assert.equal((await cairnVerify(artifact, ex)).code, 0);
  // A TSA that is not one: TSA_ERROR, no bundle.
  const r6 = await cli(['sign', artifact, '--bundle', join(work, 'never.json'), '--url', stack.url, '--rekor-version', '2', '--tsa-url', `${stack.url}/api/v1/log`, '--identity-token', await token()], { CAIRN_TRUST_CACHE: join(work, 'no-cache') });
  assert.equal(errorCode(r6), 'TSA_ERROR');
});

test('with --key, timestamps stay optional: a v2 entry without a token signs; it verifies only when the verifier waives the timestamp', async () => {
  const keyPem = write('key.pem', privateKeyToPem(generateKey('ecdsa-p256')));
  const artifact = write('key.txt', 'key-signed\n');
  const out = join(work, 'key-v2.json');
  const r = await cli(['sign', artifact, '--bundle', out, '--url', stack.url, '--key', keyPem, '--rekor-version', '2', '--no-tsa'], env);
  assert.equal(r.code, 0, r.stderr);
  const pub = write('key.pub', (await import('node:crypto')).createPublicKey(readFileSync(keyPem, 'utf8')).export({ type: 'spki', format: 'pem' }).toString());
  const base = ['verify', artifact, '--bundle', out, '--tuf-mirror', mirror, '--offline', '--key', pub];
  assert.equal(errorCode(await cli(base, env)), 'TIMESTAMP_THRESHOLD');
  assert.equal((await cli([...base, '--timestamp-threshold', '0'], env)).code, 0);
  // With the TSA (advertised in the config) it verifies with the default threshold.
  const withTsa = join(work, 'key-v2-tsa.json');
  assert.equal((await cli(['sign', artifact, '--bundle', withTsa, '--url', stack.url, '--key', keyPem], env)).code, 0);
  assert.equal((await cli(['verify', artifact, '--bundle', withTsa, '--tuf-mirror', mirror, '--offline', '--key', pub], env)).code, 0);
});

test('cairn verify refuses a token from a TSA not in the trusted root (TIMESTAMP_UNTRUSTED) and one outside its validity (TIMESTAMP_OUTSIDE_VALIDITY)', async () => {
  const content = Buffer.from(`refusals ${Date.now()}\n`);
  const artifact = write('refusals.txt', content);
  const out = join(work, 'refusals.json');
  assert.equal((await cli(['sign', artifact, '--bundle', out, '--url', stack.url, '--identity-token', await token()], env)).code, 0);
  const root = readJson(join(defaultCacheDir(mirror, env), 'targets', 'trusted_root.json'));
  const args = (rootFile: string): string[] => ['verify', artifact, '--bundle', out, '--trusted-root', rootFile, '--offline', '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', issuer];
  assert.equal((await cli(args(write('root-ok.json', JSON.stringify(root))), env)).code, 0);
  const noTsa = structuredClone(root);
  noTsa.timestampAuthorities = [];
  assert.equal(errorCode(await cli(args(write('root-no-tsa.json', JSON.stringify(noTsa))), env)), 'TIMESTAMP_UNTRUSTED');
  const ended = structuredClone(root);
  // The same TSA listed as valid for one day in 2000 only: the token is outside that window.
  ended.timestampAuthorities[0].validFor = { start: '2000-01-01T00:00:00Z', end: '2000-01-02T00:00:00Z' };
  const endedRun = await cli(args(write('root-ended.json', JSON.stringify(ended))), env);
  assert.equal(errorCode(endedRun), 'TIMESTAMP_OUTSIDE_VALIDITY', endedRun.stderr + endedRun.stdout);
});
