/**
 * Every bad signing-certificate request gets a 4xx/5xx JSON {code, message} with a stable code,
 * and leaves no trace: no certificate counted as issued and no CT log entry.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { SignJWT } from 'jose';
import { systemClock, toPem } from '@cairn/shared';
import { bitString, explicit, integer, oid, seq, set, utf8String } from '@cairn/shared/der';
import { mintDevToken } from '@cairn/oidc';
import type { Stack } from '@cairn/host';
import { parseIssuersConfig } from '@cairn/ca';
import { TestIssuer, ctTreeSize, ecKey, pop, postJson, publicPem, requestCert, startCaStack, tempDir, type CertResponse } from './ca-fixtures.ts';

const SUBJECT = 'https://ci.example.internal/pipelines/42';
let stack: Stack;
let dir: string;
let idp: TestIssuer; // email issuer, static JWKS
let uriIdp: TestIssuer; // uri issuer, static JWKS
let remote: TestIssuer; // email issuer over HTTP discovery
let stranger: TestIssuer; // not configured
let short: TestIssuer; // email issuer with MaxTokenLifetimeSeconds 600

before(async () => {
  dir = tempDir();
  idp = await TestIssuer.create();
  idp.url = 'https://idp.example.test';
  uriIdp = await TestIssuer.create();
  uriIdp.url = 'https://ci.example.test';
  remote = await TestIssuer.create();
  await remote.serve();
  stranger = await TestIssuer.create();
  stranger.url = 'https://stranger.example.test';
  short = await TestIssuer.create();
  short.url = 'https://short.example.test';
  const issuersFile = join(dir, 'issuers.yaml');
  writeFileSync(
    issuersFile,
    toYaml({
      'oidc-issuers': {
        [idp.url]: { 'issuer-url': idp.url, 'client-id': 'sigstore', type: 'email', 'jwks-file': idp.writeJwksFile(dir) },
        [uriIdp.url]: { 'issuer-url': uriIdp.url, 'client-id': 'sigstore', type: 'uri', 'subject-domain': 'https://ci.example.test', 'jwks-file': uriIdp.writeJwksFile(dir) },
        [remote.url]: { 'issuer-url': remote.url, 'client-id': 'sigstore', type: 'email' },
        [short.url]: { 'issuer-url': short.url, 'client-id': 'sigstore', type: 'email', 'jwks-file': short.writeJwksFile(dir), 'max-token-lifetime-seconds': 600 },
        'http://127.0.0.1:1/unreachable': { 'issuer-url': 'http://127.0.0.1:1/unreachable', 'client-id': 'sigstore', type: 'email' },
      },
      'meta-issuers': { 'http://127.0.0.1:*/oidc': { 'client-id': 'sigstore', type: 'cairn-builtin' } },
    }),
  );
  stack = (await startCaStack({ dataDir: join(dir, 'data'), ca: { issuersFile } })).stack;
});

after(async () => {
  await stack?.close();
  await remote?.close();
  rmSync(dir, { recursive: true, force: true });
});

