import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { LeafHashTail } from './leaf-tail.ts';

const h = (i: number): Buffer => createHash('sha256').update(String(i)).digest();

test('leaf tail: finds every held hash by full comparison, also when the 30-bit prefixes collide', () => {
  const tail = new LeafHashTail(100, 4);
  const hashes = Array.from({ length: 3000 }, (_, i) => h(i));
  // Same first 4 bytes, different rest: chained under one key, told apart by the full hash.
  const twins = [Buffer.alloc(32, 1), Buffer.alloc(32, 1)];
  twins[1]![31] = 2;
  for (const x of [...hashes, ...twins]) tail.push(x);
  assert.equal(tail.start, 100);
  assert.equal(tail.end, 3102);
  for (let i = 0; i < hashes.length; i += 7) assert.equal(tail.get(hashes[i]!), 100 + i);
  assert.equal(tail.get(twins[0]!), 3100);
  assert.equal(tail.get(twins[1]!), 3101);
  const near = Buffer.from(twins[0]!);
  near[31] = 3;
  assert.equal(tail.get(near), undefined, 'same prefix, other hash');
  assert.equal(tail.get(h(-1)), undefined);
});

test('leaf tail: dropBelow forgets the indexes below the mark and keeps the rest findable', () => {
  const tail = new LeafHashTail(0);
  const hashes = Array.from({ length: 5000 }, (_, i) => h(i));
  for (const x of hashes) tail.push(x);
  tail.dropBelow(4000);
  assert.equal(tail.start, 4000);
  assert.equal(tail.end, 5000);
  assert.equal(tail.get(hashes[3999]!), undefined);
  for (let i = 4000; i < 5000; i++) assert.equal(tail.get(hashes[i]!), i);
  tail.push(h(5000));
  assert.equal(tail.get(h(5000)), 5000);
  tail.dropBelow(3000); // below the start: nothing changes
  assert.equal(tail.start, 4000);
  tail.dropBelow(9999); // past the end: empty, the next push is index 5001
  assert.equal(tail.end, 5001);
  assert.equal(tail.get(h(5000)), undefined);
  assert.equal(tail.push(h(1)), 5001);
  assert.equal(tail.get(h(1)), 5001);
});
