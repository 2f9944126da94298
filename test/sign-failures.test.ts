/**
 * Failure paths of `cairn sign`/`attest`: each feeds the bad input and asserts the stable code,
 * and that no bundle was written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { generateKey, privateKeyToPem } from '@cairn/shared';
import { cli, errorCode, startSignStack, type SignStack } from './sign-fixtures.ts';

let s: SignStack;
let artifact: string;
let n = 0;

function out(): string {
  return join(s.work, `fail-${n++}.sigstore.json`);
}

function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'ES256' })}.${part(claims)}.${part('x')}`;
}

before(async () => {
  s = await startSignStack();
  artifact = join(s.work, 'a.txt');
  writeFileSync(artifact, 'artifact\n');
});

after(async () => {
  await s?.stack.close();
});

async function expectFailure(args: string[], code: string, env: Record<string, string> = {}): Promise<void> {
  const bundle = out();
  const r = await cli([...args.map((a) => (a === 'OUT' ? bundle : a))], env);
  assert.equal(errorCode(r), code, r.stderr);
  assert.equal(r.code, code === 'USAGE' ? 2 : 1);
  assert.equal(existsSync(bundle), false, 'no bundle is written on failure');
}

test('no identity token: TOKEN_MISSING', async () => {
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url], 'TOKEN_MISSING');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', ''], 'TOKEN_MISSING');
});

test('malformed, unverified-email and expired tokens are refused before the CA is asked', async () => {
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', 'not-a-jwt'], 'TOKEN_INVALID');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', unsignedJwt({ sub: 'x', email: 'a@b.c' })], 'TOKEN_INVALID');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', unsignedJwt({ sub: 'x', exp: 1000 })], 'TOKEN_EXPIRED');
});

test('the CA rejects the token (wrong audience; forged signature): CA_ERROR', async () => {
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token({ audience: 'not-sigstore' })], 'CA_ERROR');
  const good = await s.token();
  const [h, p] = good.split('.');
  const forged = `${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`;
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', forged], 'CA_ERROR');
});

test('the log is unreachable: TLOG_ERROR, nothing written', async () => {
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--fulcio-url', s.url, '--rekor-url', 'http://127.0.0.1:1', '--identity-token', await s.token()], 'TLOG_ERROR');
});

test('the CA is unreachable: CA_ERROR', async () => {
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--fulcio-url', 'http://127.0.0.1:1', '--rekor-url', s.url, '--identity-token', await s.token()], 'CA_ERROR');
});

test('keys: wrong passphrase, missing passphrase, garbage file, unsupported type', async () => {
  const key = join(s.work, 'enc.pem');
  writeFileSync(key, privateKeyToPem(generateKey('ecdsa-p256'), 'right'), { mode: 0o600 });
  const wrong = join(s.work, 'wrong-pass');
  writeFileSync(wrong, 'wrong\n');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--key', key, '--key-passphrase-file', wrong], 'KEY_PASSPHRASE');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--key', key], 'KEY_PASSPHRASE');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--key', key], 'KEY_PASSPHRASE', { CAIRN_KEY_PASSPHRASE: 'nope' });
  const garbage = join(s.work, 'garbage.pem');
  writeFileSync(garbage, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--key', garbage], 'KEY_INVALID');
  const notKey = join(s.work, 'not-a-key.txt');
  writeFileSync(notKey, 'hello');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--key', notKey], 'KEY_INVALID');
  const ed = join(s.work, 'ed25519.pem');
  writeFileSync(ed, privateKeyToPem(generateKey('ed25519')));
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--key', ed], 'KEY_UNSUPPORTED');
});

test('usage and input errors: missing URLs, --no-tlog-upload without --key, bad predicate and type', async () => {
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--identity-token', await s.token()], 'URL_MISSING');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--no-tlog-upload', '--identity-token', 'x.y.z'], 'USAGE');
  await expectFailure(['sign', artifact, '--url', s.url], 'USAGE');
  await expectFailure(['sign', join(s.work, 'missing-file'), '--bundle', 'OUT', '--url', s.url], 'IO_ERROR');
  const notJson = join(s.work, 'bad-pred.json');
  writeFileSync(notJson, '{not json');
  await expectFailure(['attest', artifact, '--predicate', notJson, '--type', 'slsaprovenance', '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token()], 'INPUT_INVALID');
  const arr = join(s.work, 'arr-pred.json');
  writeFileSync(arr, '[1,2]');
  await expectFailure(['attest', artifact, '--predicate', arr, '--type', 'slsaprovenance', '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token()], 'INPUT_INVALID');
  const good = join(s.work, 'good-pred.json');
  writeFileSync(good, '{}');
  await expectFailure(['attest', artifact, '--predicate', good, '--type', 'no such alias', '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token()], 'INPUT_INVALID');
  await expectFailure(['attest', artifact, '--predicate', good, '--type', 'slsaprovenance', '--tlog-kind', 'hashedrekord', '--bundle', 'OUT', '--url', s.url], 'USAGE');
  await expectFailure(['attest', '--statement', good, '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token()], 'INPUT_INVALID');
});

test('client-credentials grant with a wrong secret or a wrong issuer: OIDC_ERROR', async () => {
  const secret = join(s.work, 'bad-secret');
  writeFileSync(secret, 'definitely-wrong-secret');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--oidc-issuer', s.issuer, '--oidc-client-id', 'cairn-dev', '--oidc-client-secret-file', secret], 'OIDC_ERROR');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--oidc-issuer', `${s.url}/not-an-issuer`, '--oidc-client-id', 'x', '--oidc-client-secret-file', secret], 'OIDC_ERROR');
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--oidc-issuer', s.issuer], 'INPUT_INVALID');
});

test('provenance: outside CI without --builder-id is INPUT_INVALID', async () => {
  const r = await cli(['provenance', '--repository', 'r']);
  assert.equal(errorCode(r), 'INPUT_INVALID');
  assert.equal(r.code, 1);
});

test('an unwritable bundle path is refused before anything is signed or logged', async () => {
  const size = async () => ((await (await fetch(`${s.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
  const before = await size();
  const r = await cli(['sign', artifact, '--bundle', join(s.work, 'no-such-dir', 'out.json'), '--url', s.url, '--identity-token', await s.token()]);
  assert.equal(errorCode(r), 'INPUT_INVALID');
  const a = await cli(['attest', '--statement', artifact, '--bundle', join(s.work, 'no-such-dir', 'out.json'), '--url', s.url, '--identity-token', await s.token()]);
  assert.equal(errorCode(a), 'INPUT_INVALID');
  assert.equal(await size(), before, 'the log did not grow');
  // A control: the same command with a writable path does grow the log.
  const ok = await cli(['sign', artifact, '--bundle', join(s.work, 'ok.json'), '--url', s.url, '--identity-token', await s.token()]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await size(), before + 1);
});

test('--trusted-root that does not hold this log: LOG_UNTRUSTED and no bundle; an unreadable one fails before signing', async () => {
  const prodRoot = new URL('./vectors/conformance/production_trusted_root.json', import.meta.url).pathname;
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token(), '--trusted-root', prodRoot], 'LOG_UNTRUSTED');
  const size = async () => ((await (await fetch(`${s.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
  const before = await size();
  await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token(), '--trusted-root', join(s.work, 'missing.json')], 'INPUT_INVALID');
  const notJson = join(s.work, 'root-not-json');
  writeFileSync(notJson, 'nope');
  await expectFailure(['attest', '--statement', artifact, '--bundle', 'OUT', '--url', s.url, '--identity-token', await s.token(), '--trusted-root', notJson], 'INPUT_INVALID');
  assert.equal(await size(), before);
});

test('--timeout bounds a CA that never answers: CA_ERROR quickly', async () => {
  const silent = createServer(() => {
    /* accepts the request and never answers */
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  try {
    const t0 = performance.now();
    await expectFailure(['sign', artifact, '--bundle', 'OUT', '--fulcio-url', url, '--rekor-url', s.url, '--identity-token', await s.token(), '--timeout', '0.3'], 'CA_ERROR');
    assert.ok(performance.now() - t0 < 5000);
    await expectFailure(['sign', artifact, '--bundle', 'OUT', '--url', s.url, '--timeout', 'soon'], 'USAGE');
  } finally {
    silent.closeAllConnections();
    silent.close();
  }
});

