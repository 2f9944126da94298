import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FixedClock, toPem } from '@cairn/shared';
import { EntryParseError, parseEntry } from '@cairn/monitor';
import { MonitorError } from '@cairn/monitor';
import { runOnce, type MonitorOptions } from '@cairn/monitor';
import { parsePolicy } from '@cairn/monitor';
import { compileGlob } from '@cairn/shared/pattern';
import { loadState } from '@cairn/monitor';
import { HttpTlogReader } from '@cairn/monitor';
import { CAIRN_BIN, tempDir } from './helpers/cli.ts';

/** Runs the cairn bin without blocking this process (the fixture servers live in it). */
function cairn(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
import {
  FixtureLog,
  OID_SOURCE_REPO,
  dsseV1,
  hashedrekordV1,
  hashedrekordV2,
  intotoV2,
  keySpki,
  makeCert,
  serveTiles,
} from './monitor-fixture.ts';

const ISSUER = 'https://issuer.example';
const REPO = 'https://github.com/acme/app';
const allowedKey = keySpki();
const POLICY = `
identities:
  - issuer: ${ISSUER}
    subject: { glob: "https://github.com/acme/*" }
    extensions:
      ${OID_SOURCE_REPO}: ${REPO}
  - issuer: { regex: "https://accounts\\\\.example\\\\.(com|org)" }
    subject: { regex: "[a-z]+@example\\\\.com" }
keys:
  - |
${toPem('PUBLIC KEY', allowedKey)
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;

const good = { cert: makeCert({ subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1', issuer: ISSUER, extensions: { [OID_SOURCE_REPO]: REPO } }) };
const goodEmail = { cert: makeCert({ subject: 'alice@example.com', issuer: 'https://accounts.example.org' }) };
const wrongSubject = { cert: makeCert({ subject: 'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main', issuer: ISSUER, extensions: { [OID_SOURCE_REPO]: REPO } }) };
const wrongIssuer = { cert: makeCert({ subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1', issuer: 'https://evil.example', extensions: { [OID_SOURCE_REPO]: REPO } }) };
const wrongRepo = { cert: makeCert({ subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1', issuer: ISSUER, extensions: { [OID_SOURCE_REPO]: 'https://github.com/acme/other' } }) };
const noRepo = { cert: makeCert({ subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1', issuer: ISSUER }) };
const emailOtherDomain = { cert: makeCert({ subject: 'mallory@example.net', issuer: 'https://accounts.example.com' }) };
const okKey = { key: allowedKey };
const badKey = { key: keySpki() };

interface Setup {
  dir: string;
  log: FixtureLog;
  server: Awaited<ReturnType<typeof serveTiles>>;
  opts: (extra?: Partial<MonitorOptions>) => MonitorOptions;
  statePath: string;
  policyPath: string;
  keyPath: string;
}

async function setup(): Promise<Setup> {
  const dir = tempDir('cairn-monitor-');
  const log = FixtureLog.create();
  const server = await serveTiles(log);
  const statePath = join(dir, 'state.json');
  const policyPath = join(dir, 'policy.yaml');
  const keyPath = join(dir, 'log.pub');
  writeFileSync(policyPath, POLICY);
  writeFileSync(keyPath, log.signer.publicKey.toPem());
  const opts = (extra: Partial<MonitorOptions> = {}): MonitorOptions => ({
    logUrl: server.url,
    reader: new HttpTlogReader(server.url),
    statePath,
    policy: parsePolicy(POLICY),
    logKey: log.signer.publicKey,
    clock: new FixedClock(Date.parse('2026-01-01T00:00:00Z')),
    ...extra,
  });
  return { dir, log, server, opts, statePath, policyPath, keyPath };
}

function fill(log: FixtureLog, n: number): void {
  for (let i = 0; i < n; i++) log.append(hashedrekordV1(i % 2 === 0 ? good : okKey));
}

test('entries by expected and unexpected identities: exactly the unexpected ones are reported', async () => {
  const s = await setup();
  try {
    fill(s.log, 300); // spans two entry bundles, all allowed
    const expectedBad = new Set<number>();
    const add = (body: Buffer, bad: boolean): void => {
      const i = s.log.append(body);
      if (bad) expectedBad.add(i);
    };
    add(hashedrekordV1(good), false);
    add(hashedrekordV1(goodEmail), false);
    add(hashedrekordV1(okKey), false);
    add(hashedrekordV2(good), false);
    add(hashedrekordV2(okKey), false);
    add(dsseV1([good, okKey]), false);
    add(intotoV2(goodEmail), false);
    add(hashedrekordV1(wrongSubject), true);
    add(hashedrekordV1(wrongIssuer), true);
    add(hashedrekordV1(wrongRepo), true);
    add(hashedrekordV1(noRepo), true);
    add(hashedrekordV1(emailOtherDomain), true);
    add(hashedrekordV1(badKey), true);
    add(hashedrekordV2(wrongSubject), true);
    add(hashedrekordV2(badKey), true);
    add(dsseV1([good, badKey]), true);
    add(intotoV2(wrongIssuer), true);
    add(Buffer.from('{"kind":"rekord","apiVersion":"0.0.1","spec":{}}'), true); // unsupported type
    add(Buffer.from('not json'), true);
    fill(s.log, 40);
    await s.log.publish();
    const r = await runOnce(s.opts());
    assert.equal(r.outcome, 'identity-alert');
    assert.equal(r.entriesChecked, s.log.size);
    assert.deepEqual(new Set(r.alerts.map((a) => a.index)), expectedBad);
    assert.equal(r.alerts.length, expectedBad.size);
    assert.ok(r.alerts.every((a) => a.class === 'identity'));
    assert.equal(r.alerts.filter((a) => a.kind === 'unreadable-entry').length, 2);
    assert.equal(r.stateAdvanced, true);
    assert.equal(loadState(s.statePath)?.size, s.log.size);

    // Next run with new, clean entries: only consistency + new entries checked, no alerts.
    const before = s.log.size;
    fill(s.log, 100);
    await s.log.publish();
    const r2 = await runOnce(s.opts());
    assert.equal(r2.outcome, 'ok');
    assert.equal(r2.entriesChecked, 100);
    assert.deepEqual(r2.previous?.size, before);
    // Nothing new: still ok, nothing checked.
    const r3 = await runOnce(s.opts());
    assert.equal(r3.outcome, 'ok');
    assert.equal(r3.entriesChecked, 0);
  } finally {
    await s.server.close();
  }
});

test('a rewritten history raises the consistency alarm and does not advance the state', async () => {
  const s = await setup();
  try {
    fill(s.log, 1000);
    await s.log.publish();
    assert.equal((await runOnce(s.opts())).outcome, 'ok');
    const saved = readFileSync(s.statePath, 'utf8');

    // Fork: same key and origin, entries from 600 on replaced, tree grown past the old size.
    const forked = s.log.fork(600);
    fill(forked, 900);
    await forked.publish();
    s.server.log = forked;
    const r = await runOnce(s.opts({ sinks: { webhook: 'http://127.0.0.1:1/down' } }));
    assert.equal(r.outcome, 'consistency-alarm');
    assert.equal(r.alerts[0]?.kind, 'inconsistent-tree');
    assert.equal(r.stateAdvanced, false);
    assert.ok(r.deliveryError !== undefined, 'a failed delivery does not hide the alarm');
    assert.equal(readFileSync(s.statePath, 'utf8'), saved);

    // Same size, different root: a split view.
    const split = s.log.fork(999);
    split.append(hashedrekordV1(good));
    await split.publish();
    s.server.log = split;
    const r2 = await runOnce(s.opts());
    assert.equal(r2.outcome, 'consistency-alarm');
    assert.equal(r2.alerts[0]?.kind, 'split-view');
    assert.equal(readFileSync(s.statePath, 'utf8'), saved);

    // The honest log keeps going: a stale (smaller) checkpoint that is a prefix is fine.
    s.server.log = s.log;
    const stale = s.log.fork(700);
    await stale.publish();
    s.log.checkpoint = stale.checkpoint;
    const r3 = await runOnce(s.opts());
    assert.equal(r3.outcome, 'ok');
    assert.equal(r3.stale, true);
    assert.equal(readFileSync(s.statePath, 'utf8'), saved);
    // A smaller checkpoint from a fork is not.
    const smallFork = s.log.fork(500);
    fill(smallFork, 200);
    await smallFork.publish();
    s.log.checkpoint = smallFork.checkpoint;
    assert.equal((await runOnce(s.opts())).outcome, 'consistency-alarm');
    await s.log.publish();
    assert.equal((await runOnce(s.opts())).outcome, 'ok');
  } finally {
    await s.server.close();
  }
});

test('entries that do not hash to the signed root raise the alarm (a log lying about entries)', async () => {
  const s = await setup();
  try {
    fill(s.log, 300);
    await s.log.publish();
    const other = s.log.fork(256);
    fill(other, 44);
    const { encodeEntryBundle } = await import('@cairn/shared/tiles');
    s.server.bundleOverride.set(1, encodeEntryBundle(other.entries.slice(256, 300)));
    const r = await runOnce(s.opts());
    assert.equal(r.outcome, 'consistency-alarm');
    assert.equal(r.alerts[0]?.kind, 'entries-mismatch');
    assert.equal(existsSync(s.statePath), false);
  } finally {
    await s.server.close();
  }
});

test('checkpoint signature, origin and log key are enforced', async () => {
  const s = await setup();
  try {
    fill(s.log, 10);
    await s.log.publish();
    const stranger = FixtureLog.create();
    await assert.rejects(runOnce(s.opts({ logKey: stranger.signer.publicKey })), (e: unknown) => e instanceof MonitorError && e.code === 'UNVERIFIED_CHECKPOINT');
    const r = await runOnce(s.opts({ origin: 'other.origin' }));
    assert.equal(r.outcome, 'consistency-alarm');
    assert.equal(r.alerts[0]?.kind, 'origin-changed');
    assert.equal(existsSync(s.statePath), false);
    // A signed note that is not a checkpoint is refused.
    const { formatSignedNote, signNote } = await import('@cairn/shared/checkpoint');
    const saved = s.log.checkpoint;
    s.log.checkpoint = formatSignedNote({ text: 'hello\n', signatures: [await signNote('hello\n', s.log.origin, s.log.signer)] });
    await assert.rejects(runOnce(s.opts()), (e: unknown) => e instanceof MonitorError && e.code === 'UNVERIFIED_CHECKPOINT');
    s.log.checkpoint = saved;
    // A checkpoint re-signed by another key is refused.
    s.log.checkpoint = s.log.checkpoint.replace(/\n\n.*$/s, '\n\n\u2014 log.cairn.test AAAAAAAA\n');
    await assert.rejects(runOnce(s.opts()), (e: unknown) => e instanceof MonitorError && e.code === 'UNVERIFIED_CHECKPOINT');
  } finally {
    await s.server.close();
  }
});

test('--start-at-latest trusts the current tree and checks only later entries', async () => {
  const s = await setup();
  try {
    fill(s.log, 1234);
    s.log.append(hashedrekordV1(badKey)); // before the start: not checked
    await s.log.publish();
    const r = await runOnce(s.opts({ startAtLatest: true }));
    assert.equal(r.outcome, 'ok');
    assert.equal(r.entriesChecked, 0);
    s.log.append(hashedrekordV1(badKey));
    fill(s.log, 3);
    await s.log.publish();
    const r2 = await runOnce(s.opts());
    assert.equal(r2.outcome, 'identity-alert');
    assert.deepEqual(r2.alerts.map((a) => a.index), [1235]);
  } finally {
    await s.server.close();
  }
});

test('CLI: exit codes, --json, --alert-file and --webhook', async () => {
  const s = await setup();
  const received: unknown[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
  try {
    fill(s.log, 20);
    await s.log.publish();
    const base = ['monitor', '--log', s.server.url, '--state', s.statePath, '--policy', s.policyPath, '--log-key', s.keyPath];
    const ok = await cairn(base);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /RESULT: OK/);

    s.log.append(hashedrekordV1(wrongSubject));
    s.log.append(hashedrekordV1(good));
    await s.log.publish();
    const alertFile = join(s.dir, 'alerts.jsonl');
    const r = await cairn([...base, '--json', '--alert-file', alertFile, '--webhook', hookUrl]);
    assert.equal(r.status, 2);
    const json = JSON.parse(r.stdout);
    assert.equal(json.outcome, 'identity-alert');
    assert.equal(json.exitCode, 2);
    assert.deepEqual(json.alerts.map((a: { index: number }) => a.index), [20]);
    assert.match(json.alerts[0].signer.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(json.alerts[0].signer.subjects[0], 'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main');
    const lines = readFileSync(alertFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((a) => a.index), [20]);
    assert.equal(received.length, 1);
    assert.equal((received[0] as { alerts: { kind: string }[] }).alerts[0]?.kind, 'unexpected-signer');

    // A consistency alarm is exit 3.
    const forked = s.log.fork(10);
    fill(forked, 20);
    await forked.publish();
    s.server.log = forked;
    const alarm = await cairn(base);
    assert.equal(alarm.status, 3, alarm.stdout + alarm.stderr);
    assert.match(alarm.stdout, /CONSISTENCY ALARM/);

    // Operational error (log unreachable) is exit 1; usage error is 64.
    const down = await cairn(['monitor', '--log', 'http://127.0.0.1:1', '--state', s.statePath, '--policy', s.policyPath, '--log-key', s.keyPath, '--timeout', '2']);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /FETCH_FAILED/);
    assert.equal((await cairn(['monitor', '--log', s.server.url])).status, 64);
    assert.equal((await cairn([...base, '--interval', '5'])).status, 64);
    // A policy that does not parse is an operational error with its code.
    const badPolicy = join(s.dir, 'bad.yaml');
    writeFileSync(badPolicy, 'identities:\n  - issuer: { regex: "(" }\n    subject: x\n');
    const bp = await cairn(['monitor', '--log', s.server.url, '--state', s.statePath, '--policy', badPolicy, '--log-key', s.keyPath]);
    assert.equal(bp.status, 1);
    assert.match(bp.stderr, /INVALID_POLICY/);
  } finally {
    hook.close();
    await s.server.close();
  }
});

test('alert delivery failure keeps the state where it was (alerts are found again next run)', async () => {
  const s = await setup();
  try {
    fill(s.log, 5);
    s.log.append(hashedrekordV1(badKey));
    await s.log.publish();
    await assert.rejects(runOnce(s.opts({ sinks: { webhook: 'http://127.0.0.1:1/hook' } })), (e: unknown) => e instanceof MonitorError && e.code === 'ALERT_DELIVERY_FAILED');
    await assert.rejects(runOnce(s.opts({ sinks: { alertFile: join(s.dir, 'no/such/dir/alerts.jsonl') } })), (e: unknown) => e instanceof MonitorError && e.code === 'ALERT_DELIVERY_FAILED');
    const refusing = createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/hook`;
    await assert.rejects(runOnce(s.opts({ sinks: { webhook: hook } })), (e: unknown) => e instanceof MonitorError && e.code === 'ALERT_DELIVERY_FAILED');
    refusing.close();
    assert.equal(existsSync(s.statePath), false);
    const r = await runOnce(s.opts());
    assert.deepEqual(r.alerts.map((a) => a.index), [5]);
  } finally {
    await s.server.close();
  }
});

