import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LocalSigner, LocalVerifier, PublicKey, generateKey } from './crypto.ts';
import {
  CheckpointError,
  MAX_NOTE_BYTES,
  cosignCheckpoint,
  cosignatureKeyId,
  formatCheckpoint,
  formatSignedNote,
  noteKeyId,
  openCheckpoint,
  parseCheckpoint,
  parseSignedNote,
  signNote,
  verifyCosignature,
  verifyNoteSignature,
  type Checkpoint,
} from './checkpoint.ts';

const CONFORMANCE = new URL('../../test/vectors/conformance', import.meta.url).pathname;
const code = (c: string) => (e: unknown) => e instanceof CheckpointError && e.code === c;

interface TlogKey {
  baseUrl: string;
  publicKey: { rawBytes: string };
  logId: { keyId: string };
}

function envelopeOf(caseName: string): string {
  const b = JSON.parse(readFileSync(`${CONFORMANCE}/bundle-verify/${caseName}/bundle.sigstore.json`, 'utf8'));
  return b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope as string;
}

function tlogs(path: string): TlogKey[] {
  return (JSON.parse(readFileSync(path, 'utf8')) as { tlogs: TlogKey[] }).tlogs;
}

function keyOf(t: TlogKey): PublicKey {
  return PublicKey.fromSpki(Buffer.from(t.publicKey.rawBytes, 'base64'));
}

const ROOT = Buffer.alloc(32, 0xab);

test('checkpoint text round-trips, with and without extensions', () => {
  const cp: Checkpoint = { origin: 'cairn.example/log', size: 1234, rootHash: ROOT, extensions: ['Timestamp: 1', 'x y z'] };
  const text = formatCheckpoint(cp);
  assert.equal(text, `cairn.example/log\n1234\n${ROOT.toString('base64')}\nTimestamp: 1\nx y z\n`);
  assert.deepEqual(parseCheckpoint(text), cp);
  const bare = { ...cp, size: 0, extensions: [] };
  assert.deepEqual(parseCheckpoint(formatCheckpoint(bare)), bare);
});

test('a real Rekor v1 checkpoint parses and verifies with the production log key', () => {
  const env = envelopeOf('happy-path-v0.3');
  const note = parseSignedNote(env);
  const cp = parseCheckpoint(note.text);
  assert.equal(cp.origin, 'rekor.sigstore.dev - 2605736670972794746');
  assert.equal(cp.size, 75408393);
  assert.equal(cp.rootHash.toString('base64'), 'Fnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=');
  assert.equal(note.signatures.length, 1);
  const tlog = tlogs(`${CONFORMANCE}/production_trusted_root.json`).find((t) => t.baseUrl === 'https://rekor.sigstore.dev')!;
  const key = keyOf(tlog);
  // ECDSA note key ID = SHA-256(SPKI) = the Rekor v1 log ID.
  assert.equal(noteKeyId('rekor.sigstore.dev', key).toString('base64'), tlog.logId.keyId);
  const verifier = new LocalVerifier(key);
  assert.ok(verifyNoteSignature(note, 'rekor.sigstore.dev', verifier));
  assert.equal(openCheckpoint(env, 'rekor.sigstore.dev', verifier).checkpoint.size, 75408393);
  // Round trip to the same bytes.
  assert.equal(formatSignedNote(note), env);
  // Wrong name, tampered text, or the other log's key do not verify.
  assert.equal(verifyNoteSignature(note, 'rekor.sigstore.devx', verifier, noteKeyId('rekor.sigstore.dev', key)), false);
  assert.equal(verifyNoteSignature({ ...note, text: note.text.replace('75408393', '75408394') }, 'rekor.sigstore.dev', verifier), false);
  const other = tlogs(`${CONFORMANCE}/production_trusted_root.json`).find((t) => t.baseUrl !== 'https://rekor.sigstore.dev')!;
  assert.equal(verifyNoteSignature(note, 'rekor.sigstore.dev', new LocalVerifier(keyOf(other)), noteKeyId('rekor.sigstore.dev', key)), false);
});

