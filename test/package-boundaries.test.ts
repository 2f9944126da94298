/**
 * The workspace packages follow the trust story, and their manifests say so: every import of a
 * package's source is declared in its package.json, nothing reaches into another package's files,
 * and the arrows run one way (cli -> client libraries -> shared; host -> services -> shared;
 * verify -> shared only; the admission webhook, a verifier, -> verify and oci).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

interface Workspace {
  name: string;
  dir: string;
  deps: Set<string>;
  devDeps: Set<string>;
}

const ROOT_PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { workspaces: string[] };

function workspaces(): Workspace[] {
  const dirs: string[] = [];
  for (const pattern of ROOT_PKG.workspaces) {
    if (pattern.endsWith('/*')) {
      const top = pattern.slice(0, -2);
      for (const d of readdirSync(join(REPO, top))) if (existsSync(join(REPO, top, d, 'package.json'))) dirs.push(join(top, d));
    } else dirs.push(pattern);
  }
  return dirs.map((dir) => {
    const m = JSON.parse(readFileSync(join(REPO, dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    return { name: m.name, dir, deps: new Set(Object.keys(m.dependencies ?? {})), devDeps: new Set(Object.keys(m.devDependencies ?? {})) };
  });
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  (function walk(d: string): void {
    for (const n of readdirSync(d)) {
      if (n === 'node_modules' || n === 'dist') continue;
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs)$/.test(n)) out.push(p);
    }
  })(join(REPO, dir));
  return out;
}

const SPEC_RE = /^(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function specifiers(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(SPEC_RE)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

function packageName(spec: string): string {
  return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
}

const ALL = workspaces();
const BY_NAME = new Map(ALL.map((w) => [w.name, w]));

test('the workspace holds the packages of the layout', () => {
  for (const name of ['@cairn/shared', '@cairn/verify', '@cairn/sign', '@cairn/trust', '@cairn/intoto', '@cairn/monitor', '@cairn/cli', '@cairn/host', '@cairn/ca', '@cairn/ct', '@cairn/log', '@cairn/oidc', '@cairn/tuf', '@cairn/tsa', '@cairn/oci', '@cairn/admission']) {
    assert.ok(BY_NAME.has(name), `missing workspace package ${name}`);
  }
});

test('every import in a package is declared in its package.json, and stays out of other packages’ files', () => {
  const problems: string[] = [];
  for (const w of ALL) {
    const root = join(REPO, w.dir) + sep;
    for (const f of sourceFiles(w.dir)) {
      const isTest = f.endsWith('.test.ts');
      for (const spec of specifiers(f)) {
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(f), spec);
          // Unit tests may read the repository's shared fixtures in test/; sources never leave.
          if (!target.startsWith(root) && !(isTest && target.startsWith(join(REPO, 'test') + sep))) {
            problems.push(`${relative(REPO, f)} reaches outside its package: ${spec}`);
          }
          continue;
        }
        if (/^@cairn\/[^/]+\/src(\/|$)/.test(spec)) problems.push(`${relative(REPO, f)} deep-imports ${spec}`);
        const pn = packageName(spec);
        if (pn === w.name) continue;
        const declared = w.deps.has(pn) || (isTest && w.devDeps.has(pn));
        if (!declared) problems.push(`${relative(REPO, f)} imports ${pn}, not in ${w.dir}/package.json ${isTest ? '(dev)' : ''}dependencies`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the arrows run one way', () => {
  const cairnDeps = (name: string): string[] => [...BY_NAME.get(name)!.deps].filter((d) => d.startsWith('@cairn/'));
  assert.deepEqual(cairnDeps('@cairn/shared'), [], '@cairn/shared depends on no other package');
  assert.deepEqual(cairnDeps('@cairn/verify'), ['@cairn/shared'], '@cairn/verify depends on @cairn/shared only');
  for (const w of ALL) {
    const deps = cairnDeps(w.name).map((d) => BY_NAME.get(d)!.dir);
    if (w.dir.startsWith('client/') && w.name !== '@cairn/cli') {
      for (const d of deps) assert.ok(!d.startsWith('services/'), `${w.name} (a client library) depends on the service ${d}`);
      for (const d of cairnDeps(w.name)) assert.notEqual(d, '@cairn/cli', `${w.name} depends on the CLI`);
    }
    if (w.dir.startsWith('services/') && w.name !== '@cairn/host') {
      // The admission webhook is a verifier: it may use the offline verifier and the registry
      // client (and nothing else of the client side: not the signer's CLI, not trust's TUF client).
      const allowed = w.name === '@cairn/admission' ? ['client/verify', 'client/oci'] : [];
      for (const d of deps) assert.ok(!d.startsWith('client/') || allowed.includes(d), `${w.name} (a service) depends on the client package ${d}`);
      assert.ok(!cairnDeps(w.name).includes('@cairn/host'), `${w.name} depends on the host`);
    }
  }
  // No cycles: walking the declared dependencies from any package never comes back to it.
  for (const w of ALL) {
    const stack = cairnDeps(w.name);
    const seen = new Set<string>();
    while (stack.length > 0) {
      const d = stack.pop()!;
      assert.notEqual(d, w.name, `${w.name} depends on itself through its dependencies`);
      if (seen.has(d)) continue;
      seen.add(d);
      stack.push(...cairnDeps(d));
    }
  }
});

test('no test or script deep-imports a package’s src/', () => {
  const problems: string[] = [];
  for (const f of [...sourceFiles('test'), ...sourceFiles('scripts')]) {
    for (const spec of specifiers(f)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(f), spec);
      if (/\/(client|services)\/[^/]+\/src\/|\/shared\/src\//.test(target)) problems.push(`${relative(REPO, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(problems, []);
});
