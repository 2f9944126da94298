/**
 * Registry authentication and transport, end to end with Debian's docker-registry (distribution
 * 2.8.2) as the registry in every case:
 * - distribution's token auth (`auth: token:`) in front of a token server on loopback written here
 *   (the distribution token spec: GET with Basic credentials, or the OAuth2 refresh_token POST of
 *   a docker config `identitytoken`), issuing ES256 JWTs with an x5c chain to a temporary CA;
 * - `~/.docker/config.json` credentials through a temporary HOME and through DOCKER_CONFIG;
 * - https with a certificate from a temporary CA (`--registry-ca-file`), and refused without it;
 * - plain http to a non-loopback address refused unless `--allow-http-registry`;
 * - a FAULT PROXY on loopback in front of the real registry for what docker-registry never does:
 *   answering 429/503 (retries with backoff) and redirecting blob downloads to another host.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign as cryptoSign, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, LocalSigner } from '@cairn/shared';
import { parseTrustedRootJson } from '@cairn/verify';
import { OciError, parseReference, RegistryClient, signImage, verifyImage } from '@cairn/oci';
import { cli, errorCode } from './sign-fixtures.ts';
import { pushImage, startRegistry, type Registry } from './oci-fixtures.ts';

const USER = 'ci';
const PASSWORD = 'registry-password-2';
const REFRESH_TOKEN = `refresh-${randomBytes(8).toString('hex')}`;
const ISSUER = 'cairn-test-token-issuer';
const SERVICE = 'cairn-test-registry';
const TRUST = JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });

let work: string;
let tokenServer: { server: Server; host: string };
const tokenLog: { method: string; basicUser?: string; grant?: string; scope?: string; service?: string }[] = [];
let tokenReg: Registry;
let basicReg: Registry;
let tlsReg: Registry;
let plainReg: Registry;
const signer = new LocalSigner(generateKey('ecdsa-p256'));
const basicClient = (): RegistryClient => new RegistryClient({ dockerConfig: false, credentials: { [basicReg.host]: { username: USER, password: PASSWORD } } });

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: work, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, and a leaf under it with the given extensions (written as NAME.key / NAME.pem). */
function makePki(ca: string, leaves: { name: string; cn: string; ext: string }[]): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${ca}.key`]);
  openssl(['req', '-x509', '-new', '-key', `${ca}.key`, '-subj', `/CN=${ca}`, '-days', '2', '-out', `${ca}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  for (const l of leaves) {
    writeFileSync(join(work, `${l.name}.ext`), l.ext);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${l.name}.key`]);
    openssl(['req', '-new', '-key', `${l.name}.key`, '-subj', `/CN=${l.cn}`, '-out', `${l.name}.csr`]);
    openssl(['x509', '-req', '-in', `${l.name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-out', `${l.name}.pem`, '-extfile', `${l.name}.ext`]);
  }
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');
const der = (pemFile: string): string => new X509Certificate(readFileSync(join(work, pemFile))).raw.toString('base64');

/** A distribution token: ES256 JWT, x5c = [signer, CA], access as asked (every action granted). */
function issueToken(scope: string | undefined, sub: string): string {
  const header = { typ: 'JWT', alg: 'ES256', x5c: [der('token-signer.pem'), der('token-ca.pem')] };
  const now = Math.floor(Date.now() / 1000);
  const access = (scope ?? '')
    .split(' ')
    .filter((s) => s !== '')
    .map((s) => {
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',') };
    });
  const claims = { iss: ISSUER, sub, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = cryptoSign('sha256', Buffer.from(input), { key: createPrivateKey(readFileSync(join(work, 'token-signer.key'))), dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

function tokenHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://token');
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (url.pathname !== '/token') return json(404, {});
  if (req.method === 'GET') {
    const auth = req.headers.authorization;
    const decoded = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : undefined;
    const user = decoded?.slice(0, decoded.indexOf(':'));
    tokenLog.push({ method: 'GET', ...(user !== undefined ? { basicUser: user } : {}), scope: url.searchParams.get('scope') ?? '', service: url.searchParams.get('service') ?? '' });
    if (decoded !== `${USER}:${PASSWORD}`) return json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
    return json(200, { token: issueToken(url.searchParams.get('scope') ?? undefined, USER), expires_in: 300 });
  }
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    const form = new URLSearchParams(body);
    tokenLog.push({ method: 'POST', grant: form.get('grant_type') ?? '', scope: form.get('scope') ?? '', service: form.get('service') ?? '' });
    if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== REFRESH_TOKEN) return json(401, { error: 'invalid_grant' });
    json(200, { access_token: issueToken(form.get('scope') ?? undefined, USER), expires_in: 300 });
  });
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, address = '127.0.0.1'): Promise<{ server: Server; host: string }> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, address, () => {
      const a = server.address();
      resolve({ server, host: `${address}:${typeof a === 'object' && a ? a.port : 0}` });
    });
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'cairn-oci-auth-'));
  makePki('token-ca', [{ name: 'token-signer', cn: 'cairn test token signer', ext: 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' }]);
  makePki('tls-ca', [{ name: 'tls-server', cn: '127.0.0.1', ext: 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' }]);
  makePki('other-ca', []);
  tokenServer = await listen(tokenHandler);
  [tokenReg, basicReg, tlsReg] = await Promise.all([
    startRegistry({ token: { realm: `http://${tokenServer.host}/token`, service: SERVICE, issuer: ISSUER, rootCertBundle: join(work, 'token-ca.pem') } }),
    startRegistry({ user: USER, password: PASSWORD }),
    startRegistry({ tls: { cert: join(work, 'tls-server.pem'), key: join(work, 'tls-server.key'), ca: readFileSync(join(work, 'tls-ca.pem'), 'utf8') } }),
  ]);
  writeFileSync(join(work, 'password'), `${PASSWORD}\n`);
  writeFileSync(join(work, 'trusted_root.json'), TRUST);
  writeFileSync(join(work, 'key.pub'), signer.publicKey.toPem());
});

after(async () => {
  await Promise.all([tokenReg?.stop(), basicReg?.stop(), tlsReg?.stop(), plainReg?.stop()]);
  tokenServer?.server.close();
});

const keyVerify = (ref: string): string[] => ['image', 'verify', ref, '--key', join(work, 'key.pub'), '--trusted-root', join(work, 'trusted_root.json'), '--tlog-threshold', '0', '--timestamp-threshold', '0', '--json'];
const creds = (): string[] => ['--registry-username', USER, '--registry-password-file', join(work, 'password')];

/** An image pushed and key-signed (bundle referrer) through `client`. */
async function signedImage(client: RegistryClient, ref: string): Promise<string> {
  const img = await pushImage(client, ref, ref);
  await signImage({ client, reference: ref, sign: { signer, tlogUpload: false } });
  return img.digest;
}

test('Bearer token flow: docker-registry with token auth and a token server on loopback; push and verify with credentials, anonymous is AUTH_REQUIRED, a wrong password AUTH_FAILED', async () => {
  const ref = `${tokenReg.host}/team/app:v1`;
  const client = new RegistryClient({ dockerConfig: false, credentials: { [tokenReg.host]: { username: USER, password: PASSWORD } } });
  const digest = await signedImage(client, ref);
  // The token server was asked with Basic credentials, for the registry's service, with push scope
  // (distribution lists the actions in no fixed order).
  const actions = (scope: string | undefined): string => (scope ?? '').split(':').pop()!.split(',').sort().join(',');
  assert.ok(tokenLog.some((t) => t.method === 'GET' && t.basicUser === USER && t.service === SERVICE && t.scope?.startsWith('repository:team/app:') && actions(t.scope) === 'pull,push'), JSON.stringify(tokenLog));

  const ok = await cli([...keyVerify(ref), ...creds()], { HOME: work });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(JSON.parse(ok.stdout).digest, digest);
  assert.ok(tokenLog.some((t) => t.method === 'GET' && t.scope === 'repository:team/app:pull'));

  const anonymous = await cli(keyVerify(ref), { HOME: work });
  assert.equal(anonymous.code, 1);
  assert.equal(errorCode(anonymous), 'AUTH_REQUIRED');
  writeFileSync(join(work, 'wrong-password'), 'not the password\n');
  const wrong = await cli([...keyVerify(ref), '--registry-username', USER, '--registry-password-file', join(work, 'wrong-password')], { HOME: work });
  assert.equal(wrong.code, 1);
  assert.equal(errorCode(wrong), 'AUTH_FAILED');
});

test('~/.docker/config.json: auths (base64 user:password) through a temporary HOME, DOCKER_CONFIG over HOME, identitytoken as an OAuth2 refresh_token grant', async () => {
  const basicRef = `${basicReg.host}/from-config:v1`;
  await signedImage(basicClient(), basicRef);
  const home = join(work, 'home');
  mkdirSync(join(home, '.docker'), { recursive: true });
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [`https://${basicReg.host}`]: { auth } } }));
  const viaHome = await cli(keyVerify(basicRef), { HOME: home });
  assert.equal(viaHome.code, 0, viaHome.stdout + viaHome.stderr);

  // DOCKER_CONFIG wins over HOME: a config there with a wrong password is the one used.
  const other = join(work, 'docker-config');
  mkdirSync(other, { recursive: true });
  writeFileSync(join(other, 'config.json'), JSON.stringify({ auths: { [basicReg.host]: { auth: Buffer.from(`${USER}:wrong`).toString('base64') } } }));
  const viaDockerConfig = await cli(keyVerify(basicRef), { HOME: home, DOCKER_CONFIG: other });
  assert.equal(viaDockerConfig.code, 1);
  assert.equal(errorCode(viaDockerConfig), 'AUTH_FAILED');

  // A config that is not JSON is a clear error, not a silent anonymous request.
  writeFileSync(join(other, 'config.json'), '{ not json');
  const broken = await cli(keyVerify(basicRef), { HOME: home, DOCKER_CONFIG: other });
  assert.equal(broken.code, 1);
  assert.equal(errorCode(broken), 'CREDENTIALS_INVALID');

  // identitytoken: the token server's refresh_token grant (POST), as docker login stores it.
  const tokenRef = `${tokenReg.host}/team/identity:v1`;
  await signedImage(new RegistryClient({ dockerConfig: false, credentials: { [tokenReg.host]: { username: USER, password: PASSWORD } } }), tokenRef);
  writeFileSync(join(other, 'config.json'), JSON.stringify({ auths: { [tokenReg.host]: { auth: Buffer.from('<token>:').toString('base64'), identitytoken: REFRESH_TOKEN } } }));
  const posts = tokenLog.filter((t) => t.method === 'POST').length;
  const viaIdentity = await cli(keyVerify(tokenRef), { HOME: home, DOCKER_CONFIG: other });
  assert.equal(viaIdentity.code, 0, viaIdentity.stdout + viaIdentity.stderr);
  const post = tokenLog.filter((t) => t.method === 'POST');
  assert.ok(post.length > posts);
  assert.deepEqual(post.at(-1), { method: 'POST', grant: 'refresh_token', scope: 'repository:team/identity:pull', service: SERVICE });
  writeFileSync(join(other, 'config.json'), JSON.stringify({ auths: { [tokenReg.host]: { identitytoken: 'a revoked refresh token' } } }));
  const revoked = await cli(keyVerify(tokenRef), { HOME: home, DOCKER_CONFIG: other });
  assert.equal(revoked.code, 1);
  assert.equal(errorCode(revoked), 'AUTH_FAILED');
});