test('a real Rekor v2 checkpoint with a witness cosignature parses and verifies (Ed25519 key ID rule)', () => {
  const env = envelopeOf('rekor2-checkpoint-cosigned');
  const note = parseSignedNote(env);
  const cp = parseCheckpoint(note.text);
  assert.equal(cp.origin, 'log2025-alpha1.rekor.sigstage.dev');
  assert.equal(cp.size, 736);
  assert.equal(note.signatures.length, 2);
  const tlog = tlogs(`${CONFORMANCE}/bundle-verify/rekor2-checkpoint-cosigned/trusted_root.json`).find((t) => t.baseUrl.includes('log2025-alpha1'))!;
  const key = keyOf(tlog);
  const name = 'log2025-alpha1.rekor.sigstage.dev';
  assert.equal(noteKeyId(name, key).toString('base64'), tlog.logId.keyId);
  const verifier = new LocalVerifier(key);
  assert.ok(verifyNoteSignature(note, name, verifier));
  assert.equal(formatSignedNote(note), env);
  // The witness line is a well-formed timestamped cosignature by an unknown key.
  const witness = note.signatures[1]!;
  assert.equal(witness.name, 'witness.example');
  assert.equal(witness.signature.length, 72);
  const unknown = new LocalVerifier(new LocalSigner(generateKey('ed25519')).publicKey);
  const r = verifyCosignature(note.text, witness, 'witness.example', unknown);
  assert.equal(r.ok, false);
  assert.equal(r.timestamp, Number(witness.signature.readBigUInt64BE(0)));
  assert.ok(r.timestamp > 1_700_000_000 && r.timestamp < 2_000_000_000);
});

test('conformance checkpoints that must fail do fail', () => {
  assert.throws(() => parseSignedNote(envelopeOf('rekor2-checkpoint-missing-log-signature_fail')), code('MALFORMED_NOTE'));
  for (const c of ['rekor2-checkpoint-missing-origin_fail', 'rekor2-checkpoint-missing-root-hash_fail', 'rekor2-checkpoint-missing-size_fail']) {
    const note = parseSignedNote(envelopeOf(c));
    assert.throws(() => parseCheckpoint(note.text), code('INVALID_CHECKPOINT'), c);
  }
  const prod = tlogs(`${CONFORMANCE}/production_trusted_root.json`).find((t) => t.baseUrl === 'https://rekor.sigstore.dev')!;
  const env = envelopeOf('invalid-checkpoint-signature_fail');
  assert.deepEqual(parseCheckpoint(parseSignedNote(env).text).extensions, ['Timestamp: 1689177396617352539']);
  assert.throws(() => openCheckpoint(env, 'rekor.sigstore.dev', new LocalVerifier(keyOf(prod))), code('UNVERIFIED_NOTE'));
  // The name on the line differs from the log's, so the staging key finds nothing to verify.
  const staging = tlogs(`${CONFORMANCE}/bundle-verify/rekor2-checkpoint-cosigned/trusted_root.json`).find((t) => t.baseUrl.includes('log2025-alpha1'))!;
  const mismatch = parseSignedNote(envelopeOf('rekor2-checkpoint-no-matching-signature_fail'));
  assert.equal(verifyNoteSignature(mismatch, 'log2025-alpha1.rekor.sigstage.dev', new LocalVerifier(keyOf(staging))), false);
});

for (const type of ['ecdsa-p256', 'ed25519', 'rsa-2048'] as const) {
  test(`sign and verify a checkpoint note with ${type}`, async () => {
    const signer = new LocalSigner(generateKey(type));
    const verifier = new LocalVerifier(signer.publicKey);
    const text = formatCheckpoint({ origin: 'cairn.test', size: 42, rootHash: ROOT, extensions: [] });
    const sig = await signNote(text, 'cairn.test', signer);
    assert.deepEqual(sig.keyHint, noteKeyId('cairn.test', signer.publicKey).subarray(0, 4));
    const env = formatSignedNote({ text, signatures: [sig] });
    const note = parseSignedNote(env);
    assert.ok(verifyNoteSignature(note, 'cairn.test', verifier));
    assert.equal(openCheckpoint(env, 'cairn.test', verifier).checkpoint.size, 42);
    const otherVerifier = new LocalVerifier(new LocalSigner(generateKey(type)).publicKey);
    assert.equal(verifyNoteSignature(note, 'cairn.test', otherVerifier, sig.keyHint), false);
    assert.throws(() => openCheckpoint(env.replace('\n42\n', '\n43\n'), 'cairn.test', verifier), code('UNVERIFIED_NOTE'));
  });
}

