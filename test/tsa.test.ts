/**
 * The RFC 3161 timestamp authority on a real server (port 0): OpenSSL (`openssl ts`, an
 * independent implementation) makes the queries and verifies every reply against the chain from
 * /api/v1/timestamp/certchain; Cairn's own verifier (@cairn/verify, client/verify/src/timestamp.ts) checks the
 * tokens too. Every refused query is asserted by HTTP status, code and RFC 3161 failInfo bit, and
 * by what it must not do: sign, count, or use up a serial number.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { loadConfig, silentLogger, systemClock, type TrustInfo } from '@cairn/shared';
import { bool, children, explicit, integer, nullValue, octetString, oid, oidToString, readOne, readUnsignedInteger, seq, TAG, type Tlv } from '@cairn/shared/der';
import { initTsa, MAX_QUERY_BYTES, TsaError } from '@cairn/tsa';
import { startStack, type Stack } from '@cairn/host';
import { buildTrustedRoot } from '@cairn/trust';
import { parseTrustedRoot, verifyRfc3161Timestamp, VerifyError } from '@cairn/verify';
import { codeOf } from './helpers/codes.ts';

const SHA256 = '2.16.840.1.101.3.4.2.1';
const SHA1 = '1.3.14.3.2.26';
const DEFAULT_POLICY = '1.3.6.1.4.1.57264.2';

let dataDir: string;
let work: string;
let stack: Stack;
let url: string;
let chainPem: string;

async function start(set: string[] = []): Promise<Stack> {
  return startStack(loadConfig({ flags: { set }, overrides: { port: 0, dataDir, logLevel: 'silent' } }), { components: ['tsa'], logger: silentLogger });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cairn-tsa-data-'));
  work = mkdtempSync(join(tmpdir(), 'cairn-tsa-work-'));
  await initTsa(join(dataDir, 'tsa'), { clock: systemClock });
  stack = await start();
  url = stack.url;
  const r = await fetch(`${url}/api/v1/timestamp/certchain`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/pem-certificate-chain; charset=utf-8');
  chainPem = await r.text();
  writeFileSync(join(work, 'chain.pem'), chainPem);
  // The signing certificate alone, for replies that do not embed it (-untrusted).
  writeFileSync(join(work, 'leaf.pem'), chainPem.slice(0, chainPem.indexOf('-----END CERTIFICATE-----') + 26));
});

after(async () => {
  await stack?.close();
});

interface Reply {
  status: number;
  type: string | null;
  code: string | null;
  body: Buffer;
}

async function post(body: Buffer | string, type = 'application/timestamp-query'): Promise<Reply> {
  const r = await fetch(`${url}/api/v1/timestamp`, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(20_000) });
  return { status: r.status, type: r.headers.get('content-type'), code: r.headers.get('x-cairn-code'), body: Buffer.from(await r.arrayBuffer()) };
}

function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** PKIStatus and the index of the single failInfo bit set, if any. */
function statusOf(resp: Buffer): { status: bigint; failBit?: number; token?: Tlv } {
  const [info, token] = children(readOne(resp, TAG.SEQUENCE));
  const parts = children(info!);
  const status = readUnsignedInteger(parts[0]!);
  const bits = parts.find((p) => p.tag === TAG.BIT_STRING);
  let failBit: number | undefined;
  if (bits) {
    const bytes = bits.value.subarray(1);
    for (let i = 0; i < bytes.length * 8; i++) if (bytes[i >> 3]! & (0x80 >> (i & 7))) failBit = i;
  }
  return { status, failBit, token };
}

/** TSTInfo fields of a granted reply, and whether the token embeds certificates. */
function tstInfoOf(resp: Buffer): { policy: string; serial: bigint; nonce?: bigint; accuracy: Tlv | undefined; embedsCertificates: boolean } {
  const token = statusOf(resp).token!;
  const sd = children(children(children(token)[1]!)[0]!);
  const encap = children(sd[2]!);
  const tst = children(readOne(children(encap[1]!)[0]!.value, TAG.SEQUENCE));
  const nonce = tst.find((t, i) => i > 4 && t.tag === TAG.INTEGER);
  return {
    policy: oidToString(tst[1]!.value),
    serial: readUnsignedInteger(tst[3]!),
    nonce: nonce ? readUnsignedInteger(nonce) : undefined,
    accuracy: tst.find((t, i) => i > 4 && t.tag === TAG.SEQUENCE),
    embedsCertificates: sd.some((t) => t.tag === 0xa0),
  };
}

