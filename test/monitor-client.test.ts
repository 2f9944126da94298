/** The monitor's tlog-tiles HTTP reader: byte caps, malformed responses, retries, fallbacks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_NOTE_BYTES } from '@cairn/shared/checkpoint';
import { encodeEntryBundle } from '@cairn/shared/tiles';
import { MonitorError } from '@cairn/monitor';
import { HttpTlogReader } from '@cairn/monitor';

type Handler = (path: string, res: ServerResponse, req: IncomingMessage) => void;

async function serve(handler: Handler): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req.url ?? '', res, req);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

const code = (c: string) => (e: unknown) => e instanceof MonitorError && e.code === c;

test('responses beyond their byte cap are refused, declared or streamed', async () => {
  const s = await serve((path, res) => {
    if (path === '/checkpoint') {
      // No content-length: the cap applies while streaming.
      res.writeHead(200);
      res.write('x'.repeat(MAX_NOTE_BYTES));
      res.end('y');
      return;
    }
    res.writeHead(200, { 'content-length': String(8193) });
    res.end(Buffer.alloc(8193));
  });
  try {
    const r = new HttpTlogReader(s.url);
    await assert.rejects(r.checkpoint(), code('RESPONSE_TOO_LARGE'));
    await assert.rejects(r.tile(0, 0, 256), code('RESPONSE_TOO_LARGE'));
  } finally {
    await s.close();
  }
});

test('malformed tiles and bundles are INVALID_RESPONSE; missing ones FETCH_FAILED', async () => {
  const s = await serve((path, res) => {
    if (path === '/tile/0/000.p/5') return void res.end(Buffer.alloc(4 * 32));
    if (path === '/tile/entries/000.p/3') return void res.end(Buffer.from([0, 5, 1]));
    if (path === '/tile/entries/001.p/3') return void res.end(encodeEntryBundle([Buffer.from('a'), Buffer.from('b')]));
    res.writeHead(404).end();
  });
  try {
    const r = new HttpTlogReader(s.url);
    await assert.rejects(r.tile(0, 0, 5), code('INVALID_RESPONSE'));
    await assert.rejects(r.entries(0, 3), code('INVALID_RESPONSE'));
    await assert.rejects(r.entries(1, 3), code('INVALID_RESPONSE'));
    await assert.rejects(r.checkpoint(), code('FETCH_FAILED'));
    // 404 on a partial tile falls back to the full tile, which is missing too.
    await assert.rejects(r.tile(0, 7, 9), code('FETCH_FAILED'));
    assert.ok(s.hits.includes('/tile/0/007.p/9') && s.hits.includes('/tile/0/007'));
  } finally {
    await s.close();
  }
});

test('5xx and 429 are retried, other errors are not', async () => {
  let calls = 0;
  const s = await serve((path, res) => {
    calls++;
    if (path === '/checkpoint') return void res.writeHead(calls < 3 ? (calls === 1 ? 503 : 429) : 200).end(calls < 3 ? '' : 'ok');
    res.writeHead(403).end();
  });
  try {
    const r = new HttpTlogReader(s.url);
    assert.equal(await r.checkpoint(), 'ok');
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(r.tile(0, 0, 256), code('FETCH_FAILED'));
    assert.equal(calls, 1);
  } finally {
    await s.close();
  }
});

test('log URLs must be http(s)', () => {
  assert.throws(() => new HttpTlogReader('file:///etc/passwd'), code('FETCH_FAILED'));
  assert.throws(() => new HttpTlogReader('not a url'), code('FETCH_FAILED'));
});
