/**
 * The CA against independent oracles: the real sigstore-js signer (@sigstore/sign FulcioSigner)
 * obtains certificates; node:crypto and @sigstore/core parse every certificate; extensions are
 * compared with the token claims (URI, email, GitHub workflow via `github-workflow` and via the
 * production `ci-provider` template set, GitLab); the embedded SCT verifies with @sigstore/verify.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { FulcioSigner } from '@sigstore/sign';
import { toTrustMaterial } from '@sigstore/verify';
import { verifyCertificate } from '@sigstore/verify/dist/key/index.js';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { fromPemAll, systemClock, toPem, type TrustInfo } from '@cairn/shared';
import { assertDer, children, readOne, oidToString, encodeTlv, seq, oid, explicit, integer, set, utf8String, bitString, TAG } from '@cairn/shared/der';
import { OID_CT_POISON, OID_SCT_LIST, removeExtensionFromTbs, splitCertificate, tbsExtensions, verifyEmbeddedScts } from '@cairn/shared/sct';
import { PublicKey } from '@cairn/shared';
import { mintDevToken } from '@cairn/oidc';
import type { Stack } from '@cairn/host';
import { TestIssuer, ecKey, pop, postJson, publicPem, requestCert, startCaStack, tempDir } from './ca-fixtures.ts';

const SUBJECT = 'https://ci.example.internal/pipelines/42';
const F = (n: number): string => `1.3.6.1.4.1.57264.1.${n}`;

let stack: Stack;
let dir: string;
let gh: TestIssuer;
let ghCi: TestIssuer;
let gitlab: TestIssuer;
let email: TestIssuer;
let ghUrl: string;

const GITHUB_CLAIMS = {
  sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
  event_name: 'push',
  sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  workflow: 'Release',
  repository: 'octo-org/octo-repo',
  ref: 'refs/heads/main',
  job_workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
  job_workflow_sha: 'ffeeddccbbaa99887766554433221100ffeeddcc',
  runner_environment: 'github-hosted',
  repository_id: '123456',
  repository_owner: 'octo-org',
  repository_owner_id: '7890',
  repository_visibility: 'public',
  workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
  workflow_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  run_id: '555',
  run_attempt: '2',
  environment: 'production',
};

// Expected extension values for the GitHub claims (Fulcio docs/oid-info.md mapping).
const GITHUB_EXPECTED: Record<number, string> = {
  9: 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
  10: GITHUB_CLAIMS.job_workflow_sha,
  11: 'github-hosted',
  12: 'https://github.com/octo-org/octo-repo',
  13: GITHUB_CLAIMS.sha,
  14: 'refs/heads/main',
  15: '123456',
  16: 'https://github.com/octo-org',
  17: '7890',
  18: 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
  19: GITHUB_CLAIMS.workflow_sha,
  20: 'push',
  21: 'https://github.com/octo-org/octo-repo/actions/runs/555/attempts/2',
  22: 'public',
  23: 'production',
  24: GITHUB_CLAIMS.sub,
};

before(async () => {
  dir = tempDir();
  gh = await TestIssuer.create();
  gh.url = 'https://token.actions.example.test';
  ghCi = await TestIssuer.create();
  ghUrl = await ghCi.serve();
  gitlab = await TestIssuer.create();
  gitlab.url = 'https://gitlab.example.test';
  email = await TestIssuer.create();
  email.url = 'https://accounts.example.test';
  const stackDir = join(dir, 'data');
  const issuers = {
    'oidc-issuers': {
      [gh.url]: { 'issuer-url': gh.url, 'client-id': 'sigstore', type: 'github-workflow', 'jwks-file': gh.writeJwksFile(dir) },
      [ghUrl]: { 'issuer-url': ghUrl, 'client-id': 'sigstore', type: 'ci-provider', 'ci-provider': 'github-workflow' },
      [gitlab.url]: { 'issuer-url': gitlab.url, 'client-id': 'sigstore', type: 'gitlab-pipeline', 'jwks-file': gitlab.writeJwksFile(dir) },
      [email.url]: { 'issuer-url': email.url, 'client-id': 'sigstore', type: 'email', 'jwks-file': email.writeJwksFile(dir) },
    },
    // The built-in issuer's URL carries the port, so it is trusted through a meta issuer.
    'meta-issuers': { 'http://127.0.0.1:*/oidc': { 'client-id': 'sigstore', type: 'cairn-builtin' } },
    'ci-issuer-metadata': {
      'github-workflow': {
        'default-template-values': { url: 'https://github.com' },
        'extension-templates': {
          'github-workflow-trigger': 'event_name',
          'github-workflow-sha': 'sha',
          'github-workflow-name': 'workflow',
          'github-workflow-repository': 'repository',
          'github-workflow-ref': 'ref',
          'build-signer-uri': '{{ .url }}/{{ .job_workflow_ref }}',
          'build-signer-digest': 'job_workflow_sha',
          'runner-environment': 'runner_environment',
          'source-repository-uri': '{{ .url }}/{{ .repository }}',
          'source-repository-digest': 'sha',
          'source-repository-ref': 'ref',
          'source-repository-identifier': 'repository_id',
          'source-repository-owner-uri': '{{ .url }}/{{ .repository_owner }}',
          'source-repository-owner-identifier': 'repository_owner_id',
          'build-config-uri': '{{ .url }}/{{ .workflow_ref }}',
          'build-config-digest': 'workflow_sha',
          'build-trigger': 'event_name',
          'run-invocation-uri': '{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}',
          'source-repository-visibility-at-signing': 'repository_visibility',
          'deployment-environment': 'environment',
        },
        'subject-alternative-name-template': '{{ .url }}/{{ .job_workflow_ref }}',
      },
    },
  };
  const issuersFile = join(dir, 'issuers.yaml');
  writeFileSync(issuersFile, toYaml(issuers));
  stack = (await startCaStack({ dataDir: stackDir, ca: { issuersFile } })).stack;
});

