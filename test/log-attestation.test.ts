/**
 * The log keeps the in-toto statement of attestation entries (dsse 0.0.1, intoto 0.0.2, Rekor v2
 * dsse 0.0.2) and returns it on v1 reads as Rekor's `attestation.data`, committed with its leaf,
 * on both stores and across a restart; other payload types and statements over the cap are
 * logged without one.
 */
import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import { join } from 'node:path';
import { PublicKey } from '@cairn/shared';
import { MAX_ATTESTATION_BYTES } from '@cairn/log';
import { storeTest } from '@cairn/log/test-stores';
import { b64, dsseEnvelope, intoto002 as intoto002Proposal, keyPair, post, startLog, type LogServer } from './log-helpers.ts';

function statement(note: string, pad = 0): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'app.tar', digest: { sha256: createHash('sha256').update(note).digest('hex') } }],
      predicateType: 'https://example.internal/test/v1',
      predicate: { note, pad: 'x'.repeat(pad) },
    }),
  );
}

async function read(log: LogServer, index: number): Promise<{ attestation?: { data: string } }> {
  const r = (await (await fetch(`${log.url}/api/v1/log/entries?logIndex=${index}`)).json()) as Record<string, { attestation?: { data: string } }>;
  return Object.values(r)[0]!;
}

async function dsse001(log: LogServer, payload: Buffer, k = keyPair(), type = 'application/vnd.in-toto+json'): Promise<number> {
  const env = dsseEnvelope(payload, k, type);
  const r = await post(`${log.url}/api/v1/log/entries`, { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: JSON.stringify(env), verifiers: [b64(k.pem)] } } });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return (Object.values(r.json)[0] as { logIndex: number }).logIndex;
}

async function intoto002(log: LogServer, payload: Buffer, k = keyPair()): Promise<number> {
  const r = await post(`${log.url}/api/v1/log/entries`, intoto002Proposal(payload, k));
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return (Object.values(r.json)[0] as { logIndex: number }).logIndex;
}

async function dsse002(log: LogServer, payload: Buffer, k = keyPair()): Promise<number> {
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload]);
  const r = await post(`${log.url}/api/v2/log/entries`, {
    dsseRequestV002: {
      envelope: { payload: payload.toString('base64'), payloadType: type, signatures: [{ sig: sign('sha256', pae, k.privateKey).toString('base64'), keyid: '' }] },
      verifiers: [{ publicKey: { rawBytes: PublicKey.fromPem(k.pem).spki.toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' }],
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return Number(r.json.logIndex);
}

storeTest('attestation entries keep their in-toto statement; other payloads and oversized ones keep none; kept across a restart', async (_t, s) => {
  const dataDir = join(s.dir, 'data');
  let log = await startLog(dataDir, {}, undefined, s.storeUrl);
  const expected = new Map<number, Buffer | undefined>();
  try {
    const a = statement('dsse 0.0.1');
    expected.set(await dsse001(log, a), a);
    const b = statement('intoto 0.0.2');
    expected.set(await intoto002(log, b), b);
    const c = statement('dsse 0.0.2 through Rekor v2');
    expected.set(await dsse002(log, c), c);
    // Not an in-toto statement: logged, nothing kept.
    expected.set(await dsse001(log, Buffer.from('plain text payload'), keyPair(), 'text/plain'), undefined);
    // Over the cap: logged and its subjects indexed, the statement not kept.
    const big = statement('too big', MAX_ATTESTATION_BYTES);
    assert.ok(big.length > MAX_ATTESTATION_BYTES);
    const bigIndex = await dsse001(log, big);
    expected.set(bigIndex, undefined);
    // Just at the cap: kept.
    const base = statement('at the cap').length;
    const atCap = statement('at the cap', MAX_ATTESTATION_BYTES - base);
    assert.equal(atCap.length, MAX_ATTESTATION_BYTES);
    expected.set(await dsse001(log, atCap), atCap);
    const check = async (): Promise<void> => {
      for (const [index, payload] of expected) {
        const e = await read(log, index);
        if (payload === undefined) assert.equal(e.attestation, undefined, `entry ${index} keeps no attestation`);
        else assert.deepEqual(Buffer.from(e.attestation!.data, 'base64'), payload, `entry ${index}`);
      }
    };
    await check();
    // The other read routes return it too.
    const first = [...expected.keys()][0]!;
    const byIndex = (await post(`${log.url}/api/v1/log/entries/retrieve`, { logIndexes: [first] })).json as Record<string, { attestation?: { data: string } }>[];
    assert.deepEqual(Buffer.from(Object.values(byIndex[0]!)[0]!.attestation!.data, 'base64'), expected.get(first));
    const hits = (await post(`${log.url}/api/v1/index/retrieve`, { hash: `sha256:${createHash('sha256').update('too big').digest('hex')}` })).json as string[];
    assert.equal(hits.length, 1, 'the oversized statement’s subject is still indexed');
    await log.stop(false);
    log = await startLog(dataDir, {}, undefined, s.storeUrl);
    await check();
  } finally {
    await log.stop();
  }
});
