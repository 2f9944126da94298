/**
 * `cairn log search` and `cairn log get` against a real log: every printed entry has its UUID,
 * SET, inclusion proof and checkpoint verified, with the key from a trusted root or (said so)
 * from the log. A man-in-the-middle HTTP proxy in front of the real log alters one field of the
 * answers; each alteration is detected with its code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '@cairn/shared';
import { RekorClient } from '@cairn/sign';
import { verifyConsistencyWithHead } from '@cairn/sign';
import { parseTrustedRoot } from '@cairn/verify';
import { cli, errorCode, readJson, startSignStack, SUBJECT, type SignStack } from './sign-fixtures.ts';

let s: SignStack;
let proxy: Server;
let proxyUrl: string;
let tamper: 'none' | 'proof' | 'set' | 'checkpoint' | 'body' | 'consistency' | 'head' = 'none';
const signed: { sha: string; uuid: string; index: number; checkpoint: { size: number; rootHash: string } }[] = [];

function flipHex(h: string): string {
  return (h[0] === '0' ? '1' : '0') + h.slice(1);
}

/** Alters one field of every LogEntry answer, as an attacker between client and log could. */
function alter(json: Record<string, any>): void {
  for (const e of Object.values(json)) {
    const p = e.verification?.inclusionProof;
    if (tamper === 'proof') p.hashes[0] = flipHex(p.hashes[0]);
    if (tamper === 'set') e.integratedTime += 1;
    if (tamper === 'checkpoint') p.checkpoint = p.checkpoint.replace(/\n(\d+)\n/, (_m: string, n: string) => `\n${Number(n) + 1}\n`);
    if (tamper === 'body') {
      const body = JSON.parse(Buffer.from(e.body, 'base64').toString());
      body.spec.data.hash.value = flipHex(body.spec.data.hash.value);
      e.body = Buffer.from(JSON.stringify(body)).toString('base64');
    }
  }
}

before(async () => {
  s = await startSignStack();
  const token = await s.token();
  const emailToken = await s.token({ email: 'alice@example.com' });
  for (let i = 0; i < 4; i++) {
    const f = join(s.work, `artifact-${i}.txt`);
    writeFileSync(f, `artifact number ${i}\n`);
    const out = join(s.work, `b-${i}.json`);
    const r = await cli(['sign', f, '--bundle', out, '--url', s.url, '--identity-token', i === 3 ? emailToken : token]);
    assert.equal(r.code, 0, r.stderr);
    const e = readJson(out).verificationMaterial.tlogEntries[0];
    signed.push({
      sha: sha256Hex(`artifact number ${i}\n`),
      uuid: sha256Hex(Buffer.concat([Buffer.from([0]), Buffer.from(e.canonicalizedBody, 'base64')])),
      index: Number(e.logIndex),
      // The checkpoint the entry was first proven against, when the tree was smaller.
      checkpoint: { size: Number(e.inclusionProof.treeSize), rootHash: Buffer.from(e.inclusionProof.rootHash, 'base64').toString('hex') },
    });
  }
  proxy = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const upstream = await fetch(`${s.url}${req.url}`, {
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
      });
      let body = Buffer.from(await upstream.arrayBuffer());
      if (req.method === 'GET' && req.url?.startsWith('/api/v1/log/entries') && upstream.status === 200 && tamper !== 'none') {
        const json = JSON.parse(body.toString());
        alter(json);
        body = Buffer.from(JSON.stringify(json));
      }
      if (req.method === 'GET' && req.url?.startsWith('/api/v1/log/proof') && tamper === 'consistency') {
        const json = JSON.parse(body.toString());
        json.hashes[0] = flipHex(json.hashes[0]);
        body = Buffer.from(JSON.stringify(json));
      }
      if (req.method === 'GET' && req.url === '/api/v1/log' && tamper === 'head') {
        const json = JSON.parse(body.toString());
        json.signedTreeHead = json.signedTreeHead.replace(/\n(\d+)\n/, (_m: string, n: string) => `\n${Number(n) + 1}\n`);
        body = Buffer.from(JSON.stringify(json));
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(body);
    })();
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

after(async () => {
  proxy?.close();
  await s?.stack.close();
});

test('search by sha256 finds the entry and verifies it with the trusted-root key', async () => {
  const r = await cli(['log', 'search', '--sha', `sha256:${signed[0]!.sha}`, '--url', s.url, '--trusted-root', s.trustedRootPath]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, new RegExp(signed[0]!.uuid));
  assert.match(r.stdout, /signed entry timestamp \(log key from the trusted root\)/);
  assert.match(r.stdout, /inclusion proof: leaf \d+ of tree size \d+/);
  assert.match(r.stdout, /checkpoint ".+ - \d+" size \d+ signed by/);
  assert.match(r.stdout, new RegExp(`certificate for URI:${SUBJECT}`));
  assert.match(r.stdout, /log head: ".+" size \d+ root [0-9a-f]{64} \(signature verified\)/);
  assert.match(r.stdout, /checkpoints of size \d+ are consistent with it/);
  assert.doesNotMatch(r.stdout, new RegExp(signed[1]!.uuid));
});

test('without a trusted root the key is fetched from the log, and the output says so', async () => {
  const r = await cli(['log', 'search', '--sha', `sha256:${signed[1]!.sha}`], { CAIRN_URL: s.url });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /key fetched from the log, not from a trust root/);
  assert.match(r.stderr, /key fetched from the log, not from a trust root/);
});