after(async () => {
  await stack?.close();
  await ghCi?.close();
  rmSync(dir, { recursive: true, force: true });
});

function chainOf(body: any): Buffer[] {
  const pems: string[] = body.signedCertificateEmbeddedSct.chain.certificates;
  assert.equal(pems.length, 3);
  return pems.map((p) => fromPemAll(p)[0]!.der);
}

async function trustInfo(): Promise<TrustInfo[]> {
  return (await (await fetch(`${stack.url}/api/cairn/v1/trust-info`)).json()) as TrustInfo[];
}

function trustedRoot(info: TrustInfo[]) {
  const ca = info.find((i) => i.kind === 'ca');
  const ct = info.find((i) => i.kind === 'ctlog');
  assert.ok(ca && ca.kind === 'ca' && ct && ct.kind === 'ctlog');
  return TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [{ subject: ca.subject, uri: ca.uri, certChain: { certificates: ca.certChain.map((c) => ({ rawBytes: c })) }, validFor: { start: ca.validFrom } }],
    ctlogs: [
      {
        baseUrl: ct.baseUrl,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: ct.publicKey, keyDetails: ct.keyDetails, validFor: { start: ct.validFrom } },
        logId: { keyId: ct.logId },
      },
    ],
    timestampAuthorities: [],
  });
}