test('a crash mid catch-up leaves the state file at the last verified checkpoint', async () => {
  const s = await setup();
  try {
    fill(s.log, 500);
    await s.log.publish();
    assert.equal((await runOnce(s.opts())).outcome, 'ok');
    const saved = readFileSync(s.statePath, 'utf8');
    fill(s.log, 256 * 30);
    await s.log.publish();
    s.server.bundleDelayMs = 100;
    const base = ['monitor', '--log', s.server.url, '--state', s.statePath, '--policy', s.policyPath, '--log-key', s.keyPath];
    const child = spawn(process.execPath, [CAIRN_BIN, ...base, '--concurrency', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no progress line: ${err}`)), 30_000);
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        // The catch-up is under way (and far from done: 30 bundles at 100 ms each).
        if (/entries checked \(\d+ entries\/s\)/.test(err)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(readFileSync(s.statePath, 'utf8'), saved);
    assert.equal(loadState(s.statePath)?.size, 500);
    s.server.bundleDelayMs = 0;
    const again = await runOnce(s.opts());
    assert.equal(again.outcome, 'ok');
    assert.equal(again.entriesChecked, 256 * 30);
    assert.equal(loadState(s.statePath)?.size, 500 + 256 * 30);
  } finally {
    await s.server.close();
  }
});

test('a corrupted state file is an operational error, not a silent restart', async () => {
  const s = await setup();
  try {
    fill(s.log, 50);
    await s.log.publish();
    await runOnce(s.opts());
    const valid = readFileSync(s.statePath, 'utf8');
    const doc = JSON.parse(valid);
    doc.edge[0] = Buffer.alloc(32).toString('base64');
    writeFileSync(s.statePath, JSON.stringify(doc));
    await assert.rejects(runOnce(s.opts()), (e: unknown) => e instanceof MonitorError && e.code === 'INVALID_STATE');
    writeFileSync(s.statePath, '{');
    await assert.rejects(runOnce(s.opts()), (e: unknown) => e instanceof MonitorError && e.code === 'INVALID_STATE');
    for (const mutate of [
      (d: any) => (d.version = 2),
      (d: any) => delete d.checkpoint,
      (d: any) => (d.edge = [...d.edge, d.edge[0]]),
      (d: any) => (d.edge = [1]),
      (d: any) => (d.checkpoint = 'not a note'),
    ]) {
      const d = JSON.parse(valid);
      mutate(d);
      writeFileSync(s.statePath, JSON.stringify(d));
      await assert.rejects(runOnce(s.opts()), (e: unknown) => e instanceof MonitorError && e.code === 'INVALID_STATE');
    }
    // The untouched state still works (the mutations above were what failed).
    writeFileSync(s.statePath, valid);
    assert.equal((await runOnce(s.opts())).outcome, 'ok');
  } finally {
    await s.server.close();
  }
});

test('policy parsing rejects bad policies with INVALID_POLICY', () => {
  const bad = [
    'nope',
    'identities: {}',
    'identities: []',
    'identities:\n  - issuer: a\n',
    'identities:\n  - issuer: a\n    subject: { regex: "(" }\n',
    'identities:\n  - issuer: a\n    subject: { glob: "x", regex: "y" }\n',
    'identities:\n  - issuer: a\n    subject: { wild: "x" }\n',
    `identities:\n  - issuer: a\n    subject: { regex: "${'a'.repeat(1025)}" }\n`,
    'identities:\n  - issuer: a\n    subject: b\n    extensions:\n      not-an-oid: x\n',
    'identities:\n  - issuer: a\n    subject: b\n    color: red\n',
    'keys:\n  - not a key\n',
    'keys:\n  - sha256:abc\n',
    'extra: 1\nkeys:\n  - sha256:' + 'a'.repeat(64) + '\n',
    'log:\n  publicKey: nope\nkeys:\n  - sha256:' + 'a'.repeat(64) + '\n',
  ];
  for (const p of bad) assert.throws(() => parsePolicy(p), (e: unknown) => e instanceof MonitorError && e.code === 'INVALID_POLICY', p);
  const p = parsePolicy(POLICY);
  assert.equal(p.identities.length, 2);
  assert.equal(p.keys.size, 1);
  // Regexes are anchored: a partial match is no match.
  const email = p.identities[1]!;
  assert.equal(email.subject.matches('alice@example.com'), true);
  assert.equal(email.subject.matches('alice@example.com.evil'), false);
  assert.equal(email.subject.matches('x'.repeat(5000) + '@example.com'), false);
});


/** The monitor's `glob` matcher is the shared linear glob. */
const globMatch = (pattern: string, value: string): boolean => compileGlob(pattern)(value);

test('glob matching', () => {
  assert.ok(globMatch('https://github.com/acme/*', 'https://github.com/acme/app/x@y'));
  assert.ok(globMatch('a?c', 'abc'));
  assert.ok(globMatch('*', ''));
  assert.ok(globMatch('a*b*c', 'aXXbYYc'));
  assert.ok(!globMatch('a*b*c', 'aXXbYY'));
  assert.ok(!globMatch('https://github.com/acme/*', 'https://github.com/acmex/app'));
  assert.ok(!globMatch('abc', 'abcd'));
});

test('entry parsing reads every supported kind and rejects the rest', () => {
  assert.equal(parseEntry(hashedrekordV1(good)).signers[0]?.kind, 'certificate');
  const cert = parseEntry(hashedrekordV2(good)).signers[0];
  assert.ok(cert?.kind === 'certificate');
  assert.equal(cert.issuer, ISSUER);
  assert.equal(cert.extensions[OID_SOURCE_REPO], REPO);
  assert.deepEqual(cert.subjects, ['https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1']);
  assert.equal(parseEntry(dsseV1([good, okKey])).signers.length, 2);
  assert.equal(parseEntry(intotoV2(okKey)).signers[0]?.kind, 'key');
  for (const body of [
    'null',
    '{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"publicKey":{"content":"!!"}}}}',
    '{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"publicKey":{"content":"' + Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n').toString('base64') + '"}}}}',
    '{"kind":"dsse","apiVersion":"0.0.1","spec":{"signatures":[]}}',
    '{"kind":"hashedrekord","apiVersion":"0.0.2","spec":{"hashedRekordV002":{"signature":{"verifier":{}}}}}',
    '{"kind":"alpine","apiVersion":"0.0.1","spec":{}}',
  ]) {
    assert.throws(() => parseEntry(Buffer.from(body)), EntryParseError, body.slice(0, 60));
  }
});

test('the Kubernetes CronJob runs a valid monitor command with a policy that parses', async () => {
  const { parseAllDocuments } = await import('yaml');
  const { command } = await import('@cairn/cli/commands/monitor');
  const docs = parseAllDocuments(readFileSync(new URL('../deploy/kubernetes/monitor-cronjob.yaml', import.meta.url), 'utf8')).map((d) => d.toJS());
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'cairn-monitor-policy');
  const policy = parsePolicy(cm.data['policy.yaml']);
  assert.equal(policy.identities.length, 2);
  const cron = docs.find((d) => d.kind === 'CronJob');
  assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
  const args: string[] = cron.spec.jobTemplate.spec.template.spec.containers[0].args;
  assert.equal(args[0], 'monitor');
  for (const flag of args.filter((a) => a.startsWith('--'))) assert.ok(command.usage.includes(`  ${flag} `), `${flag} is a documented monitor flag`);
  for (const required of ['--log', '--state', '--policy']) assert.ok(args.includes(required));
});

test('--watch runs passes until --rounds, and stops at once on a consistency alarm', async () => {
  const s = await setup();
  try {
    fill(s.log, 30);
    await s.log.publish();
    const base = ['monitor', '--log', s.server.url, '--state', s.statePath, '--policy', s.policyPath, '--log-key', s.keyPath, '--json', '--watch', '--interval', '1'];
    const two = await cairn([...base, '--rounds', '2']);
    assert.equal(two.status, 0, two.stderr);
    const runs = two.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(runs.length, 2);
    assert.deepEqual(runs.map((r) => r.entriesChecked), [30, 0]);

    const forked = s.log.fork(10);
    fill(forked, 40);
    await forked.publish();
    s.server.log = forked;
    const alarm = await cairn([...base, '--rounds', '5']);
    assert.equal(alarm.status, 3);
    assert.equal(alarm.stdout.trim().split('\n').length, 1);
    assert.equal(loadState(s.statePath)?.size, 30);
  } finally {
    await s.server.close();
  }
});

test('a partial tile that is gone is read from the full tile (tlog-tiles allows deleting partials)', async () => {
  const s = await setup();
  try {
    fill(s.log, 300);
    await s.log.publish();
    fill(s.log, 300); // the log moved on; its checkpoint (as cached) still says 300
    s.server.tileSize = 600;
    s.server.partials = false;
    const r = await runOnce(s.opts());
    assert.equal(r.outcome, 'ok');
    assert.equal(r.entriesChecked, 300);
    assert.ok(s.server.requests.includes('/tile/entries/001.p/44'));
    assert.ok(s.server.requests.includes('/tile/entries/001'));
    await s.log.publish();
    s.server.tileSize = undefined;
    s.server.partials = true;
    const r2 = await runOnce(s.opts());
    assert.equal(r2.outcome, 'ok');
    assert.ok(s.server.requests.some((p) => p.startsWith('/tile/0/')), 'consistency proof read from hash tiles');
    assert.equal(r2.entriesChecked, 300);
  } finally {
    await s.server.close();
  }
});

test('CLI witness flags: Ed25519 only, name required; a refused cosignature is exit 1 after the state advanced', async () => {
  const s = await setup();
  try {
    fill(s.log, 12);
    await s.log.publish();
    const { generateKey, privateKeyToPem } = await import('@cairn/shared');
    const ed = join(s.dir, 'witness.pem');
    const ec = join(s.dir, 'ec.pem');
    writeFileSync(ed, privateKeyToPem(generateKey('ed25519')));
    writeFileSync(ec, privateKeyToPem(generateKey('ecdsa-p256')));
    const base = ['monitor', '--log', s.server.url, '--state', s.statePath, '--policy', s.policyPath, '--log-key', s.keyPath];
    assert.equal((await cairn([...base, '--witness-key', ed])).status, 64);
    assert.equal((await cairn([...base, '--witness-key', ec, '--witness-name', 'w.test'])).status, 64);
    // The fixture server takes no cosignatures (404): the checks passed, so the state advanced.
    const r = await cairn([...base, '--witness-key', ed, '--witness-name', 'w.test']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /witness: FAILED/);
    assert.equal(loadState(s.statePath)?.size, 12);
  } finally {
    await s.server.close();
  }
});

test('property: honest growth never alarms; any rewrite of verified history always does', async () => {
  const fc = (await import('fast-check')).default;
  const s = await setup();
  const keyBody = hashedrekordV1(okKey);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (growth, extra, keepFrac) => {
          const log = FixtureLog.create();
          s.server.log = log;
          const o = s.opts({ logKey: log.signer.publicKey, statePath: join(s.dir, `state-${Math.random()}.json`) });
          for (const g of growth) {
            for (let i = 0; i < g; i++) log.append(Buffer.concat([keyBody, Buffer.from(` `.repeat(i % 3))]));
            await log.publish();
            const r = await runOnce(o);
            if (r.outcome !== 'ok') return false;
          }
          if (log.size === 0) return true;
          // Rewrite: keep a strict prefix, change the next entry, grow to at least the old size.
          const keep = Math.floor(keepFrac * log.size);
          const fork = log.fork(keep);
          fork.append(hashedrekordV1(okKey));
          while (fork.size < log.size + extra - 1) fork.append(keyBody);
          await fork.publish();
          s.server.log = fork;
          const r = await runOnce(o);
          return r.outcome === 'consistency-alarm' && loadState(o.statePath)?.size === log.size;
        },
      ),
      { numRuns: 12 },
    );
  } finally {
    await s.server.close();
  }
});
