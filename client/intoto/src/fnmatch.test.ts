import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fnmatch, fnmatchFilter } from './fnmatch.ts';
import { ExcludeFilter } from './gitwildmatch.ts';

const FIX = new URL('../../../test/fixtures/intoto/', import.meta.url);

test('fnmatch agrees with CPython fnmatch.fnmatchcase on every stored vector', () => {
  const { vectors } = JSON.parse(readFileSync(new URL('fnmatch-vectors.json', FIX), 'utf8')) as { vectors: [string, string, boolean][] };
  assert.ok(vectors.length > 1000);
  const wrong = vectors.filter(([p, n, want]) => fnmatch(n, p) !== want);
  assert.deepEqual(wrong, []);
});

test('gitwildmatch exclusion agrees with python pathspec on every stored vector', () => {
  const { vectors } = JSON.parse(readFileSync(new URL('gitwildmatch-vectors.json', FIX), 'utf8')) as { vectors: [string[], string, boolean][] };
  assert.ok(vectors.length > 500);
  const wrong = vectors.filter(([ps, n, want]) => new ExcludeFilter(ps).excludes(n) !== want);
  assert.deepEqual(wrong, []);
});

test('fnmatch: * crosses / and leading dots, matching is case-sensitive', () => {
  assert.equal(fnmatch('src/a/b.c', 'src/*'), true);
  assert.equal(fnmatch('.git', '*'), true);
  assert.equal(fnmatch('A.TXT', '*.txt'), false);
  assert.deepEqual(fnmatchFilter(['a', 'b', 'ab'], '?'), ['a', 'b']);
});

test('fnmatch: adversarial patterns finish quickly (no exponential backtracking)', () => {
  const pattern = '*a'.repeat(50) + 'b';
  const name = 'a'.repeat(5000);
  const t0 = process.hrtime.bigint();
  assert.equal(fnmatch(name, pattern), false);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(ms < 2000, `took ${ms} ms`);
});

test('fnmatch: regex metacharacters in patterns are literal', () => {
  assert.equal(fnmatch('a.c', 'a.c'), true);
  assert.equal(fnmatch('abc', 'a.c'), false);
  assert.equal(fnmatch('(x)|y', '(x)|y'), true);
  assert.equal(fnmatch('x', '(x)|y'), false);
  assert.equal(fnmatch('a+', 'a+'), true);
  assert.equal(fnmatch('aa', 'a+'), false);
});
