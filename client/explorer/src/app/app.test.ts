/**
 * The explorer's in-browser checks, run under Node's WebCrypto against the server's own
 * implementations: RFC 6962 inclusion and consistency proofs from @cairn/shared/merkle for every
 * size up to 70 (and each proof with one hash flipped), checkpoints signed as the log signs them,
 * TUF canonical JSON, and the search box's classification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { consistencyProof, inclusionProof, leafHash as serverLeafHash, nodeHash as serverNodeHash, rootAt, type NodeReader } from '@cairn/shared/merkle';
import { leafHash, rootFromInclusionProof, verifyConsistency } from './merkle.ts';
import { parseCheckpoint, verifyCheckpoint } from './note.ts';
import { canonicalJson } from './tuf.ts';
import { classify } from './search.ts';
import { importSpki } from './webcrypto.ts';
import { equal } from './bytes.ts';

class Nodes implements NodeReader {
  constructor(private readonly leaves: Buffer[]) {}
  node(level: number, index: number): Buffer {
    if (level === 0) return this.leaves[index]!;
    return serverNodeHash(this.node(level - 1, 2 * index), this.node(level - 1, 2 * index + 1));
  }
}

const leaves = Array.from({ length: 70 }, (_, i) => serverLeafHash(Buffer.from(`leaf ${i}`)));
const flip = (b: Uint8Array): Uint8Array => {
  const c = Uint8Array.from(b);
  c[0]! ^= 1;
  return c;
};

test('leaf hashes match the server', async () => {
  assert.ok(equal(await leafHash(Buffer.from('leaf 3')), leaves[3]!));
});

test('inclusion proofs from the server verify, and fail with any hash changed', async () => {
  for (let size = 1; size <= 70; size += 3) {
    const nodes = new Nodes(leaves.slice(0, size));
    const root = rootAt(size, nodes);
    for (let i = 0; i < size; i += 2) {
      const proof = inclusionProof(i, size, nodes);
      assert.ok(equal(await rootFromInclusionProof(i, size, leaves[i]!, proof), root), `size ${size} index ${i}`);
      if (proof.length > 0) {
        const bad = proof.map((p, k) => (k === proof.length - 1 ? flip(p) : p));
        assert.ok(!equal(await rootFromInclusionProof(i, size, leaves[i]!, bad), root));
        await assert.rejects(rootFromInclusionProof(i, size, leaves[i]!, proof.slice(1)), /shorter/);
      }
    }
  }
  await assert.rejects(rootFromInclusionProof(5, 5, leaves[0]!, []), /outside/);
});

test('consistency proofs from the server verify, and fail for a wrong root or hash', async () => {
  for (let second = 1; second <= 70; second += 5) {
    const nodes = new Nodes(leaves.slice(0, second));
    const root2 = rootAt(second, nodes);
    for (let first = 1; first <= second; first += 3) {
      const root1 = rootAt(first, nodes);
      const proof = consistencyProof(first, second, nodes);
      assert.ok(await verifyConsistency(first, second, root1, root2, proof), `${first} -> ${second}`);
      assert.ok(!(await verifyConsistency(first, second, flip(root1), root2, proof)));
      if (proof.length > 0) assert.ok(!(await verifyConsistency(first, second, root1, root2, [flip(proof[0]!), ...proof.slice(1)])));
    }
  }
  assert.ok(!(await verifyConsistency(0, 3, leaves[0]!, leaves[0]!, [])));
});

test('checkpoints: a log signature under the log name verifies; another key, name or text does not', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const logId = new Uint8Array(await crypto.subtle.digest('SHA-256', spki));
  const text = `127.0.0.1:3000 - 42\n7\n${Buffer.alloc(32, 9).toString('base64')}\n`;
  const note = (name: string, body = text): string => {
    const sig = nodeSign('sha256', Buffer.from(body), privateKey);
    return `${body}\n\u2014 ${name} ${Buffer.concat([logId.subarray(0, 4), sig]).toString('base64')}\n`;
  };
  const log = { baseUrl: 'http://127.0.0.1:3000', logId, key: await importSpki(spki) };
  const { checkpoint, signer } = await verifyCheckpoint(note('127.0.0.1:3000'), log);
  assert.equal(signer, '127.0.0.1:3000');
  assert.equal(checkpoint.size, 7);
  await assert.rejects(verifyCheckpoint(note('other.example'), log), /no valid signature/);
  const tampered = note('127.0.0.1:3000').replace('\n7\n', '\n8\n');
  await assert.rejects(verifyCheckpoint(tampered, log), /no valid signature/);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  await assert.rejects(verifyCheckpoint(note('127.0.0.1:3000'), { ...log, key: await importSpki(other) }), /no valid signature/);
  await assert.rejects(verifyCheckpoint(note('127.0.0.1:3000', `elsewhere - 42\n7\n${Buffer.alloc(32, 9).toString('base64')}\n`), log), /origin/);
  assert.throws(() => parseCheckpoint('no signature block'), /signature block/);
  assert.throws(() => parseCheckpoint(`o\nx\n${Buffer.alloc(32).toString('base64')}\n\n`), /decimal/);
  assert.throws(() => parseCheckpoint(`o\n1\n${Buffer.alloc(31).toString('base64')}\n\n`), /32 bytes/);
});

test('TUF canonical JSON sorts keys, escapes only quote and backslash, and refuses floats', () => {
  assert.equal(canonicalJson({ b: [1, 'x"\\\n'], a: { d: null, c: true } }), '{"a":{"c":true,"d":null},"b":[1,"x\\"\\\\\n"]}');
  assert.throws(() => canonicalJson({ a: 1.5 }), /floats/);
});

test('the search box: each kind of query, and what cannot be searched', () => {
  assert.deepEqual(classify(' 12 '), { kind: 'index', index: 12 });
  assert.deepEqual(classify('A'.repeat(64)), { kind: 'hash', hash: `sha256:${'a'.repeat(64)}`, alsoUuid: true });
  assert.deepEqual(classify('b'.repeat(80)), { kind: 'uuid', uuid: 'b'.repeat(80) });
  assert.deepEqual(classify(`sha512:${'c'.repeat(128)}`), { kind: 'hash', hash: `sha512:${'c'.repeat(128)}`, alsoUuid: false });
  assert.deepEqual(classify('me@example.internal'), { kind: 'email', email: 'me@example.internal' });
  assert.deepEqual(classify('https://ci.example/p/1'), { kind: 'subject', subject: 'https://ci.example/p/1' });
  assert.equal(classify('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----').kind, 'publicKey');
  assert.throws(() => classify('   '), /type a digest/);
  assert.throws(() => classify('two words'), /no spaces/);
  assert.throws(() => classify('x'.repeat(9000)), /at most/);
  assert.throws(() => classify(`sha256:${'a'.repeat(63)}`), /sha256 digest is 64 hex digits/);
  assert.throws(() => classify(`sha384:${'a'.repeat(64)}`), /sha384 digest is 96 hex digits/);
});
