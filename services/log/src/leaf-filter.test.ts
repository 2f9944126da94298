import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LeafFilter } from './leaf-filter.ts';
import { hashKey } from './store/sqlite-log-store.ts';

const keys = (n: number): number[] => {
  const buf = randomBytes(6 * n);
  return Array.from({ length: n }, (_, i) => hashKey(buf.subarray(6 * i, 6 * i + 6)));
};

test('leaf filter: no false negatives, also past its first capacity; about 1% false positives', () => {
  const filter = new LeafFilter();
  const added = keys(2_500_000); // past the 1M first filter and the 2M second one
  for (const k of added) filter.add(k);
  assert.equal(filter.size, added.length);
  for (let i = 0; i < added.length; i += 997) assert.ok(filter.mayContain(added[i]!), `added key ${i}`);
  const others = keys(100_000);
  const positives = others.filter((k) => filter.mayContain(k)).length;
  // Three chained filters at about 1% each: well under 5% together.
  assert.ok(positives < 5_000, `${positives} false positives in 100,000`);
});

test('leaf filter: an empty filter contains nothing; keys at the 48-bit edges work', () => {
  const filter = new LeafFilter(10);
  assert.equal(filter.mayContain(0), false);
  for (const k of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1]) {
    filter.add(k);
    assert.ok(filter.mayContain(k), String(k));
  }
});
