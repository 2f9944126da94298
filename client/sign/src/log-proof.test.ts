/**
 * `cairn log`/`cairn sign` check a Rekor v1 entry with `@cairn/verify`'s SET, inclusion and
 * checkpoint checks. What used to differ: the signing client accepted a checkpoint signed by the log
 * key under any name; now, as for a bundle, the signature must be under the log's name and the
 * origin must be that name (or "<name> - <tree id>"). The log here is a key made for the test and
 * a one-entry tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeOf as codeOfClass } from '../../../test/helpers/codes.ts';
import { SignError } from './errors.ts';
import { canonicalizeJcs, generateKey, LocalSigner } from '@cairn/shared';
import { leafHash } from '@cairn/shared/merkle';
import { formatCheckpoint, formatSignedNote, signNote } from '@cairn/shared/checkpoint';
import { verifyLogEntry } from './log-proof.ts';
import { logAuthorityForKey } from './log-keys.ts';
import type { LogEntry } from './rekor.ts';

const codeOf = codeOfClass(SignError);

const LOG_URL = 'https://log.example.internal';
const signer = new LocalSigner(generateKey('ecdsa-p256'));
const log = logAuthorityForKey(signer.publicKey, LOG_URL);

async function entry(noteName: string, origin: string): Promise<LogEntry> {
  const body = Buffer.from(JSON.stringify({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: {} }));
  const leaf = leafHash(body);
  const logID = signer.publicKey.keyId.toString('hex');
  const integratedTime = 1_700_000_000;
  const set = await signer.sign(Buffer.from(canonicalizeJcs({ body: body.toString('base64'), integratedTime, logID, logIndex: 0 }), 'utf8'));
  const text = formatCheckpoint({ origin, size: 1, rootHash: leaf, extensions: [] });
  const sig = await signNote(text, noteName, signer, signer.publicKey.keyId.subarray(0, 4));
  return {
    uuid: leaf.toString('hex'),
    body: body.toString('base64'),
    integratedTime,
    logID,
    logIndex: 0,
    verification: {
      signedEntryTimestamp: set.toString('base64'),
      inclusionProof: { logIndex: 0, treeSize: 1, rootHash: leaf.toString('hex'), hashes: [], checkpoint: formatSignedNote({ text, signatures: [sig] }) },
    },
  };
}


test('a checkpoint signed under the log name, origin "<name> - <tree id>", verifies', async () => {
  const v = verifyLogEntry(await entry('log.example.internal', 'log.example.internal - 42'), log);
  assert.equal(v.checkpoint.signer, 'log.example.internal');
  assert.equal(v.checkpoint.origin, 'log.example.internal - 42');
  assert.equal(v.inclusion.treeSize, 1);
});

test('the log key signing under another name, or an origin that is not the log, is CHECKPOINT_INVALID', async () => {
  const otherName = await entry('someone.else.example', 'someone.else.example - 42');
  const otherOrigin = await entry('log.example.internal', 'another.log - 42');
  assert.equal(codeOf(() => verifyLogEntry(otherName, log)), 'CHECKPOINT_INVALID');
  assert.equal(codeOf(() => verifyLogEntry(otherOrigin, log)), 'CHECKPOINT_INVALID');
  // The same entry checked as the log at another URL (another name) is refused too.
  assert.equal(codeOf(() => verifyLogEntry(otherName, logAuthorityForKey(signer.publicKey, 'https://log.example.internal'))), 'CHECKPOINT_INVALID');
  assert.equal(verifyLogEntry(otherName, logAuthorityForKey(signer.publicKey, 'https://someone.else.example')).checkpoint.signer, 'someone.else.example');
});
