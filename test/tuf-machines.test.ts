/**
 * The ceremony across machines (issue #18, findings 1-4): separate folders stand for the
 * coordinator, the keyholders and the TUF server; only archives cross between them. Every publish
 * either serves after the server's next import or is refused with a code; imports replace what
 * they carry and keep nothing stale; a rotated root reaches the server and its clients.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock } from '@cairn/shared';
import { parseMetadata } from '@cairn/shared/tuf';
import { stagedStatus } from '@cairn/tuf/ceremony';
import { cli, errorCode, makeTrustInfos, must } from './tuf-helpers.ts';
import { startTufServer } from './tuf-server.ts';

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'cairn-tuf-machines-'));
});
after(() => rmSync(base, { recursive: true, force: true }));

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : [];
}

interface Machines {
  coord: string;
  kh: string[];
  server: string;
  keys: string[];
  infoFile: string;
  archive(name: string): string;
}

/** Keyholders make their keys on their own machines; the coordinator only sees the .pub files. */
async function machines(name: string, keyholders = 3): Promise<Machines> {
  const root = join(base, name);
  const coord = join(root, 'coordinator', 'repo');
  const kh = Array.from({ length: keyholders }, (_, i) => join(root, `keyholder-${i + 1}`, 'repo'));
  const keys = Array.from({ length: keyholders }, (_, i) => join(root, `keyholder-${i + 1}`, 'usb', 'key.pem'));
  for (const k of keys) await must(cli(['tuf', 'keygen', '--out', k]));
  const infoFile = join(root, 'coordinator', 'trust-info.json');
  mkdirSync(join(root, 'coordinator'), { recursive: true });
  writeFileSync(infoFile, JSON.stringify(await makeTrustInfos()));
  return { coord, kh, server: join(root, 'server', 'tuf'), keys, infoFile, archive: (n) => join(root, `${n}.tar.gz`) };
}

/** Coordinator exports, keyholder i imports, signs, exports back, coordinator imports. */
async function collect(m: Machines, who: number[], tag: string): Promise<void> {
  for (const i of who) {
    const out = m.archive(`${tag}-to-${i}`);
    await must(cli(['tuf', 'export', '--dir', m.coord, '--out', out]));
    await must(cli(['tuf', 'import', '--in', out, '--dir', m.kh[i]!]));
    await must(cli(['tuf', 'sign', '--dir', m.kh[i]!, '--key', m.keys[i]!]));
    const back = m.archive(`${tag}-from-${i}`);
    await must(cli(['tuf', 'export', '--dir', m.kh[i]!, '--out', back]));
    await must(cli(['tuf', 'import', '--in', back, '--dir', m.coord]));
  }
}

async function initialCeremony(m: Machines, extra: string[] = []): Promise<void> {
  await must(
    cli(['tuf', 'init', '--dir', m.coord, ...m.keys.flatMap((k) => ['--root-key', `${k}.pub`]), '--root-threshold', '2', '--targets-threshold', '2', ...extra]),
  );
  await must(cli(['trust', 'build', '--trust-info', m.infoFile, '--dir', m.coord]));
  await collect(m, [0, 1], 'v1');
}

async function ship(m: Machines, tag: string, online = true): Promise<string> {
  const out = m.archive(`${tag}-server`);
  await must(cli(['tuf', 'export', '--dir', m.coord, '--out', out, ...(online ? ['--include-online-keys'] : [])]));
  return out;
}

test('finding 1: a keyholder without the online keys cannot publish what the server could not serve', async () => {
  const m = await machines('f1');
  await initialCeremony(m);
  // Keyholder 2 holds both signatures' worth of material after importing the coordinator's copy.
  const copy = m.archive('f1-full');
  await must(cli(['tuf', 'export', '--dir', m.coord, '--out', copy]));
  const kh = m.kh[2]!;
  await must(cli(['tuf', 'import', '--in', copy, '--dir', kh]));
  const before = listing(join(kh, 'repository'));
  const r = await cli(['tuf', 'publish', '--dir', kh]);
  assert.equal(errorCode(r), 'ONLINE_KEY_MISSING', r.err);
  assert.deepEqual(listing(join(kh, 'repository')), before, 'a refused publish writes nothing');
  assert.ok(existsSync(join(kh, 'staged', 'root.json')), 'and keeps the staged roles');

  // The coordinator (holding the online keys) publishes; the server imports and serves.
  await must(cli(['tuf', 'publish', '--dir', m.coord]));
  await must(cli(['tuf', 'import', '--in', await ship(m, 'f1'), '--dir', m.server, '--server']));
  const srv = await startTufServer(m.server, new FixedClock(Date.now()));
  try {
    assert.deepEqual(srv.svc.ready(), { ok: true });
    assert.equal((await fetch(`${srv.url}/1.root.json`)).status, 200);
  } finally {
    await srv.close();
  }
});

