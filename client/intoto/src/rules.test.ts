import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { IntotoError } from './errors.ts';
import { unpackRule, verifyItemRules, type RuleLink } from './rules.ts';

const H = (c: string) => ({ sha256: c.repeat(64) });

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof IntotoError ? e.code : 'OTHER';
  }
  return undefined;
}

test('unpackRule: the reference grammar, keywords case-insensitive, operands kept', () => {
  assert.deepEqual(unpackRule(['match', 'Foo', 'in', 'lib', 'with', 'Products', 'in', 'build/lib', 'from', 'Compile']), {
    type: 'match', pattern: 'Foo', sourcePrefix: 'lib', destType: 'products', destPrefix: 'build/lib', destName: 'Compile',
  });
  assert.deepEqual(unpackRule(['MATCH', 'x', 'WITH', 'MATERIALS', 'IN', 'd', 'FROM', 's']), {
    type: 'match', pattern: 'x', sourcePrefix: '', destType: 'materials', destPrefix: 'd', destName: 's',
  });
  assert.deepEqual(unpackRule(['Disallow', '*']), { type: 'disallow', pattern: '*' });
  for (const bad of [['ALLOW'], ['ALLOW', 'a', 'b'], ['MATCH', 'a', 'WITH', 'THINGS', 'FROM', 's'], ['MATCH', 'a', 'FROM', 's'], ['COPY', 'a'], 'ALLOW *', [1, 2], ['MATCH', 'a', 'IN', 'x', 'WITH', 'PRODUCTS', 'FROM']]) {
    assert.equal(codeOf(() => unpackRule(bad)), 'MALFORMED_LAYOUT', JSON.stringify(bad));
  }
});

test('queue semantics: consumed paths leave the queue, DISALLOW fails only on what is left', () => {
  const links = new Map<string, RuleLink>([
    ['build', { materials: { 'src/a.c': H('1') }, products: { 'out/a.o': H('2'), 'out/b.o': H('3') } }],
    ['pack', { materials: { 'out/a.o': H('2'), 'out/b.o': H('9'), 'keep.txt': H('4'), 'gone.txt': H('5') }, products: { 'out/a.o': H('2'), 'keep.txt': H('6'), 'new.tar': H('7') } }],
  ]);
  // MATCH consumes only equal hashes: out/b.o differs from build's product and stays queued.
  assert.equal(codeOf(() => verifyItemRules('pack', 'materials', [['MATCH', 'out/*', 'WITH', 'PRODUCTS', 'FROM', 'build'], ['ALLOW', '*.txt'], ['DISALLOW', '*']], links)), 'RULE_VIOLATION');
  try {
    verifyItemRules('pack', 'materials', [['MATCH', 'out/*', 'WITH', 'PRODUCTS', 'FROM', 'build'], ['ALLOW', '*.txt'], ['DISALLOW', '*']], links);
  } catch (e) {
    const d = (e as IntotoError).details!;
    assert.equal(d.item, 'pack');
    assert.equal(d.rule, 'DISALLOW *');
    assert.deepEqual(d.artifacts, ['out/b.o']);
    assert.match(String(d.trace), /Queue after 'MATCH out\/\* WITH PRODUCTS FROM build':\n\['gone.txt', 'keep.txt', 'out\/b.o'\]/);
  }
  // CREATE / DELETE / MODIFY consume by their definitions.
  verifyItemRules('pack', 'products', [['CREATE', 'new.tar'], ['MODIFY', 'keep.txt'], ['MATCH', 'out/a.o', 'WITH', 'PRODUCTS', 'FROM', 'build'], ['DISALLOW', '*']], links);
  verifyItemRules('pack', 'materials', [['DELETE', 'gone.txt'], ['DELETE', 'out/b.o'], ['MODIFY', 'keep.txt'], ['MATCH', 'out/a.o', 'WITH', 'PRODUCTS', 'FROM', 'build'], ['DISALLOW', '*']], links);
  // MODIFY does not consume an unchanged file; CREATE does not consume a file that was a material.
  assert.equal(codeOf(() => verifyItemRules('pack', 'products', [['MODIFY', 'out/a.o'], ['CREATE', 'keep.txt'], ['ALLOW', 'new.tar'], ['DISALLOW', 'out/*']], links)), 'RULE_VIOLATION');
  assert.equal(codeOf(() => verifyItemRules('pack', 'products', [['CREATE', 'keep.txt'], ['ALLOW', 'new.tar'], ['ALLOW', 'out/*'], ['DISALLOW', '*']], links)), 'RULE_VIOLATION');
  // REQUIRE looks at the queue, which earlier rules may have emptied.
  verifyItemRules('pack', 'products', [['REQUIRE', 'new.tar']], links);
  assert.equal(codeOf(() => verifyItemRules('pack', 'products', [['ALLOW', 'new.tar'], ['REQUIRE', 'new.tar']], links)), 'RULE_VIOLATION');
  // MATCH against a step without a link consumes nothing and does not fail by itself.
  assert.equal(codeOf(() => verifyItemRules('pack', 'products', [['MATCH', '*', 'WITH', 'PRODUCTS', 'FROM', 'nope'], ['DISALLOW', 'new.tar']], links)), 'RULE_VIOLATION');
  // The implicit final ALLOW *.
  verifyItemRules('pack', 'products', [], links);
});