test('search by email and by URI identity', async () => {
  const byEmail = await cli(['log', 'search', '--email', 'alice@example.com', '--url', s.url, '--trusted-root', s.trustedRootPath, '--json']);
  assert.equal(byEmail.code, 0, byEmail.stderr);
  const found = JSON.parse(byEmail.stdout) as { entry: { uuid: string }; verification: { ok: boolean } }[];
  assert.deepEqual(found.map((f) => f.entry.uuid.slice(-64)), [signed[3]!.uuid]);
  assert.ok(found.every((f) => f.verification.ok));
  const byUri = await cli(['log', 'search', '--uri', SUBJECT, '--url', s.url, '--trusted-root', s.trustedRootPath, '--json']);
  assert.equal(byUri.code, 0, byUri.stderr);
  const uris = (JSON.parse(byUri.stdout) as { entry: { uuid: string } }[]).map((f) => f.entry.uuid.slice(-64)).sort();
  assert.deepEqual(uris, signed.slice(0, 3).map((x) => x.uuid).sort());
  const none = await cli(['log', 'search', '--sha', `sha256:${'0'.repeat(64)}`, '--url', s.url, '--json']);
  assert.equal(none.code, 0);
  assert.equal(none.stdout.trim(), '[]');
});

test('get by UUID and by --index, with proofs checked', async () => {
  const byUuid = await cli(['log', 'get', signed[2]!.uuid, '--url', s.url, '--trusted-root', s.trustedRootPath]);
  assert.equal(byUuid.code, 0, byUuid.stderr + byUuid.stdout);
  assert.match(byUuid.stdout, new RegExp(`log index: +${signed[2]!.index}`));
  const byIndex = await cli(['log', 'get', '--index', String(signed[0]!.index), '--url', s.url, '--trusted-root', s.trustedRootPath, '--json']);
  assert.equal(byIndex.code, 0, byIndex.stderr);
  const [one] = JSON.parse(byIndex.stdout) as { entry: { uuid: string }; verification: { ok: boolean; inclusion: { treeSize: number } } }[];
  assert.equal(one!.entry.uuid.slice(-64), signed[0]!.uuid);
  assert.equal(one!.verification.ok, true);
  assert.ok(one!.verification.inclusion.treeSize >= 4);
});

test('a proxy that alters the proof, the SET, the checkpoint or the body is caught', async () => {
  const expected = { proof: 'PROOF_INVALID', set: 'SET_INVALID', checkpoint: 'CHECKPOINT_INVALID', body: 'PROOF_INVALID' } as const;
  try {
    tamper = 'none';
    const clean = await cli(['log', 'get', signed[0]!.uuid, '--url', proxyUrl, '--trusted-root', s.trustedRootPath]);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    for (const [mode, code] of Object.entries(expected)) {
      tamper = mode as typeof tamper;
      const r = await cli(['log', 'get', signed[0]!.uuid, '--url', proxyUrl, '--trusted-root', s.trustedRootPath]);
      assert.equal(r.code, 1, `${mode}: ${r.stdout}`);
      assert.match(r.stdout, new RegExp(`VERIFICATION FAILED \\[${code}\\]`), mode);
      const j = await cli(['log', 'search', '--sha', `sha256:${signed[0]!.sha}`, '--url', proxyUrl, '--trusted-root', s.trustedRootPath, '--json']);
      assert.equal(j.code, 1);
      assert.equal((JSON.parse(j.stdout) as { verification: { code: string } }[])[0]!.verification.code, code);
    }
  } finally {
    tamper = 'none';
  }
});