function issuedCount(): number {
  return stack.metrics
    .render()
    .split('\n')
    .filter((l) => l.startsWith('cairn_ca_certificates_issued_total'))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/** Runs a bad request and checks status, code, and that nothing was issued or logged. */
async function rejects(name: string, status: number, code: string, send: () => Promise<CertResponse>): Promise<void> {
  const ctBefore = await ctTreeSize(stack.url);
  const issuedBefore = issuedCount();
  const res = await send();
  assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.code, code, `${name}: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body.message, 'string');
  assert.equal(res.body.signedCertificateEmbeddedSct, undefined);
  assert.equal(issuedCount(), issuedBefore, `${name}: nothing issued`);
  assert.equal(await ctTreeSize(stack.url), ctBefore, `${name}: no CT entry`);
}

const devToken = (o: { subject?: string; email?: string } = { subject: SUBJECT }): Promise<string> => mintDevToken(join(dir, 'data', 'oidc'), o, systemClock);

function b64url(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

test('a good request succeeds (the baseline the rejections are measured against)', async () => {
  const before = issuedCount();
  const key = ecKey();
  const res = await requestCert(stack.url, await devToken(), key, SUBJECT);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(issuedCount(), before + 1);
  // Tokens expired within the clock tolerance (10 s) are still accepted.
  const res2 = await requestCert(stack.url, await idp.token({ sub: 'u', email: 'a@example.test', email_verified: true }, { expSecondsFromNow: -3 }), key, 'a@example.test');
  assert.equal(res2.status, 200, JSON.stringify(res2.body));
});

test('token problems: missing, malformed, expired, not yet valid, wrong audience, unknown issuer', async () => {
  const key = ecKey();
  const email = 'alice@example.test';
  const claims = { sub: 'alice', email, email_verified: true };
  await rejects('missing', 401, 'MISSING_TOKEN', () => requestCert(stack.url, undefined, key, email));
  await rejects('malformed', 401, 'MALFORMED_TOKEN', () => requestCert(stack.url, 'not-a-jwt', key, email));
  await rejects('malformed payload', 401, 'MALFORMED_TOKEN', () => requestCert(stack.url, 'eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln', key, email));
  await rejects('bad bearer', 401, 'MALFORMED_TOKEN', () =>
    postJson(`${stack.url}/api/v2/signingCert`, { publicKeyRequest: { publicKey: { content: publicPem(key) }, proofOfPossession: pop(key, email) } }, { 'content-type': 'application/json', authorization: 'Basic abc' }),
  );
  await rejects('expired', 401, 'TOKEN_EXPIRED', async () => requestCert(stack.url, await idp.token(claims, { expSecondsFromNow: -120 }), key, email));
  await rejects('not yet valid', 401, 'TOKEN_NOT_YET_VALID', async () => requestCert(stack.url, await idp.token(claims, { nbfSecondsFromNow: 300 }), key, email));
  await rejects('wrong audience', 401, 'TOKEN_WRONG_AUDIENCE', async () => requestCert(stack.url, await idp.token(claims, { aud: 'not-sigstore' }), key, email));
  await rejects('unknown issuer', 401, 'UNKNOWN_ISSUER', async () => requestCert(stack.url, await stranger.token(claims), key, email));
  const noExp = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: idp.kid }).setIssuer(idp.url).setAudience('sigstore').sign(idp.key);
  await rejects('no exp', 401, 'TOKEN_INVALID_CLAIMS', () => requestCert(stack.url, noExp, key, email));
  await rejects('issuer unreachable', 503, 'ISSUER_UNREACHABLE', async () => requestCert(stack.url, await idp.token(claims, { issuer: 'http://127.0.0.1:1/unreachable' }), key, email));
});

test('finding 4 (issue 14): token time claims are bounded: iat in the future TOKEN_ISSUED_IN_FUTURE, lifetime over the maximum TOKEN_LIFETIME_TOO_LONG', async () => {
  const key = ecKey();
  const email = 'alice@example.test';
  const now = Math.floor(Date.now() / 1000);
  const year = 365 * 86_400;
  const signed = (issuer: TestIssuer, times: { iat?: number; exp: number }): Promise<string> => {
    let jwt = new SignJWT({ sub: 'alice', email, email_verified: true }).setProtectedHeader({ alg: 'ES256', kid: issuer.kid }).setIssuer(issuer.url).setAudience('sigstore').setExpirationTime(times.exp);
    if (times.iat !== undefined) jwt = jwt.setIssuedAt(times.iat);
    return jwt.sign(issuer.key);
  };
  // The attack run's two tokens.
  await rejects('iat a year ahead', 401, 'TOKEN_ISSUED_IN_FUTURE', async () => requestCert(stack.url, await signed(idp, { iat: now + year, exp: now + year + 300 }), key, email));
  await rejects('exp ten years after iat', 401, 'TOKEN_LIFETIME_TOO_LONG', async () => requestCert(stack.url, await signed(idp, { iat: now - 5, exp: now + 10 * year }), key, email));
  await rejects('no iat, exp two days ahead', 401, 'TOKEN_LIFETIME_TOO_LONG', async () => requestCert(stack.url, await signed(idp, { exp: now + 2 * 86_400 }), key, email));
  await rejects('iat just past the tolerance', 401, 'TOKEN_ISSUED_IN_FUTURE', async () => requestCert(stack.url, await signed(idp, { iat: now + 60, exp: now + 600 }), key, email));
  // The issuer's own maximum (600 s) overrides the default day.
  await rejects('over the issuer maximum', 401, 'TOKEN_LIFETIME_TOO_LONG', async () => requestCert(stack.url, await signed(short, { iat: now, exp: now + 601 }), key, email));
  // Within the bounds: accepted.
  for (const [what, t] of [
    ['iat within the 10 s tolerance', await signed(idp, { iat: now + 5, exp: now + 300 })],
    ['a lifetime of exactly a day', await signed(idp, { iat: now - 1, exp: now - 1 + 86_400 })],
    ['no iat, an hour left', await signed(idp, { exp: now + 3600 })],
    ['600 s from the short issuer', await signed(short, { iat: now, exp: now + 600 })],
  ] as const) {
    const res = await requestCert(stack.url, t, key, email);
    assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`);
  }
});

