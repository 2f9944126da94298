/**
 * Property tests (fast-check) for every HTTP route of `cairn up`, against the whole stack in this
 * process on 127.0.0.1:0. Each case is one request built from a valid-shaped seed by a random
 * mutation: wrong types, deep nesting, huge numbers and strings, bad UTF-8, truncation, random
 * bytes, wrong content types and encodings, and percent-encoding games in every path and query
 * parameter. Every answer must come within the per-request deadline, never be a 5xx, and a route
 * whose requests were all refused must leave the log size, the CT size and the TUF versions as
 * they were. Used by test/http-fuzz.test.ts (short) and test/http-fuzz.soak.test.ts (long).
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { TestContext } from 'node:test';
import { POST_ROUTES, type FullStack } from './full-stack.ts';
import { rawRequest } from './raw-http.ts';

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What the case is, for the failure message and the histogram. */
  kind: string;
}

/** Per-request deadline: an answer later than this is a hang. */
export const REQUEST_TIMEOUT_MS = 10_000;

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const SPKI = publicKey.export({ type: 'spki', format: 'der' });
const HEX64 = createHash('sha256').update('fuzz').digest('hex');
const B64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/** Valid-shaped bodies that are nevertheless refused (bad signatures, unknown tokens). */
const SEEDS: Record<string, { type: string; body: unknown } | { type: string; raw: string }> = {
  '/api/v1/log/entries': {
    type: 'application/json',
    body: { kind: 'hashedrekord', apiVersion: '0.0.1', spec: { signature: { content: B64('not a signature'), publicKey: { content: B64(PEM) } }, data: { hash: { algorithm: 'sha256', value: HEX64 } } } },
  },
  '/api/v2/log/entries': {
    type: 'application/json',
    body: { hashedRekordRequestV002: { digest: B64(Buffer.from(HEX64, 'hex')), signature: { content: B64('not a signature'), verifier: { publicKey: { rawBytes: B64(SPKI) }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } } } },
  },
  '/api/v1/log/entries/retrieve': { type: 'application/json', body: { entryUUIDs: [HEX64], logIndexes: [0, 1] } },
  '/api/v1/index/retrieve': { type: 'application/json', body: { hash: `sha256:${HEX64}`, operator: 'or' } },
  '/api/v1/timestamp': { type: 'application/json', body: { artifactHash: B64(Buffer.from(HEX64, 'hex')), hashAlgorithm: 'sha256', nonce: 42, certificates: true } },
  '/api/v1/signingCert': { type: 'application/json', body: { publicKey: { algorithm: 'ecdsa', content: B64(PEM) }, signedEmailAddress: B64('nope') } },
  '/api/v2/signingCert': {
    type: 'application/json',
    body: { credentials: { oidcIdentityToken: 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln' }, publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: PEM }, proofOfPossession: B64('nope') } },
  },
  '/ct/v1/add-chain': { type: 'application/json', body: { chain: [B64('not a certificate'), B64('nor this')] } },
  '/ct/v1/add-pre-chain': { type: 'application/json', body: { chain: [B64('not a precertificate')] } },
  '/oidc/token': { type: 'application/x-www-form-urlencoded', raw: 'grant_type=client_credentials&client_id=nobody&client_secret=wrong-secret' },
  '/api/cairn/v1/witness/cosignatures': { type: 'application/json', body: { checkpoint: 'origin\n1\nAAAA\n\n— x AAAA\n', cosignature: '— w AAAA\n' } },
};

/** GET routes; `{p}` marks a path parameter, `?name` query parameters. */
const GET_ROUTES: readonly { path: string; query?: readonly string[] }[] = [
  { path: '/healthz' },
  { path: '/readyz' },
  { path: '/metrics' },
  { path: '/api/cairn/v1/trust-info' },
  { path: '/api/v1/log' },
  { path: '/api/v1/log/publicKey' },
  { path: '/api/v1/log/proof', query: ['firstSize', 'lastSize'] },
  { path: '/api/v1/log/entries', query: ['logIndex'] },
  { path: '/api/v1/log/entries/{p}' },
  { path: '/checkpoint' },
  { path: '/tile/{p}' },
  { path: '/ct/v1/get-sth' },
  { path: '/ct/v1/get-sth-consistency', query: ['first', 'second'] },
  { path: '/ct/v1/get-proof-by-hash', query: ['hash', 'tree_size'] },
  { path: '/ct/v1/get-entries', query: ['start', 'end'] },
  { path: '/ct/v1/get-roots' },
  { path: '/ct/v1/public-key' },
  { path: '/api/v1/timestamp/certchain' },
  { path: '/tuf/{p}' },
  { path: '/oidc/.well-known/openid-configuration' },
  { path: '/oidc/jwks' },
  { path: '/api/v1/rootCert' },
  { path: '/api/v2/trustBundle' },
  { path: '/api/v2/configuration' },
  { path: '/' },
  { path: '/ui/{p}' },
];

/** POST routes whose acceptance would write (log entries, CT entries). */
const WRITE_ROUTES = new Set(['/api/v1/log/entries', '/api/v2/log/entries', '/ct/v1/add-chain', '/ct/v1/add-pre-chain', '/api/v1/signingCert', '/api/v2/signingCert']);

const OVER_LIMIT = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);

// ---- value and byte mutations -------------------------------------------------------------

const hugeNumber = fc.constantFrom('1e999999', '-1e999999', '123456789012345678901234567890123456789', '-0', '0.0000000000000000000000001', '9007199254740993', 'NaN', 'Infinity', '1.7976931348623157e309');
const weirdString = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constantFrom('', '\u0000', '\ud800', '\udfff\ud800', '../../../etc/passwd', '%00', '${jndi:x}', "'; DROP TABLE entries; --", '<script>', '\u202e'),
  fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'x'.repeat(n)),
);
/** Any JSON-ish value, including wrong types. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  weirdString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, [], {}, [[]], { '': '' }, { __proto__: { polluted: true } }, { constructor: { prototype: { x: 1 } } }),
);

/** Replaces (or deletes, or adds) one value somewhere in `v`. */
function mutateAt(v: unknown, path: number[], replacement: unknown, del: boolean): unknown {
  if (path.length === 0 || v === null || typeof v !== 'object') return replacement;
  const [step, ...rest] = path as [number, ...number[]];
  if (Array.isArray(v)) {
    if (v.length === 0) return [replacement];
    const i = step % v.length;
    const copy = [...v];
    if (del && rest.length === 0) copy.splice(i, 1);
    else copy[i] = mutateAt(copy[i], rest, replacement, del);
    return copy;
  }
  const keys = Object.keys(v);
  const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  if (keys.length === 0) return { x: replacement };
  const k = keys[step % keys.length]!;
  if (del && rest.length === 0) delete copy[k];
  else copy[k] = mutateAt(copy[k], rest, replacement, del);
  return copy;
}

