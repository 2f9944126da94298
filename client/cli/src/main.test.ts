/**
 * One command table: every command `cairn --help` lists loads its module and answers `--help`
 * with its own usage, and its help line is the module's own summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from './main.ts';
import type { CliIO } from './command.ts';

function io(): CliIO & { out: string; err: string } {
  const r = { out: '', err: '', env: {}, cwd: process.cwd(), stdout: (t: string) => void (r.out += t), stderr: (t: string) => void (r.err += t) };
  return r;
}

test('every listed command loads and prints its usage; an unknown one is refused with the list', async () => {
  const h = io();
  assert.equal(await main(['--help'], h), 0);
  const listed = [...h.out.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!);
  assert.ok(listed.length >= 19, `only ${listed.length} commands listed`);
  for (const name of listed) {
    const c = io();
    assert.equal(await main([name, '--help'], c), 0, `${name}: ${c.err}`);
    assert.match(c.out, /Usage: cairn /, name);
  }
  const u = io();
  assert.equal(await main(['no-such-command'], u), 2);
  assert.match(u.err, /unknown command 'no-such-command'/);
  assert.ok(listed.every((n) => u.err.includes(`  ${n} `)));
});
