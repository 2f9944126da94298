/**
 * Attacks a TUF client must reject (TUF spec §1.5.2), served by a malicious mirror (a plain file
 * server over a tampered copy of a real published repository). Each is checked with tuf-js (the
 * reference oracle) and with Cairn's own client, asserting error classes / stable codes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { formatExpires, hashesOf, parseMetadata, serializeEnvelope, signEnvelope, type SignedCommon } from '@cairn/shared/tuf';
import { readSigner } from '@cairn/tuf/ceremony';
import { CairnTufClient } from '@cairn/trust';
import { cli, makeTrustInfos, must, runCeremony, staticMirror, type Ceremony } from './tuf-helpers.ts';

let base: string;
let ceremony: Ceremony;
/** Published state after the first publish (targets/snapshot/timestamp v1). */
let stateA: string;
/** Published state after a second targets version (v2 everywhere). */
let stateB: string;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'cairn-tuf-attacks-'));
  const infos = await makeTrustInfos();
  ceremony = await runCeremony(join(base, 'repo'), join(base, 'keys'), infos);
  stateA = join(base, 'stateA');
  cpSync(join(ceremony.repo, 'repository'), stateA, { recursive: true });
  const more = await makeTrustInfos('http://127.0.0.1:4000');
  writeFileSync(ceremony.trustInfoFile, JSON.stringify([...infos, ...more.filter((i) => i.kind === 'tlog')]));
  await must(cli(['trust', 'build', '--trust-info', ceremony.trustInfoFile, '--dir', ceremony.repo]));
  for (const k of [1, 3]) await must(cli(['tuf', 'sign', '--dir', ceremony.repo, '--key', join(ceremony.keys, `keyholder-${k}.pem`)]));
  await must(cli(['tuf', 'publish', '--dir', ceremony.repo]));
  stateB = join(base, 'stateB');
  cpSync(join(ceremony.repo, 'repository'), stateB, { recursive: true });
});

after(() => rmSync(base, { recursive: true, force: true }));

interface Clients {
  mirrorDir: string;
  tufjs(): Promise<unknown>;
  cairn(): Promise<unknown>;
  close(): Promise<void>;
}

/** A mirror over a copy of `state`, and one fresh cache per client seeded with 1.root.json. */
async function setup(state: string): Promise<Clients> {
  const work = mkdtempSync(join(base, 'case-'));
  const mirrorDir = join(work, 'mirror');
  cpSync(state, mirrorDir, { recursive: true });
  const m = await staticMirror(mirrorDir);
  const tufCache = join(work, 'tufjs');
  mkdirSync(join(tufCache, 'targets'), { recursive: true });
  copyFileSync(join(stateA, '1.root.json'), join(tufCache, 'root.json'));
  const cairnCache = join(work, 'cairn');
  CairnTufClient.seed(cairnCache, readFileSync(join(stateA, '1.root.json')));
  return {
    mirrorDir,
    async tufjs() {
      const u = new Updater({ metadataBaseUrl: m.url, metadataDir: tufCache, targetBaseUrl: `${m.url}/targets`, targetDir: join(tufCache, 'targets') });
      await u.refresh();
      const info = await u.getTargetInfo('trusted_root.json');
      return u.downloadTarget(info!, join(tufCache, 'targets', 'trusted_root.json'));
    },
    async cairn() {
      const c = new CairnTufClient({ mirror: m.url, cacheDir: cairnCache });
      await c.refresh();
      return c.getTarget('trusted_root.json');
    },
    close: () => m.close(),
  };
}

/**
 * tuf-js rejects with typed errors, except where the updater wraps the cause in a RuntimeError
 * ("Unable to load ...") whose only detail is the message; `wrapped` names that cause.
 */
function tufjsError(names: string[], wrapped?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof Error);
    const ok = names.includes(e.constructor.name) || (wrapped !== undefined && e.constructor.name === 'RuntimeError' && wrapped.test(e.message));
    assert.ok(ok, `tuf-js threw ${e.constructor.name}: ${e.message}`);
    return true;
  };
}

function cairnCode(code: string) {
  return (e: unknown): boolean => {
    assert.equal((e as { code?: string }).code, code);
    return true;
  };
}

async function signOnline<T extends SignedCommon>(role: 'snapshot' | 'timestamp', signed: T): Promise<Buffer> {
  const signer = readSigner(join(ceremony.repo, 'online', `${role}.pem`));
  return serializeEnvelope(await signEnvelope({ signed, signatures: [] }, signer));
}

function readSigned(dir: string, file: string, role: 'timestamp' | 'snapshot'): SignedCommon & Record<string, unknown> {
  return structuredClone(parseMetadata(role, readFileSync(join(dir, file))).signed);
}

test('baseline: both clients accept the untampered mirror', async () => {
  const c = await setup(stateB);
  try {
    await c.tufjs();
    await c.cairn();
  } finally {
    await c.close();
  }
});

test('a modified metadata file (timestamp edited without re-signing) is rejected', async () => {
  const c = await setup(stateB);
  try {
    const env = JSON.parse(readFileSync(join(c.mirrorDir, 'timestamp.json'), 'utf8'));
    env.signed.version += 10;
    writeFileSync(join(c.mirrorDir, 'timestamp.json'), JSON.stringify(env));
    await assert.rejects(c.tufjs(), tufjsError(['UnsignedMetadataError']));
    await assert.rejects(c.cairn(), cairnCode('BELOW_THRESHOLD'));
  } finally {
    await c.close();
  }
});

