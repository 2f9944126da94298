/** The one capped HTTP read, against real HTTP servers on 127.0.0.1. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchCapped, readCappedBody } from './fetch.ts';

let a: Server;
let b: Server;
let urlA: string;
let urlB: string;
let hits: string[] = [];

async function listen(handler: Parameters<typeof createServer>[1]): Promise<[Server, string]> {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return [s, `http://127.0.0.1:${(s.address() as AddressInfo).port}`];
}

before(async () => {
  [b, urlB] = await listen((req, res) => {
    hits.push(`b${req.url}`);
    res.end('from b');
  });
  [a, urlA] = await listen((req, res) => {
    hits.push(`${req.method} a${req.url}`);
    if (req.url === '/ok') res.end('hello');
    else if (req.url === '/declared') res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000));
    else if (req.url === '/streamed') {
      res.writeHead(200);
      res.write('x'.repeat(3000));
      res.end('y'.repeat(3000));
    } else if (req.url === '/same') res.writeHead(302, { location: '/ok' }).end();
    else if (req.url === '/see-other') res.writeHead(303, { location: '/ok' }).end();
    else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else if (req.url === '/cross') res.writeHead(302, { location: `${urlB}/stolen` }).end();
    else if (req.url === '/stall-body') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    } else if (req.url === '/stall') {
      /* never answers */
    } else res.writeHead(404).end('no');
  });
});

after(() => {
  a.closeAllConnections();
  a.close();
  b.close();
});

async function reason(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

const O = { maxBytes: 1000, timeoutMs: 2000 };

test('a body within the cap is returned with its status; a 404 is an answer, not an error', async () => {
  const r = await fetchCapped(`${urlA}/ok`, O);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'hello');
  const nf = await fetchCapped(`${urlA}/nope`, O);
  assert.equal(nf.status, 404);
  assert.equal(nf.ok, false);
});

test('a body over the cap is TOO_LARGE, declared or streamed', async () => {
  assert.equal(await reason(fetchCapped(`${urlA}/declared`, O)), 'TOO_LARGE');
  assert.equal(await reason(fetchCapped(`${urlA}/streamed`, O)), 'TOO_LARGE');
  assert.equal((await fetchCapped(`${urlA}/streamed`, { ...O, maxBytes: 6000 })).body.length, 6000);
});

test('a redirect is refused by default; same-origin ones are followed only when asked, and a loop ends', async () => {
  hits = [];
  assert.equal(await reason(fetchCapped(`${urlA}/same`, O)), 'REDIRECT_REFUSED');
  assert.deepEqual(hits, ['GET a/same']);
  const r = await fetchCapped(`${urlA}/same`, { ...O, sameOriginRedirects: 1 });
  assert.equal(r.body.toString(), 'hello');
  assert.equal(r.url, `${urlA}/ok`);
  assert.equal(await reason(fetchCapped(`${urlA}/loop`, { ...O, sameOriginRedirects: 3 })), 'REDIRECT_REFUSED');
});

test('a 303 after a POST continues as a GET without the body', async () => {
  hits = [];
  const r = await fetchCapped(`${urlA}/see-other`, { ...O, method: 'POST', body: 'secret', sameOriginRedirects: 1 });
  assert.equal(r.body.toString(), 'hello');
  assert.deepEqual(hits, ['POST a/see-other', 'GET a/ok']);
});

test('a cross-origin redirect is refused even when same-origin ones are allowed, and the other host is never asked', async () => {
  hits = [];
  assert.equal(await reason(fetchCapped(`${urlA}/cross`, { ...O, sameOriginRedirects: 5 })), 'REDIRECT_REFUSED');
  assert.deepEqual(hits, ['GET a/cross']);
});

test('no answer, or a body that stalls, is TIMEOUT; a closed port is UNREACHABLE; a non-http URL is URL_INVALID', async () => {
  assert.equal(await reason(fetchCapped(`${urlA}/stall`, { ...O, timeoutMs: 200 })), 'TIMEOUT');
  assert.equal(await reason(fetchCapped(`${urlA}/stall-body`, { ...O, timeoutMs: 300 })), 'TIMEOUT');
  const [gone, goneUrl] = await listen(() => undefined);
  await new Promise<void>((r) => gone.close(() => r()));
  assert.equal(await reason(fetchCapped(goneUrl, O)), 'UNREACHABLE');
  assert.equal(await reason(fetchCapped('file:///etc/passwd', O)), 'URL_INVALID');
  assert.equal(await reason(fetchCapped('not a url', O)), 'URL_INVALID');
});

test('readCappedBody caps a response the caller fetched itself', async () => {
  const res = await fetch(`${urlA}/streamed`);
  assert.equal(await reason(readCappedBody(res, 100)), 'TOO_LARGE');
  assert.equal((await readCappedBody(await fetch(`${urlA}/ok`), 5)).toString(), 'hello');
});
