import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlob, compileRegExp, globToRegExpSource } from './pattern.ts';
import { CairnError } from './errors.ts';

test('pattern: RE2 matches catastrophic patterns in linear time', () => {
  const input = `https://ci.example.internal/${'a'.repeat(34)}!`;
  const t0 = process.hrtime.bigint();
  assert.equal(compileRegExp('(a+)+$', 'identity')(input), false);
  assert.equal(compileRegExp('(.*a){30}', 'identity')(input), true);
  assert.equal(compileRegExp('(.*a){30}!x', 'identity')(`${'a'.repeat(5000)}`), false);
  // Not a timed assertion: printed so a regression to backtracking is visible in the log.
  console.log(`three RE2 matches took ${Number(process.hrtime.bigint() - t0) / 1e6} ms`);
});

test('pattern: anchored and unanchored', () => {
  assert.equal(compileRegExp('b', 'x')('abc'), true);
  assert.equal(compileRegExp('b', 'x', { anchored: true })('abc'), false);
  assert.equal(compileRegExp('a.c', 'x', { anchored: true })('abc'), true);
  assert.equal(compileRegExp('a|b', 'x', { anchored: true })('b'), true);
});

test('pattern: backreferences, lookaround and bad syntax are refused with PATTERN_INVALID', () => {
  for (const p of ['(a)\\1', '(?=a)a', '(?<!a)b', '(', '', 'x'.repeat(1025)]) {
    assert.throws(() => compileRegExp(p, 'identity'), (e: unknown) => e instanceof CairnError && e.code === 'PATTERN_INVALID', p.slice(0, 20));
  }
});

test('pattern: globs', () => {
  const g = compileGlob('https://git.example.internal/*');
  assert.equal(g('https://git.example.internal/app'), true);
  assert.equal(g('https://git.example.internal/a/b'), true);
  assert.equal(g('https://git.example.internal'), false);
  const seg = compileGlob('registry.internal/*/app', 'image', { segment: '/' });
  assert.equal(seg('registry.internal/team/app'), true);
  assert.equal(seg('registry.internal/a/b/app'), false);
  assert.equal(compileGlob('a?c')('abc'), true);
  assert.equal(compileGlob('a?c')('ac'), false);
  assert.equal(compileGlob('*a*a*a*a*a*b')('a'.repeat(20000)), false);
});

test('pattern: globstar globs (policy-controller: * stops at /, ** crosses it) and identity globs as RE2', () => {
  const g = compileGlob('registry.internal/**', 'image', { segment: '/', globstar: true });
  assert.equal(g('registry.internal/a/b/c:1'), true);
  assert.equal(g('other.internal/a'), false);
  const one = compileGlob('registry.internal/*:**', 'image', { segment: '/', globstar: true });
  assert.equal(one('registry.internal/app:v1'), true);
  assert.equal(one('registry.internal/team/app:v1'), false);
  // Metacharacters of RE2 stay literal.
  assert.equal(compileGlob('a.b(c)+', 'image', { segment: '/', globstar: true })('a.b(c)+'), true);
  assert.equal(compileGlob('a.b', 'image', { segment: '/', globstar: true })('axb'), false);
  assert.equal(globToRegExpSource('https://x/*.yml'), '(?s:https://x/.*\\.yml)');
  assert.equal(compileRegExp(globToRegExpSource('https://x/*'), 'subject', { anchored: true })('https://x/a/b'), true);
  assert.equal(compileRegExp(globToRegExpSource('https://x/*'), 'subject', { anchored: true })('https://y/a'), false);
});
