/**
 * The monitor against the real transparency log service (startStack with ['log']): reading
 * through the log's tlog-tiles API, policy alerts on real entries, and witnessing — the
 * cosignature the monitor posts comes back on the log's /checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FixedClock, LocalSigner, LocalVerifier, PublicKey, generateKey, loadConfig, toPem } from '@cairn/shared';
import { parseSignedNote, verifyCosignature } from '@cairn/shared/checkpoint';
import { startStack } from '@cairn/host';
import { runOnce, type MonitorOptions } from '@cairn/monitor';
import { parsePolicy } from '@cairn/monitor';
import { loadState } from '@cairn/monitor';
import { HttpTlogReader } from '@cairn/monitor';
import { witnessVkey } from '@cairn/log/witness';
import { tempDir } from './helpers/cli.ts';
import { OID_SOURCE_REPO, makeCert } from './monitor-fixture.ts';

const ISSUER = 'https://issuer.example';
const REPO = 'https://github.com/acme/app';

function newKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/** A valid Rekor v1 hashedrekord proposal: the signature verifies over the artifact digest. */
function proposal(key: KeyObject, pem: string): unknown {
  const artifact = randomBytes(64);
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } },
      signature: { content: sign('sha256', artifact, key).toString('base64'), publicKey: { content: Buffer.from(pem).toString('base64') } },
    },
  };
}

test('the monitor reads, checks and witnesses the real log service', async () => {
  const dir = tempDir('cairn-monitor-log-');
  const witness = new LocalSigner(generateKey('ed25519'));
  const config = loadConfig({ overrides: { port: 0, dataDir: join(dir, 'data'), logLevel: 'silent' } });
  config.sections.log = { witnesses: [witnessVkey('witness.test/w1', witness.publicKey)], batchMaxDelayMs: 25 };
  const stack = await startStack(config, { components: ['log'] });
  try {
    const url = stack.url;
    const post = async (body: unknown): Promise<number> => {
      const r = await fetch(`${url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await r.text();
      assert.equal(r.status, 201, text);
      return Object.values(JSON.parse(text) as Record<string, { logIndex: number }>)[0]!.logIndex;
    };
    const goodKey = newKey();
    const goodPem = toPem('CERTIFICATE', makeCert({ subject: 'https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main', issuer: ISSUER, extensions: { [OID_SOURCE_REPO]: REPO } }, goodKey));
    const evilKey = newKey();
    const evilPem = toPem('CERTIFICATE', makeCert({ subject: 'https://github.com/evil/app/.github/workflows/ci.yml@refs/heads/main', issuer: ISSUER, extensions: { [OID_SOURCE_REPO]: REPO } }, evilKey));
    const allowedKey = newKey();
    const allowedKeyPem = PublicKey.fromSpki(new LocalSigner(allowedKey).publicKey.spki).toPem();
    const expectedBad: number[] = [];
    // 300 entries (two entry bundles), posted 30 at a time so batches fill up.
    for (let chunk = 0; chunk < 10; chunk++) {
      await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const which = i % 3;
          const idx = await post(which === 0 ? proposal(goodKey, goodPem) : which === 1 ? proposal(allowedKey, allowedKeyPem) : proposal(evilKey, evilPem));
          if (which === 2) expectedBad.push(idx);
        }),
      );
    }
    const logKeyPem = await (await fetch(`${url}/api/v1/log/publicKey`)).text();
    const policy = parsePolicy(`identities:\n  - issuer: ${ISSUER}\n    subject: { glob: "https://github.com/acme/*" }\nkeys:\n  - |\n${allowedKeyPem.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
    const statePath = join(dir, 'state.json');
    writeFileSync(join(dir, 'log.pub'), logKeyPem);
    const opts = (): MonitorOptions => ({
      logUrl: url,
      reader: new HttpTlogReader(url),
      statePath,
      policy,
      logKey: PublicKey.fromPem(logKeyPem),
      clock: new FixedClock(Date.now()),
      witness: { name: 'witness.test/w1', signer: witness },
    });
    const r = await runOnce(opts());
    assert.equal(r.outcome, 'identity-alert');
    assert.equal(r.entriesChecked, 300);
    assert.deepEqual(r.alerts.map((a) => a.index).sort((a, b) => a! - b!), expectedBad.sort((a, b) => a - b));
    assert.equal(r.cosigned, true, r.witnessError);
    assert.equal(loadState(statePath)?.size, 300);

    // The log now serves its checkpoint with our cosignature, which verifies.
    const served = parseSignedNote(await (await fetch(`${url}/checkpoint`)).text());
    const co = served.signatures.find((s) => s.name === 'witness.test/w1');
    assert.ok(co, 'cosignature served');
    assert.equal(verifyCosignature(served.text, co, 'witness.test/w1', new LocalVerifier(witness.publicKey)).ok, true);

    // More entries: the consistency proof comes from the log's real tiles.
    await Promise.all(Array.from({ length: 20 }, () => post(proposal(goodKey, goodPem))));
    const r2 = await runOnce(opts());
    assert.equal(r2.outcome, 'ok');
    assert.equal(r2.previous?.size, 300);
    assert.equal(r2.entriesChecked, 20);
    assert.equal(loadState(statePath)?.size, 320);
  } finally {
    await stack.close();
  }
});
