/** Every bad input gets its status and stable code, and changes nothing in the log. */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { STORE_KINDS, createTestDatabase, storeSkip, type StoreKind } from '@cairn/log/test-stores';
import { b64, certificateFor, dsseEnvelope, hashedRekord, keyPair, post, startLog, type LogServer } from './log-helpers.ts';

let log: LogServer;
// One suite, both stores: the PostgreSQL run gets a database of its own.
for (const kind of STORE_KINDS) {
  describe(`log bad input [${kind}]`, { skip: storeSkip(kind) }, () => {
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      const db = kind === 'postgres' ? await createTestDatabase() : undefined;
      drop = db?.drop;
      log = await startLog(undefined, {}, undefined, db?.url);
    });
    after(async () => {
      await log.stop();
      await drop?.();
    });
    suite(kind);
  });
}

async function get(path: string): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(`${log.url}${path}`);
  const text = await r.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* binary or text */
  }
  return { status: r.status, json, headers: r.headers };
}

function withSpec(entry: Record<string, any>, mutate: (e: any) => void): any {
  const e = structuredClone(entry);
  mutate(e);
  return e;
}

function suite(kind: StoreKind): void {
test('bad proposed entries: status + code, nothing written', async () => {
  await badProposedEntries(log);
});

// Its own log (worker threads configured): run once.
if (kind === 'sqlite') test('the same bad entries prepared on worker threads keep their status and code, nothing written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-log-workers-'));
  const configFile = join(dir, 'cairn.json');
  writeFileSync(configFile, JSON.stringify({ log: { verifyWorkers: 1, verifyWorkersAfter: 0 } }));
  const pooled = await startLog(join(dir, 'data'), {}, configFile);
  try {
    // The workers start in the background: wait until one serves, so the cases below cross threads.
    for (let i = 0; i < 200; i++) {
      const m = await (await fetch(`${pooled.url}/metrics`)).text();
      if (/cairn_log_verify_workers 1\b/.test(m)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(await (await fetch(`${pooled.url}/metrics`)).text(), /cairn_log_verify_workers 1\b/);
    await badProposedEntries(pooled);
  } finally {
    await pooled.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function badProposedEntries(log: LogServer): Promise<void> {
  const get = async (path: string): Promise<{ status: number; json: any }> => {
    const r = await fetch(`${log.url}${path}`);
    return { status: r.status, json: await r.json() };
  };
  const first = await post(`${log.url}/api/v1/log/entries`, hashedRekord(Buffer.from('seed')).entry);
  assert.equal(first.status, 201);
  const before = await get('/api/v1/log');
  const k = keyPair();
  const good = hashedRekord(Buffer.from('payload'), k).entry;
  const other = keyPair();
  const cases: [string, unknown, number, string][] = [
    ['malformed JSON', '{"apiVersion":', 400, 'INVALID_JSON'],
    ['not an object', '"hello"', 400, 'INVALID_ENTRY'],
    ['unknown kind', withSpec(good, (e) => (e.kind = 'rekord')), 400, 'UNSUPPORTED_KIND'],
    ['prototype kind', withSpec(good, (e) => (e.kind = 'constructor')), 400, 'UNSUPPORTED_KIND'],
    ['unknown version', withSpec(good, (e) => (e.apiVersion = '0.0.2')), 400, 'UNSUPPORTED_VERSION'],
    ['missing spec', withSpec(good, (e) => delete e.spec), 400, 'INVALID_ENTRY'],
    ['unknown field', withSpec(good, (e) => (e.spec.extra = 1)), 400, 'INVALID_ENTRY'],
    ['bad base64 signature', withSpec(good, (e) => (e.spec.signature.content = 'not base64!')), 400, 'INVALID_ENCODING'],
    ['bad hex digest', withSpec(good, (e) => (e.spec.data.hash.value = 'zz'.repeat(32))), 400, 'INVALID_ENCODING'],
    ['short digest', withSpec(good, (e) => (e.spec.data.hash.value = 'ab'.repeat(31))), 400, 'INVALID_DIGEST'],
    ['sha512 length for sha256', withSpec(good, (e) => (e.spec.data.hash.value = 'ab'.repeat(64))), 400, 'INVALID_DIGEST'],
    ['unknown hash algorithm', withSpec(good, (e) => (e.spec.data.hash.algorithm = 'md5')), 400, 'INVALID_ENTRY'],
    ['signature by another key', withSpec(good, (e) => (e.spec.signature.publicKey.content = b64(other.pem))), 400, 'INVALID_SIGNATURE'],
    ['digest of another artifact', withSpec(good, (e) => (e.spec.data.hash.value = createHash('sha256').update('x').digest('hex'))), 400, 'INVALID_SIGNATURE'],
    ['key is not PEM', withSpec(good, (e) => (e.spec.signature.publicKey.content = b64('hello'))), 400, 'INVALID_ENCODING'],
    ['PEM is not a key', withSpec(good, (e) => (e.spec.signature.publicKey.content = b64('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'))), 400, 'INVALID_KEY'],
    ['Ed25519 key for a digest', hashedRekordEd25519(), 400, 'UNSUPPORTED_KEY'],
    ['P-384 key with sha256', hashedRekord(Buffer.from('p384'), keyPair('P-384')).entry, 400, 'UNSUPPORTED_KEY'],
    ['dsse envelope not JSON', { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: '{', verifiers: [b64(k.pem)] } } }, 400, 'INVALID_ENTRY'],
    [
      'dsse signature by another key',
      { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: JSON.stringify(dsseEnvelope(Buffer.from('{}'), other)), verifiers: [b64(k.pem)] } } },
      400,
      'INVALID_SIGNATURE',
    ],
    [
      'intoto payloadHash mismatch',
      {
        apiVersion: '0.0.2',
        kind: 'intoto',
        spec: {
          content: {
            envelope: intotoEnvelope(k),
            hash: { algorithm: 'sha256', value: 'ab'.repeat(32) },
            payloadHash: { algorithm: 'sha256', value: 'cd'.repeat(32) },
          },
        },
      },
      400,
      'INVALID_DIGEST',
    ],
    ['intoto single base64 payload', { apiVersion: '0.0.2', kind: 'intoto', spec: { content: { envelope: { ...intotoEnvelope(k), payload: '!!' }, hash: { algorithm: 'sha256', value: 'ab'.repeat(32) } } } }, 400, 'INVALID_ENCODING'],
  ];
  for (const [name, body, status, code] of cases) {
    const r = await post(`${log.url}/api/v1/log/entries`, body);
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, code, name);
  }
  // Oversized body: 413 before anything is parsed.
  const huge = withSpec(good, (e) => (e.spec.signature.content = 'A'.repeat(4 * 1024 * 1024 + 16)));
  const big = await post(`${log.url}/api/v1/log/entries`, huge);
  assert.equal(big.status, 413);
  assert.equal(big.json.code, 'BODY_TOO_LARGE');
  // v2 requests.
  const digest = createHash('sha256').update('v2').digest();
  const sig = sign('sha256', Buffer.from('v2'), k.privateKey).toString('base64');
  const spki = k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const v2 = (d: Buffer, s: string, verifier: unknown): unknown => ({ hashedRekordRequestV002: { digest: d.toString('base64'), signature: { content: s, verifier } } });
  const v2cases: [string, unknown, number, string][] = [
    ['unknown request', { rekordRequestV001: {} }, 400, 'UNSUPPORTED_KIND'],
    ['two requests', { hashedRekordRequestV002: {}, dsseRequestV002: {} }, 400, 'UNSUPPORTED_KIND'],
    ['unknown keyDetails', v2(digest, sig, { publicKey: { rawBytes: spki }, keyDetails: 'PKIX_ECDSA_P256_SHA_999' }), 400, 'UNSUPPORTED_KEY'],
    ['key does not match keyDetails', v2(digest, sig, { publicKey: { rawBytes: spki }, keyDetails: 'PKIX_ECDSA_P384_SHA_384' }), 400, 'UNSUPPORTED_KEY'],
    ['digest too short', v2(digest.subarray(0, 20), sig, { publicKey: { rawBytes: spki }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' }), 400, 'INVALID_DIGEST'],
    ['bad signature', v2(createHash('sha256').update('v3').digest(), sig, { publicKey: { rawBytes: spki }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' }), 400, 'INVALID_SIGNATURE'],
    ['bad certificate', v2(digest, sig, { x509Certificate: { rawBytes: spki }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' }), 400, 'INVALID_KEY'],
    ['bad base64', v2(digest, 'a', { publicKey: { rawBytes: spki }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' }), 400, 'INVALID_ENCODING'],
  ];
  for (const [name, body, status, code] of v2cases) {
    const r = await post(`${log.url}/api/v2/log/entries`, body);
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, code, name);
  }
  const afterInfo = await get('/api/v1/log');
  assert.deepEqual(afterInfo.json, before.json, 'no rejected request changed the tree');
  const metrics = await (await fetch(`${log.url}/metrics`)).text();
  assert.match(metrics, /cairn_log_rejections_total\{code="INVALID_SIGNATURE"\} [1-9]/);
  assert.match(metrics, /cairn_log_tree_size 1\b/);
  // And a good entry is accepted on the same path.
  const ok = await post(`${log.url}/api/v1/log/entries`, hashedRekord(Buffer.from('after the bad ones')).entry);
  assert.equal(ok.status, 201, JSON.stringify(ok.json));
}

function hashedRekordEd25519(): unknown {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const artifact = Buffer.from('ed');
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } },
      signature: { content: sign(null, artifact, privateKey).toString('base64'), publicKey: { content: b64(publicKey.export({ type: 'spki', format: 'pem' }).toString()) } },
    },
  };
}

function intotoEnvelope(k: ReturnType<typeof keyPair>): Record<string, unknown> {
  const env = dsseEnvelope(Buffer.from('{"_type":"x"}'), k);
  return { payloadType: env.payloadType, payload: b64(env.payload), signatures: [{ sig: b64(env.signatures[0]!.sig), publicKey: b64(k.pem) }] };
}

test('duplicates: 409 with the Location of the existing entry, inside one batch too', async () => {
  const { entry } = hashedRekord(Buffer.from('dup'));
  const [a, b] = await Promise.all([post(`${log.url}/api/v1/log/entries`, entry), post(`${log.url}/api/v1/log/entries`, entry)]);
  const ok = [a, b].find((r) => r.status === 201)!;
  const dup = [a, b].find((r) => r.status === 409)!;
  assert.ok(ok && dup, 'one accepted, one conflict');
  assert.equal(dup.json.code, 'DUPLICATE_ENTRY');
  assert.equal(dup.headers.get('location'), ok.headers.get('location'));
  const again = await post(`${log.url}/api/v1/log/entries`, entry);
  assert.equal(again.status, 409);
  assert.equal(again.headers.get('location'), ok.headers.get('location'));
});

test('write routes without Express (lean) and through it answer alike: chunked oversize 413, gzip and query strings via Express, metrics counted', async () => {
  const url = new URL(`${log.url}/api/v1/log/entries`);
  const raw = (path: string, headers: Record<string, string>, chunks: Buffer[]): Promise<{ status: number; headers: Record<string, unknown>; json: any }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'POST', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  const sizeBefore = ((await (await fetch(`${log.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
  // Chunked (no content-length) and over the 4 MiB limit: 413 once the limit is crossed.
  const big = await raw('/api/v1/log/entries', { 'content-type': 'application/json' }, Array.from({ length: 5 }, () => Buffer.alloc(1024 * 1024, 0x20)));
  assert.equal(big.status, 413);
  assert.equal(big.json.code, 'BODY_TOO_LARGE');
  // The same malformed body on the lean path and (with a query string) through Express.
  for (const path of ['/api/v1/log/entries', '/api/v1/log/entries?via=express']) {
    const r = await raw(path, { 'content-type': 'application/json' }, [Buffer.from('{"apiVersion":')]);
    assert.equal(r.status, 400, path);
    assert.equal(r.json.code, 'INVALID_JSON', path);
  }
  // gzip: inflated by Express's body parser, accepted.
  const { entry } = hashedRekord(Buffer.from('gzipped entry'));
  const gz = await raw('/api/v1/log/entries', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, [gzipSync(JSON.stringify(entry))]);
  assert.equal(gz.status, 201);
  assert.match(String(gz.headers.location), /^\/api\/v1\/log\/entries\/[0-9a-f]{80}$/);
  const viaQuery = await raw('/api/v1/log/entries?x=1', { 'content-type': 'application/json' }, [Buffer.from(JSON.stringify(entry))]);
  assert.equal(viaQuery.status, 409);
  assert.equal(viaQuery.headers.location, gz.headers.location);
  const sizeAfter = ((await (await fetch(`${log.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
  assert.equal(sizeAfter, sizeBefore + 1, 'only the gzipped entry was written');
  const metrics = await (await fetch(`${log.url}/metrics`)).text();
  assert.match(metrics, /cairn_http_requests_total\{[^}]*method="POST"[^}]*status="413"[^}]*\} [1-9]/);
  assert.match(metrics, /cairn_log_rejections_total\{code="BODY_TOO_LARGE"\} [1-9]/);
});

test('reads: unknown entries 404, malformed IDs and ranges 400, retrieve limits 422', async () => {
  await post(`${log.url}/api/v1/log/entries`, hashedRekord(Buffer.from('read-a')).entry);
  const size = (await get('/api/v1/log')).json.treeSize as number;
  const cases: [string, number, string][] = [
    [`/api/v1/log/entries/${'ab'.repeat(32)}`, 404, 'ENTRY_NOT_FOUND'],
    [`/api/v1/log/entries/${'00'.repeat(8)}${'ab'.repeat(32)}`, 404, 'ENTRY_NOT_FOUND'],
    ['/api/v1/log/entries/xyz', 400, 'INVALID_ENTRY_ID'],
    [`/api/v1/log/entries/${'ab'.repeat(33)}`, 400, 'INVALID_ENTRY_ID'],
    [`/api/v1/log/entries?logIndex=${size}`, 404, 'ENTRY_NOT_FOUND'],
    ['/api/v1/log/entries?logIndex=-1', 400, 'INVALID_LOG_INDEX'],
    ['/api/v1/log/entries?logIndex=1e3', 400, 'INVALID_LOG_INDEX'],
    ['/api/v1/log/entries', 400, 'INVALID_LOG_INDEX'],
    [`/api/v1/log/proof?firstSize=1&lastSize=${size + 1}`, 400, 'INVALID_PROOF_REQUEST'],
    [`/api/v1/log/proof?firstSize=2&lastSize=1`, 400, 'INVALID_PROOF_REQUEST'],
    [`/api/v1/log/proof?firstSize=0&lastSize=1`, 400, 'INVALID_PROOF_REQUEST'],
    [`/api/v1/log/proof?firstSize=1`, 400, 'INVALID_PROOF_REQUEST'],
    [`/api/v1/log/proof?firstSize=a&lastSize=1`, 400, 'INVALID_PROOF_REQUEST'],
    ['/tile/0/x001', 400, 'INVALID_TILE_PATH'],
    ['/tile/0/0001', 400, 'INVALID_TILE_PATH'],
    ['/tile/0/005', 404, 'TILE_NOT_FOUND'],
    ['/tile/0/000', 404, 'TILE_NOT_FOUND'],
    [`/tile/0/000.p/${size + 1}`, 404, 'TILE_NOT_FOUND'],
    ['/tile/entries/001', 404, 'TILE_NOT_FOUND'],
  ];
  for (const [path, status, code] of cases) {
    const r = await get(path);
    assert.equal(r.status, status, `${path}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, code, path);
  }
  assert.equal((await get(`/tile/0/000.p/${size}`)).status, 200);
  const many = await post(`${log.url}/api/v1/log/entries/retrieve`, { logIndexes: Array.from({ length: 11 }, (_, i) => i) });
  assert.equal(many.status, 422);
  assert.equal(many.json.code, 'TOO_MANY_ITEMS');
  const bads: [unknown, string][] = [
    [{}, 'INVALID_SEARCH'],
    [{ hash: 'sha256:1234' }, 'INVALID_SEARCH'],
    [{ hash: 'ab'.repeat(32), operator: 'xor' }, 'INVALID_SEARCH'],
    [{ publicKey: { format: 'pgp', content: 'AAAA' } }, 'INVALID_SEARCH'],
    [{ email: '' }, 'INVALID_SEARCH'],
  ];
  for (const [q, code] of bads) {
    const r = await post(`${log.url}/api/v1/index/retrieve`, q);
    assert.equal(r.status, 400, JSON.stringify(q));
    assert.equal(r.json.code, code);
  }
});

test('retrieve and search find what was logged', async () => {
  const k = keyPair();
  const { entry, digest } = hashedRekord(Buffer.from('findable'), k);
  const created = await post(`${log.url}/api/v1/log/entries`, entry);
  const [entryId] = Object.keys(created.json);
  const logIndex = created.json[entryId!].logIndex as number;
  const r = await post(`${log.url}/api/v1/log/entries/retrieve`, { entryUUIDs: [entryId!.slice(16)], logIndexes: [logIndex], entries: [entry] });
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.json.map((m: object) => Object.keys(m)[0]),
    [entryId, entryId, entryId],
  );
  for (const q of [{ hash: `sha256:${digest.toString('hex')}` }, { hash: digest.toString('hex').toUpperCase() }, { publicKey: { format: 'x509', content: b64(k.pem) } }]) {
    const s = await post(`${log.url}/api/v1/index/retrieve`, q);
    assert.deepEqual(s.json, [entryId], JSON.stringify(q));
  }
  const both = await post(`${log.url}/api/v1/index/retrieve`, { hash: digest.toString('hex'), publicKey: { format: 'x509', content: b64(keyPair().pem) }, operator: 'and' });
  assert.deepEqual(both.json, []);
  const either = await post(`${log.url}/api/v1/index/retrieve`, { hash: digest.toString('hex'), publicKey: { format: 'x509', content: b64(keyPair().pem) }, operator: 'or' });
  assert.deepEqual(either.json, [entryId]);
  const pem = await fetch(`${log.url}/api/v1/log/publicKey`);
  assert.equal(pem.headers.get('content-type')?.split(';')[0], 'application/x-pem-file');
  assert.match(await pem.text(), /^-----BEGIN PUBLIC KEY-----\n/);
});

// SQLite-specific (rewrites the SQLite schema).
if (kind === 'sqlite') test('a log whose search keys were in search_index (rekor schema 1) is migrated: old entries are still found', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-log-migrate-'));
  let server = await startLog(dataDir);
  const { entry, digest } = hashedRekord(Buffer.from('searchable before the migration'));
  const created = await post(`${server.url}/api/v1/log/entries`, entry);
  const [entryId] = Object.keys(created.json);
  await server.stop(false);
  // Back to rekor schema 1: the keys in search_index, none in leaf_keys or staged.
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(join(dataDir, 'log', 'log.db'));
  db.exec(`CREATE TABLE search_index (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) WITHOUT ROWID;
    INSERT OR IGNORE INTO search_index (key, idx) SELECT key, idx FROM leaf_keys_staging;
    INSERT OR IGNORE INTO search_index (key, idx) SELECT key, idx FROM leaf_keys;
    DELETE FROM leaf_keys_staging; DELETE FROM leaf_keys;
    DELETE FROM schema_migrations WHERE namespace = 'rekor' AND version = 2;`);
  assert.ok((db.prepare('SELECT COUNT(*) AS n FROM search_index').get() as { n: number }).n > 0);
  db.close();
  server = await startLog(dataDir);
  try {
    const s = await post(`${server.url}/api/v1/index/retrieve`, { hash: `sha256:${digest.toString('hex')}` });
    assert.deepEqual(s.json, [entryId]);
  } finally {
    await server.stop();
  }
});

test('search by certificate identity (email and URI SANs), and by the certificate', async () => {
  const k = keyPair();
  const pem = await certificateFor(k, [
    { type: 'email', value: 'Alice@Example.com' },
    { type: 'url', value: 'https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main' },
  ]);
  const { entry } = hashedRekord(Buffer.from('by identity'), k, pem);
  const created = await post(`${log.url}/api/v1/log/entries`, entry);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const [id] = Object.keys(created.json);
  const body = JSON.parse(Buffer.from(created.json[id!].body, 'base64').toString());
  assert.match(Buffer.from(body.spec.signature.publicKey.content, 'base64').toString(), /^-----BEGIN CERTIFICATE-----\n/);
  for (const q of [
    { email: 'alice@example.com' },
    { subject: 'https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main' },
    { publicKey: { format: 'x509', content: b64(pem) } },
    { publicKey: { format: 'x509', content: b64(k.pem) } },
    { email: 'ALICE@example.com', hash: createHash('sha256').update('by identity').digest('hex'), operator: 'and' },
  ]) {
    const r = await post(`${log.url}/api/v1/index/retrieve`, q);
    assert.deepEqual(r.json, [id], JSON.stringify(q));
  }
  assert.deepEqual((await post(`${log.url}/api/v1/index/retrieve`, { email: 'bob@example.com' })).json, []);
});
}
