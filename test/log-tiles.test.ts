/**
 * The C2SP tlog-tiles read API over the same tree as Rekor v1/v2, read the way a monitor does:
 * checkpoint -> tiles -> root, entry bundles -> canonical bodies; witness cosignatures appear on
 * the tiles checkpoint only; an Ed25519 log takes v2 writes only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSigner, LocalVerifier, PublicKey, generateKey } from '@cairn/shared';
import { cosignCheckpoint, formatSignedNote, noteKeyId, parseCheckpoint, parseSignedNote, verifyNoteSignature } from '@cairn/shared/checkpoint';
import { leafHash, rootAt, verifyConsistency } from '@cairn/shared/merkle';
import { TileNodeReader, entriesPath, parseEntryBundle, pathOfTile, tilesForRoot } from '@cairn/shared/tiles';
import { witnessVkey, WITNESS_ROUTE } from '@cairn/log/witness';
import { hashedRekord, keyPair, post, startLog } from './log-helpers.ts';

async function bytes(url: string): Promise<{ status: number; body: Buffer; type: string | null }> {
  const r = await fetch(url);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') };
}

test('tiles: a monitor rebuilds the checkpoint root from tiles and reads every body from entry bundles', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-log-tiles-'));
  const witness = new LocalSigner(generateKey('ed25519'));
  const cfg = join(dir, 'cairn.yaml');
  writeFileSync(cfg, `log:\n  batchMaxSize: 50\n  witnesses:\n    - "${witnessVkey('witness.example', witness.publicKey)}"\n`);
  const log = await startLog(join(dir, 'data'), {}, cfg);
  try {
    const k = keyPair();
    const bodies: Buffer[] = [];
    // 300 entries: one full level-0 tile and a partial one; v1 and v2 entries share the tree.
    const results = await Promise.all(Array.from({ length: 299 }, (_, i) => post(`${log.url}/api/v1/log/entries`, hashedRekord(Buffer.from(`tile ${i}`), k).entry)));
    for (const r of results) assert.equal(r.status, 201);
    const digest = createHash('sha256').update('v2 in tiles').digest();
    const v2 = await post(`${log.url}/api/v2/log/entries`, {
      hashedRekordRequestV002: {
        digest: digest.toString('base64'),
        signature: { content: sign('sha256', Buffer.from('v2 in tiles'), k.privateKey).toString('base64'), verifier: { publicKey: { rawBytes: PublicKey.fromPem(k.pem).spki.toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } },
      },
    });
    assert.equal(v2.status, 201);
    // The bodies as the write responses returned them, by log index (v1 and v2).
    for (const r of results) {
      const e = Object.values(r.json as Record<string, { body: string; logIndex: number }>)[0]!;
      bodies[e.logIndex] = Buffer.from(e.body, 'base64');
    }
    bodies[Number(v2.json.logIndex)] = Buffer.from(v2.json.canonicalizedBody, 'base64');
    assert.equal(bodies.filter(Boolean).length, 300);
    // Spot-check the v1 read path against the write response.
    const e7 = (await (await fetch(`${log.url}/api/v1/log/entries?logIndex=7`)).json()) as Record<string, { body: string }>;
    assert.deepEqual(Buffer.from(Object.values(e7)[0]!.body, 'base64'), bodies[7]);
    const cpRes = await bytes(`${log.url}/checkpoint`);
    assert.equal(cpRes.type, 'text/plain; charset=utf-8');
    const note = parseSignedNote(cpRes.body.toString());
    const cp = parseCheckpoint(note.text);
    const host = new URL(log.url).hostname;
    assert.equal(cp.origin, host);
    assert.equal(cp.size, 300);
    const logKey = PublicKey.fromSpki(Buffer.from(log.trust.publicKey, 'base64'));
    assert.ok(verifyNoteSignature(note, host, new LocalVerifier(logKey)));
    assert.deepEqual(note.signatures[0]!.keyHint, noteKeyId(host, logKey).subarray(0, 4));

    const tiles = new Map<string, Buffer>();
    for (const t of tilesForRoot(cp.size)) {
      const r = await bytes(`${log.url}/${pathOfTile(t)}`);
      assert.equal(r.status, 200, pathOfTile(t));
      assert.equal(r.type, 'application/octet-stream');
      assert.equal(r.body.length, t.width * 32);
      tiles.set(`${t.level}/${t.index}`, r.body);
    }
    const reader = new TileNodeReader((l, i) => tiles.get(`${l}/${i}`));
    assert.deepEqual(rootAt(cp.size, reader), cp.rootHash);
    const bundle0 = parseEntryBundle((await bytes(`${log.url}/${entriesPath(0)}`)).body);
    const bundle1 = parseEntryBundle((await bytes(`${log.url}/${entriesPath(1, 44)}`)).body);
    assert.deepEqual([...bundle0, ...bundle1], bodies);
    assert.deepEqual(leafHash(bundle1[43]!), leafHash(Buffer.from(v2.json.canonicalizedBody, 'base64')));
    // The v1 view of the same tree: same size and root, v1 origin, one signature line.
    const info = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { treeSize: number; rootHash: string; signedTreeHead: string; treeID: string };
    assert.equal(info.treeSize, 300);
    assert.equal(info.rootHash, cp.rootHash.toString('hex'));
    const v1 = parseSignedNote(info.signedTreeHead);
    assert.equal(parseCheckpoint(v1.text).origin, `${new URL(log.url).host} - ${info.treeID}`);
    assert.equal(v1.signatures.length, 1);
    assert.deepEqual(v1.signatures[0]!.keyHint, Buffer.from(log.trust.logId, 'base64').subarray(0, 4));
    // Consistency between an early v1 head and now, from the v1 proof route.
    const early = results[0]!.json[Object.keys(results[0]!.json)[0]!].verification.inclusionProof;
    const proof = (await (await fetch(`${log.url}/api/v1/log/proof?firstSize=${early.treeSize}&lastSize=300`)).json()) as { hashes: string[] };
    assert.ok(verifyConsistency(early.treeSize, 300, proof.hashes.map((h) => Buffer.from(h, 'hex')), Buffer.from(early.rootHash, 'hex'), cp.rootHash));

    // A witness cosigns the tiles checkpoint; /checkpoint then carries both lines, v1 does not.
    const cosig = await cosignCheckpoint(note.text, 'witness.example', witness, Math.floor(Date.now() / 1000));
    const line = formatSignedNote({ text: note.text, signatures: [cosig] }).slice(note.text.length + 1);
    const posted = await post(`${log.url}${WITNESS_ROUTE}`, { checkpoint: cpRes.body.toString(), cosignature: line });
    assert.equal(posted.status, 201, JSON.stringify(posted.json));
    const cosigned = parseSignedNote((await bytes(`${log.url}/checkpoint`)).body.toString());
    assert.equal(cosigned.signatures.length, 2);
    assert.equal(cosigned.signatures[1]!.name, 'witness.example');
    const v1again = parseSignedNote(((await (await fetch(`${log.url}/api/v1/log`)).json()) as { signedTreeHead: string }).signedTreeHead);
    assert.equal(v1again.signatures.length, 1);
  } finally {
    await log.stop(false);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an Ed25519 log: v2 writes with a C2SP key ID, v1 writes refused (405)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-log-ed-'));
  const cfg = join(dir, 'cairn.yaml');
  writeFileSync(cfg, 'log:\n  keyType: ed25519\n');
  const log = await startLog(join(dir, 'data'), {}, cfg);
  try {
    assert.equal(log.trust.keyDetails, 'PKIX_ED25519');
    const host = new URL(log.url).hostname;
    const logKey = PublicKey.fromSpki(Buffer.from(log.trust.publicKey, 'base64'));
    assert.deepEqual(Buffer.from(log.trust.logId, 'base64'), noteKeyId(host, logKey));
    const v1 = await post(`${log.url}/api/v1/log/entries`, hashedRekord(Buffer.from('ed')).entry);
    assert.equal(v1.status, 405);
    assert.equal(v1.json.code, 'V1_DISABLED');
    const k = keyPair();
    const res = await post(`${log.url}/api/v2/log/entries`, {
      hashedRekordRequestV002: {
        digest: createHash('sha256').update('ed').digest('base64'),
        signature: { content: sign('sha256', Buffer.from('ed'), k.privateKey).toString('base64'), verifier: { publicKey: { rawBytes: PublicKey.fromPem(k.pem).spki.toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } },
      },
    });
    assert.equal(res.status, 201);
    assert.equal(res.json.logId.keyId, log.trust.logId);
    const note = parseSignedNote(res.json.inclusionProof.checkpoint.envelope);
    assert.ok(verifyNoteSignature(note, host, new LocalVerifier(logKey)));
  } finally {
    await log.stop(false);
    rmSync(dir, { recursive: true, force: true });
  }
});