async function issuedCount(s: Stack = stack): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = /^cairn_tsa_timestamps_issued_total(?:\{\})? (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

function query(o: { alg?: string; params?: Buffer | null; hashed?: Buffer; version?: number; policy?: string; nonce?: bigint; certReq?: boolean; extensions?: Buffer } = {}): Buffer {
  const algId = o.params === null ? seq(oid(o.alg ?? SHA256)) : seq(oid(o.alg ?? SHA256), o.params ?? nullValue());
  const parts = [integer(o.version ?? 1), seq(algId, octetString(o.hashed ?? randomBytes(32)))];
  if (o.policy) parts.push(oid(o.policy));
  if (o.nonce !== undefined) parts.push(integer(o.nonce));
  if (o.certReq) parts.push(bool(true));
  if (o.extensions) parts.push(o.extensions);
  return seq(...parts);
}

let lastSerial = 0n;
async function goodSerial(): Promise<bigint> {
  const r = await post(query({ certReq: true }));
  assert.equal(r.status, 200);
  return tstInfoOf(r.body).serial;
}

test('openssl ts -query output (sha256/384/512, with and without -cert) is accepted and every reply verifies with openssl ts -verify', async () => {
  const artifact = join(work, 'artifact.txt');
  writeFileSync(artifact, 'release bytes\n');
  for (const alg of ['sha256', 'sha384', 'sha512']) {
    for (const cert of [true, false]) {
      const tsq = join(work, `req-${alg}-${cert}.tsq`);
      const tsr = join(work, `resp-${alg}-${cert}.tsr`);
      execFileSync('openssl', ['ts', '-query', '-data', artifact, `-${alg}`, ...(cert ? ['-cert'] : []), '-out', tsq], { stdio: 'ignore' });
      const r = await post(readFileSync(tsq));
      assert.equal(r.status, 200);
      assert.equal(r.type, 'application/timestamp-reply');
      writeFileSync(tsr, r.body);
      const info = tstInfoOf(r.body);
      assert.equal(info.embedsCertificates, cert, 'certReq honoured: the certificate is embedded exactly when asked');
      assert.equal(info.policy, DEFAULT_POLICY);
      const v = openssl(['ts', '-verify', '-in', tsr, '-queryfile', tsq, '-CAfile', join(work, 'chain.pem'), ...(cert ? [] : ['-untrusted', join(work, 'leaf.pem')])]);
      assert.equal(v.status, 0, v.out);
      assert.match(v.out, /Verification: OK/);
      // The oracle can fail: the same reply against another artifact's digest.
      const other = openssl(['ts', '-verify', '-in', tsr, '-digest', createHash(alg).update('other').digest('hex'), '-CAfile', join(work, 'chain.pem'), '-untrusted', join(work, 'leaf.pem')]);
      assert.notEqual(other.status, 0, 'a reply must not verify for another digest');
    }
  }
  const text = openssl(['ts', '-reply', '-in', join(work, 'resp-sha256-true.tsr'), '-text']).out;
  assert.match(text, /Status: Granted/);
  assert.match(text, /Accuracy: 0x01 seconds/);
});

test('the nonce is echoed, the accuracy stated; the JSON request form works and verifies with openssl and with cairn verify', async () => {
  const nonce = 0x1234_5678_9abc_def0_1122n;
  const r = await post(query({ nonce }));
  assert.equal(r.status, 200);
  assert.equal(tstInfoOf(r.body).nonce, nonce);
  assert.deepEqual(children(tstInfoOf(r.body).accuracy!).map((t) => readUnsignedInteger(t)), [1n]);

  // sigstore-js's request: the SHA-256 of the signature bytes.
  const signature = randomBytes(71);
  const digest = createHash('sha256').update(signature).digest();
  const j = await post(JSON.stringify({ artifactHash: digest.toString('base64'), hashAlgorithm: 'sha256', nonce: 42, certificates: true }), 'application/json');
  assert.equal(j.status, 200);
  assert.equal(j.type, 'application/timestamp-reply');
  assert.equal(tstInfoOf(j.body).nonce, 42n);
  const tsr = join(work, 'json.tsr');
  writeFileSync(tsr, j.body);
  const v = openssl(['ts', '-verify', '-in', tsr, '-digest', digest.toString('hex'), '-CAfile', join(work, 'chain.pem')]);
  assert.match(v.out, /Verification: OK/, v.out);

  // Cairn's verifier, with the TSA as the trusted root lists it (trust info -> trusted_root.json).
  const infos = (await (await fetch(`${url}/api/cairn/v1/trust-info`)).json()) as TrustInfo[];
  const root = buildTrustedRoot(infos);
  assert.equal(root.timestampAuthorities.length, 1);
  assert.equal(root.timestampAuthorities[0]!.uri, `${url}/api/v1/timestamp`);
  assert.equal(root.timestampAuthorities[0]!.certChain.certificates.length, 2);
  const tsas = parseTrustedRoot(root).timestampAuthorities;
  const t = verifyRfc3161Timestamp(j.body, signature, tsas);
  assert.ok(Math.abs(t.getTime() - Date.now()) < 600_000);
  const code = codeOf(VerifyError);
  assert.equal(code(() => verifyRfc3161Timestamp(j.body, randomBytes(71), tsas)), 'TIMESTAMP_INVALID');
  assert.equal(code(() => verifyRfc3161Timestamp(j.body, signature, [])), 'TIMESTAMP_UNTRUSTED');
});

test('bad DER queries: a rejection TimeStampResp with the right failInfo bit, HTTP 400; nothing signed, counted or numbered', async () => {
  lastSerial = await goodSerial();
  const before = await issuedCount();
  // extensions [0] IMPLICIT Extensions: the Extension SEQUENCEs directly inside [0].
  const criticalExt = explicit(0, seq(oid('1.2.3.4.5'), bool(true), octetString(Buffer.from([5, 0]))));
  const plainExt = explicit(0, seq(oid('1.2.3.4.6'), octetString(Buffer.from([5, 0]))));
  const cases: { name: string; body: Buffer; code: string; bit: number }[] = [
    { name: 'not DER at all', body: Buffer.from('hello, timestamp please'), code: 'BAD_DATA_FORMAT', bit: 5 },
    { name: 'truncated', body: query().subarray(0, 20), code: 'BAD_DATA_FORMAT', bit: 5 },
    { name: 'trailing bytes', body: Buffer.concat([query(), Buffer.from([0])]), code: 'BAD_DATA_FORMAT', bit: 5 },
    { name: 'empty body', body: Buffer.alloc(0), code: 'BAD_DATA_FORMAT', bit: 5 },
    { name: 'SHA-1', body: query({ alg: SHA1, hashed: randomBytes(20) }), code: 'BAD_ALG', bit: 0 },
    { name: 'MD5', body: query({ alg: '1.2.840.113549.2.5', hashed: randomBytes(16) }), code: 'BAD_ALG', bit: 0 },
    { name: 'SHA-256 with parameters', body: query({ params: octetString(Buffer.alloc(1)) }), code: 'BAD_ALG', bit: 0 },
    { name: 'imprint of 31 bytes for SHA-256', body: query({ hashed: randomBytes(31) }), code: 'BAD_DATA_FORMAT', bit: 5 },
    { name: 'imprint of 64 bytes for SHA-256', body: query({ hashed: randomBytes(64) }), code: 'BAD_DATA_FORMAT', bit: 5 },
    { name: 'unknown critical extension', body: query({ extensions: criticalExt }), code: 'UNACCEPTED_EXTENSION', bit: 16 },
    { name: 'unknown non-critical extension (RFC 3161 §2.4.1: also refused)', body: query({ extensions: plainExt }), code: 'UNACCEPTED_EXTENSION', bit: 16 },
    { name: 'reqPolicy not served', body: query({ policy: '1.2.3.4.99' }), code: 'UNACCEPTED_POLICY', bit: 15 },
    { name: 'version 2', body: query({ version: 2 }), code: 'BAD_REQUEST', bit: 2 },
    { name: 'a negative nonce', body: query({ nonce: -5n }), code: 'BAD_DATA_FORMAT', bit: 5 },
    { name: 'a 40-byte nonce', body: query({ nonce: (1n << 319n) + 7n }), code: 'BAD_DATA_FORMAT', bit: 5 },
  ];
  for (const c of cases) {
    const r = await post(c.body);
    assert.equal(r.status, 400, c.name);
    assert.equal(r.type, 'application/timestamp-reply', c.name);
    assert.equal(r.code, c.code, c.name);
    const s = statusOf(r.body);
    assert.equal(s.status, 2n, `${c.name}: PKIStatus rejection`);
    assert.equal(s.failBit, c.bit, `${c.name}: failInfo bit`);
    assert.equal(s.token, undefined, `${c.name}: no token`);
  }
  // OpenSSL reads the rejections as RFC 3161 replies too.
  const policyTsr = join(work, 'rejected.tsr');
  const artifact = join(work, 'artifact.txt');
  const tsq = join(work, 'policy.tsq');
  execFileSync('openssl', ['ts', '-query', '-data', artifact, '-sha256', '-tspolicy', '1.2.3.4.99', '-out', tsq], { stdio: 'ignore' });
  const r = await post(readFileSync(tsq));
  writeFileSync(policyTsr, r.body);
  const text = openssl(['ts', '-reply', '-in', policyTsr, '-text']).out;
  assert.match(text, /Status: Rejected/);
  assert.match(text, /Failure info: the requested TSA policy is not supported by the TSA/);
  const sha1q = join(work, 'sha1.tsq');
  execFileSync('openssl', ['ts', '-query', '-data', artifact, '-sha1', '-out', sha1q], { stdio: 'ignore' });
  assert.equal((await post(readFileSync(sha1q))).code, 'BAD_ALG');

  assert.equal(await issuedCount(), before, 'no refused query is counted as issued');
  assert.equal(await goodSerial(), lastSerial + 1n, 'no refused query used up a serial number');
  assert.equal(await issuedCount(), before + 1);
});

test('what is not a query: 413 over the size limit, 415 for another media type, JSON errors for the JSON form', async () => {
  const before = await issuedCount();
  const big = await post(Buffer.alloc(MAX_QUERY_BYTES + 1, 0x30));
  assert.equal(big.status, 413);
  assert.equal(JSON.parse(big.body.toString()).code, 'BODY_TOO_LARGE');
  const other = await post(query(), 'text/plain');
  assert.equal(other.status, 415);
  assert.equal(JSON.parse(other.body.toString()).code, 'UNSUPPORTED_MEDIA_TYPE');
  const h = (n: number): string => randomBytes(n).toString('base64');
  const json: { body: string; status: number; code: string }[] = [
    { body: '{"artifactHash":', status: 400, code: 'INVALID_JSON' },
    { body: '[1,2]', status: 400, code: 'BAD_REQUEST' },
    { body: JSON.stringify({ artifactHash: h(20), hashAlgorithm: 'sha1' }), status: 400, code: 'BAD_ALG' },
    { body: JSON.stringify({ artifactHash: h(32) }), status: 400, code: 'BAD_ALG' },
    { body: JSON.stringify({ artifactHash: h(31), hashAlgorithm: 'sha256' }), status: 400, code: 'BAD_DATA_FORMAT' },
    { body: JSON.stringify({ artifactHash: '!!notbase64', hashAlgorithm: 'sha256' }), status: 400, code: 'BAD_DATA_FORMAT' },
    { body: JSON.stringify({ artifactHash: h(32), hashAlgorithm: 'sha256', tsaPolicyOID: '1.2.3.4.99' }), status: 400, code: 'UNACCEPTED_POLICY' },
    { body: JSON.stringify({ artifactHash: h(32), hashAlgorithm: 'sha256', nonce: 1.5 }), status: 400, code: 'BAD_REQUEST' },
    { body: JSON.stringify({ artifactHash: h(32), hashAlgorithm: 'sha256', nonce: 2 ** 60 }), status: 400, code: 'BAD_REQUEST' },
    { body: JSON.stringify({ artifactHash: h(32), hashAlgorithm: 'sha256', extra: 1 }), status: 400, code: 'BAD_REQUEST' },
  ];
  for (const c of json) {
    const r = await post(c.body, 'application/json');
    assert.equal(r.status, c.status, c.body);
    assert.equal(JSON.parse(r.body.toString()).code, c.code, c.body);
  }
  // A big nonce as a decimal string keeps every digit.
  const ok = await post(JSON.stringify({ artifactHash: h(48), hashAlgorithm: 'sha384', nonce: '123456789012345678901234567890' }), 'application/json');
  assert.equal(ok.status, 200);
  assert.equal(tstInfoOf(ok.body).nonce, 123456789012345678901234567890n);
  assert.equal(await issuedCount(), before + 1);
});

test('serial numbers stay unique across restarts; the policy OID is configurable; reqPolicy equal to it is served', async () => {
  const first = await goodSerial();
  await stack.close();
  stack = await start(['tsa.policyOid=1.3.6.1.4.1.99999.1.2', 'tsa.accuracySeconds=0']);
  url = stack.url;
  const r = await post(query({ policy: '1.3.6.1.4.1.99999.1.2' }));
  assert.equal(r.status, 200);
  const info = tstInfoOf(r.body);
  assert.equal(info.policy, '1.3.6.1.4.1.99999.1.2');
  assert.equal(info.accuracy, undefined, 'accuracySeconds 0 leaves accuracy out');
  assert.ok(info.serial > first, `serial ${info.serial} after the restart is above ${first}`);
  // The default policy is no longer served.
  assert.equal((await post(query({ policy: DEFAULT_POLICY }))).code, 'UNACCEPTED_POLICY');
  assert.equal(statSync(join(dataDir, 'tsa', 'serial.json')).mode & 0o777, 0o600);
  await stack.close();
  stack = await start();
  url = stack.url;
});

test('start-up refusals: no keys is NOT_INITIALIZED, a bad policy OID is INVALID_CONFIG', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'cairn-tsa-empty-'));
  const code = async (p: Promise<unknown>): Promise<string | undefined> => {
    try {
      await p;
    } catch (e) {
      if (e instanceof TsaError) return e.code;
      throw e;
    }
    return undefined;
  };
  assert.equal(await code(startStack(loadConfig({ overrides: { port: 0, dataDir: empty, logLevel: 'silent' } }), { components: ['tsa'], logger: silentLogger })), 'NOT_INITIALIZED');
  assert.equal(await code(start(['tsa.policyOid=not.an.oid'])), 'INVALID_CONFIG');
  assert.equal(await code(start(['tsa.serialPrefix=1.5'])), 'INVALID_CONFIG');
  assert.equal(await code(initTsa(join(dataDir, 'tsa'), { clock: systemClock })), 'INVALID_TSA_KEYS', 'init refuses to overwrite');
});