/** The profile checks every leaf must pass, through two independent parsers. */
async function checkProfile(leaf: Buffer, chain: Buffer[], publicKey: KeyObject): Promise<SigstoreX509> {
  assertDer(leaf);
  const node = new X509Certificate(leaf);
  const inter = new X509Certificate(chain[1]!);
  const root = new X509Certificate(chain[2]!);
  assert.ok(node.verify(inter.publicKey), 'leaf signed by the intermediate');
  assert.ok(inter.verify(root.publicKey) && root.verify(root.publicKey));
  assert.ok(node.checkIssued(inter));
  assert.ok(!node.subject, 'empty subject');
  assert.equal(node.ca, false);
  assert.deepEqual(node.keyUsage, ['1.3.6.1.5.5.7.3.3']);
  assert.ok(node.publicKey.equals(publicKey.type === 'public' ? publicKey : createPublicKey(publicKey)));
  const validMs = new Date(node.validTo).getTime() - new Date(node.validFrom).getTime();
  assert.equal(validMs, 10 * 60 * 1000);
  assert.ok(Math.abs(new Date(node.validFrom).getTime() - Date.now()) < 60_000);
  const serial = Buffer.from(node.serialNumber, 'hex');
  assert.ok(serial.length <= 20 && serial.length >= 19 && (serial[0]! & 0x80) === 0, `160-bit positive serial, got ${node.serialNumber}`);

  const sx = SigstoreX509.parse(Buffer.from(leaf));
  assert.equal(sx.version, 'v3');
  assert.equal(sx.subject.length, 0, 'Name is an empty SEQUENCE');
  assert.ok(sx.verify(SigstoreX509.parse(Buffer.from(chain[1]!))));
  assert.equal(sx.extKeyUsage?.critical, true);
  assert.equal(sx.extKeyUsage?.digitalSignature, true);
  assert.equal(sx.extKeyUsage?.keyCertSign, false);
  assert.equal(sx.extSubjectAltName?.critical, true);
  assert.deepEqual(sx.extAuthorityKeyID?.keyIdentifier, SigstoreX509.parse(Buffer.from(chain[1]!)).extSubjectKeyID?.keyIdentifier);
  assert.ok(sx.extSubjectKeyID?.keyIdentifier.length === 20);
  // Observed production order: KU, EKU, SKI, AKI, SAN, 57264.1.*, SCT list last.
  const oids = tbsExtensions(splitCertificate(leaf).tbs).map((e) => e.oid);
  assert.deepEqual(oids.slice(0, 5), ['2.5.29.15', '2.5.29.37', '2.5.29.14', '2.5.29.35', '2.5.29.17']);
  assert.equal(oids.at(-1), OID_SCT_LIST);
  const fulcio = oids.slice(5, -1);
  assert.ok(fulcio.every((o) => o.startsWith('1.3.6.1.4.1.57264.1.')));
  const nums = fulcio.map((o) => Number(o.split('.').pop()));
  assert.deepEqual(nums, [...nums].sort((a, b) => a - b), 'Fulcio extensions in OID order');
  for (const e of tbsExtensions(splitCertificate(leaf).tbs)) if (e.oid.startsWith('1.3.6.1.4.1.57264.')) assert.equal(e.critical, false);
  // 1.1 raw; 1.8 a DER UTF8String.
  const iss18 = sx.extension(F(8))!;
  assert.equal(readOne(iss18.value).tag, TAG.UTF8_STRING);
  assert.equal(sx.extension(F(1))!.value.toString(), readOne(iss18.value).value.toString());

  // SCT: verifies with our log key and with @sigstore/verify's certificate check (threshold 1).
  const info = await trustInfo();
  const ct = info.find((i) => i.kind === 'ctlog');
  assert.ok(ct && ct.kind === 'ctlog');
  assert.deepEqual(verifyEmbeddedScts(leaf, chain[1]!, PublicKey.fromSpki(Buffer.from(ct.publicKey, 'base64'))), { verified: 1, failed: 0 });
  const result = verifyCertificate(sx, [new Date()], toTrustMaterial(trustedRoot(info)));
  assert.equal(result.scts.length, 1);
  return sx;
}

function utf8Ext(sx: SigstoreX509, n: number): string | undefined {
  const e = sx.extension(F(n));
  if (!e) return undefined;
  const t = readOne(e.value);
  assert.equal(t.tag, TAG.UTF8_STRING, `57264.1.${n} is a UTF8String`);
  return t.value.toString('utf8');
}

