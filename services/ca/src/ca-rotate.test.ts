import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock } from '@cairn/shared';
import { initCa, loadCa } from './ca-keys.ts';
import { rotateIntermediate } from './ca-rotate.ts';

test('rotate-intermediate: a new intermediate under the same root; the old pair retired; refusals change nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ca-rotate-'));
  try {
    const clock = new FixedClock(Date.parse('2026-06-01T00:00:00Z'));
    await initCa(dir, { curve: 'p256', passphrase: 'correct horse', clock });
    const old = loadCa(dir, 'correct horse');
    await assert.rejects(rotateIntermediate(dir, { passphrase: 'wrong one', clock }), { code: 'INVALID_CA_KEYS' });
    await assert.rejects(rotateIntermediate(dir, { passphrase: 'correct horse', intermediateValidityDays: 99_999, clock }), { code: 'INVALID_CONFIG' });
    renameSync(join(dir, 'root-key.pem'), join(dir, 'elsewhere.pem'));
    await assert.rejects(rotateIntermediate(dir, { passphrase: 'correct horse', clock }), { code: 'INVALID_CA_KEYS' });
    assert.equal(existsSync(join(dir, 'retired')), false, 'refused rotations change nothing');
    renameSync(join(dir, 'elsewhere.pem'), join(dir, 'root-key.pem'));

    clock.advance(86400_000);
    const r = await rotateIntermediate(dir, { passphrase: 'correct horse', clock });
    const now = loadCa(dir, 'correct horse');
    assert.notEqual(now.intermediate.fingerprint256, old.intermediate.fingerprint256);
    assert.ok(now.intermediate.checkIssued(now.root) && now.intermediate.verify(old.root.publicKey), 'issued by the same root');
    assert.equal(now.intermediate.subject, old.intermediate.subject);
    assert.equal(new Date(now.intermediate.validFrom).toISOString(), '2026-06-02T00:00:00.000Z');
    assert.deepEqual(readdirSync(join(dir, 'retired')).length, 2);
    assert.equal(new X509Certificate(readFileSync(r.retired[0]!)).fingerprint256, old.intermediate.fingerprint256);
    assert.equal(statSync(r.retired[1]!).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'intermediate-key.pem')).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