test('finding 1: with the online keys on the server, any machine may publish and the server signs on import', async () => {
  const m = await machines('f1-server');
  // The server makes its online keys; only the public halves travel to the coordinator.
  const snap = join(m.server, 'online', 'snapshot.pem');
  const ts = join(m.server, 'online', 'timestamp.pem');
  await must(cli(['tuf', 'keygen', '--out', snap]));
  await must(cli(['tuf', 'keygen', '--out', ts]));
  await initialCeremony(m, ['--snapshot-key', `${snap}.pub`, '--timestamp-key', `${ts}.pub`]);
  const pub = await must(cli(['tuf', 'publish', '--dir', m.coord]));
  assert.match(pub.out, /the tuf server signs snapshot and timestamp/);

  // A server without its online keys refuses the import and writes nothing.
  const empty = join(base, 'f1-server', 'other-server');
  const refused = await cli(['tuf', 'import', '--in', await ship(m, 'f1s', false), '--dir', empty, '--server']);
  assert.equal(errorCode(refused), 'ONLINE_KEY_MISSING', refused.err);
  assert.deepEqual(listing(empty), []);

  const r = await must(cli(['tuf', 'import', '--in', await ship(m, 'f1s', false), '--dir', m.server, '--server']));
  assert.match(r.out, /signed snapshot v1 and timestamp v1/);
  const srv = await startTufServer(m.server, new FixedClock(Date.now()));
  try {
    assert.deepEqual(srv.svc.ready(), { ok: true });
    assert.equal((await fetch(`${srv.url}/timestamp.json`)).status, 200);
  } finally {
    await srv.close();
  }
});

test('finding 2: import replaces staged roles, discard drops them, resign-targets works with targets staged', async () => {
  const m = await machines('f2');
  await initialCeremony(m);
  await must(cli(['tuf', 'publish', '--dir', m.coord]));
  // Keyholder 1 still has the v1 staged roles it signed. The coordinator stages root v2.
  await must(cli(['tuf', 'root-rotate', '--dir', m.coord, '--root-threshold', '3']));
  const out = m.archive('f2-rot');
  await must(cli(['tuf', 'export', '--dir', m.coord, '--out', out]));
  await must(cli(['tuf', 'import', '--in', out, '--dir', m.kh[0]!]));
  const st = JSON.parse((await must(cli(['tuf', 'status', '--dir', m.kh[0]!, '--json']))).out);
  assert.deepEqual(
    st.staged.map((s: { role: string; version: number }) => [s.role, s.version]),
    [['root', 2]],
    'no stale staged targets v1 survives the import',
  );
  assert.equal(st.published.root, 1);

  // resign-targets with targets staged (from a trust build) keeps them for signing.
  await must(cli(['trust', 'build', '--trust-info', m.infoFile, '--dir', m.coord, '--ca-url', 'https://ca.example']));
  const rs = await must(cli(['tuf', 'resign-targets', '--dir', m.coord]));
  assert.match(rs.out, /targets v2 is already staged/);

  // discard: one role, then all; nothing published changes.
  const pubBefore = listing(join(m.coord, 'repository'));
  await must(cli(['tuf', 'discard', '--dir', m.coord, '--role', 'targets']));
  let s = JSON.parse((await must(cli(['tuf', 'status', '--dir', m.coord, '--json']))).out);
  assert.deepEqual(s.staged.map((x: { role: string }) => x.role), ['root']);
  await must(cli(['tuf', 'discard', '--dir', m.coord]));
  s = JSON.parse((await must(cli(['tuf', 'status', '--dir', m.coord, '--json']))).out);
  assert.deepEqual(s.staged, []);
  assert.deepEqual(listing(join(m.coord, 'repository')), pubBefore);
  assert.equal(errorCode(await cli(['tuf', 'discard', '--dir', m.coord])), 'NOTHING_STAGED');
  assert.equal(errorCode(await cli(['tuf', 'discard', '--dir', m.coord, '--role', 'snapshot'])), 'USAGE');
});

