import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_STORE_LEASE_MS, loadConfig, storeOf } from './config.ts';
import { SharedError } from './errors.ts';

const invalid = (e: unknown): boolean => e instanceof SharedError && e.code === 'INVALID_CONFIG';

test('store: unset is SQLite; store.url from the file, CAIRN_STORE over it, --store over both; leaseMs read', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-store-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.deepEqual(storeOf(loadConfig()), { url: undefined, leaseMs: DEFAULT_STORE_LEASE_MS });
  const file = join(dir, 'cairn.yaml');
  writeFileSync(file, 'store:\n  url: postgres://file@db/one\n  leaseMs: 2000\n');
  assert.deepEqual(storeOf(loadConfig({ flags: { config: file } })), { url: 'postgres://file@db/one', leaseMs: 2000 });
  const env = { CAIRN_STORE: 'postgresql://env@db/two' };
  assert.equal(storeOf(loadConfig({ flags: { config: file }, env })).url, 'postgresql://env@db/two');
  assert.equal(storeOf(loadConfig({ flags: { config: file, store: 'postgres://flag@db/three' }, env })).url, 'postgres://flag@db/three');
  assert.equal(storeOf(loadConfig({ env: { CAIRN_STORE__LEASE_MS: '800' } })).leaseMs, 800);
});

test('store: unknown keys, other schemes, bad URLs and leases out of range are INVALID_CONFIG', () => {
  assert.throws(() => storeOf(loadConfig({ flags: { set: ['store.urll=postgres://x/y'] } })), invalid);
  assert.throws(() => storeOf(loadConfig({ flags: { store: 'mysql://x/y' } })), invalid);
  assert.throws(() => storeOf(loadConfig({ flags: { store: 'not a url' } })), invalid);
  assert.throws(() => storeOf(loadConfig({ flags: { store: 'postgres://x/y', set: ['store.leaseMs=10'] } })), invalid);
  assert.throws(() => storeOf(loadConfig({ flags: { store: 'postgres://x/y', set: ['store.leaseMs=600000'] } })), invalid);
});
