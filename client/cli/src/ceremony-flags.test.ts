import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('cairn ca init --help names the curve the command really uses by default (P-384), cairn tsa init --help its own (P-256)', async () => {
  for (const [cmd, curve, named] of [['ca', 'p384', 'secp384r1'], ['tsa', 'p256', 'prime256v1']] as const) {
    let out = '';
    const help = { ...io(), stdout: (t: string) => void (out += t) };
    assert.equal(await main([cmd, 'init', '--help'], help), 0);
    assert.match(out, new RegExp(`--curve p256\\|p384 +key curve[^\\n]*\\(default ${curve}\\b`), out);
    const dir = mkdtempSync(join(tmpdir(), `cairn-${cmd}-curve-`));
    try {
      assert.equal(await main([cmd, 'init', '--dir', join(dir, 'k')], io()), 0);
      const cert = new X509Certificate(readFileSync(join(dir, 'k', 'root.crt.pem')));
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, named, `${cmd} init without --curve makes ${curve} keys`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