test('a log that answers with some other entry is caught: TLOG_ERROR, no bundle', async () => {
  const first = await cli(['sign', artifact, '--bundle', join(s.work, 'first.json'), '--url', s.url, '--identity-token', await s.token()]);
  assert.equal(first.code, 0, first.stderr);
  // A lying log in front of the real one: it acknowledges every new entry with entry 0.
  const liar = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const lie = req.method === 'POST' && req.url === '/api/v1/log/entries';
      const upstream = await fetch(lie ? `${s.url}/api/v1/log/entries?logIndex=0` : `${s.url}${req.url}`, {
        method: lie ? 'GET' : req.method,
        headers: { 'content-type': 'application/json' },
        body: !lie && req.method === 'POST' ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(lie ? 201 : upstream.status, { 'content-type': 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
    })();
  });
  await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
  try {
    const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
    await expectFailure(['sign', artifact, '--bundle', 'OUT', '--fulcio-url', s.url, '--rekor-url', url, '--identity-token', await s.token()], 'TLOG_ERROR');
    const pred = join(s.work, 'p.json');
    writeFileSync(pred, '{}');
    await expectFailure(['attest', artifact, '--predicate', pred, '--type', 'custom', '--bundle', 'OUT', '--fulcio-url', s.url, '--rekor-url', url, '--identity-token', await s.token()], 'TLOG_ERROR');
  } finally {
    liar.close();
  }
});
