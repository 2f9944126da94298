/**
 * The built-in OIDC issuer over real HTTP: discovery, JWKS, the client-credentials token endpoint
 * (form and JSON bodies, Basic and body client auth) with tokens verified by jose against the
 * served JWKS, every rejection code, key persistence, and `cairn token`'s dev-mode gate.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { loadConfig, systemClock } from '@cairn/shared';
import { hashSecret, mintDevToken } from '@cairn/oidc';
import { main } from '@cairn/cli';
import { startStack, type Stack } from '@cairn/host';
import { tempDir } from './ca-fixtures.ts';

let stack: Stack;
let dir: string;
let issuer: string;
const CI_SECRET = 'ci-runner-secret-0123456789abcdef';

before(async () => {
  dir = tempDir('cairn-oidc-');
  const clientsFile = join(dir, 'clients.yaml');
  writeFileSync(
    clientsFile,
    [
      'clients:',
      '  - client_id: ci-runner',
      `    secret_hash: "${hashSecret(CI_SECRET, 10)}"`,
      '    sub: https://ci.example.internal/pipelines/42',
      '  - client_id: alice',
      '    secret: alice-secret',
      '    email: alice@example.test',
      '    email_verified: true',
      '    audiences: [sigstore, other-aud]',
      '',
    ].join('\n'),
  );
  const config = loadConfig({ overrides: { port: 0, dataDir: join(dir, 'data'), logLevel: 'silent', dev: true } });
  config.sections.oidc = { clientsFile, audiences: 'sigstore,other-aud,third' };
  stack = await startStack(config, { components: ['oidc'] });
  issuer = `${stack.url}/oidc`;
});

after(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function token(body: Record<string, string> | string, headers: Record<string, string> = {}, json = false): Promise<{ status: number; body: any }> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded', ...headers },
    body: typeof body === 'string' ? body : json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });
  return { status: res.status, body: await res.json() };
}

const basic = (id: string, secret: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

test('discovery and JWKS describe the issuer exactly', async () => {
  const d = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as any;
  assert.equal(d.issuer, issuer);
  assert.equal(d.jwks_uri, `${issuer}/jwks`);
  assert.equal(d.token_endpoint, `${issuer}/token`);
  assert.deepEqual(d.grant_types_supported, ['client_credentials']);
  assert.deepEqual(d.id_token_signing_alg_values_supported, ['ES256']);
  const jwks = (await (await fetch(d.jwks_uri)).json()) as any;
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0].kty, 'EC');
  assert.equal(jwks.keys[0].crv, 'P-256');
  assert.equal(jwks.keys[0].d, undefined, 'no private part');
  assert.ok(jwks.keys[0].kid);
});

test('client_credentials with HTTP Basic: an ES256 token for a URI subject, no email claim, <= 10 minutes', async () => {
  const r = await token({ grant_type: 'client_credentials' }, basic('ci-runner', CI_SECRET));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(r.body.expires_in, 600);
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(r.body.id_token, jwks, { issuer, audience: 'sigstore', algorithms: ['ES256'] });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.ok(protectedHeader.kid);
  assert.equal(payload.iss, issuer);
  assert.equal(payload.sub, 'https://ci.example.internal/pipelines/42');
  assert.equal(payload.email, undefined);
  assert.ok(payload.exp! - payload.iat! <= 600);
  assert.equal(r.body.access_token, r.body.id_token);
});

test('client_secret in a JSON body; email client; requested audience from the allow-list', async () => {
  const r = await token({ grant_type: 'client_credentials', client_id: 'alice', client_secret: 'alice-secret', audience: 'other-aud' }, {}, true);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const p = decodeJwt(r.body.id_token);
  assert.equal(p.aud, 'other-aud');
  assert.equal(p.email, 'alice@example.test');
  assert.equal(p.email_verified, true);
});

test('the development client works in dev mode, with credentials in dev-client.json (0600)', async () => {
  const path = join(dir, 'data', 'oidc', 'dev-client.json');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const creds = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(creds.issuer, issuer);
  const r = await token({ grant_type: 'client_credentials', client_id: creds.client_id, client_secret: creds.client_secret });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(decodeJwt(r.body.id_token).sub, `${issuer}/clients/cairn-dev`);
});

test('token endpoint rejections carry stable codes and OAuth error names', async () => {
  const cases: [string, Promise<{ status: number; body: any }>, number, string][] = [
    ['wrong secret', token({ grant_type: 'client_credentials' }, basic('ci-runner', 'wrong')), 401, 'INVALID_CLIENT'],
    ['unknown client', token({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' }), 401, 'INVALID_CLIENT'],
    ['no credentials', token({ grant_type: 'client_credentials' }), 401, 'INVALID_CLIENT'],
    ['not Basic', token({ grant_type: 'client_credentials' }, { authorization: 'Bearer abc' }), 401, 'INVALID_CLIENT'],
    ['grant type', token({ grant_type: 'password', client_id: 'alice', client_secret: 'alice-secret' }), 400, 'UNSUPPORTED_GRANT_TYPE'],
    ['no grant type', token({ client_id: 'alice', client_secret: 'alice-secret' }), 400, 'INVALID_REQUEST'],
    ['two auth methods', token({ grant_type: 'client_credentials', client_secret: 'alice-secret' }, basic('alice', 'alice-secret')), 400, 'INVALID_REQUEST'],
    ['repeated parameter', token('grant_type=client_credentials&client_id=alice&client_id=bob&client_secret=alice-secret'), 400, 'INVALID_REQUEST'],
    ['audience not allowed', token({ grant_type: 'client_credentials', audience: 'evil' }, basic('ci-runner', CI_SECRET)), 400, 'INVALID_AUDIENCE'],
    ['audience not allowed for client', token({ grant_type: 'client_credentials', client_id: 'alice', client_secret: 'alice-secret', audience: 'third' }), 400, 'INVALID_AUDIENCE'],
    ['bad json', token('{"grant_type":', {}, true), 400, 'INVALID_JSON'],
    ['json array', token('[1]', {}, true), 400, 'INVALID_REQUEST'],
    ['oversized', token({ grant_type: 'client_credentials', client_id: 'alice', client_secret: 'x'.repeat(20_000) }), 413, 'BODY_TOO_LARGE'],
  ];
  for (const [name, p, status, code] of cases) {
    const r = await p;
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, code, name);
    assert.equal(typeof r.body.error, 'string', name);
    assert.equal(r.body.id_token, undefined, name);
  }
});

function io() {
  let out = '';
  let err = '';
  return { io: { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), env: {}, cwd: dir }, out: () => out, err: () => err };
}

test('cairn token mints tokens in dev mode: --subject gives sub only, --email gives a verified email', async () => {
  const a = io();
  assert.equal(await main(['token', '--data-dir', join(dir, 'data'), '--subject', 'https://ci.example.internal/pipelines/42'], a.io), 0, a.err());
  const t = a.out().trim();
  const { payload } = await jwtVerify(t, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: 'sigstore' });
  assert.equal(payload.sub, 'https://ci.example.internal/pipelines/42');
  assert.equal(payload.email, undefined);
  assert.equal(decodeProtectedHeader(t).alg, 'ES256');
  const b = io();
  assert.equal(await main(['token', '--data-dir', join(dir, 'data'), '--email', 'dev@example.test'], b.io), 0, b.err());
  const p2 = decodeJwt(b.out().trim());
  assert.equal(p2.email, 'dev@example.test');
  assert.equal(p2.email_verified, true);
  const c = io();
  assert.equal(await main(['token', '--data-dir', join(dir, 'data'), '--subject', 'not a uri'], c.io), 1);
  assert.match(c.err(), /\[INVALID_CLAIMS\]/);
  const d = io();
  assert.equal(await main(['token', '--data-dir', join(dir, 'data'), '--ttl', '9999'], d.io), 2);
  assert.match(d.err(), /\[USAGE\]/);
});

test('cairn token refuses when the issuer was not started in dev mode, or never started', async () => {
  const prod = tempDir('cairn-oidc-prod-');
  try {
    const s = await startStack(loadConfig({ overrides: { port: 0, dataDir: prod, logLevel: 'silent', dev: false } }), { components: ['oidc'] });
    await s.close();
    const a = io();
    assert.equal(await main(['token', '--data-dir', prod], a.io), 1);
    assert.match(a.err(), /\[DEV_MODE_OFF\]/);
    await assert.rejects(mintDevToken(join(prod, 'oidc'), {}, systemClock), (e: any) => e.code === 'DEV_MODE_OFF');
    const b = io();
    assert.equal(await main(['token', '--data-dir', join(prod, 'nowhere')], b.io), 1);
    assert.match(b.err(), /\[NOT_INITIALIZED\]/);
  } finally {
    rmSync(prod, { recursive: true, force: true });
  }
});

// Last: a restart on another port rewrites the persisted issuer URL that cairn token uses.
test('the issuer key is created once (0600) and reused across restarts', async () => {
  const keyPath = join(dir, 'data', 'oidc', 'signing-key.pem');
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  const before = readFileSync(keyPath, 'utf8');
  const kid1 = ((await (await fetch(`${issuer}/jwks`)).json()) as any).keys[0].kid;
  const again = await startStack(loadConfig({ overrides: { port: 0, dataDir: join(dir, 'data'), logLevel: 'silent', dev: true } }), { components: ['oidc'] });
  try {
    const kid2 = ((await (await fetch(`${again.url}/oidc/jwks`)).json()) as any).keys[0].kid;
    assert.equal(kid2, kid1);
    assert.equal(readFileSync(keyPath, 'utf8'), before);
  } finally {
    await again.close();
  }
});