test('unknown entries, untrusted logs and bad arguments have stable codes', async () => {
  const missing = await cli(['log', 'get', 'ab'.repeat(32), '--url', s.url]);
  assert.equal(errorCode(missing), 'ENTRY_NOT_FOUND');
  const prodRoot = new URL('./vectors/conformance/production_trusted_root.json', import.meta.url).pathname;
  const untrusted = await cli(['log', 'get', signed[0]!.uuid, '--url', s.url, '--trusted-root', prodRoot]);
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stdout, /VERIFICATION FAILED \[LOG_UNTRUSTED\]/);
  const badRoot = join(s.work, 'bad-root.json');
  writeFileSync(badRoot, '{"tlogs": 5}');
  assert.equal(errorCode(await cli(['log', 'get', signed[0]!.uuid, '--url', s.url, '--trusted-root', badRoot])), 'INPUT_INVALID');
  assert.equal(errorCode(await cli(['log', 'search', '--url', s.url])), 'USAGE');
  assert.equal(errorCode(await cli(['log', 'search', '--sha', 'md5:abc', '--url', s.url])), 'USAGE');
  assert.equal(errorCode(await cli(['log', 'get', '--url', s.url])), 'USAGE');
  assert.equal(errorCode(await cli(['log', 'get', 'xyz', '--url', s.url])), 'USAGE');
  assert.equal(errorCode(await cli(['log', 'frobnicate'])), 'USAGE');
  assert.equal(errorCode(await cli(['log', 'get', signed[0]!.uuid])), 'URL_MISSING');
  assert.equal(errorCode(await cli(['log', 'get', signed[0]!.uuid, '--url', 'http://127.0.0.1:1'])), 'TLOG_ERROR');
});

test('checkpoints seen at signing time are proven prefixes of the current head; forged proofs and heads are caught', async () => {
  const client = new RekorClient(s.url);
  const key = parseTrustedRoot(s.trustedRoot).tlogs[0]!;
  const early = signed.map((x) => x.checkpoint);
  assert.ok(early[0]!.size < signed.length, 'the first entry was proven against a smaller tree');
  const ok = await verifyConsistencyWithHead(client, key, early);
  assert.deepEqual(ok.consistent, [...new Set(early.map((c) => c.size))].sort((a, b) => a - b));
  assert.ok(ok.head.size >= signed.length);

  const codeOf = async (p: Promise<unknown>) => p.then(() => undefined, (e: { code?: string }) => e.code);
  // A root the log never had for that size: no consistency proof can lead from it.
  assert.equal(await codeOf(verifyConsistencyWithHead(client, key, [{ size: early[0]!.size, rootHash: flipHex(early[0]!.rootHash) }])), 'PROOF_INVALID');
  assert.equal(await codeOf(verifyConsistencyWithHead(client, key, [{ size: ok.head.size + 10, rootHash: early[0]!.rootHash }])), 'PROOF_INVALID');
  assert.equal(await codeOf(verifyConsistencyWithHead(client, key, [{ size: ok.head.size, rootHash: flipHex(ok.head.rootHash) }])), 'PROOF_INVALID');
  try {
    const viaProxy = new RekorClient(proxyUrl);
    tamper = 'consistency';
    assert.equal(await codeOf(verifyConsistencyWithHead(viaProxy, key, early)), 'PROOF_INVALID');
    tamper = 'head';
    assert.equal(await codeOf(verifyConsistencyWithHead(viaProxy, key, early)), 'CHECKPOINT_INVALID');
    const r = await cli(['log', 'get', signed[0]!.uuid, '--url', proxyUrl, '--trusted-root', s.trustedRootPath]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /log head: CONSISTENCY FAILED \[CHECKPOINT_INVALID\]/);
  } finally {
    tamper = 'none';
  }
});