test('MATCH with source and destination prefixes: globs never apply to the prefix', () => {
  const links = new Map<string, RuleLink>([
    ['build', { materials: { 'src/a.c': H('1'), 'src/sub/b.c': H('2') }, products: {} }],
    ['check', { materials: {}, products: { 'unpacked/src/a.c': H('1'), 'unpacked/src/sub/b.c': H('2'), 'unpacked/x': H('3') } }],
  ]);
  verifyItemRules('check', 'products', [['MATCH', '*', 'IN', 'unpacked/src', 'WITH', 'MATERIALS', 'IN', 'src', 'FROM', 'build'], ['ALLOW', 'unpacked/x'], ['DISALLOW', '*']], links);
  verifyItemRules('check', 'products', [['MATCH', 'src/*', 'IN', 'unpacked/', 'WITH', 'MATERIALS', 'FROM', 'build'], ['ALLOW', 'unpacked/x'], ['DISALLOW', '*']], links);
  // The pattern is matched against the path with the prefix removed: 'unpacked/*' does not match.
  assert.equal(codeOf(() => verifyItemRules('check', 'products', [['MATCH', 'unpacked/*', 'IN', 'unpacked', 'WITH', 'MATERIALS', 'FROM', 'build'], ['DISALLOW', 'unpacked/src/*']], links)), 'RULE_VIOLATION');
});

test('hash objects compare whole: sha256+sha512 against sha256 alone does not MATCH', () => {
  const links = new Map<string, RuleLink>([
    ['a', { materials: {}, products: { f: { sha256: '1'.repeat(64), sha512: '2'.repeat(128) } } }],
    ['b', { materials: { f: { sha256: '1'.repeat(64) } }, products: {} }],
  ]);
  assert.equal(codeOf(() => verifyItemRules('b', 'materials', [['MATCH', 'f', 'WITH', 'PRODUCTS', 'FROM', 'a'], ['DISALLOW', '*']], links)), 'RULE_VIOLATION');
});

test('rule verification agrees with python-in-toto verify_item_rules on random links and rules', () => {
  const { cases } = JSON.parse(readFileSync(new URL('../../../test/fixtures/intoto/rule-vectors.json', import.meta.url), 'utf8')) as {
    cases: { links: Record<string, RuleLink>; rules: string[][]; source: 'materials' | 'products'; fails: string | null }[];
  };
  assert.ok(cases.length >= 800);
  const wrong: unknown[] = [];
  for (const c of cases) {
    let got: string | null = null;
    try {
      verifyItemRules('two', c.source, c.rules, new Map(Object.entries(c.links)));
    } catch (e) {
      if (!(e instanceof IntotoError) || e.code !== 'RULE_VIOLATION') throw e;
      got = String(e.details?.rule);
    }
    if (got !== c.fails) wrong.push({ ...c, got });
  }
  assert.deepEqual(wrong.slice(0, 3), []);
});
