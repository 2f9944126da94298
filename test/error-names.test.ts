/**
 * Every error class a package exports prints its own name (CairnError names itself after the class
 * constructed), so a stack or a log line says which package refused. Found by walking the
 * packages' exports, not by a list kept by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CairnError } from '@cairn/shared';

const MODULES = [
  '@cairn/shared',
  '@cairn/shared/checkpoint',
  '@cairn/shared/fetch',
  '@cairn/shared/io',
  '@cairn/shared/merkle',
  '@cairn/shared/sct',
  '@cairn/shared/tiles',
  '@cairn/shared/trusted-root',
  '@cairn/shared/tuf',
  '@cairn/verify',
  '@cairn/sign',
  '@cairn/trust',
  '@cairn/intoto',
  '@cairn/monitor',
  '@cairn/oci',
  '@cairn/ca',
  '@cairn/ct',
  '@cairn/log',
  '@cairn/oidc',
  '@cairn/tsa',
  '@cairn/tuf',
];

test('every exported CairnError subclass is named after itself', async () => {
  const seen: string[] = [];
  for (const m of MODULES) {
    const mod = (await import(m)) as Record<string, unknown>;
    for (const [exported, value] of Object.entries(mod)) {
      if (typeof value !== 'function' || !(value.prototype instanceof CairnError)) continue;
      const Ctor = value as new (code: string, message: string) => Error;
      const e = new Ctor('SOME_CODE', 'message');
      assert.equal(e.name, Ctor.name, `${m} ${exported}`);
      assert.equal(e.name, exported, `${m} exports ${exported} whose instances are named ${e.name}`);
      assert.match(String(e), new RegExp(`^${exported}: message$`));
      seen.push(exported);
    }
  }
  // The walk found the packages' own classes (not just the base).
  for (const name of ['SignError', 'VerifyError', 'IntotoError', 'TrustError', 'MonitorError', 'CaError', 'CtError', 'LogError', 'OidcError', 'TsaError', 'SharedError', 'IoError', 'FetchError']) {
    assert.ok(seen.includes(name), `${name} not found among the exports`);
  }
});