test('a modified targets file (hash no longer matches the snapshot) is rejected', async () => {
  const c = await setup(stateB);
  try {
    const p = join(c.mirrorDir, '2.targets.json');
    writeFileSync(p, readFileSync(p, 'utf8').replace('"targets": {', '"targets": { "evil.json": {"length": 1, "hashes": {"sha256": "00"}},'));
    await assert.rejects(c.tufjs(), tufjsError(['LengthOrHashMismatchError', 'DownloadLengthMismatchError'], /Max length reached/));
    await assert.rejects(c.cairn(), cairnCode('LENGTH_MISMATCH'));
  } finally {
    await c.close();
  }
});

test('an expired timestamp (freeze attack) is rejected', async () => {
  const c = await setup(stateB);
  try {
    const ts = readSigned(c.mirrorDir, 'timestamp.json', 'timestamp');
    ts.version += 1;
    ts.expires = formatExpires(new Date(Date.now() - 3600_000));
    writeFileSync(join(c.mirrorDir, 'timestamp.json'), await signOnline('timestamp', ts));
    await assert.rejects(c.tufjs(), tufjsError(['ExpiredMetadataError']));
    await assert.rejects(c.cairn(), cairnCode('EXPIRED'));
  } finally {
    await c.close();
  }
});

test('rollback: after seeing v2, a mirror replaying the older timestamp is rejected', async () => {
  const c = await setup(stateB);
  try {
    await c.tufjs();
    await c.cairn();
    for (const f of readdirSync(stateA)) if (f.endsWith('.json')) copyFileSync(join(stateA, f), join(c.mirrorDir, f));
    await assert.rejects(c.tufjs(), tufjsError(['BadVersionError']));
    await assert.rejects(c.cairn(), cairnCode('VERSION_NOT_INCREASING'));
  } finally {
    await c.close();
  }
});

test('rollback: a fresh timestamp naming an older snapshot version is rejected', async () => {
  const c = await setup(stateB);
  try {
    await c.tufjs();
    await c.cairn();
    const ts = readSigned(c.mirrorDir, 'timestamp.json', 'timestamp');
    const old = readFileSync(join(stateA, '1.snapshot.json'));
    ts.version += 1;
    ts.meta = { 'snapshot.json': { version: 1, length: old.byteLength, hashes: hashesOf(old) } };
    writeFileSync(join(c.mirrorDir, 'timestamp.json'), await signOnline('timestamp', ts));
    await assert.rejects(c.tufjs(), tufjsError(['BadVersionError']));
    await assert.rejects(c.cairn(), cairnCode('VERSION_NOT_INCREASING'));
  } finally {
    await c.close();
  }
});

test('rollback: a fresh snapshot naming an older targets version is rejected', async () => {
  const c = await setup(stateB);
  try {
    await c.tufjs();
    await c.cairn();
    const snap = readSigned(c.mirrorDir, '2.snapshot.json', 'snapshot');
    const oldTargets = readFileSync(join(stateA, '1.targets.json'));
    snap.version = 3;
    snap.meta = { 'targets.json': { version: 1, length: oldTargets.byteLength, hashes: hashesOf(oldTargets) } };
    const snapBytes = await signOnline('snapshot', snap);
    writeFileSync(join(c.mirrorDir, '3.snapshot.json'), snapBytes);
    const ts = readSigned(c.mirrorDir, 'timestamp.json', 'timestamp');
    ts.version += 1;
    ts.meta = { 'snapshot.json': { version: 3, length: snapBytes.byteLength, hashes: hashesOf(snapBytes) } };
    writeFileSync(join(c.mirrorDir, 'timestamp.json'), await signOnline('timestamp', ts));
    await assert.rejects(c.tufjs(), tufjsError(['BadVersionError'], /New version 1 of targets.json is less than current version 2/));
    await assert.rejects(c.cairn(), cairnCode('VERSION_NOT_INCREASING'));
  } finally {
    await c.close();
  }
});

test('mix-and-match: a target file whose hash does not match targets metadata is rejected', async () => {
  const c = await setup(stateB);
  try {
    const dir = join(c.mirrorDir, 'targets');
    const name = readdirSync(dir).find((n) => n.endsWith('.trusted_root.json') && readFileSync(join(dir, n), 'utf8').includes('4000'))!;
    const bytes = readFileSync(join(dir, name));
    // Same length, different bytes: only the hash can catch it.
    const swapped = Buffer.from(bytes.toString('utf8').replace('127.0.0.1:4000', '127.0.0.1:6666'));
    assert.equal(swapped.byteLength, bytes.byteLength);
    writeFileSync(join(dir, name), swapped);
    await assert.rejects(c.tufjs(), tufjsError(['LengthOrHashMismatchError']));
    await assert.rejects(c.cairn(), cairnCode('HASH_MISMATCH'));
  } finally {
    await c.close();
  }
});

test('a new root signed below the threshold of the trusted root is rejected', async () => {
  const { repo, keys } = ceremony;
  // A rotation with only one of the two required signatures, written straight into the mirror.
  await must(cli(['tuf', 'root-rotate', '--dir', repo, '--root-threshold', '1']));
  await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, 'keyholder-1.pem')]));
  const pub = await cli(['tuf', 'publish', '--dir', repo]);
  assert.equal(pub.code, 1);
  assert.match(pub.err, /\[BELOW_THRESHOLD\]/);
  const c = await setup(stateB);
  try {
    copyFileSync(join(repo, 'staged', 'root.json'), join(c.mirrorDir, '2.root.json'));
    await assert.rejects(c.tufjs(), tufjsError(['UnsignedMetadataError']));
    await assert.rejects(c.cairn(), cairnCode('BELOW_THRESHOLD'));
  } finally {
    await c.close();
  }
});