test('https with a certificate from a temporary CA: --registry-ca-file verifies; another CA is NETWORK_ERROR; a CA file without a certificate is CA_FILE_INVALID', async () => {
  const ref = `${tlsReg.host}/tls/app:v1`;
  const client = new RegistryClient({ dockerConfig: false, caFile: join(work, 'tls-ca.pem') });
  const digest = await signedImage(client, ref);
  const ok = await cli([...keyVerify(ref), '--registry-ca-file', join(work, 'tls-ca.pem')], { HOME: work });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(JSON.parse(ok.stdout).digest, digest);

  const untrusted = await cli([...keyVerify(ref), '--registry-ca-file', join(work, 'other-ca.pem')], { HOME: work });
  assert.equal(untrusted.code, 1);
  assert.equal(errorCode(untrusted), 'NETWORK_ERROR');
  assert.match(untrusted.stderr, /certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i);

  const bad = await cli([...keyVerify(ref), '--registry-ca-file', join(work, 'tls-ca.key')], { HOME: work });
  assert.equal(bad.code, 1);
  assert.equal(errorCode(bad), 'CA_FILE_INVALID');
});

const externalIPv4 = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

test('plain http to a non-loopback registry is INSECURE_REFUSED without --allow-http-registry (registry on this machine\'s non-loopback address)', { skip: externalIPv4 === undefined ? 'this machine has no non-loopback IPv4 address' : false }, async () => {
  plainReg = await startRegistry({ address: externalIPv4! });
  const ref = `${plainReg.host}/plain/app:v1`;
  const client = new RegistryClient({ dockerConfig: false, allowHttp: true });
  await signedImage(client, ref);
  // Without the flag the client speaks https to a non-loopback host; the plain-http registry
  // cannot answer it, and no request ever goes out in clear text.
  const noFlag = await cli(keyVerify(ref), { HOME: work });
  assert.equal(noFlag.code, 1);
  assert.equal(errorCode(noFlag), 'NETWORK_ERROR');
  const flagged = await cli([...keyVerify(ref), '--allow-http-registry'], { HOME: work });
  assert.equal(flagged.code, 0, flagged.stdout + flagged.stderr);
  // A Bearer realm on plain http to a non-loopback host is refused before any credentials are sent.
  const realm = await listen((_req, res) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${externalIPv4}:9/token",service="x"` });
    res.end('{}');
  });
  try {
    const c = new RegistryClient({ dockerConfig: false, credentials: { [realm.host]: { username: USER, password: PASSWORD } }, retries: 0 });
    await assert.rejects(c.getManifest(parseReference(`${realm.host}/x`), 'v1'), (e: unknown) => e instanceof OciError && e.code === 'INSECURE_REFUSED');
  } finally {
    realm.server.close();
  }
});

