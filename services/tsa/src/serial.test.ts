import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialCounter } from './serial.ts';
import { TsaError } from './errors.ts';

function dir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'cairn-serial-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('two counters on one state file (two processes on one data dir) never hand out the same serial', (t) => {
  const path = join(dir(t), 'serial.json');
  const a = SerialCounter.open(path, { block: 4 });
  const b = SerialCounter.open(path, { block: 4 });
  const seen = new Set<bigint>();
  const order = [a, a, b, a, b, b, b, b, a, a, a, a, a, b, a, b, b, b, b, b, b, a, a, a, a, a, a, b];
  for (const c of order) {
    const s = c.take();
    assert.ok(!seen.has(s), `serial ${s} handed out twice`);
    seen.add(s);
  }
  // A restart after both continues above everything either handed out.
  const max = [...seen].reduce((x, y) => (y > x ? y : x));
  assert.ok(SerialCounter.open(path, { block: 4 }).take() > max);
  assert.ok(!existsSync(`${path}.lock`), 'the lock is released');
});

test('a lock file left by a dead process is taken over once stale; a corrupt state file is SERIAL_STATE', (t) => {
  const d = dir(t);
  const path = join(d, 'serial.json');
  writeFileSync(`${path}.lock`, '');
  const old = new Date(Date.now() - 60_000);
  utimesSync(`${path}.lock`, old, old);
  assert.equal(SerialCounter.open(path, { block: 4 }).take(), 1n);
  writeFileSync(path, '{"reserved": "0x10"}');
  assert.throws(() => SerialCounter.open(path), (e: unknown) => e instanceof TsaError && e.code === 'SERIAL_STATE');
});
