import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { FixedClock, LocalSigner, LocalVerifier, createLogger, generateKey } from '@cairn/shared';
import { cosignCheckpoint, formatCheckpoint, formatSignedNote, parseSignedNote, signNote, verifyCosignature, type NoteSignature } from '@cairn/shared/checkpoint';
import { errorHandler } from '@cairn/shared/http';
import { KEPT_CHECKPOINTS_PER_WITNESS, SqliteCosignatureStore, WITNESS_ROUTE, WitnessError, createWitnessRouter, parseWitnessKeys, witnessVkey } from './witness.ts';

const NOW = Date.parse('2026-03-01T00:00:00Z');
const logSigner = new LocalSigner(generateKey('ecdsa-p256'));
const w1 = new LocalSigner(generateKey('ed25519'));
const w2 = new LocalSigner(generateKey('ed25519'));

async function checkpoint(size: number, signer = logSigner): Promise<{ text: string; envelope: string }> {
  const text = formatCheckpoint({ origin: 'log.test', size, rootHash: Buffer.alloc(32, size % 256), extensions: [] });
  const sig = await signNote(text, 'log.test', signer);
  return { text, envelope: formatSignedNote({ text, signatures: [sig] }) };
}

function line(sig: NoteSignature): string {
  return `\u2014 ${sig.name} ${Buffer.concat([sig.keyHint, sig.signature]).toString('base64')}\n`;
}

function app(store: SqliteCosignatureStore): express.Express {
  const a = express();
  a.use(
    createWitnessRouter({
      store,
      witnesses: parseWitnessKeys([witnessVkey('w1.test', w1.publicKey), { name: 'w2.test', publicKey: w2.publicKey.toPem() }]),
      logKey: logSigner.publicKey,
      clock: new FixedClock(NOW),
    }),
  );
  a.use(errorHandler(createLogger({ level: 'silent' })));
  return a;
}

