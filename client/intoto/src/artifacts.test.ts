import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntotoError } from './errors.ts';
import { normpath, recordArtifacts } from './artifacts.ts';
import { pythonJsonDumps } from './python-json.ts';

const REF = new URL('../../../test/fixtures/intoto/reference/final/', import.meta.url).pathname;

test('normpath behaves like os.path.normpath', () => {
  const cases: [string, string][] = [['./src', 'src'], ['src/', 'src'], ['a//b/./c', 'a/b/c'], ['a/../b', 'b'], ['../a', '../a'], ['.', '.'], ['', '.'], ['/x/../y', '/y'], ['a/..', '.']];
  for (const [i, o] of cases) assert.equal(normpath(i), o, i);
});

function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'cairn-intoto-rec-'));
  mkdirSync(join(d, 'src/sub'), { recursive: true });
  mkdirSync(join(d, '.git'));
  writeFileSync(join(d, 'src/a.c'), 'a');
  writeFileSync(join(d, 'src/sub/b.c'), 'b');
  writeFileSync(join(d, 'src/x.pyc'), 'x');
  writeFileSync(join(d, 'src/y.c~'), 'y');
  writeFileSync(join(d, 'step.1234abcd.link'), '{}');
  writeFileSync(join(d, '.git/HEAD'), 'ref');
  symlinkSync('a.c', join(d, 'src/link-to-a'));
  symlinkSync('missing', join(d, 'src/dangling'));
  symlinkSync('..', join(d, 'src/sub/loop'));
  return d;
}

test('recording walks directories with the default excludes, follows symlinks, skips dangling ones and loops', () => {
  const d = tree();
  const m = recordArtifacts(['.'], { basePath: d });
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  // src/sub/loop -> src is an ancestor: python's os.walk(followlinks=True) would recurse until the
  // OS refuses the path; a directory already on the walk's path is not entered again here.
  assert.deepEqual(Object.keys(m).sort(), ['src/a.c', 'src/link-to-a', 'src/sub/b.c']);
  assert.equal(m['src/a.c']!.sha256, sha('a'));
  assert.equal(m['src/link-to-a']!.sha256, sha('a'));
  // Explicit paths are normalised; missing paths are skipped; exclude patterns replace the defaults.
  // Walking from src/sub, the link to src is entered once (src is not on that walk's path), and
  // src/sub inside it is not entered again.
  assert.deepEqual(Object.keys(recordArtifacts(['./src/a.c', 'nope', 'src//sub/'], { basePath: d })).sort(), ['src/a.c', 'src/sub/b.c', 'src/sub/loop/a.c', 'src/sub/loop/link-to-a']);
  assert.deepEqual(Object.keys(recordArtifacts(['src'], { basePath: d, excludePatterns: ['sub', 'link-*', 'dangling'] })).sort(), ['src/a.c', 'src/x.pyc', 'src/y.c~']);
  // lstrip: prefixes are removed; prefixes that overlap or names that collide are errors.
  assert.deepEqual(Object.keys(recordArtifacts(['src/a.c', 'src/sub/b.c'], { basePath: d, lstripPaths: ['src/'] })).sort(), ['a.c', 'sub/b.c']);
  assert.throws(() => recordArtifacts(['src'], { basePath: d, lstripPaths: ['src/', 'src/sub/'] }), (e: unknown) => e instanceof IntotoError && e.code === 'PREFIX_CONFLICT');
  assert.throws(() => recordArtifacts(['src'], { basePath: d, maxArtifacts: 2 }), (e: unknown) => e instanceof IntotoError && e.code === 'TOO_MANY_ARTIFACTS');
});

test('metadata text is what python json.dumps(indent=1, sort_keys=True) writes, byte for byte', () => {
  for (const f of ['root.layout', 'build.ababde9a.link', 'scan.b775e0e9.link', 'sign.776b261e.link']) {
    const text = readFileSync(join(REF, f), 'utf8');
    assert.equal(pythonJsonDumps(JSON.parse(text), { indent: 1, sortKeys: true }), text, f);
  }
  assert.equal(pythonJsonDumps({ b: 'é\n"', a: [1, {}] }), '{"b": "\\u00e9\\n\\"", "a": [1, {}]}');
});
