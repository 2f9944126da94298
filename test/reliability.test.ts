/**
 * Reliability findings of the attack run (issue 14) against `cairn up`: requests during start,
 * client errors that were 500s, oversized headers, the development secret in production mode,
 * readiness of a TUF repository that does not verify.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAIRN_BIN, ROOT, cairn, startCairn, tempDir } from './helpers/cli.ts';
import { freePort, histogram, probeUntil } from './helpers/probe.ts';
import { POST_ROUTES, startFullStack, type FullStack } from './helpers/full-stack.ts';
import { rawRequest } from './helpers/raw-http.ts';


/** The data dir `cairn up` bootstrapped in the finding-2 test, restarted with --no-dev for finding 7. */
const upDataDir = tempDir('cairn-start-');
after(() => rmSync(upDataDir, { recursive: true, force: true }));

test('finding 2: connections opened from the moment `cairn up` is spawned are all answered within 1 s (503 STARTING until ready)', { timeout: 120_000 }, async (t) => {
  const dataDir = upDataDir;
  const port = await freePort();
  const child = spawn(process.execPath, [CAIRN_BIN, 'up', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const up = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (out.includes('Cairn is up at')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`cairn up exited with ${code}:\n${out}`)));
  });
  try {
    // Probe from spawn until a moment after the stack says it is up.
    const outcomes = await probeUntil(port, up.then(() => new Promise((r) => setTimeout(r, 300))));
    const h = histogram(outcomes);
    t.diagnostic(`${outcomes.length} probes: ${JSON.stringify(h)}`);
    assert.equal(h.hang, undefined, 'a request was not answered within 1 s');
    assert.equal(h.error, undefined, `a connection failed: ${JSON.stringify(outcomes.filter((o) => o.kind === 'error').slice(0, 3))}`);
    const starting = outcomes.filter((o) => o.kind === 'status' && o.code === 'STARTING');
    assert.ok(starting.length > 0, 'no request arrived in the start window (bootstrap of a fresh data dir takes seconds)');
    for (const o of starting) {
      assert.ok(o.kind === 'status' && o.status === 503 && o.retryAfter === '1', JSON.stringify(o));
      assert.notEqual(o.path, '/healthz');
    }
    // /healthz answers 200 in the start window too; after start, the real routes answer.
    assert.ok(outcomes.some((o) => o.kind === 'status' && o.path === '/healthz' && o.status === 200));
    const last = outcomes.filter((o) => o.kind === 'status').slice(-8);
    assert.ok(last.some((o) => o.kind === 'status' && o.path === '/api/v1/log' && o.status === 200), JSON.stringify(last));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
});