test('finding 4 (issue 14): MaxTokenLifetimeSeconds in the issuer file must be an integer 1-2592000 (INVALID_CONFIG)', () => {
  for (const bad of [0, -1, 1.5, '600', 2_592_001]) {
    assert.throws(
      () => parseIssuersConfig({ OIDCIssuers: { 'https://a.example.test': { IssuerURL: 'https://a.example.test', ClientID: 'sigstore', Type: 'email', MaxTokenLifetimeSeconds: bad } } }),
      (e: { code?: string }) => e.code === 'INVALID_CONFIG',
      String(bad),
    );
  }
  const ok = parseIssuersConfig({ OIDCIssuers: { 'https://a.example.test': { IssuerURL: 'https://a.example.test', ClientID: 'sigstore', Type: 'email', MaxTokenLifetimeSeconds: 900 } } });
  assert.equal(ok.issuers.get('https://a.example.test')?.maxTokenLifetimeSeconds, 900);
});

test('signature problems: alg none, HS256 keyed with the public key, unknown kid, wrong key', async () => {
  const key = ecKey();
  const email = 'alice@example.test';
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: idp.url, aud: 'sigstore', sub: 'alice', email, email_verified: true, iat: now, exp: now + 300 };
  const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
  await rejects('alg none', 401, 'TOKEN_ALG_NOT_ALLOWED', () => requestCert(stack.url, none, key, email));
  // The classic confusion attack: HMAC keyed with the issuer's public key bytes.
  const pubPem = Buffer.from(createPublicKey(idp.key).export({ type: 'spki', format: 'pem' }).toString());
  const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: idp.kid }).sign(pubPem);
  await rejects('HS256 with public key', 401, 'TOKEN_ALG_NOT_ALLOWED', () => requestCert(stack.url, hs, key, email));
  await rejects('unknown kid', 401, 'TOKEN_UNKNOWN_KID', async () => requestCert(stack.url, await idp.token(payload, { kid: 'no-such-key' }), key, email));
  const other = await TestIssuer.create();
  other.url = idp.url;
  await rejects('signed by another key under the right kid', 401, 'TOKEN_BAD_SIGNATURE', async () => requestCert(stack.url, await other.token(payload, { kid: idp.kid }), key, email));
});

test('unknown kid refreshes the remote JWKS at most once per cooldown', async () => {
  const key = ecKey();
  const email = 'bob@example.test';
  const claims = { sub: 'bob', email, email_verified: true };
  const ok = await requestCert(stack.url, await remote.token(claims), key, email);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const fetches = remote.jwksFetches;
  assert.ok(fetches >= 1);
  for (let i = 0; i < 5; i++) {
    await rejects(`unknown kid #${i}`, 401, 'TOKEN_UNKNOWN_KID', async () => requestCert(stack.url, await remote.token(claims, { kid: `made-up-${i}` }), key, email));
  }
  assert.ok(remote.jwksFetches <= fetches + 1, `JWKS fetched ${remote.jwksFetches - fetches} more times for 5 unknown kids`);
});

test('identity problems: unverified email, URI outside SubjectDomain, email issuer token without email', async () => {
  const key = ecKey();
  await rejects('email_verified false', 401, 'EMAIL_NOT_VERIFIED', async () =>
    requestCert(stack.url, await idp.token({ sub: 'c', email: 'c@example.test', email_verified: false }), key, 'c@example.test'),
  );
  await rejects('email_verified absent', 401, 'EMAIL_NOT_VERIFIED', async () => requestCert(stack.url, await idp.token({ sub: 'c', email: 'c@example.test' }), key, 'c@example.test'));
  await rejects('uri outside domain', 403, 'IDENTITY_REJECTED', async () =>
    requestCert(stack.url, await uriIdp.token({ sub: 'https://evil.example.org/x' }), key, 'https://evil.example.org/x'),
  );
  await rejects('email type without email', 401, 'TOKEN_INVALID_CLAIMS', async () => requestCert(stack.url, await idp.token({ sub: 'c' }), key, 'c'));
});

test('proof of possession: garbage, another key, the wrong subject', async () => {
  const key = ecKey();
  const token = await devToken();
  await rejects('garbage', 400, 'INVALID_PROOF_OF_POSSESSION', () => requestCert(stack.url, token, key, SUBJECT, { proof: Buffer.from('nope').toString('base64') }));
  await rejects('not base64', 400, 'INVALID_PROOF_OF_POSSESSION', () => requestCert(stack.url, token, key, SUBJECT, { proof: '!!!' }));
  await rejects('another key', 400, 'INVALID_PROOF_OF_POSSESSION', () => requestCert(stack.url, token, key, SUBJECT, { proof: pop(ecKey(), SUBJECT) }));
  await rejects('wrong subject', 400, 'INVALID_PROOF_OF_POSSESSION', () => requestCert(stack.url, token, key, 'https://ci.example.internal/pipelines/43'));
  // An email token: clients must sign the email, not the sub.
  const emailToken = await devToken({ email: 'dev@example.test', subject: 'https://dev.example.test/u' });
  await rejects('signed sub instead of email', 400, 'INVALID_PROOF_OF_POSSESSION', () => requestCert(stack.url, emailToken, key, 'https://dev.example.test/u'));
});