test('sigstore-js FulcioSigner gets a certificate for a built-in issuer URI token', async () => {
  const token = await mintDevToken(join(dir, 'data', 'oidc'), { subject: SUBJECT }, systemClock);
  const signer = new FulcioSigner({ fulcioBaseURL: stack.url, identityProvider: { getToken: () => Promise.resolve(token) } });
  const sig = await signer.sign(Buffer.from('artifact'));
  assert.equal(sig.key.$case, 'x509Certificate');
  const leafPem = (sig.key as { certificate: string }).certificate;
  const leaf = fromPemAll(leafPem)[0]!.der;
  const info = await trustInfo();
  const ca = info.find((i) => i.kind === 'ca');
  assert.ok(ca && ca.kind === 'ca');
  const chain = [leaf, ...ca.certChain.map((c) => Buffer.from(c, 'base64'))];
  const node = new X509Certificate(leaf);
  const sx = await checkProfile(leaf, chain, node.publicKey);
  assert.equal(sx.subjectAltName, SUBJECT);
  assert.equal(node.subjectAltName, `URI:${SUBJECT}`);
  assert.equal(utf8Ext(sx, 8), `${stack.url}/oidc`);
  assert.equal(utf8Ext(sx, 24), SUBJECT);
  // The signature sigstore-js made verifies with the certified key.
  assert.ok(cryptoVerifyArtifact(node, sig.signature));
});

function cryptoVerifyArtifact(cert: X509Certificate, signature: Buffer): boolean {
  return cryptoVerify('sha256', Buffer.from('artifact'), cert.publicKey, signature);
}

test('email identity from the built-in issuer: rfc822Name SAN, PoP over the email', async () => {
  const token = await mintDevToken(join(dir, 'data', 'oidc'), { email: 'dev@example.test' }, systemClock);
  const key = ecKey();
  const res = await requestCert(stack.url, token, key, 'dev@example.test');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const chain = chainOf(res.body);
  const sx = await checkProfile(chain[0]!, chain, key);
  assert.equal(sx.extSubjectAltName?.rfc822Name, 'dev@example.test');
  assert.equal(new X509Certificate(chain[0]!).subjectAltName, 'email:dev@example.test');
});

test('email issuer type (Fulcio email): SAN = email, 1.24 = sub, token via Authorization: Bearer only', async () => {
  const token = await email.token({ sub: 'user-1234', email: 'alice@example.test', email_verified: true });
  const key = ecKey('P-384');
  const res = await requestCert(stack.url, token, key, 'alice@example.test', { viaHeader: true });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const chain = chainOf(res.body);
  const sx = await checkProfile(chain[0]!, chain, key);
  assert.equal(sx.extSubjectAltName?.rfc822Name, 'alice@example.test');
  assert.equal(utf8Ext(sx, 8), email.url);
  assert.equal(utf8Ext(sx, 24), 'user-1234');
});

async function checkGithub(issuer: TestIssuer): Promise<void> {
  const token = await issuer.token(GITHUB_CLAIMS);
  const key = ecKey();
  const res = await requestCert(stack.url, token, key, GITHUB_CLAIMS.sub);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const chain = chainOf(res.body);
  const sx = await checkProfile(chain[0]!, chain, key);
  assert.equal(sx.subjectAltName, GITHUB_EXPECTED[9]);
  // 1.1-1.6: raw bytes.
  const raw = (n: number): string | undefined => sx.extension(F(n))?.value.toString('utf8');
  assert.equal(raw(1), issuer.url);
  assert.equal(raw(2), 'push');
  assert.equal(raw(3), GITHUB_CLAIMS.sha);
  assert.equal(raw(4), 'Release');
  assert.equal(raw(5), 'octo-org/octo-repo');
  assert.equal(raw(6), 'refs/heads/main');
  assert.equal(utf8Ext(sx, 8), issuer.url);
  for (const [n, v] of Object.entries(GITHUB_EXPECTED)) assert.equal(utf8Ext(sx, Number(n)), v, `57264.1.${n}`);
}