test('finding 7: `cairn up --no-dev` removes the development client secret and says so (DEV_CLIENT_REMOVED)', { timeout: 120_000 }, async () => {
  const devFile = join(upDataDir, 'oidc', 'dev-client.json');
  assert.ok(existsSync(devFile), 'the development run left its client file (precondition)');
  const up = await startCairn(['up', '--no-dev', '--port', '0', '--data-dir', upDataDir]);
  try {
    assert.equal(existsSync(devFile), false, 'dev-client.json is still on disk in production mode');
    const line = up.output().split('\n').find((l) => l.includes('DEV_CLIENT_REMOVED'));
    assert.ok(line, `no DEV_CLIENT_REMOVED in the log:\n${up.output()}`);
    assert.equal((JSON.parse(line) as { level: string }).level, 'warn');
    // And the development client is refused (it no longer exists at all).
    const r = await fetch(`${up.url}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&client_id=cairn-dev&client_secret=' + 'x'.repeat(43) });
    assert.equal(((await r.json()) as { code: string }).code, 'INVALID_CLIENT');
    const token = cairn(['token', '--data-dir', upDataDir]);
    assert.notEqual(token.status, 0);
    assert.match(token.stderr, /DEV_MODE_OFF/);
  } finally {
    await up.stop();
  }
  // A second production start has nothing to remove and says nothing.
  const again = await startCairn(['up', '--no-dev', '--port', '0', '--data-dir', upDataDir]);
  await again.stop();
  assert.doesNotMatch(again.output(), /DEV_CLIENT_REMOVED/);
});

describe('against the in-process stack', () => {
  let s: FullStack;
  before(async () => {
    s = await startFullStack();
  });
  after(async () => {
    await s.stop();
  });
  const unhandled = (): string[] => s.logLines.filter((l) => l.includes('unhandled error'));

  test('finding 5: a body that does not decode with its Content-Encoding is 400 INVALID_CONTENT_ENCODING, an unknown encoding 415 UNSUPPORTED_CONTENT_ENCODING, on every POST route', async () => {
    const before = await s.state();
    const cases = [
      { encoding: 'gzip', status: 400, code: 'INVALID_CONTENT_ENCODING' },
      { encoding: 'deflate', status: 400, code: 'INVALID_CONTENT_ENCODING' },
      { encoding: 'br', status: 400, code: 'INVALID_CONTENT_ENCODING' },
      { encoding: 'zstd', status: 415, code: 'UNSUPPORTED_CONTENT_ENCODING' },
      { encoding: 'x-unknown', status: 415, code: 'UNSUPPORTED_CONTENT_ENCODING' },
      { encoding: 'gzip, zstd', status: 415, code: 'UNSUPPORTED_CONTENT_ENCODING' },
    ];
    for (const path of POST_ROUTES) {
      for (const c of cases) {
        const r = await rawRequest(s.url, { method: 'POST', path, headers: { 'content-type': 'application/json', 'content-encoding': c.encoding }, body: Buffer.from('{"not":"compressed"}') });
        assert.equal(r.status, c.status, `${path} ${c.encoding}: ${r.text}`);
        assert.equal(r.json?.code, c.code, `${path} ${c.encoding}: ${r.text}`);
      }
    }
    assert.deepEqual(await s.state(), before);
    assert.deepEqual(unhandled(), []);
  });

  test('finding 5: a path that does not percent-decode is 400 INVALID_PATH_ENCODING', async () => {
    const paths = ['/api/v1/log/entries/%ff%fe', '/%', '/%zz', '/%c0%ae%c0%ae', '/tuf/%', '/tuf/%zz', '/tuf/%c0%ae%c0%ae/root.json', '/tile/%zz', '/oidc/%', '/api/v1/log/entries/%ed%a0%80', '/ct/v1/get-sth%'];
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const r = await rawRequest(s.url, { method, path, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? Buffer.from('{}') : undefined });
        assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
        assert.equal(r.json?.code, 'INVALID_PATH_ENCODING', `${method} ${path}`);
      }
    }
    // Valid percent-encoding still reaches the routes.
    const ok = await rawRequest(s.url, { method: 'GET', path: '/tuf/%72oot.json' });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(unhandled(), []);
  });

  test('finding 6: oversized headers get a JSON 431 HEADERS_TOO_LARGE, not a bare 431 or a reset', async () => {
    const before = await s.state();
    for (const n of [16_500, 19_993, 25_003, 64_000, 200_000]) {
      for (const path of ['/api/v1/log/entries', '/api/v2/signingCert', '/healthz']) {
        const r = await rawRequest(s.url, { method: 'POST', path, headers: { authorization: `Bearer ${'a'.repeat(n - 7)}`, 'content-type': 'application/json' }, body: Buffer.from('{}') });
        assert.equal(r.status, 431, `${n}-char Authorization on ${path}`);
        assert.equal(r.json?.code, 'HEADERS_TOO_LARGE', `${n}: ${r.text}`);
        assert.match(String(r.headers['content-type']), /application\/json/);
      }
    }
    // Many small headers over the limit count the same.
    const many: Record<string, string> = {};
    for (let i = 0; i < 400; i++) many[`x-h${i}`] = 'v'.repeat(50);
    const r = await rawRequest(s.url, { method: 'GET', path: '/api/v1/log', headers: many });
    assert.equal(r.json?.code, 'HEADERS_TOO_LARGE');
    // Under the limit is served.
    const ok = await rawRequest(s.url, { method: 'GET', path: '/api/v1/log', headers: { authorization: `Bearer ${'a'.repeat(15_000)}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await s.state(), before);
  });

  test('finding 6: a request that is not HTTP gets a JSON 400 MALFORMED_REQUEST', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const u = new URL(s.url);
      const sock = connect(Number(u.port), u.hostname, () => sock.end('GARBAGE / NOT-HTTP\r\n\r\n'));
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString()));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"code":"MALFORMED_REQUEST"/);
  });

  test('finding 8: the TUF component is not ready while its published repository does not verify (REPOSITORY_INVALID) or is gone (REPOSITORY_MISSING); /readyz 503', async () => {
    const tuf = s.stack.services.find((x) => x.name === 'tuf') as unknown as { refresh(): Promise<void>; ready(): { ok: boolean; code?: string; reason?: string } };
    const readyz = async (): Promise<{ status: number; tuf: { ok: boolean; code?: string; reason?: string } }> => {
      const r = await fetch(`${s.url}/readyz`);
      const body = (await r.json()) as { checks: { component: string; ok: boolean; code?: string; reason?: string }[] };
      return { status: r.status, tuf: body.checks.find((c) => c.component === 'tuf')! };
    };
    assert.deepEqual(await readyz(), { status: 200, tuf: { component: 'tuf', ok: true } });
    const repo = join(s.dataDir, 'tuf', 'repository');
    const targets = readdirSync(repo).filter((f) => /^\d+\.targets\.json$/.test(f)).sort((a, b) => parseInt(b) - parseInt(a))[0]!;
    const original = readFileSync(join(repo, targets));
    try {
      // What a half-finished import or a hand edit leaves: the signatures no longer match.
      const env = JSON.parse(original.toString('utf8')) as { signed: { version: number } };
      env.signed.version += 7;
      writeFileSync(join(repo, targets), JSON.stringify(env));
      await tuf.refresh();
      const broken = await readyz();
      assert.equal(broken.status, 503);
      assert.equal(broken.tuf.ok, false);
      assert.equal(broken.tuf.code, 'REPOSITORY_INVALID', JSON.stringify(broken));
      assert.match(broken.tuf.reason ?? '', /does not verify/);
    } finally {
      writeFileSync(join(repo, targets), original);
    }
    await tuf.refresh();
    assert.equal((await readyz()).status, 200);
    renameSync(repo, `${repo}.moved`);
    try {
      await tuf.refresh();
      const gone = await readyz();
      assert.equal(gone.status, 503);
      assert.equal(gone.tuf.code, 'REPOSITORY_MISSING', JSON.stringify(gone));
    } finally {
      renameSync(`${repo}.moved`, repo);
    }
    await tuf.refresh();
    assert.deepEqual(await readyz(), { status: 200, tuf: { component: 'tuf', ok: true } });
  });
});
