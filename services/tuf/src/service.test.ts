import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { FixedClock, MetricsRegistry, generateKey, loadConfig, silentLogger, type ServiceContext } from '@cairn/shared';
import { localTufSigner, parseMetadata, tufKeyFor } from '@cairn/shared/tuf';
import { initRepository, publishStaged, signStaged, stageTarget } from './repository/index.ts';
import { createTufService } from './service.ts';
import { tufOptions } from './service.ts';

const DAY = 86400_000;

async function publishedRepo(clock: FixedClock): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tuf-svc-'));
  const offline = localTufSigner(generateKey('ecdsa-p256'));
  const snapshot = generateKey('ed25519');
  const timestamp = generateKey('ed25519');
  initRepository({
    dir,
    rootKeys: [offline.key],
    rootThreshold: 1,
    targetsKeys: [offline.key],
    targetsThreshold: 1,
    snapshotKey: tufKeyFor(snapshot),
    timestampKey: tufKeyFor(timestamp),
    clock,
    onlinePrivateKeys: { snapshot, timestamp },
  });
  stageTarget({ dir, name: 'trusted_root.json', content: Buffer.from('{"mediaType":"x"}\n'), clock });
  await signStaged(dir, offline);
  await publishStaged(dir, clock);
  return dir;
}

function context(dir: string, clock: FixedClock): ServiceContext {
  return {
    config: loadConfig({ overrides: { dataDir: dir } }),
    baseUrl: 'http://127.0.0.1:0',
    dataDir: dir,
    clock,
    logger: silentLogger,
    metrics: new MetricsRegistry(),
  };
}

type Refreshable = ReturnType<typeof createTufService> & { refresh(): Promise<void> };
const ctxMetrics = new WeakMap<Refreshable, MetricsRegistry>();

async function start(dir: string, clock: FixedClock): Promise<{ svc: Refreshable; app: express.Express }> {
  const ctx = context(dir, clock);
  const svc = createTufService(ctx) as Refreshable;
  ctxMetrics.set(svc, ctx.metrics);
  await svc.refresh();
  const app = express();
  app.use(svc.router);
  return { svc, app };
}

test('serves the published layout and nothing else', async () => {
  const clock = new FixedClock(Date.now());
  const dir = await publishedRepo(clock);
  const { svc, app } = await start(dir, clock);
  try {
    assert.deepEqual(svc.ready(), { ok: true });
    for (const p of ['1.root.json', 'root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json']) {
      const r = await request(app).get(`/tuf/${p}`);
      assert.equal(r.status, 200, p);
      assert.match(r.headers['content-type'] ?? '', /application\/json/);
    }
    const targets = parseMetadata('targets', readFileSync(join(dir, 'repository', '1.targets.json')));
    const sha = targets.signed.targets['trusted_root.json']!.hashes.sha256!;
    assert.equal((await request(app).get(`/tuf/targets/${sha}.trusted_root.json`)).status, 200);
    for (const p of ['2.root.json', '../ceremony.json', 'online/timestamp.pem', 'targets/trusted_root.json', '%2e%2e/ceremony.json']) {
      assert.equal((await request(app).get(`/tuf/${p}`)).status, 404, p);
    }
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('re-signs timestamp and snapshot with the online keys before they expire', async () => {
  const clock = new FixedClock(Date.now());
  const dir = await publishedRepo(clock);
  const { svc, app } = await start(dir, clock);
  const version = async (p: string): Promise<number> => (JSON.parse((await request(app).get(`/tuf/${p}`)).text) as { signed: { version: number } }).signed.version;
  try {
    assert.equal(await version('timestamp.json'), 1);
    clock.advance(DAY / 4);
    await svc.refresh();
    assert.equal(await version('timestamp.json'), 1, 'not yet in the second half of its validity');
    clock.advance(DAY / 2);
    await svc.refresh();
    assert.equal(await version('timestamp.json'), 2);
    assert.equal((await request(app).get('/tuf/2.snapshot.json')).status, 404, 'snapshot (7 d) not due yet');
    clock.advance(4 * DAY);
    await svc.refresh();
    assert.equal(await version('timestamp.json'), 3);
    assert.equal(await version('2.snapshot.json'), 2);
    assert.deepEqual(svc.ready(), { ok: true });
    const left = Number(/cairn_tuf_expires_in_seconds\{role="timestamp"\} (\d+)\n/.exec(ctxMetrics.get(svc)!.render())?.[1]);
    assert.ok(left >= 86399 && left <= 86400, `timestamp expires in ${left} s, just re-signed for a day`);
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without online keys the metadata runs out and ready() turns false', async () => {
  const clock = new FixedClock(Date.now());
  const dir = await publishedRepo(clock);
  renameSync(join(dir, 'online'), join(dir, 'elsewhere'));
  const { svc } = await start(dir, clock);
  try {
    assert.equal(svc.ready().ok, true);
    clock.advance(2 * DAY);
    await svc.refresh();
    const r = svc.ready();
    assert.equal(r.ok, false);
    assert.match(r.reason ?? '', /timestamp/);
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tampered published directory is never served', async () => {
  const clock = new FixedClock(Date.now());
  const dir = await publishedRepo(clock);
  const { svc, app } = await start(dir, clock);
  const p = join(dir, 'repository', '1.targets.json');
  const good = readFileSync(p);
  try {
    const env = JSON.parse(good.toString('utf8'));
    env.signed.targets['evil.json'] = { length: 1, hashes: { sha256: '00' } };
    writeFileSync(p, JSON.stringify(env));
    await svc.refresh();
    assert.deepEqual((await request(app).get('/tuf/1.targets.json')).body, JSON.parse(good.toString('utf8')), 'the last verified bytes stay served');
    const fresh = await start(dir, clock);
    assert.equal(fresh.svc.ready().ok, false);
    assert.equal((await request(fresh.app).get('/tuf/1.targets.json')).status, 404);
    await fresh.svc.close();
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no repository: not ready; configuration is validated', async () => {
  const clock = new FixedClock(Date.now());
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tuf-svc-'));
  const { svc } = await start(dir, clock);
  try {
    assert.equal(svc.ready().ok, false);
    const ctx = context(dir, clock);
    ctx.config.sections.tuf = { timestampExpires: 'soon' };
    assert.throws(() => tufOptions(ctx), { code: 'INVALID_ARGUMENT' });
    ctx.config.sections.tuf = { refreshIntervalSeconds: '0' };
    assert.throws(() => tufOptions(ctx), { code: 'INVALID_CONFIG' });
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