test('GitHub workflow claims (type github-workflow, static JWKS file) map to 1.1-1.24', async () => {
  await checkGithub(gh);
});

test('GitHub workflow claims through the ci-provider template set (OIDC discovery over HTTP) give the same extensions', async () => {
  await checkGithub(ghCi);
  assert.ok(ghCi.jwksFetches >= 1);
});

test('GitLab pipeline claims map to the GitLab extension set', async () => {
  const claims = {
    sub: 'project_path:grp/proj:ref_type:branch:ref:main',
    project_path: 'grp/proj',
    ci_config_ref_uri: 'gitlab.example.test/grp/proj//.gitlab-ci.yml@refs/heads/main',
    ci_config_sha: 'abc123',
    sha: 'def456',
    ref: 'main',
    ref_type: 'branch',
    project_id: '42',
    namespace_path: 'grp',
    namespace_id: '7',
    pipeline_source: 'push',
    job_id: '9001',
    project_visibility: 'private',
    runner_environment: 'self-hosted',
  };
  const token = await gitlab.token(claims);
  const key = ecKey();
  const res = await requestCert(stack.url, token, key, claims.sub);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const chain = chainOf(res.body);
  const sx = await checkProfile(chain[0]!, chain, key);
  assert.equal(sx.subjectAltName, 'https://gitlab.example.test/grp/proj//.gitlab-ci.yml@refs/heads/main');
  assert.equal(utf8Ext(sx, 12), 'https://gitlab.example.test/grp/proj');
  assert.equal(utf8Ext(sx, 14), 'refs/heads/main');
  assert.equal(utf8Ext(sx, 21), 'https://gitlab.example.test/grp/proj/-/jobs/9001');
  assert.equal(utf8Ext(sx, 22), 'private');
  assert.equal(sx.extension(F(2)), undefined, 'no GitHub-only deprecated extensions');
});

test('subject keys: P-384, P-521, Ed25519 and RSA-2048/3072 are certified', async () => {
  const keys: KeyObject[] = [
    ecKey('P-384'),
    ecKey('P-521'),
    generateKeyPairSync('ed25519').privateKey,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey,
  ];
  const token = await mintDevToken(join(dir, 'data', 'oidc'), { subject: SUBJECT }, systemClock);
  for (const key of keys) {
    const res = await requestCert(stack.url, token, key, SUBJECT);
    assert.equal(res.status, 200, `${key.asymmetricKeyType}: ${JSON.stringify(res.body)}`);
    const chain = chainOf(res.body);
    await checkProfile(chain[0]!, chain, key);
  }
});

/** A PKCS#10 CSR (RFC 2986) signed with `key`, built by hand. */
function csrPem(key: KeyObject, tamper = false): string {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const info = seq(integer(0), seq(set(seq(oid('2.5.4.3'), utf8String('ignored')))), spki, explicit(0, Buffer.alloc(0)));
  const sig = cryptoSign('sha256', info, key);
  if (tamper) sig[sig.length - 1]! ^= 0x01;
  const der = seq(info, seq(oid('1.2.840.10045.4.3.2')), bitString(sig));
  return toPem('CERTIFICATE REQUEST', der);
}