test('finding 3: a rotated root reaches the server and clients, also after the server re-signed', async () => {
  const m = await machines('f3');
  await initialCeremony(m);
  await must(cli(['tuf', 'publish', '--dir', m.coord]));
  await must(cli(['tuf', 'import', '--in', await ship(m, 'f3-v1'), '--dir', m.server, '--server']));
  const clock = new FixedClock(Date.now());
  const srv = await startTufServer(m.server, clock);
  try {
    const cache = join(base, 'f3', 'client-cache');
    await must(cli(['trust', 'init', '--mirror', srv.url, '--root', join(m.coord, 'repository', '1.root.json'), '--cache', cache]));
    // The server re-signs its timestamp (and later snapshot) while the ceremony runs.
    clock.advance(20 * 3600_000);
    await srv.svc.refresh();
    const tsBefore = parseMetadata('timestamp', Buffer.from(await (await fetch(`${srv.url}/timestamp.json`)).arrayBuffer())).signed.version;
    assert.equal(tsBefore, 2);

    await must(cli(['tuf', 'root-rotate', '--dir', m.coord, '--revoke-root-key', `${m.keys[2]!}.pub`, '--rotate-online-keys']));
    await collect(m, [0, 1], 'v2');
    await must(cli(['tuf', 'publish', '--dir', m.coord]));
    const r = await must(cli(['tuf', 'import', '--in', await ship(m, 'f3-v2'), '--dir', m.server, '--server']));
    assert.doesNotMatch(r.out, /kept/);
    await srv.svc.refresh();
    assert.deepEqual(srv.svc.ready(), { ok: true });
    assert.equal((await fetch(`${srv.url}/2.root.json`)).status, 200);
    const ts = parseMetadata('timestamp', Buffer.from(await (await fetch(`${srv.url}/timestamp.json`)).arrayBuffer())).signed;
    assert.ok(ts.version > tsBefore, 'timestamp versions never go back');
    const refreshed = await must(cli(['trust', 'refresh', '--mirror', srv.url, '--cache', cache]));
    assert.match(refreshed.out, /TUF root v2/);

    // Importing an older archive afterwards is a rollback: refused, nothing changes.
    const served = listing(join(m.server, 'repository'));
    const old = await cli(['tuf', 'import', '--in', m.archive('f3-v1-server'), '--dir', m.server, '--server']);
    assert.equal(errorCode(old), 'VERSION_NOT_INCREASING', old.err);
    assert.deepEqual(listing(join(m.server, 'repository')), served);
  } finally {
    await srv.close();
  }
});

test('finding 3: /readyz is not ready while the published repository does not verify, and the log says what to do', async () => {
  const m = await machines('f3-ready');
  await initialCeremony(m);
  await must(cli(['tuf', 'publish', '--dir', m.coord]));
  await must(cli(['tuf', 'import', '--in', await ship(m, 'f3r'), '--dir', m.server, '--server']));
  const lines: string[] = [];
  const srv = await startTufServer(m.server, new FixedClock(Date.now()), (l) => lines.push(l));
  try {
    assert.deepEqual(srv.svc.ready(), { ok: true });
    const p = join(m.server, 'repository', '1.targets.json');
    const env = JSON.parse(readFileSync(p, 'utf8'));
    env.signed.version = 9;
    writeFileSync(p, JSON.stringify(env));
    await srv.svc.refresh();
    const r = srv.svc.ready();
    assert.equal(r.ok, false);
    assert.match(r.reason ?? '', /does not verify/);
    const logged = lines.map((l) => JSON.parse(l) as { level: string; code?: string; action?: string }).find((l) => l.level === 'error');
    assert.ok(logged?.code, 'the log line carries the code');
    assert.match(logged.action ?? '', /cairn tuf import/);
    assert.equal((await fetch(`${srv.url}/1.targets.json`)).status, 200, 'the last verified state stays served');
  } finally {
    await srv.close();
  }
});

