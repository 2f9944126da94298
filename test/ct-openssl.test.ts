/**
 * OpenSSL as an independent reader of our SCT list encoding: `openssl x509 -text` parses the
 * embedded SignedCertificateTimestampList (o2i_SCT_LIST, strict on every length) and prints the
 * log ID, timestamp and signature it found. Skipped when no openssl binary is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry, silentLogger, systemClock } from '@cairn/shared';
import { encodeSctList, parseDigitallySigned } from '@cairn/shared/sct';
import { EngineCtLog } from '@cairn/ct';
import { makeIntermediate, makeRoot, precertWithFinal } from './ct-fixtures.ts';

const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const hasOpenssl = openssl.status === 0;

function colonHex(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

test('openssl x509 -text reads the SCT list of a Cairn-logged certificate', { skip: !hasOpenssl && 'openssl not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ct-openssl-'));
  const log = await EngineCtLog.open({ dataDir: dir, clock: systemClock, logger: silentLogger, metrics: new MetricsRegistry() });
  try {
    const root = makeRoot();
    const int = makeIntermediate(root);
    log.addRoot(root.der);
    const p = precertWithFinal(int);
    const sct = await log.addPreChain([p.precert, int.der, root.der]);
    const final = p.finalWith(encodeSctList([sct]));
    const r = spawnSync('openssl', ['x509', '-inform', 'DER', '-noout', '-text'], { input: final, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const text = r.stdout.replace(/\s+/g, ' ');
    assert.match(text, /CT Precertificate SCTs: Signed Certificate Timestamp: Version : v1 \(0x0\)/);
    // Log ID, extensions, algorithm and signature bytes as OpenSSL decoded them.
    const m = /Log ID : ([0-9A-F: ]+?) Timestamp : (.+?) GMT Extensions: none Signature : ecdsa-with-SHA256 ([0-9A-F: ]+?)(?: Signature Algorithm| X509v3|$)/.exec(text);
    assert.ok(m, text);
    assert.equal(m[1]!.replace(/ /g, ''), colonHex(sct.logId));
    assert.equal(m[3]!.replace(/ /g, ''), colonHex(parseDigitallySigned(sct.signature).signature));
    // OpenSSL prints "Mon DD HH:MM:SS.mmm YYYY": the millisecond timestamp survives the round trip.
    const d = new Date(sct.timestamp);
    assert.ok(m[2]!.includes(`${String(d.getUTCSeconds()).padStart(2, '0')}.${String(d.getUTCMilliseconds()).padStart(3, '0')} ${d.getUTCFullYear()}`), m[2]);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
