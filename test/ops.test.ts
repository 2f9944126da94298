/**
 * Operations surface of the stack runner: probes, Prometheus metrics, rate limiting (429), TLS,
 * config errors, and a clean shutdown. Runs the real HTTP server on 127.0.0.1:0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { loadConfig, SharedError } from '@cairn/shared';
import { startStack } from '@cairn/host';
import { tempDir } from './helpers/cli.ts';

x509.cryptoProvider.set(webcrypto);

test('healthz, readyz and metrics answer; unknown routes are JSON 404s', async () => {
  const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir: tempDir(), logLevel: 'silent' } }), { components: [] });
  try {
    const h = await fetch(`${stack.url}/healthz`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
    const r = await fetch(`${stack.url}/readyz`);
    assert.equal(r.status, 200);
    const nf = await fetch(`${stack.url}/no/such/route`);
    assert.equal(nf.status, 404);
    assert.equal(((await nf.json()) as { code: string }).code, 'NOT_FOUND');
    const m = await (await fetch(`${stack.url}/metrics`)).text();
    assert.match(m, /# TYPE cairn_http_requests_total counter/);
    assert.match(m, /cairn_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    assert.match(m, /cairn_http_request_duration_seconds_bucket\{le="\+Inf",route="\/healthz"\} 1/);
  } finally {
    await stack.close();
  }
});

test('a client over the rate limit gets 429 RATE_LIMITED with Retry-After', async () => {
  const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir: tempDir(), rateLimit: 5, logLevel: 'silent' } }), { components: [] });
  try {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 30; i++) {
      const r = await fetch(`${stack.url}/healthz`);
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
      else await r.arrayBuffer();
    }
    assert.ok(statuses.slice(0, 10).every((s) => s === 200), `the burst is allowed: ${statuses.join(',')}`);
    assert.ok(limited, `expected a 429 among ${statuses.join(',')}`);
    assert.equal(((await limited.json()) as { code: string }).code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  } finally {
    await stack.close();
  }
});

test('serves HTTPS with --tls-cert/--tls-key', async () => {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=127.0.0.1',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const dir = tempDir();
  const certPem = cert.toString('pem');
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  writeFileSync(join(dir, 'tls.crt'), certPem);
  writeFileSync(join(dir, 'tls.key'), `-----BEGIN PRIVATE KEY-----\n${keyDer.toString('base64')}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
  const stack = await startStack(
    loadConfig({ overrides: { port: 0, dataDir: join(dir, 'data'), tlsCert: join(dir, 'tls.crt'), tlsKey: join(dir, 'tls.key'), logLevel: 'silent' } }),
    { components: [] },
  );
  try {
    assert.match(stack.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${stack.url}/healthz`, { ca: certPem }, (res) => {
        let s = '';
        res.on('data', (d: Buffer) => (s += d.toString()));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
  } finally {
    await stack.close();
  }
});

test('bad configuration is rejected with INVALID_CONFIG before anything starts', () => {
  const bad = [
    () => loadConfig({ flags: { port: '70000' } }),
    () => loadConfig({ env: { CAIRN_PORT: 'abc' } }),
    () => loadConfig({ flags: { 'tls-cert': 'a.pem' } }),
    () => loadConfig({ flags: { 'log-level': 'loud' } }),
    () => loadConfig({ flags: { 'public-url': 'not a url' } }),
    () => loadConfig({ flags: { set: ['nodot=1'] } }),
    () => loadConfig({ flags: { config: '/nonexistent/cairn.yaml' } }),
  ];
  for (const fn of bad) {
    assert.throws(fn, (e: unknown) => e instanceof SharedError && e.code === 'INVALID_CONFIG');
  }
});

test('config precedence: defaults < file < environment < flags', () => {
  const dir = tempDir();
  const file = join(dir, 'cairn.yaml');
  writeFileSync(file, 'port: 4000\nhost: 0.0.0.0\nlog:\n  batchMaxSize: 64\n');
  const fromFile = loadConfig({ flags: { config: file } });
  assert.equal(fromFile.port, 4000);
  assert.equal(fromFile.sections.log?.batchMaxSize, 64);
  const fromEnv = loadConfig({ flags: { config: file }, env: { CAIRN_PORT: '4100', CAIRN_LOG__BATCH_MAX_SIZE: '128' } });
  assert.equal(fromEnv.port, 4100);
  assert.equal(fromEnv.sections.log?.batchMaxSize, '128');
  const fromFlags = loadConfig({ flags: { config: file, port: '4200', set: ['log.batchMaxSize=256'] }, env: { CAIRN_PORT: '4100' } });
  assert.equal(fromFlags.port, 4200);
  assert.equal(fromFlags.sections.log?.batchMaxSize, '256');
  assert.equal(fromFlags.host, '0.0.0.0');
});

test('SIGTERM-style close drains in-flight requests: an accepted log entry is answered 201', async () => {
  const { generateKeyPairSync, sign, createHash } = await import('node:crypto');
  const config = loadConfig({ overrides: { port: 0, dataDir: tempDir(), logLevel: 'silent' }, flags: { set: ['log.batchMaxDelayMs=400', 'log.batchMaxSize=1000'] } });
  const stack = await startStack(config, { components: ['log'] });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const artifact = Buffer.from('drain me');
  const body = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } },
      signature: {
        content: sign('sha256', artifact, privateKey).toString('base64'),
        publicKey: { content: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') },
      },
    },
  };
  const inflight = fetch(`${stack.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  // The entry waits for its batch (400 ms); close while it is in flight.
  await new Promise((r) => setTimeout(r, 150));
  const closed = stack.close();
  const res = await inflight;
  assert.equal(res.status, 201);
  await closed;
  await assert.rejects(fetch(`${stack.url}/healthz`));
});