function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/timestamp-query',
  'application/octet-stream',
  '',
  '*/*',
  'application/json;;;',
);

/** Arbitrary requests to a POST route. */
function postArbitrary(path: string): fc.Arbitrary<FuzzRequest> {
  const seed = SEEDS[path]!;
  const seedText = 'raw' in seed ? seed.raw : JSON.stringify(seed.body);
  const seedValue: unknown = 'raw' in seed ? seedText : seed.body;
  const req = (kind: string, body: Buffer, headers: Record<string, string> = {}): FuzzRequest => ({ method: 'POST', path, kind, body, headers: { 'content-type': seed.type, ...headers } });
  return fc.oneof(
    fc.constant(req('seed', Buffer.from(seedText))),
    fc
      .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), anyValue, fc.boolean())
      .map(([at, value, del]) => req('mutated field', Buffer.from(JSON.stringify(mutateAt(seedValue, at, value, del)) ?? 'null'))),
    anyValue.map((v) => req('random JSON', Buffer.from(JSON.stringify(v) ?? 'null'))),
    fc.tuple(fc.integer({ min: 50, max: 50_000 }), fc.constantFrom<'array' | 'object'>('array', 'object')).map(([d, k]) => req(`nesting ${k}`, Buffer.from(nested(d, k)))),
    fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), hugeNumber).map(([at, n]) => {
      const text = JSON.stringify(mutateAt(seedValue, at, '__N__', false)) ?? '"__N__"';
      return req('huge number', Buffer.from(text.replace('"__N__"', n)));
    }),
    fc.tuple(fc.nat(), fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0xae], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x82])).map(([at, bytes]) => {
      const b = Buffer.from(seedText);
      const i = at % (b.length + 1);
      return req('bad UTF-8', Buffer.concat([b.subarray(0, i), Buffer.from(bytes), b.subarray(i)]));
    }),
    fc.nat().map((at) => req('truncated', Buffer.from(seedText).subarray(0, at % Math.max(1, seedText.length)))),
    fc.uint8Array({ maxLength: 4096 }).map((b) => req('random bytes', Buffer.from(b))),
    contentTypes.map((ct) => req('content type', Buffer.from(seedText), ct === '' ? {} : { 'content-type': ct })),
    fc
      .constantFrom<[string, Buffer]>(
        ['gzip', gzipSync(seedText)],
        ['gzip', Buffer.from(seedText)],
        ['gzip', gzipSync(seedText).subarray(0, 12)],
        ['deflate', deflateSync(seedText)],
        ['deflate', Buffer.from('garbage')],
        ['br', brotliCompressSync(seedText)],
        ['br', Buffer.from(seedText)],
        ['zstd', Buffer.from(seedText)],
        ['gzip, gzip', gzipSync(gzipSync(seedText))],
        ['identity', Buffer.from(seedText)],
        ['x-unknown', Buffer.from(seedText)],
        ['gzip', gzipSync(Buffer.alloc(8 * 1024 * 1024))],
      )
      .map(([enc, body]) => req(`content-encoding ${enc}`, body, { 'content-encoding': enc })),
    // Rare: 4 MiB per case.
    { arbitrary: fc.constant(req('over the body limit', OVER_LIMIT)), weight: 1 },
    percentPath().map((p) => ({ ...req('path encoding', Buffer.from(seedText)), path: `${path}${p}` })),
  );
}

