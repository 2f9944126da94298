import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkAttestation, evaluateCondition, globMatch, makeCondition, parseCondition, resolvePredicateType, SLSA_PROVENANCE_V1 } from './attestation.ts';
import { VerifyError } from './errors.ts';
import { codeOf } from '../../../test/helpers/codes.ts';

const code = codeOf(VerifyError);

test('glob: * stays inside a path segment, ** crosses, ? is one character, \\ escapes', () => {
  assert.equal(globMatch('your-org/*', 'your-org/repo'), true);
  assert.equal(globMatch('your-org/*', 'your-org/repo/sub'), false);
  assert.equal(globMatch('your-org/**', 'your-org/repo/sub'), true);
  assert.equal(globMatch('your-org/*', 'other-org/repo'), false);
  assert.equal(globMatch('https://github.com/*/app', 'https://github.com/acme/app'), true);
  assert.equal(globMatch('v?.0', 'v1.0'), true);
  assert.equal(globMatch('v?.0', 'v10.0'), false);
  assert.equal(globMatch('a\\*b', 'a*b'), true);
  assert.equal(globMatch('a\\*b', 'axb'), false);
  assert.equal(globMatch('', ''), true);
  assert.equal(globMatch('*', ''), true);
  assert.equal(globMatch('exact', 'exact'), true);
  assert.equal(globMatch('exact', 'exactly'), false);
  // Regex metacharacters are literals in a glob.
  assert.equal(globMatch('a.c', 'abc'), false);
  assert.equal(globMatch('(a|b)+', '(a|b)+'), true);
});

test('glob: a pathological pattern finishes fast (no backtracking blow-up)', () => {
  const start = performance.now();
  assert.equal(globMatch('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(4000)), false);
  assert.ok(performance.now() - start < 2000);
  assert.equal(globMatch('x'.repeat(600), 'x'.repeat(600)), false, 'over-long patterns never match');
});

test('glob: a pattern without wildcards matches exactly itself (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }).filter((s) => !/[*?\\]/.test(s)), fc.string({ maxLength: 40 }), (p, v) => {
      assert.equal(globMatch(p, v), p === v);
      assert.equal(globMatch('**', v), true);
    }),
  );
});

test('conditions: parse and evaluate equals, glob, one-of', () => {
  const st = {
    predicateType: SLSA_PROVENANCE_V1,
    predicate: { buildDefinition: { externalParameters: { repository: 'your-org/app', workflow: { ref: 'refs/heads/main' } } }, n: 3, list: ['a', 'b'] },
  };
  checkAttestation(st, 'slsaprovenance', [
    parseCondition('buildDefinition.externalParameters.repository=glob:your-org/*'),
    parseCondition('buildDefinition.externalParameters.workflow.ref=refs/heads/main'),
    parseCondition('buildDefinition.externalParameters.workflow.ref=equals:refs/heads/main'),
    parseCondition('buildDefinition.externalParameters.repository=one-of:x,your-org/app'),
    parseCondition('n=3'),
    parseCondition('list.1=b'),
  ]);
  assert.equal(code(() => checkAttestation(st, 'https://example.com/v1', [])), 'PREDICATE_TYPE_MISMATCH');
  assert.equal(code(() => checkAttestation(st, undefined, [parseCondition('buildDefinition.externalParameters.repository=glob:evil/*')])), 'CONDITION_FAILED');
  assert.equal(code(() => checkAttestation(st, undefined, [parseCondition('buildDefinition=x')])), 'CONDITION_FAILED', 'objects never equal a string');
  assert.equal(code(() => checkAttestation(st, undefined, [parseCondition('missing.path=x')])), 'CONDITION_FAILED');
  assert.equal(code(() => checkAttestation(st, undefined, [parseCondition('__proto__.x=y')])), 'CONDITION_FAILED');
});

test('conditions: malformed ones are POLICY_INVALID', () => {
  for (const bad of ['noequals', '=value', 'a..b=c', 'a b=c', 'a=glob:' + 'x'.repeat(600), 'a'.repeat(3000) + '=b', Array(20).fill('a').join('.') + '=b']) {
    assert.equal(code(() => parseCondition(bad)), 'POLICY_INVALID', bad.slice(0, 40));
  }
  assert.equal(code(() => checkAttestation({}, undefined, Array(33).fill(parseCondition('a=b')))), 'POLICY_INVALID');
});

test('predicate type aliases', () => {
  assert.equal(resolvePredicateType('slsaprovenance'), 'https://slsa.dev/provenance/v1');
  assert.equal(resolvePredicateType('cyclonedx'), 'https://cyclonedx.org/bom');
  assert.equal(resolvePredicateType('https://in-toto.io/attestation/vulns'), 'https://in-toto.io/attestation/vulns');
  // The signer's rule (one table, one check in @cairn/shared/statement): a word that is neither an
  // alias nor a URI used to pass through here and fail only as a type mismatch later.
  assert.equal(code(() => resolvePredicateType('__proto__')), 'POLICY_INVALID');
  assert.equal(code(() => resolvePredicateType('not a uri')), 'POLICY_INVALID');
  assert.equal(code(() => resolvePredicateType('')), 'POLICY_INVALID');
});

test('Kyverno operators on the one condition model: not-equals, lists, arrays, numbers; bad parts are POLICY_INVALID', () => {
  const p = { builder: { id: 'https://ci/b' }, level: 3, tags: ['a', 'b'], n: '2' };
  const ok = (path: string, op: Parameters<typeof makeCondition>[1], values: string[]): boolean => evaluateCondition(p, makeCondition(path.split('.'), op, values, `${path} ${op}`));
  assert.equal(ok('builder.id', 'not-equals', ['x']), true);
  assert.equal(ok('builder.id', 'not-equals', ['https://ci/b']), false);
  assert.equal(ok('builder.id', 'not-one-of', ['x', 'y']), true);
  assert.equal(ok('tags', 'any-in', ['b', 'z']), true);
  assert.equal(ok('tags', 'all-in', ['b', 'z']), false);
  assert.equal(ok('tags', 'all-in', ['a', 'b']), true);
  assert.equal(ok('tags', 'any-not-in', ['a']), true);
  assert.equal(ok('tags', 'all-not-in', ['a']), false);
  assert.equal(ok('level', 'gte', ['3']), true);
  assert.equal(ok('level', 'gt', ['3']), false);
  assert.equal(ok('n', 'lt', ['3']), true);
  assert.equal(ok('builder.id', 'lt', ['3']), false);
  assert.equal(ok('missing', 'not-equals', ['x']), false);
  for (const bad of [() => makeCondition([], 'equals', ['x'], 'e'), () => makeCondition(['a'], 'gt', ['nope'], 'g'), () => makeCondition(['a'], 'equals', ['x', 'y'], 'two'), () => makeCondition(['a'], 'regex' as never, ['x'], 'r')]) {
    assert.throws(bad, (e: unknown) => e instanceof VerifyError && e.code === 'POLICY_INVALID');
  }
});