test('a PKCS#10 CSR is accepted in place of publicKeyRequest (v2)', async () => {
  const token = await mintDevToken(join(dir, 'data', 'oidc'), { subject: SUBJECT }, systemClock);
  const key = ecKey();
  const res = await postJson(`${stack.url}/api/v2/signingCert`, {
    credentials: { oidcIdentityToken: token },
    certificateSigningRequest: Buffer.from(csrPem(key)).toString('base64'),
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const chain = chainOf(res.body);
  await checkProfile(chain[0]!, chain, key);
});

test('legacy v1 signingCert answers 201 with a PEM chain; rootCert, trustBundle and configuration', async () => {
  const token = await mintDevToken(join(dir, 'data', 'oidc'), { subject: SUBJECT }, systemClock);
  const key = ecKey();
  const res = await fetch(`${stack.url}/api/v1/signingCert`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ publicKey: { content: Buffer.from(publicPem(key)).toString('base64'), algorithm: 'ecdsa' }, signedEmailAddress: pop(key, SUBJECT) }),
  });
  assert.equal(res.status, 201);
  assert.match(res.headers.get('content-type') ?? '', /application\/pem-certificate-chain/);
  const blocks = fromPemAll(await res.text());
  assert.equal(blocks.length, 3);
  await checkProfile(blocks[0]!.der, blocks.map((b) => b.der), key);

  const root = await fetch(`${stack.url}/api/v1/rootCert`);
  assert.equal(fromPemAll(await root.text()).length, 2);
  const bundle = (await (await fetch(`${stack.url}/api/v2/trustBundle`)).json()) as any;
  const info = await trustInfo();
  const ca = info.find((i) => i.kind === 'ca');
  assert.ok(ca && ca.kind === 'ca');
  assert.deepEqual(bundle.chains[0].certificates.map((p: string) => fromPemAll(p)[0]!.der.toString('base64')), ca.certChain);
  assert.equal(ca.uri, stack.url);
  assert.equal(ca.subject.organization, 'cairn');
  const conf = (await (await fetch(`${stack.url}/api/v2/configuration`)).json()) as any;
  const emailIssuer = conf.issuers.find((i: any) => i.issuerUrl === email.url);
  assert.deepEqual(emailIssuer, { issuerUrl: email.url, audience: 'sigstore', challengeClaim: 'email', issuerType: 'email' });
});

test('precertificate and final TBS are byte-identical apart from poison vs SCT list', async () => {
  const caSvc = stack.services.find((s) => s.name === 'ca') as any;
  const key = ecKey();
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const issued = await caSvc.authority.issue({ name: SUBJECT, san: { kind: 'uri', value: SUBJECT }, extensions: { issuer: 'https://issuer.test', tokenSubject: SUBJECT } }, spki);
  const pre = splitCertificate(issued.precertDer).tbs;
  const fin = splitCertificate(issued.leafDer).tbs;
  const poison = tbsExtensions(pre).find((e) => e.oid === OID_CT_POISON)!;
  assert.equal(poison.critical, true);
  assert.deepEqual(poison.value, Buffer.from([0x05, 0x00]));
  assert.deepEqual(removeExtensionFromTbs(pre, OID_CT_POISON), removeExtensionFromTbs(fin, OID_SCT_LIST));
  // Both re-encode identically through a strict DER walk.
  const walk = (b: Buffer): Buffer => {
    const t = readOne(b);
    return t.tag & 0x20 ? encodeTlv(t.tag, Buffer.concat(children(t).map((c) => walk(Buffer.from(c.raw))))) : Buffer.from(t.raw);
  };
  assert.deepEqual(walk(fin), fin);
  assert.equal(oidToString(children(readOne(children(readOne(issued.leafDer))[1]!.raw))[0]!.value), '1.2.840.10045.4.3.2', 'the P-256 development intermediate signs with ecdsa-with-SHA256');
});

test('a token from the built-in token endpoint (client credentials) is accepted by the CA', async () => {
  const creds = JSON.parse(readFileSync(join(dir, 'data', 'oidc', 'dev-client.json'), 'utf8'));
  const res = await fetch(`${stack.url}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${creds.client_id}:${creds.client_secret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  assert.equal(res.status, 200);
  const { id_token: token } = (await res.json()) as { id_token: string };
  const key = ecKey();
  const cert = await requestCert(stack.url, token, key, creds.sub);
  assert.equal(cert.status, 200, JSON.stringify(cert.body));
  const chain = chainOf(cert.body);
  const sx = await checkProfile(chain[0]!, chain, key);
  assert.equal(sx.subjectAltName, `${stack.url}/oidc/clients/cairn-dev`);
});
