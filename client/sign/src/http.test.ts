import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpRequest } from './http.ts';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('retries 503 and 429 a bounded number of times, then succeeds', async () => {
  let n = 0;
  const { url, server } = await serve((_req, res) => {
    n++;
    if (n === 1) res.writeHead(503).end();
    else if (n === 2) res.writeHead(429).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  try {
    const r = await httpRequest({ method: 'GET', url }, 'CA_ERROR', 'test', { retries: 2 });
    assert.equal(r.status, 200);
    assert.equal(n, 3);
  } finally {
    server.close();
  }
});

test('gives up after the retry bound and reports the server message under the caller code', async () => {
  let n = 0;
  const { url, server } = await serve((_req, res) => {
    n++;
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"code":"INTERNAL","message":"boom"}');
  });
  try {
    await assert.rejects(httpRequest({ method: 'GET', url }, 'TLOG_ERROR', 'test', { retries: 1 }), (e: any) => e.code === 'TLOG_ERROR' && e.details.status === 500 && e.details.serverCode === 'INTERNAL');
    assert.equal(n, 2);
  } finally {
    server.close();
  }
});

test('a 400 is not retried; an accepted status is handed back', async () => {
  let n = 0;
  const { url, server } = await serve((_req, res) => {
    n++;
    res.writeHead(n === 1 ? 400 : 409).end('{}');
  });
  try {
    assert.equal(await codeOf(httpRequest({ method: 'GET', url }, 'CA_ERROR', 'test', { retries: 3 })), 'CA_ERROR');
    assert.equal(n, 1);
    const r = await httpRequest({ method: 'GET', url, accept: [409] }, 'CA_ERROR', 'test');
    assert.equal(r.status, 409);
  } finally {
    server.close();
  }
});

test('oversized bodies are refused, declared or streamed', async () => {
  const { url, server } = await serve((req, res) => {
    if (req.url === '/declared') res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000));
    else {
      res.writeHead(200);
      res.write('x'.repeat(3000));
      res.end('y'.repeat(3000));
    }
  });
  try {
    assert.equal(await codeOf(httpRequest({ method: 'GET', url: `${url}/declared` }, 'TLOG_ERROR', 'test', { maxBytes: 1000 })), 'TLOG_ERROR');
    assert.equal(await codeOf(httpRequest({ method: 'GET', url: `${url}/chunked` }, 'TLOG_ERROR', 'test', { maxBytes: 1000 })), 'TLOG_ERROR');
    const ok = await httpRequest({ method: 'GET', url: `${url}/chunked` }, 'TLOG_ERROR', 'test', { maxBytes: 6000 });
    assert.equal(ok.body.length, 6000);
  } finally {
    server.close();
  }
});

test('unreachable services, timeouts and non-http URLs fail with the caller code', async () => {
  const { url, server } = await serve(() => {
    /* never answers */
  });
  try {
    assert.equal(await codeOf(httpRequest({ method: 'GET', url }, 'OIDC_ERROR', 'test', { timeoutMs: 200 })), 'OIDC_ERROR');
  } finally {
    server.closeAllConnections();
    server.close();
  }
  assert.equal(await codeOf(httpRequest({ method: 'GET', url }, 'CA_ERROR', 'test')), 'CA_ERROR');
  assert.equal(await codeOf(httpRequest({ method: 'GET', url: 'file:///etc/passwd' }, 'CA_ERROR', 'test')), 'CA_ERROR');
  assert.equal(await codeOf(httpRequest({ method: 'GET', url: 'not a url' }, 'CA_ERROR', 'test')), 'CA_ERROR');
});
