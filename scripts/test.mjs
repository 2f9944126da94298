#!/usr/bin/env node
// Runs every *.test.ts in the repository with node's test runner (TypeScript through tsx).
// Arguments narrow the set: `node scripts/test.mjs log merkle` runs files whose path contains
// "log" or "merkle". Soak suites (*.soak.test.ts) run only with CAIRN_SOAK=1.
//
// Hangs. Every file and every test has a time limit (CAIRN_TEST_TIMEOUT_MS, default 5 minutes;
// the slowest file takes under a minute), so a hang fails in bounded time instead of stalling CI.
// Node 20's module-hooks thread (which tsx's loader runs on) can deadlock while a file is
// loading, rarely and at random (nodejs/node#50948 and its relatives): a file that times out is
// run once more, on its own, and only when nothing else failed. A real hang times out twice.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

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
const timeoutMs = Number(process.env.CAIRN_TEST_TIMEOUT_MS ?? 300_000);
const tapDir = mkdtempSync(join(tmpdir(), 'cairn-test-'));

/** Runs `list` with node's test runner; returns its exit status and the files that timed out whole. */
function runFiles(list, name) {
  const tap = join(tapDir, `${name}.tap`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      `--test-timeout=${timeoutMs}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...list,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  let text = '';
  try {
    text = readFileSync(tap, 'utf8');
  } catch {
    /* the runner died before writing: treated as a plain failure */
  }
  // Top-level entries are the files: `not ok N - /abs/path` then a YAML block indented by 2.
  const timedOut = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^not ok \d+ - (.+\.test\.ts)$/.exec(lines[i]);
    if (!m) continue;
    for (let j = i + 1; j < lines.length && lines[j].startsWith('  '); j++) {
      if (lines[j].trim() === "failureType: 'testTimeoutFailure'") timedOut.push(relative(root, m[1]));
    }
  }
  const failed = Number(/^# fail (\d+)$/m.exec(text)?.[1] ?? NaN);
  return { status: r.status ?? 1, timedOut, failed };
}

// Tests that spawn the `cairn` process run the built command: build it from the current sources.
const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

let result = runFiles(selected, 'all');
if (result.status !== 0 && result.failed === 0 && result.timedOut.length > 0) {
  console.error(`\n${result.timedOut.length} test file(s) timed out after ${timeoutMs} ms; running them once more: ${result.timedOut.join(', ')}`);
  result = runFiles(result.timedOut, 'retry');
}
rmSync(tapDir, { recursive: true, force: true });
process.exit(result.status);
