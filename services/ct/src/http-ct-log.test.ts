/**
 * The CT client's reads against a hostile log (a real HTTP server on 127.0.0.1): an oversized
 * answer is refused while streaming, a redirect is never followed (the chain would go elsewhere).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpCtError, HttpCtLog, MAX_SCT_RESPONSE_BYTES } from './http-ct-log.ts';

test('an answer over MAX_SCT_RESPONSE_BYTES (streamed, no content-length) is CT_BAD_RESPONSE; a redirect is CT_UNAVAILABLE and the other host is never asked', async () => {
  const hits: string[] = [];
  const other = createServer((req, res) => {
    hits.push(`other${req.url}`);
    res.end('{}');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const log = createServer((req, res) => {
    hits.push(`log${req.url}`);
    if (req.url?.startsWith('/big/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i <= MAX_SCT_RESPONSE_BYTES / 1024; i++) res.write(' '.repeat(1024));
      res.end('{}');
    } else res.writeHead(307, { location: `http://127.0.0.1:${(other.address() as AddressInfo).port}/ct/v1/add-pre-chain` }).end();
  });
  await new Promise<void>((r) => log.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(log.address() as AddressInfo).port}`;
  try {
    await assert.rejects(new HttpCtLog(`${base}/big`).addPreChain([Buffer.from('x')]), (e) => e instanceof HttpCtError && e.code === 'CT_BAD_RESPONSE');
    await assert.rejects(new HttpCtLog(`${base}/moved`).addPreChain([Buffer.from('x')]), (e) => e instanceof HttpCtError && e.code === 'CT_UNAVAILABLE');
    assert.deepEqual(hits, ['log/big/ct/v1/add-pre-chain', 'log/moved/ct/v1/add-pre-chain']);
  } finally {
    log.closeAllConnections();
    log.close();
    other.close();
  }
});
