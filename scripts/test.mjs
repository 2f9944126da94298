#!/usr/bin/env node
// Runs every *.test.ts in the repository with node's test runner (TypeScript through tsx).
// Arguments narrow the set: `node scripts/test.mjs log merkle` runs files whose path contains
// "log" or "merkle". Soak suites (*.soak.test.ts) run only with CAIRN_SOAK=1.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const skipDirs = new Set(['node_modules', '.git', 'dist', '.cairn', 'coverage']);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
})(root);
const soak = process.env.CAIRN_SOAK === '1';
const filters = process.argv.slice(2);
const selected = files
  .filter((f) => soak === f.endsWith('.soak.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (selected.length === 0) {
  console.error('no test files selected');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...selected],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