/** Percent-encoding games for a path parameter or a suffix. */
function percentPath(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 40 }).map((s) => encodeURIComponent(s)),
    fc.uint8Array({ maxLength: 24 }).map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')),
    fc.constantFrom('%', '%z', '%zz', '%%', '%ff%fe', '%c0%ae%c0%ae', '%2e%2e%2f%2e%2e%2f', '..%2f..%2f', '%00', '%u2215', '%e2%80%ae', '/%2F/', '//', '%252e', '?%zz=%zz', ';x=%zz', '%ed%a0%80'),
    fc.integer({ min: 1000, max: 12_000 }).map((n) => 'a'.repeat(n)),
    fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => encodeURI(s)),
  );
}

const queryValue: fc.Arbitrary<string> = fc.oneof(
  fc.nat({ max: 1000 }).map(String),
  fc.constantFrom('-1', '0', '1', '1e3', '0x10', '1.5', '', '%201', '1%20', '+1', '18446744073709551616', '9007199254740993', 'NaN', 'Infinity', '%zz', '%ff', '%', '[]', 'a,b'),
  fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => encodeURIComponent(Buffer.from(b).toString('base64'))),
);

/** Arbitrary requests to a GET route. */
function getArbitrary(route: { path: string; query?: readonly string[] }): fc.Arbitrary<FuzzRequest> {
  const names = route.query ?? [];
  const query = fc.oneof(
    fc.constant(''),
    fc.tuple(...names.map(() => fc.option(queryValue, { nil: undefined }))).map((vs) => {
      const parts = vs.flatMap((v, i) => (v === undefined ? [] : [`${names[i]!}=${v}`]));
      return parts.length > 0 ? `?${parts.join('&')}` : '';
    }),
    fc.array(fc.tuple(fc.constantFrom(...(names.length > 0 ? names : ['x'])), queryValue), { maxLength: 6 }).map((kv) => `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}`),
    fc.constantFrom('?', '?&&', '?=', '?a[b]=1', '?__proto__[x]=1', '?%zz', '?x=%'),
  );
  const param = route.path.includes('{p}') ? percentPath() : fc.constant('');
  const method = fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH');
  const headers = fc.oneof(
    fc.constant({}),
    fc.constantFrom<Record<string, string>>({ accept: 'application/xml' }, { 'content-encoding': 'gzip' }, { 'if-none-match': '*' }, { range: 'bytes=5-1' }, { authorization: 'Bearer x' }, { 'x-forwarded-for': '::1' }),
  );
  return fc.tuple(method, param, query, headers).map(([m, p, q, h]) => ({ method: m, path: route.path.replace('{p}', p) + q, headers: h, kind: `${m}${p ? ' param' : ''}${q ? ' query' : ''}` }));
}

