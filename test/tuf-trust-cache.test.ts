/**
 * `cairn trust init|refresh|show|build --from` and the offline `loadCachedTrustedRoot` that
 * `cairn verify` uses: it works with the mirror gone and refuses a tampered or expired cache.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FixedClock, type TrustInfo } from '@cairn/shared';
import { defaultCacheDir, loadCachedTrustedRoot } from '@cairn/trust';
import { runDevelopmentCeremony } from '@cairn/tuf/ceremony';
import { cli, errorCode, makeTrustInfos, must, staticMirror } from './tuf-helpers.ts';

let base: string;
let infos: TrustInfo[];
let mirror: { url: string; close(): Promise<void> };
let rootPath: string;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'cairn-trust-cache-'));
  infos = await makeTrustInfos();
  const r = await runDevelopmentCeremony({ dir: join(base, 'tuf'), infos, clock: new FixedClock(Date.now()) });
  rootPath = r.rootPath;
  mirror = await staticMirror(join(base, 'tuf', 'repository'));
});

after(async () => {
  await mirror.close();
  rmSync(base, { recursive: true, force: true });
});

test('trust init caches the trust root under $CAIRN_TRUST_CACHE; show works with the mirror down', async () => {
  const env = { CAIRN_TRUST_CACHE: join(base, 'cache-home') };
  const m = await staticMirror(join(base, 'tuf', 'repository'));
  const r = await must(cli(['trust', 'init', '--mirror', m.url, '--root', rootPath], env));
  assert.match(r.out, /TUF root v1, targets v1/);
  assert.equal((await must(cli(['trust', 'refresh', '--mirror', m.url], env))).code, 0);
  await m.close();
  const dir = defaultCacheDir(m.url, env);
  assert.ok(dir.startsWith(env.CAIRN_TRUST_CACHE));
  assert.ok(existsSync(join(dir, 'targets', 'trusted_root.json')));
  const shown = JSON.parse((await must(cli(['trust', 'show', '--mirror', m.url], env))).out);
  assert.equal(shown.tlogs[0].logId.keyId, (infos.find((i) => i.kind === 'tlog') as { logId: string }).logId);
  assert.deepEqual(loadCachedTrustedRoot(m.url, { env }), shown);
  assert.equal(errorCode(await cli(['trust', 'refresh', '--mirror', m.url], env)), 'FETCH_FAILED', 'the mirror really is down');
});

test('the offline loader refuses a tampered, expired or missing cache', async () => {
  const cache = join(base, 'cache-b');
  await must(cli(['trust', 'init', '--mirror', mirror.url, '--root', rootPath, '--cache', cache]));
  assert.equal(loadCachedTrustedRoot(cache).mediaType, 'application/vnd.dev.sigstore.trustedroot+json;version=0.1');
  assert.throws(() => loadCachedTrustedRoot(cache, { clock: new FixedClock(Date.now() + 200 * 86400_000) }), { code: 'EXPIRED' });

  const tr = join(cache, 'targets', 'trusted_root.json');
  const good = readFileSync(tr);
  writeFileSync(tr, good.toString('utf8').replace('"tlogs"', '"tlogz"'));
  assert.throws(() => loadCachedTrustedRoot(cache), { code: 'HASH_MISMATCH' });
  assert.equal(errorCode(await cli(['trust', 'show', '--cache', cache])), 'HASH_MISMATCH');
  writeFileSync(tr, good);

  const tj = join(cache, 'targets.json');
  const env = JSON.parse(readFileSync(tj, 'utf8'));
  env.signed.expires = '2099-01-01T00:00:00Z';
  writeFileSync(tj, JSON.stringify(env));
  assert.throws(() => loadCachedTrustedRoot(cache), { code: 'BELOW_THRESHOLD' });

  assert.throws(() => loadCachedTrustedRoot(join(base, 'no-cache')), { code: 'CACHE_NOT_INITIALISED' });
  assert.equal(errorCode(await cli(['trust', 'show', '--cache', join(base, 'no-cache')])), 'CACHE_NOT_INITIALISED');
});

test('trust init refuses a bad root, a bad mirror and an unreachable mirror', async () => {
  const junk = join(base, 'junk.json');
  writeFileSync(junk, '{"signed": {}, "signatures": []}');
  assert.equal(errorCode(await cli(['trust', 'init', '--mirror', mirror.url, '--root', junk, '--cache', join(base, 'c1')])), 'INVALID_METADATA');
  assert.equal(errorCode(await cli(['trust', 'init', '--mirror', 'ftp://x', '--root', rootPath])), 'USAGE');
  assert.equal(errorCode(await cli(['trust', 'init', '--mirror', 'http://127.0.0.1:1/tuf', '--root', rootPath, '--cache', join(base, 'c2')])), 'FETCH_FAILED');
  assert.equal(errorCode(await cli(['trust', 'init', '--mirror', mirror.url])), 'USAGE');
});

test('trust build --from fetches /api/cairn/v1/trust-info (one URL per split service)', async () => {
  const [ct, tlog, ca, oidc] = infos;
  const servers = await Promise.all(
    [[ct, ca], [tlog, oidc]].map(async (part) => {
      const s = createServer((req, res) => {
        if (req.url === '/api/cairn/v1/trust-info') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(part));
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      return s;
    }),
  );
  try {
    const urls = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    const out = join(base, 'built');
    await must(cli(['trust', 'build', '--from', urls[0]!, '--from', urls[1]!, '--out', out]));
    const tr = JSON.parse(readFileSync(join(out, 'trusted_root.json'), 'utf8'));
    assert.deepEqual([tr.tlogs.length, tr.ctlogs.length, tr.certificateAuthorities.length], [1, 1, 1]);
    const sc = JSON.parse(readFileSync(join(out, 'signing_config.v0.2.json'), 'utf8'));
    assert.equal(sc.oidcUrls[0].url, (oidc as { issuer: string }).issuer);
    assert.equal(errorCode(await cli(['trust', 'build', '--from', `${urls[0]!}/nothing`, '--out', out])), 'FETCH_FAILED');
    assert.equal(errorCode(await cli(['trust', 'build', '--from', urls[0]!])), 'USAGE');
  } finally {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  }
});