test('Ed25519 note key ID follows signed-note: SHA-256(name || 0x0A || 0x01 || key)', () => {
  const key = new LocalSigner(generateKey('ed25519')).publicKey;
  const raw = key.spki.subarray(12);
  const expect = (type: number) => createHash('sha256').update(Buffer.concat([Buffer.from('w.example'), Buffer.from([0x0a, type]), raw])).digest();
  assert.deepEqual(noteKeyId('w.example', key), expect(0x01));
  assert.deepEqual(cosignatureKeyId('w.example', key), expect(0x04));
  assert.throws(() => cosignatureKeyId('w.example', new LocalSigner(generateKey('ecdsa-p256')).publicKey), code('UNSUPPORTED_KEY'));
  assert.throws(() => noteKeyId('bad name', key), code('INVALID_KEY_NAME'));
  assert.throws(() => noteKeyId('bad+name', key), code('INVALID_KEY_NAME'));
  assert.throws(() => noteKeyId('', key), code('INVALID_KEY_NAME'));
});

test('witness cosignatures round-trip, carry their timestamp and fail when tampered', async () => {
  const log = new LocalSigner(generateKey('ecdsa-p256'));
  const witness = new LocalSigner(generateKey('ed25519'));
  const wv = new LocalVerifier(witness.publicKey);
  const text = formatCheckpoint({ origin: 'cairn.test', size: 7, rootHash: ROOT, extensions: ['ext'] });
  const logSig = await signNote(text, 'cairn.test', log);
  const co = await cosignCheckpoint(text, 'witness.test/w1', witness, 1_700_000_123);
  assert.equal(co.signature.length, 72);
  // The signed message is exactly cosignature/v1, the time line and the whole checkpoint text.
  const msg = Buffer.from(`cosignature/v1\ntime 1700000123\n${text}`);
  assert.ok(wv.verify(msg, co.signature.subarray(8)));
  const env = formatSignedNote({ text, signatures: [logSig, co] });
  const note = parseSignedNote(env);
  const parsedCo = note.signatures.find((s) => s.name === 'witness.test/w1')!;
  assert.deepEqual(verifyCosignature(note.text, parsedCo, 'witness.test/w1', wv), { ok: true, timestamp: 1_700_000_123 });
  // The log signature still verifies next to the cosignature.
  assert.ok(verifyNoteSignature(note, 'cairn.test', new LocalVerifier(log.publicKey)));
  // Tampered timestamp, other name, other text: not ok.
  const bumped = Buffer.from(parsedCo.signature);
  bumped[7] = bumped[7]! ^ 1;
  assert.equal(verifyCosignature(note.text, { ...parsedCo, signature: bumped }, 'witness.test/w1', wv).ok, false);
  assert.equal(verifyCosignature(note.text, parsedCo, 'witness.test/w2', wv).ok, false);
  assert.equal(verifyCosignature(note.text.replace('\n7\n', '\n8\n'), parsedCo, 'witness.test/w1', wv).ok, false);
  assert.equal(verifyCosignature(note.text, { ...parsedCo, signature: parsedCo.signature.subarray(1) }, 'witness.test/w1', wv).ok, false);
  // Only Ed25519 cosigns; only checkpoints are cosigned; timestamps are whole non-negative seconds.
  await assert.rejects(cosignCheckpoint(text, 'w', log, 1), code('UNSUPPORTED_KEY'));
  await assert.rejects(cosignCheckpoint('hello\n', 'w', witness, 1), code('INVALID_CHECKPOINT'));
  await assert.rejects(cosignCheckpoint(text, 'w', witness, -1), code('INVALID_CHECKPOINT'));
  await assert.rejects(cosignCheckpoint(text, 'w', witness, 1.5), code('INVALID_CHECKPOINT'));
});