test('finding 4: status names the role and root of each threshold; trust build --help is its own', async () => {
  const m = await machines('f4', 4);
  await must(cli(['tuf', 'init', '--dir', m.coord, ...m.keys.slice(0, 3).flatMap((k) => ['--root-key', `${k}.pub`]), '--root-threshold', '2']));
  await must(cli(['trust', 'build', '--trust-info', m.infoFile, '--dir', m.coord]));
  for (const i of [0, 1]) await must(cli(['tuf', 'sign', '--dir', m.coord, '--key', m.keys[i]!]));
  await must(cli(['tuf', 'publish', '--dir', m.coord]));
  // Root v2 makes keyholder 4 the only targets key; targets staged now belong to root v2's keys.
  await must(cli(['tuf', 'root-rotate', '--dir', m.coord, '--add-targets-key', `${m.keys[3]!}.pub`, ...m.keys.slice(0, 3).flatMap((k) => ['--revoke-targets-key', `${k}.pub`]), '--targets-threshold', '1']));
  await must(cli(['tuf', 'resign-targets', '--dir', m.coord]));
  await must(cli(['tuf', 'sign', '--dir', m.coord, '--key', m.keys[3]!]));
  const human = (await must(cli(['tuf', 'status', '--dir', m.coord]))).out;
  assert.match(human, /staged targets v2[^\n]*\n {2}targets keys of root v2 \(staged\): 1\/1 met/);
  assert.match(human, /staged root v2[^\n]*\n {2}root keys of root v1 \(published\): 0\/2 not met/);
  const s = JSON.parse((await must(cli(['tuf', 'status', '--dir', m.coord, '--json']))).out);
  assert.deepEqual(
    s.staged.map((r: { role: string; thresholds: { by: string }[] }) => [r.role, r.thresholds.map((t) => t.by)]),
    [
      ['root', ['root keys of root v1 (published)', 'root keys of root v2 (staged)']],
      ['targets', ['targets keys of root v2 (staged)']],
    ],
  );

  const help = await must(cli(['trust', 'build', '--help']));
  assert.match(help.out, /^Usage: cairn trust build /);
  assert.doesNotMatch(help.out, /refresh --mirror/);
  const tufHelp = await must(cli(['tuf', 'discard', '--help']));
  assert.match(tufHelp.out, /^Usage: cairn tuf discard /);
  assert.match((await must(cli(['trust', '--help']))).out, /refresh --mirror/, 'the command help still lists every subcommand');
});

test('status warns ahead of expiry of the published offline roles', async () => {
  const m = await machines('expiry', 1);
  await must(cli(['tuf', 'init', '--dir', m.coord, '--root-key', `${m.keys[0]!}.pub`, '--root-expires', '20d', '--targets-expires', '20d']));
  await must(cli(['trust', 'build', '--trust-info', m.infoFile, '--dir', m.coord]));
  await must(cli(['tuf', 'sign', '--dir', m.coord, '--key', m.keys[0]!]));
  await must(cli(['tuf', 'publish', '--dir', m.coord]));
  // Warning windows: a quarter of the period, and at least 30 days for root.
  const now = JSON.parse((await must(cli(['tuf', 'status', '--dir', m.coord, '--json']))).out) as { warnings: string[] };
  assert.equal(now.warnings.length, 1, JSON.stringify(now.warnings));
  assert.match(now.warnings[0]!, /root v1 expires in 20 day\(s\).*cairn tuf root-rotate/);
  assert.match((await must(cli(['tuf', 'status', '--dir', m.coord]))).out, /^WARNING: published root v1 expires/m);
  const later = stagedStatus(m.coord, new FixedClock(Date.now() + 16 * 86400_000));
  assert.equal(later.warnings.length, 2);
  assert.match(later.warnings[1]!, /targets v1 expires in 4 day\(s\).*cairn tuf resign-targets/);
  const expired = stagedStatus(m.coord, new FixedClock(Date.now() + 21 * 86400_000));
  assert.match(expired.warnings.join('\n'), /root v1 EXPIRED/);
});
