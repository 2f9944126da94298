import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from './main.ts';
import type { CliIO } from './command.ts';

function io(): CliIO & { err: string } {
  const r = { err: '', env: {}, cwd: process.cwd(), stdout: () => undefined, stderr: (t: string) => void (r.err += t) };
  return r;
}

test('cairn ca and cairn tsa refuse the shared ceremony flags the same way (USAGE, exit 2), before writing anything', async () => {
  for (const cmd of [['ca', 'init'], ['ca', 'rotate-intermediate'], ['tsa', 'init']]) {
    const noDir = io();
    assert.equal(await main([...cmd], noDir), 2);
    assert.match(noDir.err, new RegExp(`error \\[USAGE\\]: cairn ${cmd.join(' ')} needs --dir D`));
    const badCurve = io();
    assert.equal(await main([...cmd, '--dir', '/nonexistent/cairn-ceremony', '--curve', 'p521'], badCurve), 2);
    assert.match(badCurve.err, /error \[USAGE\]: --curve must be p256 or p384/);
    const badDays = io();
    assert.equal(await main([...cmd, '--dir', '/nonexistent/cairn-ceremony', '--root-days', '0'], badDays), 2);
    assert.match(badDays.err, /error \[USAGE\]/);
    const unknown = io();
    assert.equal(await main([...cmd, '--dir', '/x', '--frobnicate'], unknown), 2);
  }
});