// ---- the run ------------------------------------------------------------------------------

export interface RouteReport {
  route: string;
  cases: number;
  statuses: Record<string, number>;
}

/** Fuzzes one route with `runs` cases; returns its cases and status histogram. */
async function fuzzRoute(s: FullStack, route: string, arb: fc.Arbitrary<FuzzRequest>, runs: number, write: boolean): Promise<RouteReport> {
  const statuses: Record<string, number> = {};
  let cases = 0;
  let accepted = 0;
  const before = await s.state();
  await fc.assert(
    fc.asyncProperty(arb, async (r) => {
      let a;
      try {
        a = await rawRequest(s.url, { method: r.method, path: r.path, headers: r.headers, body: r.body, timeoutMs: REQUEST_TIMEOUT_MS });
      } catch (e) {
        // A reset after an answered over-limit upload is how Node ends it; anything else is a failure.
        throw new Error(`${r.kind} ${r.method} ${r.path.slice(0, 120)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      cases++;
      statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      if (write && a.status < 300) accepted++;
      assert.ok(a.status < 500, `${r.kind} ${r.method} ${r.path.slice(0, 120)} -> ${a.status} ${a.text.slice(0, 200)}`);
      // Refusals carry a stable code: JSON {code}, or the TSA's X-Cairn-Code on a DER rejection.
      const code = a.json?.code ?? a.headers['x-cairn-code'];
      if (a.status >= 400 && r.method !== 'HEAD') assert.equal(typeof code, 'string', `${r.kind} ${r.path.slice(0, 80)} -> ${a.status} without a code: ${a.text.slice(0, 120)}`);
    }),
    { numRuns: runs, endOnFailure: true },
  );
  if (accepted === 0) assert.deepEqual(await s.state(), before, `${route}: refused requests changed the state`);
  return { route, cases, statuses };
}

/** Fuzzes every route of the stack with `runs` cases each; prints cases and statuses per route. */
export async function fuzzAllRoutes(s: FullStack, runs: number, t: TestContext): Promise<RouteReport[]> {
  const reports: RouteReport[] = [];
  for (const path of POST_ROUTES) {
    reports.push(await fuzzRoute(s, `POST ${path}`, postArbitrary(path), runs, WRITE_ROUTES.has(path)));
  }
  for (const route of GET_ROUTES) reports.push(await fuzzRoute(s, `GET ${route.path}`, getArbitrary(route), runs, false));
  const total: Record<string, number> = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.statuses)) total[k] = (total[k] ?? 0) + v;
    t.diagnostic(`${r.route}: ${r.cases} cases ${JSON.stringify(r.statuses)}`);
  }
  t.diagnostic(`${reports.length} routes, ${reports.reduce((n, r) => n + r.cases, 0)} cases, statuses ${JSON.stringify(total)}`);
  return reports;
}