test('malformed signed notes are rejected with stable codes', () => {
  const text = formatCheckpoint({ origin: 'o', size: 1, rootHash: ROOT, extensions: [] });
  const line = `\u2014 o ${Buffer.alloc(40, 1).toString('base64')}\n`;
  assert.equal(parseSignedNote(`${text}\n${line}`).signatures.length, 1);
  const bad: [string, string][] = [
    [`${text}${line}`, 'MALFORMED_NOTE'], // no blank line
    [`${text}\n`, 'MALFORMED_NOTE'], // no signatures
    [`${text}\n${line.slice(0, -1)}`, 'MALFORMED_NOTE'], // last line without newline
    [`${text}\n- o ${Buffer.alloc(40).toString('base64')}\n`, 'MALFORMED_NOTE'], // hyphen, not em dash
    [`${text}\n\u2014 o  ${Buffer.alloc(40).toString('base64')}\n`, 'MALFORMED_NOTE'], // two spaces
    [`${text}\n\u2014 o+x ${Buffer.alloc(40).toString('base64')}\n`, 'MALFORMED_NOTE'], // + in name
    [`${text}\n\u2014 o AAAA\n`, 'MALFORMED_NOTE'], // 3 bytes: no room for hint + signature
    [`${text}\n\u2014 o AAAAAAAA*\n`, 'MALFORMED_NOTE'], // not base64
    [`${text}\n\u2014 o AAAAAAA\n`, 'MALFORMED_NOTE'], // unpadded
    [`${text}\n\u2014 o -_AAAAAA\n`, 'MALFORMED_NOTE'], // URL-safe alphabet
    [`${text.replace('o\n', 'o\t\n')}\n${line}`, 'MALFORMED_NOTE'], // control character
    [`${text.replace('o\n', 'o\ud800\n')}\n${line}`, 'MALFORMED_NOTE'], // lone surrogate
    [`${text}\n${line.repeat(101)}`, 'NOTE_TOO_LARGE'],
    [`${'a'.repeat(MAX_NOTE_BYTES)}\n\n${line}`, 'NOTE_TOO_LARGE'],
  ];
  for (const [env, c] of bad) assert.throws(() => parseSignedNote(env), code(c), JSON.stringify(env.slice(0, 80)));
  // Unknown keys' lines are tolerated.
  const many = parseSignedNote(`${text}\n${line}\u2014 someone.else ${Buffer.alloc(70, 2).toString('base64')}\n`);
  assert.equal(many.signatures.length, 2);
});

test('malformed checkpoint texts are rejected with INVALID_CHECKPOINT', () => {
  const root = ROOT.toString('base64');
  const bad = [
    `o\n1\n`,
    `\n1\n${root}\n`,
    `o\n01\n${root}\n`,
    `o\n-1\n${root}\n`,
    `o\n1.0\n${root}\n`,
    `o\n 1\n${root}\n`,
    `o\n99999999999999999\n${root}\n`,
    `o\n1\n${root.slice(0, -4)}\n`,
    `o\n1\n${Buffer.alloc(33).toString('base64')}\n`,
    `o\n1\n${root.replace(/=$/, '')}\n`,
    `o\n1\n${root}\n\nx\n`,
    `o\n1\n${root}\n${'e\n'.repeat(65)}`,
  ];
  for (const t of bad) assert.throws(() => parseCheckpoint(t), code('INVALID_CHECKPOINT'), JSON.stringify(t));
  assert.throws(() => parseCheckpoint(`o\n1\n${root}`), code('MALFORMED_NOTE'));
  assert.throws(() => parseCheckpoint(''), code('MALFORMED_NOTE'));
  assert.throws(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: ROOT, extensions: [] }), code('INVALID_CHECKPOINT'));
  assert.throws(() => formatCheckpoint({ origin: 'a', size: -1, rootHash: ROOT, extensions: [] }), code('INVALID_CHECKPOINT'));
  assert.throws(() => formatCheckpoint({ origin: 'a', size: 1, rootHash: Buffer.alloc(31), extensions: [] }), code('INVALID_CHECKPOINT'));
  assert.throws(() => formatCheckpoint({ origin: 'a', size: 1, rootHash: ROOT, extensions: [''] }), code('INVALID_CHECKPOINT'));
  assert.throws(() => formatSignedNote({ text: 'x\n', signatures: [] }), code('MALFORMED_NOTE'));
  assert.throws(() => formatSignedNote({ text: 'x', signatures: [{ name: 'n', keyHint: Buffer.alloc(4), signature: Buffer.alloc(1) }] }), code('MALFORMED_NOTE'));
});
