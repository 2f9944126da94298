/**
 * The offline ceremony through `cairn tuf` / `cairn trust`: thresholds, refusals with stable codes
 * that change nothing, export/import across an air gap, service key rotation, the development ceremony.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock } from '@cairn/shared';
import { parseMetadata } from '@cairn/shared/tuf';
import { DEFAULT_EXPIRY, loadOnlineSigners, publishStaged, refreshOnlineRoles, stageRootRotation, signStaged, readSigner, verifyPublished, initRepository } from '@cairn/tuf/ceremony';
import { readTrustedRootDocument } from '@cairn/trust';
import { runDevelopmentCeremony } from '@cairn/tuf/ceremony';
import { cli, errorCode, makeTrustInfos, must } from './tuf-helpers.ts';

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'cairn-tuf-ceremony-'));
});
after(() => rmSync(base, { recursive: true, force: true }));

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : [];
}

async function initThreeKeyholders(name: string): Promise<{ repo: string; keys: string; infoFile: string }> {
  const repo = join(base, name, 'repo');
  const keys = join(base, name, 'keys');
  const init = await must(cli(['tuf', 'init', '--dir', repo, '--generate-keys', '3', '--keys-out', keys, '--root-threshold', '2', '--targets-threshold', '2']));
  assert.match(init.out, /root 2-of-3, targets 2-of-3/);
  const infoFile = join(base, name, 'trust-info.json');
  writeFileSync(infoFile, JSON.stringify(await makeTrustInfos()));
  await must(cli(['trust', 'build', '--trust-info', infoFile, '--dir', repo]));
  return { repo, keys, infoFile };
}

test('three keyholders, threshold 2: publish fails with one signature and succeeds with two', async () => {
  const { repo, keys } = await initThreeKeyholders('threshold');
  for (let i = 1; i <= 3; i++) {
    assert.equal(statSync(join(keys, `keyholder-${i}.pem`)).mode & 0o777, 0o600, 'private key files are 0600');
  }
  assert.equal(statSync(join(repo, 'online', 'timestamp.pem')).mode & 0o777, 0o600);

  await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, 'keyholder-1.pem')]));
  const status1 = JSON.parse((await must(cli(['tuf', 'status', '--dir', repo, '--json']))).out);
  assert.deepEqual(
    status1.staged.map((s: { role: string; ready: boolean }) => [s.role, s.ready]),
    [
      ['root', false],
      ['targets', false],
    ],
  );
  const before = listing(join(repo, 'repository'));
  const fail = await cli(['tuf', 'publish', '--dir', repo]);
  assert.equal(fail.code, 1);
  assert.equal(errorCode(fail), 'BELOW_THRESHOLD');
  assert.deepEqual(listing(join(repo, 'repository')), before, 'a refused publish writes nothing');
  assert.ok(existsSync(join(repo, 'staged', 'root.json')), 'and keeps the staged roles');

  await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, 'keyholder-3.pem')]));
  const human = (await must(cli(['tuf', 'status', '--dir', repo]))).out;
  assert.match(human, /staged root v1 .*ready to publish/);
  assert.match(human, /2\/2 met/);
  await must(cli(['tuf', 'publish', '--dir', repo]));
  const state = verifyPublished(join(repo, 'repository'));
  assert.equal(state.root.version, 1);
  assert.ok(state.targets.envelope.signed.targets['trusted_root.json']);
  assert.ok(state.targets.envelope.signed.targets['signing_config.v0.2.json']);
  assert.equal(errorCode(await cli(['tuf', 'publish', '--dir', repo])), 'NOTHING_STAGED');
});

test('refusals: unauthorised key, bad thresholds, repeated init, keys inside the repository', async () => {
  const { repo, keys } = await initThreeKeyholders('refusals');
  await must(cli(['tuf', 'keygen', '--out', join(keys, 'stranger.pem')]));
  assert.equal(errorCode(await cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, 'stranger.pem')])), 'KEY_NOT_AUTHORISED');
  assert.equal(errorCode(await cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, 'keyholder-1.pem.pub')])), 'UNSUPPORTED_KEY');
  assert.equal(errorCode(await cli(['tuf', 'init', '--dir', repo, '--root-key', join(keys, 'keyholder-1.pem.pub')])), 'REPO_EXISTS');
  const other = join(base, 'refusals', 'other');
  assert.equal(errorCode(await cli(['tuf', 'init', '--dir', other, '--root-key', join(keys, 'keyholder-1.pem.pub'), '--root-threshold', '2'])), 'INVALID_ARGUMENT');
  assert.equal(errorCode(await cli(['tuf', 'init', '--dir', other, '--generate-keys', '2', '--keys-out', join(other, 'k')])), 'USAGE');
  assert.equal(errorCode(await cli(['tuf', 'init', '--dir', other, '--root-key', join(keys, 'keyholder-1.pem.pub'), '--root-expires', 'forever'])), 'INVALID_ARGUMENT');
  assert.equal(errorCode(await cli(['tuf', 'status', '--dir', join(base, 'nowhere')])), 'REPO_NOT_FOUND');
  assert.equal(errorCode(await cli(['tuf', 'frobnicate'])), 'USAGE');
  assert.equal(existsSync(other), false, 'refused inits leave nothing behind');
});

test('publish refuses expired metadata and versions that do not increase', async () => {
  const { repo, keys } = await initThreeKeyholders('versions');
  const k1 = readSigner(join(keys, 'keyholder-1.pem'));
  const k2 = readSigner(join(keys, 'keyholder-2.pem'));
  await signStaged(repo, k1);
  await signStaged(repo, k2);
  // Two years later the staged root (365 d) has expired.
  const later = new FixedClock(Date.now() + 2 * 365 * 86400_000);
  await assert.rejects(publishStaged(repo, later), { code: 'EXPIRED' });
  await publishStaged(repo, new FixedClock(Date.now()));

  // Replaying the published targets v1 as staged: not newer.
  copyFileSync(join(repo, 'repository', '1.targets.json'), join(repo, 'staged', 'targets.json'));
  await assert.rejects(publishStaged(repo, new FixedClock(Date.now())), { code: 'VERSION_NOT_INCREASING' });
  rmSync(join(repo, 'staged', 'targets.json'));

  // A staged root that skips a version, properly signed by both thresholds.
  const clock = new FixedClock(Date.now());
  stageRootRotation({ dir: repo, clock });
  const p = join(repo, 'staged', 'root.json');
  const env = JSON.parse(readFileSync(p, 'utf8'));
  env.signed.version = 3;
  writeFileSync(p, JSON.stringify(env));
  await signStaged(repo, k1);
  await signStaged(repo, k2);
  await assert.rejects(publishStaged(repo, clock), { code: 'VERSION_NOT_INCREASING' });
  assert.equal(existsSync(join(repo, 'repository', '3.root.json')), false);
});

test('export and import carry a repository across the air gap; the server side keeps its newer timestamp', async () => {
  const { repo, keys } = await initThreeKeyholders('airgap');
  const tar = join(base, 'airgap', 'repo.tar.gz');
  await must(cli(['tuf', 'export', '--dir', repo, '--out', tar]));
  // Keyholder 1 and 2 sign on another machine, then the result comes back.
  const machineB = join(base, 'airgap', 'machineB');
  await must(cli(['tuf', 'import', '--in', tar, '--dir', machineB]));
  assert.equal(existsSync(join(machineB, 'online')), false, 'online keys do not travel by default');
  for (const k of [1, 2]) await must(cli(['tuf', 'sign', '--dir', machineB, '--key', join(keys, `keyholder-${k}.pem`)]));
  const back = join(base, 'airgap', 'back.tar.gz');
  await must(cli(['tuf', 'export', '--dir', machineB, '--out', back]));
  await must(cli(['tuf', 'import', '--in', back, '--dir', repo]));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  const ts = (): number => parseMetadata('timestamp', readFileSync(join(repo, 'repository', 'timestamp.json'))).signed.version;
  assert.equal(ts(), 1);

  // The published repository goes to the server; the server has re-signed timestamp meanwhile.
  const full = join(base, 'airgap', 'full.tar.gz');
  await must(cli(['tuf', 'export', '--dir', repo, '--out', full, '--include-online-keys']));
  assert.equal(statSync(full).mode & 0o777, 0o600, 'an archive holding online keys is 0600');
  const server = join(base, 'airgap', 'server');
  await must(cli(['tuf', 'import', '--in', full, '--dir', server]));
  assert.equal(statSync(join(server, 'online', 'snapshot.pem')).mode & 0o777, 0o600);
  const tsPath = join(server, 'repository', 'timestamp.json');
  // The server re-signs its timestamp 20 hours later (past half of its 1 d validity).
  await refreshOnlineRoles(join(server, 'repository'), loadOnlineSigners(server), DEFAULT_EXPIRY, new Date(Date.now() + 20 * 3600_000));
  assert.equal(JSON.parse(readFileSync(tsPath, 'utf8')).signed.version, 2);
  const r = await must(cli(['tuf', 'import', '--in', full, '--dir', server, '--server']));
  assert.match(r.out, /kept newer repository\/timestamp.json/);
  assert.equal(JSON.parse(readFileSync(tsPath, 'utf8')).signed.version, 2);
  assert.equal(verifyPublished(join(server, 'repository')).timestamp.envelope.signed.version, 2);

  writeFileSync(join(base, 'airgap', 'junk.tar.gz'), 'not a tarball');
  assert.equal(errorCode(await cli(['tuf', 'import', '--in', join(base, 'airgap', 'junk.tar.gz'), '--dir', join(base, 'airgap', 'x')])), 'INVALID_ARCHIVE');
  assert.equal(existsSync(join(base, 'airgap', 'x')), false);
});

test('rotating a service key keeps the old key in trusted_root.json with validFor.end', async () => {
  const { repo, keys, infoFile } = await initThreeKeyholders('rotation');
  for (const k of [1, 2]) await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, `keyholder-${k}.pem`)]));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  const infos = JSON.parse(readFileSync(infoFile, 'utf8'));
  const fresh = await makeTrustInfos();
  const oldTlog = infos.find((i: { kind: string }) => i.kind === 'tlog');
  const rotated = [...infos.filter((i: { kind: string }) => i.kind !== 'tlog'), fresh.find((i) => i.kind === 'tlog')];
  writeFileSync(infoFile, JSON.stringify(rotated));
  const out = join(base, 'rotation', 'out');
  await must(cli(['trust', 'build', '--trust-info', infoFile, '--dir', repo, '--out', out]));
  const tr = readTrustedRootDocument(JSON.parse(readFileSync(join(out, 'trusted_root.json'), 'utf8')));
  assert.equal(tr.tlogs.length, 2);
  const old = tr.tlogs.find((t) => t.logId.keyId === oldTlog.logId)!;
  assert.ok(old.publicKey.validFor.end, 'the retired key has an end date');
  const current = tr.tlogs.find((t) => t.logId.keyId !== oldTlog.logId)!;
  assert.equal(current.publicKey.validFor.end, undefined);
  for (const k of [2, 3]) await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, `keyholder-${k}.pem`)]));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  assert.equal(verifyPublished(join(repo, 'repository')).targets.envelope.signed.version, 2);
  // Unchanged trust material stages nothing.
  const again = await must(cli(['trust', 'build', '--trust-info', infoFile, '--dir', repo]));
  assert.match(again.out, /unchanged/);
  assert.equal(errorCode(await cli(['trust', 'build', '--trust-info', join(keys, 'keyholder-1.pem.pub'), '--dir', repo])), 'INVALID_JSON');
  writeFileSync(join(base, 'rotation', 'bad.json'), JSON.stringify([{ ...oldTlog, keyDetails: 'PKIX_RSA_PKCS1V15_2048_SHA256' }]));
  assert.equal(errorCode(await cli(['trust', 'build', '--trust-info', join(base, 'rotation', 'bad.json'), '--dir', repo])), 'INVALID_TRUST_INFO');
});

test('the development ceremony in one call: marked DEVELOPMENT, idempotent, new targets version on change', async () => {
  const dir = join(base, 'dev', 'tuf');
  const clock = new FixedClock(Date.now());
  const infos = await makeTrustInfos();
  const first = await runDevelopmentCeremony({ dir, infos, clock });
  assert.equal(first.created, true);
  assert.equal(first.targetsVersion, 1);
  const root = parseMetadata('root', readFileSync(first.rootPath));
  assert.equal(root.signed['x-cairn-development'], true);
  assert.ok(readdirSync(join(dir, 'DEVELOPMENT-keys')).every((n) => n.startsWith('DEVELOPMENT-')));
  const same = await runDevelopmentCeremony({ dir, infos, clock });
  assert.deepEqual([same.created, same.changed, same.targetsVersion], [false, false, 1]);
  const changedInfos0 = [...infos, ...(await makeTrustInfos('http://127.0.0.1:5000')).slice(0, 1)];
  const changed = await runDevelopmentCeremony({ dir, infos: changedInfos0, clock });
  assert.deepEqual([changed.changed, changed.targetsVersion], [true, 2]);
  assert.equal(verifyPublished(join(dir, 'repository')).targets.envelope.signed.version, 2);
  const changedInfos = changedInfos0;

  // Run again 100 days later: targets (180 d) are past half-life and get re-signed; 200 days
  // later the root (365 d) is renewed as v2, still DEVELOPMENT.
  clock.advance(100 * 86400_000);
  const renewed = await runDevelopmentCeremony({ dir, infos: changedInfos, clock });
  assert.deepEqual([renewed.changed, renewed.targetsVersion], [false, 3]);
  clock.advance(100 * 86400_000);
  await runDevelopmentCeremony({ dir, infos: changedInfos, clock });
  const state = verifyPublished(join(dir, 'repository'));
  assert.equal(state.root.version, 2);
  assert.equal(state.root['x-cairn-development'], true);
  assert.equal(new Date(state.targets.envelope.signed.expires).getTime() > clock.now().getTime() + 90 * 86400_000, true);
});

test('library init refuses duplicate keys', () => {
  const dir = join(base, 'dup');
  const k = readSigner(join(base, 'threshold', 'keys', 'keyholder-1.pem')).key;
  assert.throws(
    () => initRepository({ dir, rootKeys: [k, k], rootThreshold: 1, targetsKeys: [k], targetsThreshold: 1, snapshotKey: k, timestampKey: k, clock: new FixedClock(0) }),
    { code: 'INVALID_ARGUMENT' },
  );
});

test('rotated online keys wait in staged/online until their root is published', async () => {
  const { repo, keys } = await initThreeKeyholders('online-rotation');
  for (const k of [1, 2]) await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, `keyholder-${k}.pem`)]));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  const current = readFileSync(join(repo, 'online', 'timestamp.pem'));
  await must(cli(['tuf', 'root-rotate', '--dir', repo, '--rotate-online-keys']));
  assert.deepEqual(readFileSync(join(repo, 'online', 'timestamp.pem')), current, 'the live key is untouched while v2 is staged');
  assert.equal(statSync(join(repo, 'staged', 'online', 'timestamp.pem')).mode & 0o777, 0o600);
  const tar = join(base, 'online-rotation', 'r.tar.gz');
  await must(cli(['tuf', 'export', '--dir', repo, '--out', tar]));
  const copy = join(base, 'online-rotation', 'copy');
  await must(cli(['tuf', 'import', '--in', tar, '--dir', copy]));
  assert.equal(existsSync(join(copy, 'staged', 'online')), false, 'staged online keys do not travel without --include-online-keys');
  for (const k of [1, 2]) await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, `keyholder-${k}.pem`)]));
  const pub = await must(cli(['tuf', 'publish', '--dir', repo]));
  assert.match(pub.out, /signed snapshot v2 and timestamp v2/);
  assert.notDeepEqual(readFileSync(join(repo, 'online', 'timestamp.pem')), current);
  const state = verifyPublished(join(repo, 'repository'));
  assert.equal(state.root.version, 2);
  assert.equal(state.timestamp.envelope.signed.version, 2);
});

test('passphrase-protected keyholder keys and extra targets', async () => {
  const dir = join(base, 'pass');
  const env = { KEY_PASS: 'correct horse battery staple', WRONG: 'nope' };
  const key = join(dir, 'keys', 'holder.pem');
  await must(cli(['tuf', 'keygen', '--out', key, '--passphrase-env', 'KEY_PASS'], env));
  assert.match(readFileSync(key, 'utf8'), /ENCRYPTED PRIVATE KEY/);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  const repo = join(dir, 'repo');
  await must(cli(['tuf', 'init', '--dir', repo, '--root-key', `${key}.pub`]));
  const extra = join(dir, 'notes.txt');
  writeFileSync(extra, 'hello\n');
  assert.match((await must(cli(['tuf', 'add-target', '--dir', repo, '--file', extra]))).out, /staged target notes.txt/);
  assert.match((await must(cli(['tuf', 'add-target', '--dir', repo, '--file', extra]))).out, /unchanged/);
  assert.equal(errorCode(await cli(['tuf', 'add-target', '--dir', repo, '--file', extra, '--name', '../evil'])), 'INVALID_ARGUMENT');
  assert.equal(errorCode(await cli(['tuf', 'sign', '--dir', repo, '--key', key, '--passphrase-env', 'WRONG'], env)), 'INVALID_KEY');
  assert.equal(errorCode(await cli(['tuf', 'sign', '--dir', repo, '--key', key, '--passphrase-env', 'UNSET'], env)), 'USAGE');
  await must(cli(['tuf', 'sign', '--dir', repo, '--key', key, '--passphrase-env', 'KEY_PASS'], env));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  const state = verifyPublished(join(repo, 'repository'));
  assert.equal(state.targets.envelope.signed.targets['notes.txt']?.length, 6);
});