/**
 * FAULT PROXY: a loopback HTTP proxy to the real registry that answers the next `faults` requests
 * matching `match` with the given status (docker-registry itself never answers 429 or 503), can
 * redirect blob GETs to a second "storage" host, and records every request it sees (and whether
 * it carried an Authorization header). `upstreamAuthorization`: the proxy's own credentials
 * upstream (as object storage serves a presigned URL without the client's credentials).
 */
async function faultProxy(upstream: string, o: { upstreamAuthorization?: string } = {}): Promise<{
  host: string;
  seen: { method: string; path: string; status: number; authorization: boolean }[];
  inject(status: number, count: number, match: (path: string) => boolean, headers?: Record<string, string>): void;
  redirectBlobsTo?: string;
  close(): void;
}> {
  const faults: { status: number; left: number; match: (p: string) => boolean; headers: Record<string, string> }[] = [];
  const seen: { method: string; path: string; status: number; authorization: boolean }[] = [];
  const state: { redirectBlobsTo?: string } = {};
  const { server, host } = await listen((req, res) => {
    const path = req.url ?? '/';
    const fault = faults.find((f) => f.left > 0 && f.match(path));
    const record = (status: number): void => void seen.push({ method: req.method ?? '', path, status, authorization: req.headers.authorization !== undefined });
    if (fault) {
      fault.left--;
      record(fault.status);
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"injected by the test proxy"}]}');
      return;
    }
    if (state.redirectBlobsTo !== undefined && req.method === 'GET' && path.includes('/blobs/sha256:') && !path.includes('/uploads/')) {
      record(307);
      res.writeHead(307, { location: `http://${state.redirectBlobsTo}${path}` });
      res.end();
      return;
    }
    // Host is kept: the registry builds upload Locations from it, so they name the proxy.
    const headers = { ...req.headers, ...(o.upstreamAuthorization !== undefined ? { authorization: o.upstreamAuthorization } : {}) };
    const up = httpRequest(`http://${upstream}${path}`, { method: req.method, headers }, (ur) => {
      record(ur.statusCode ?? 0);
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return {
    host,
    seen,
    inject: (status, count, match, headers = {}) => void faults.push({ status, left: count, match, headers }),
    get redirectBlobsTo() {
      return state.redirectBlobsTo;
    },
    set redirectBlobsTo(v: string | undefined) {
      state.redirectBlobsTo = v;
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

test('FAULT PROXY (429/503 cannot be caused with docker-registry): answers retried with backoff and Retry-After; persistent 503 is REGISTRY_ERROR after the retries; a second verify re-reads only tags and lists (content cache)', async () => {
  const plain = await startRegistry();
  const proxy = await faultProxy(plain.host);
  try {
    const client = new RegistryClient({ dockerConfig: false });
    const ref = `${proxy.host}/retry/app:v1`;
    await signedImage(client, ref);
    const trustedRoot = parseTrustedRootJson(TRUST);
    const policy = { publicKeys: [signer.publicKey.toPem()], tlogThreshold: 0, timestampThreshold: 0 };

    proxy.inject(503, 2, (p) => p === '/v2/retry/app/manifests/v1');
    proxy.inject(429, 1, (p) => p.includes('/blobs/sha256:'), { 'retry-after': '1' });
    const fresh = new RegistryClient({ dockerConfig: false });
    const before = proxy.seen.length;
    const t0 = Date.now();
    const r = await verifyImage({ client: fresh, reference: ref, trustedRoot, policy });
    assert.equal(r.verified, true, JSON.stringify(r));
    const round = proxy.seen.slice(before);
    assert.deepEqual(round.filter((s) => s.path === '/v2/retry/app/manifests/v1').map((s) => s.status), [503, 503, 200]);
    assert.deepEqual(round.filter((s) => s.path.includes('/blobs/')).map((s) => s.status), [429, 200]);
    // Backoff 200 ms then 400 ms for the manifest (in series with the rest), Retry-After: 1 s for the blob.
    assert.ok(Date.now() - t0 >= 1_500, `retries waited ${Date.now() - t0} ms`);

    // Warm: the same client reads the tag, the referrers list and the .sig/.att tags again, but not
    // the referrer manifest or the bundle blob (immutable, by digest, already checked).
    const warmFrom = proxy.seen.length;
    const again = await verifyImage({ client: fresh, reference: ref, trustedRoot, policy });
    assert.equal(again.verified, true);
    const warm = proxy.seen.slice(warmFrom);
    assert.equal(warm.filter((s) => s.path.includes('/blobs/') || s.path.includes('/manifests/sha256:')).length, 0, JSON.stringify(warm));
    assert.ok(warm.some((s) => s.path === '/v2/retry/app/manifests/v1'));

    proxy.inject(503, 100, (p) => p === '/v2/retry/app/manifests/v1');
    const n = proxy.seen.length;
    const limited = new RegistryClient({ dockerConfig: false, retries: 2 });
    await assert.rejects(limited.getManifest(parseReference(ref), 'v1'), (e: unknown) => e instanceof OciError && e.code === 'REGISTRY_ERROR');
    assert.equal(proxy.seen.length - n, 3, 'one request and two retries');
    const viaCli = await cli([...keyVerify(ref)], { HOME: work });
    assert.equal(viaCli.code, 1);
    assert.equal(errorCode(viaCli), 'REGISTRY_ERROR');
  } finally {
    proxy.close();
    await plain.stop();
  }
});

test('FAULT PROXY (docker-registry with filesystem storage never redirects): blob downloads follow a redirect to another host without the Authorization header; a manifest redirect to another host is REDIRECT_REFUSED', async () => {
  const proxy = await faultProxy(basicReg.host);
  // The "storage" host: a second proxy to the same registry, with its own credentials upstream,
  // that records what the client sent it.
  const storage = await faultProxy(basicReg.host, { upstreamAuthorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` });
  try {
    const ref = `${proxy.host}/redirect/app:v1`;
    const client = new RegistryClient({ dockerConfig: false, credentials: { [proxy.host]: { username: USER, password: PASSWORD } } });
    await signedImage(client, ref);
    proxy.redirectBlobsTo = storage.host;
    const fresh = new RegistryClient({ dockerConfig: false, credentials: { [proxy.host]: { username: USER, password: PASSWORD } } });
    const r = await verifyImage({ client: fresh, reference: ref, trustedRoot: parseTrustedRootJson(TRUST), policy: { publicKeys: [signer.publicKey.toPem()], tlogThreshold: 0, timestampThreshold: 0 } });
    assert.equal(r.verified, true, JSON.stringify(r));
    assert.ok(proxy.seen.some((s) => s.status === 307));
    const blobsAtStorage = storage.seen.filter((s) => s.path.includes('/blobs/'));
    assert.ok(blobsAtStorage.length > 0);
    // Credentials are the registry's: the storage host never sees them.
    assert.ok(blobsAtStorage.every((s) => !s.authorization), JSON.stringify(blobsAtStorage));
    assert.ok(proxy.seen.filter((s) => s.path.includes('/manifests/')).some((s) => s.authorization));

    // A manifest sent to another host is refused: only blobs may move.
    const away = await listen((req, res) => {
      res.writeHead(302, { location: `http://${storage.host}${req.url ?? '/'}` });
      res.end();
    });
    try {
      const c = new RegistryClient({ dockerConfig: false, retries: 0 });
      await assert.rejects(c.getManifest(parseReference(`${away.host}/redirect/app`), 'v1'), (e: unknown) => e instanceof OciError && e.code === 'REDIRECT_REFUSED');
    } finally {
      away.server.close();
    }
  } finally {
    proxy.close();
    storage.close();
  }
});