test('keys: RSA-1024 is weak, secp256k1 and X25519 are unsupported, garbage is invalid', async () => {
  const token = await devToken();
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  await rejects('rsa 1024', 400, 'WEAK_KEY', () => requestCert(stack.url, token, rsa1024, SUBJECT));
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
  await rejects('secp256k1', 400, 'UNSUPPORTED_KEY', () => requestCert(stack.url, token, k1, SUBJECT));
  const x25519 = generateKeyPairSync('x25519').privateKey;
  const ok = ecKey();
  await rejects('x25519', 400, 'UNSUPPORTED_KEY', () => requestCert(stack.url, token, ok, SUBJECT, { content: publicPem(x25519) }));
  await rejects('garbage key', 400, 'INVALID_PUBLIC_KEY', () => requestCert(stack.url, token, ok, SUBJECT, { content: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' }));
  await rejects('not a key at all', 400, 'INVALID_PUBLIC_KEY', () => requestCert(stack.url, token, ok, SUBJECT, { content: 'hello world' }));
});

function csr(keyPair = ecKey(), tamper = false, sigOid = '1.2.840.10045.4.3.2'): string {
  const spki = createPublicKey(keyPair).export({ type: 'spki', format: 'der' });
  const info = seq(integer(0), seq(set(seq(oid('2.5.4.3'), utf8String('x')))), spki, explicit(0, Buffer.alloc(0)));
  const sig = cryptoSign('sha256', info, keyPair);
  if (tamper) sig[10]! ^= 0xff;
  return Buffer.from(toPem('CERTIFICATE REQUEST', seq(info, seq(oid(sigOid)), bitString(sig)))).toString('base64');
}

test('CSRs: bad self-signature, garbage, algorithm not matching the key', async () => {
  const token = await devToken();
  const send = (c: string) => postJson(`${stack.url}/api/v2/signingCert`, { credentials: { oidcIdentityToken: token }, certificateSigningRequest: c });
  await rejects('tampered csr', 400, 'CSR_SIGNATURE_INVALID', () => send(csr(ecKey(), true)));
  await rejects('garbage csr', 400, 'INVALID_CSR', () => send(Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n').toString('base64')));
  await rejects('csr not base64', 400, 'INVALID_CSR', () => send('%%%'));
  await rejects('rsa oid on ec key', 400, 'INVALID_CSR', () => send(csr(ecKey(), false, '1.2.840.113549.1.1.11')));
});

test('request shape: not an object, both key forms, neither, bad JSON, oversized body', async () => {
  const token = await devToken();
  const key = ecKey();
  const url = `${stack.url}/api/v2/signingCert`;
  await rejects('array', 400, 'MALFORMED_REQUEST', () => postJson(url, [1, 2]));
  await rejects('neither', 400, 'MALFORMED_REQUEST', () => postJson(url, { credentials: { oidcIdentityToken: token } }));
  await rejects('both', 400, 'MALFORMED_REQUEST', () =>
    postJson(url, { credentials: { oidcIdentityToken: token }, certificateSigningRequest: csr(), publicKeyRequest: { publicKey: { content: publicPem(key) }, proofOfPossession: pop(key, SUBJECT) } }),
  );
  await rejects('credentials not an object', 400, 'MALFORMED_REQUEST', () => postJson(url, { credentials: 'x', certificateSigningRequest: csr() }));
  await rejects('bad json', 400, 'INVALID_JSON', () => postJson(url, '{"credentials":'));
  await rejects('oversized', 413, 'BODY_TOO_LARGE', () =>
    postJson(url, { credentials: { oidcIdentityToken: token }, publicKeyRequest: { publicKey: { content: 'A'.repeat(100_000) }, proofOfPossession: '' } }),
  );
  await rejects('v1 without token', 401, 'MISSING_TOKEN', () =>
    postJson(`${stack.url}/api/v1/signingCert`, { publicKey: { content: Buffer.from(publicPem(key)).toString('base64') }, signedEmailAddress: pop(key, SUBJECT) }),
  );
});

test('rejections are counted by code in the metrics', () => {
  const text = stack.metrics.render();
  for (const code of ['TOKEN_EXPIRED', 'TOKEN_ALG_NOT_ALLOWED', 'INVALID_PROOF_OF_POSSESSION', 'WEAK_KEY', 'BODY_TOO_LARGE']) {
    assert.match(text, new RegExp(`cairn_ca_rejections_total\\{code="${code}"\\} [1-9]`));
  }
});