test('accepted cosignatures are served with exactly their checkpoint', async () => {
  const store = SqliteCosignatureStore.open(join(mkdtempSync(join(tmpdir(), 'witness-')), 'w.db'));
  const a = app(store);
  const cp = await checkpoint(10);
  const c1 = await cosignCheckpoint(cp.text, 'w1.test', w1, NOW / 1000 - 5);
  const c2 = await cosignCheckpoint(cp.text, 'w2.test', w2, NOW / 1000 - 3);
  for (const c of [c1, c2]) {
    const r = await request(a).post(WITNESS_ROUTE).send({ checkpoint: cp.envelope, cosignature: line(c) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body, { stored: true, treeSize: 10 });
  }
  const served = cp.envelope + store.lines(cp.envelope).join('');
  const note = parseSignedNote(served);
  assert.equal(note.signatures.length, 3);
  const parsed = note.signatures.find((s) => s.name === 'w1.test')!;
  assert.deepEqual(verifyCosignature(note.text, parsed, 'w1.test', new LocalVerifier(w1.publicKey)), { ok: true, timestamp: NOW / 1000 - 5 });
  // Another checkpoint has none; the bare note text finds the same lines as the envelope.
  assert.deepEqual(store.lines((await checkpoint(11)).envelope), []);
  assert.equal(store.lines(cp.text).length, 2);
  // A newer cosignature of the same checkpoint replaces the older one; an older one does not.
  const newer = await cosignCheckpoint(cp.text, 'w1.test', w1, NOW / 1000);
  assert.equal((await request(a).post(WITNESS_ROUTE).send({ checkpoint: cp.envelope, cosignature: line(newer) })).status, 201);
  const older = await cosignCheckpoint(cp.text, 'w1.test', w1, NOW / 1000 - 100);
  assert.equal((await request(a).post(WITNESS_ROUTE).send({ checkpoint: cp.envelope, cosignature: line(older) })).status, 201);
  assert.ok(store.lines(cp.text).includes(line(newer)));
  assert.equal(store.lines(cp.text).length, 2);
  store.close();
});

test('bad cosignature requests are refused with codes and store nothing', async () => {
  const store = SqliteCosignatureStore.open(':memory:');
  const a = app(store);
  const cp = await checkpoint(20);
  const good = await cosignCheckpoint(cp.text, 'w1.test', w1, NOW / 1000);
  const stranger = new LocalSigner(generateKey('ed25519'));
  const cases: [unknown, number, string][] = [
    [{ checkpoint: cp.envelope }, 400, 'INVALID_COSIGNATURE_REQUEST'],
    ['just a string', 400, 'INVALID_COSIGNATURE_REQUEST'],
    [{ checkpoint: 'not a note', cosignature: line(good) }, 400, 'INVALID_COSIGNATURE_REQUEST'],
    [{ checkpoint: cp.envelope, cosignature: 'garbage\n' }, 400, 'INVALID_COSIGNATURE_REQUEST'],
    [{ checkpoint: cp.envelope, cosignature: line(good) + line(good) }, 400, 'INVALID_COSIGNATURE_REQUEST'],
    // Checkpoint signed by some other log key.
    [{ checkpoint: (await checkpoint(20, new LocalSigner(generateKey('ecdsa-p256')))).envelope, cosignature: line(good) }, 400, 'UNVERIFIED_CHECKPOINT'],
    // Witness not in the allow-list; right name with a stranger's key.
    [{ checkpoint: cp.envelope, cosignature: line(await cosignCheckpoint(cp.text, 'w9.test', stranger, NOW / 1000)) }, 403, 'UNKNOWN_WITNESS'],
    [{ checkpoint: cp.envelope, cosignature: line(await cosignCheckpoint(cp.text, 'w1.test', stranger, NOW / 1000)) }, 403, 'UNKNOWN_WITNESS'],
    // Cosignature over another checkpoint.
    [{ checkpoint: cp.envelope, cosignature: line(await cosignCheckpoint((await checkpoint(21)).text, 'w1.test', w1, NOW / 1000)) }, 400, 'INVALID_COSIGNATURE'],
    [{ checkpoint: cp.envelope, cosignature: line(await cosignCheckpoint(cp.text, 'w1.test', w1, NOW / 1000 + 3600)) }, 400, 'COSIGNATURE_IN_FUTURE'],
  ];
  for (const [body, status, code] of cases) {
    const r = await request(a).post(WITNESS_ROUTE).set('content-type', 'application/json').send(JSON.stringify(body));
    assert.equal(r.status, status, `${code}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, code);
  }
  const big = await request(a).post(WITNESS_ROUTE).set('content-type', 'application/json').send(JSON.stringify({ checkpoint: 'x'.repeat(70_000), cosignature: '' }));
  assert.equal(big.status, 413);
  assert.deepEqual(store.lines(cp.text), []);
  store.close();
});

test('old checkpoints are pruned per witness', async () => {
  const store = SqliteCosignatureStore.open(':memory:');
  const first = await checkpoint(1);
  for (let size = 1; size <= KEPT_CHECKPOINTS_PER_WITNESS + 5; size++) {
    const cp = size === 1 ? first : await checkpoint(size);
    store.put(cp.text, size, await cosignCheckpoint(cp.text, 'w1.test', w1, 1000 + size), 1000 + size);
  }
  assert.deepEqual(store.lines(first.text), []);
  assert.equal(store.lines((await checkpoint(KEPT_CHECKPOINTS_PER_WITNESS + 5)).text).length, 1);
  store.close();
});

test('witness allow-list parsing', () => {
  const vkey = witnessVkey('w1.test', w1.publicKey);
  const [k] = parseWitnessKeys([vkey]);
  assert.equal(k?.name, 'w1.test');
  assert.ok(k?.publicKey.spki.equals(w1.publicKey.spki));
  assert.deepEqual(parseWitnessKeys(undefined), []);
  const code = (e: unknown) => e instanceof WitnessError && e.code === 'INVALID_WITNESS_CONFIG';
  assert.throws(() => parseWitnessKeys('x'), code);
  assert.throws(() => parseWitnessKeys(['nope']), code);
  assert.throws(() => parseWitnessKeys([vkey.replace('w1.test', 'w2.test')]), code); // key ID no longer matches
  assert.throws(() => parseWitnessKeys([{ name: 'w', publicKey: logSigner.publicKey.toPem() }]), code); // not Ed25519
  assert.throws(() => parseWitnessKeys([{ name: 'bad name', publicKey: w1.publicKey.toPem() }]), code);
  assert.throws(() => parseWitnessKeys([{ name: 'w' }]), code);
});
