import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock } from '@cairn/shared';
import { IntotoError } from './errors.ts';
import { layoutFromDescription, shlexSplit } from './description.ts';
import { generateKeyFiles } from './keys.ts';

test('shlexSplit agrees with CPython shlex.split on every stored vector', () => {
  const { vectors } = JSON.parse(readFileSync(new URL('../../../test/fixtures/intoto/shlex-vectors.json', import.meta.url), 'utf8')) as { vectors: [string, string[]][] };
  for (const [input, want] of vectors) assert.deepEqual(shlexSplit(input), want, JSON.stringify(input));
  assert.throws(() => shlexSplit('a "b'), (e: unknown) => e instanceof IntotoError && e.code === 'MALFORMED_DESCRIPTION');
});

test('a description becomes a layout: keyids resolved from names, rules and commands split, relative expiry from the clock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-intoto-desc-'));
  const alice = generateKeyFiles('ecdsa', join(dir, 'alice'));
  const bob = generateKeyFiles('ed25519', join(dir, 'bob'));
  const clock = new FixedClock(Date.parse('2026-01-01T12:00:00.500Z'));
  const layout = layoutFromDescription(
    JSON.stringify({
      expires_in_days: 10,
      keys: { alice: 'alice.pub', bob: 'bob.pub' },
      steps: [{ name: 'build', functionaries: ['alice', bob.keyid], threshold: 2, expected_command: 'make "all targets"', expected_materials: ['ALLOW src/*', ['DISALLOW', '*']] }],
      inspect: [{ name: 'check', run: ['true'], expected_products: ['MATCH * WITH PRODUCTS FROM build'] }],
    }),
    dir,
    clock,
  );
  assert.equal(layout.expires, '2026-01-11T12:00:00Z');
  assert.deepEqual(Object.keys(layout.keys).sort(), [alice.keyid, bob.keyid].sort());
  assert.deepEqual(layout.steps[0]!.pubkeys, [alice.keyid, bob.keyid]);
  assert.deepEqual(layout.steps[0]!.expected_command, ['make', 'all targets']);
  assert.deepEqual(layout.steps[0]!.expected_materials, [['ALLOW', 'src/*'], ['DISALLOW', '*']]);
  assert.equal(layout.steps[0]!.threshold, 2);
  assert.deepEqual(layout.inspect[0]!.expected_products, [['MATCH', '*', 'WITH', 'PRODUCTS', 'FROM', 'build']]);
});