test('the Express twin of the lean route answers the same (a rate limit sends every request through Express)', async () => {
  await stack.close();
  stack = await startStack(loadConfig({ overrides: { port: 0, dataDir, logLevel: 'silent', rateLimit: 100_000 } }), { components: ['tsa'], logger: silentLogger });
  url = stack.url;
  try {
    const ok = await post(query({ certReq: true, nonce: 7n }));
    assert.equal(ok.status, 200);
    assert.equal(ok.type, 'application/timestamp-reply');
    assert.equal(tstInfoOf(ok.body).nonce, 7n);
    const tsr = join(work, 'express.tsr');
    writeFileSync(tsr, ok.body);
    assert.match(openssl(['ts', '-reply', '-in', tsr, '-text']).out, /Status: Granted/);
    const bad = await post(query({ alg: SHA1, hashed: randomBytes(20) }));
    assert.equal(bad.status, 400);
    assert.equal(bad.code, 'BAD_ALG');
    assert.equal(statusOf(bad.body).failBit, 0);
    const big = await post(Buffer.alloc(MAX_QUERY_BYTES + 1, 0x30));
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body.toString()).code, 'BODY_TOO_LARGE');
    const json = await post('{', 'application/json');
    assert.equal(JSON.parse(json.body.toString()).code, 'INVALID_JSON');
    assert.equal((await post(query(), 'text/plain')).status, 415);
  } finally {
    await stack.close();
    stack = await start();
    url = stack.url;
  }
});
