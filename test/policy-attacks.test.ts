/**
 * Attacks on verification policy (issue 14): identity patterns that backtrack (finding 3) and
 * bundles that repeat one log entry to meet a higher threshold (finding 1). Real keyless bundles
 * from the in-process stack; `cairn verify` is the built CLI in a child process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePolicy } from '@cairn/monitor';
import { findIssuer, parseIssuersConfig } from '@cairn/ca';
import { CAIRN_BIN } from './helpers/cli.ts';
import { cli, readJson, runAsync, sigstoreVerifyBundle, startSignStack, type SignStack } from './sign-fixtures.ts';

/** The identity of the attack run: 34 `a` and a `!`, so `(a+)+$` backtracks before failing. */
const EVIL_SUBJECT = `https://ci.example.internal/${'a'.repeat(34)}!`;
const content = Buffer.from('artifact for the pattern attacks\n');

let s: SignStack;
let artifact: string;
let bundlePath: string;

before(async () => {
  s = await startSignStack();
  artifact = join(s.work, 'artifact.txt');
  writeFileSync(artifact, content);
  bundlePath = join(s.work, 'evil.sigstore.json');
  const r = await cli(['sign', artifact, '--bundle', bundlePath, '--url', s.url, '--identity-token', await s.token({ subject: EVIL_SUBJECT })]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await s?.stack.close();
});

function verifyCli(extra: string[], bundle = bundlePath): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return runAsync(process.execPath, [CAIRN_BIN, 'verify', artifact, '--bundle', bundle, '--trusted-root', s.trustedRootPath, '--offline', '--certificate-oidc-issuer', s.issuer, ...extra], {
    PATH: process.env.PATH,
    HOME: s.work,
  });
}

test("finding 3: cairn verify --certificate-identity-regexp '(a+)+$' on a 34×a+! identity answers at once with IDENTITY_MISMATCH (RE2)", async (t) => {
  const started = performance.now();
  const r = await verifyCli(['--certificate-identity-regexp', '(a+)+$']);
  const ms = performance.now() - started;
  t.diagnostic(`cairn verify with '(a+)+$' took ${ms.toFixed(0)} ms (process start included)`);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /IDENTITY_MISMATCH/);
  // The same bundle verifies under a pattern that matches: the mismatch above is the pattern's.
  const ok = await verifyCli(['--certificate-identity-regexp', '^https://ci\\.example\\.internal/a+!$']);
  assert.equal(ok.status, 0, ok.stderr);
});

test('finding 3: patterns RE2 cannot express (backreferences, lookaround) are refused with POLICY_INVALID', async () => {
  for (const re of ['(a)\\1', '(?=a)a', '(?<!b)a', 'a(?!b)']) {
    const r = await verifyCli(['--certificate-identity-regexp', re]);
    assert.equal(r.status, 1, `${re}: ${r.stderr}`);
    assert.match(r.stderr, /POLICY_INVALID/, re);
  }
  const issuer = await runAsync(process.execPath, [CAIRN_BIN, 'verify', artifact, '--bundle', bundlePath, '--trusted-root', s.trustedRootPath, '--offline', '--certificate-identity', EVIL_SUBJECT, '--certificate-oidc-issuer-regexp', '(x)\\1'], { PATH: process.env.PATH, HOME: s.work });
  assert.match(issuer.stderr, /POLICY_INVALID/);
});

test('finding 3: monitor policy regexes and globs are linear; backreferences refused with INVALID_POLICY', (t) => {
  const p = parsePolicy(`identities:\n  - issuer: { regex: "(a+)+$" }\n    subject: { regex: "(.*a){30}" }\n  - issuer: x\n    subject: { glob: "*a*a*a*a*a*a*a*a*a*a*a*a*b" }\n`);
  const started = performance.now();
  const evil = 'a'.repeat(34) + '!';
  assert.equal(p.identities[0]!.issuer.matches(evil), false);
  assert.equal(p.identities[0]!.subject.matches('a'.repeat(29) + '!'.repeat(2000)), false);
  assert.equal(p.identities[0]!.subject.matches('a'.repeat(30)), true);
  assert.equal(p.identities[1]!.subject.matches('a'.repeat(4000)), false);
  t.diagnostic(`monitor matches took ${(performance.now() - started).toFixed(1)} ms`);
  for (const bad of ['(a)\\\\1', '(?=a)a']) {
    assert.throws(
      () => parsePolicy(`identities:\n  - issuer: x\n    subject: { regex: "${bad}" }\n`),
      (e: { code?: string; message?: string }) => e.code === 'INVALID_POLICY' && /RE2/.test(e.message ?? ''),
      bad,
    );
  }
});

test('finding 3: CA meta-issuer patterns match through RE2 (a *-*-* pattern against a long issuer URL)', (t) => {
  const cfg = parseIssuersConfig({ 'meta-issuers': { 'https://*-*-*-*-*-*.example.com': { 'client-id': 'sigstore', type: 'kubernetes' } } });
  const started = performance.now();
  assert.equal(findIssuer(cfg, `https://${'-'.repeat(3000)}x`), undefined);
  assert.equal(findIssuer(cfg, 'https://a-b-c-d-e-f.example.com')?.type, 'kubernetes');
  t.diagnostic(`meta-issuer matching took ${(performance.now() - started).toFixed(1)} ms`);
});

test('finding 1: a bundle repeating its log entry is refused (DUPLICATE_TLOG_ENTRY), whatever the thresholds; @sigstore/verify refuses it too', async () => {
  const b = readJson(bundlePath);
  assert.equal(b.verificationMaterial.tlogEntries.length, 1);
  const policy = ['--certificate-identity', EVIL_SUBJECT];
  // The original meets the default thresholds and fails a threshold of 2 for want of entries.
  assert.equal((await verifyCli(policy)).status, 0);
  const two = await verifyCli([...policy, '--tlog-threshold', '2']);
  assert.match(two.stderr, /TLOG_THRESHOLD/);
  const tripled = structuredClone(b);
  tripled.verificationMaterial.tlogEntries = [b.verificationMaterial.tlogEntries[0], b.verificationMaterial.tlogEntries[0], b.verificationMaterial.tlogEntries[0]];
  const dupPath = join(s.work, 'duplicated.sigstore.json');
  writeFileSync(dupPath, JSON.stringify(tripled));
  for (const extra of [['--tlog-threshold', '2'], ['--timestamp-threshold', '2'], ['--tlog-threshold', '2', '--timestamp-threshold', '2'], []]) {
    const r = await verifyCli([...policy, ...extra], dupPath);
    assert.equal(r.status, 1, `${extra.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /DUPLICATE_TLOG_ENTRY/, extra.join(' '));
  }
  // The same body under another index is the same entry too.
  const reindexed = structuredClone(b);
  const copy = structuredClone(b.verificationMaterial.tlogEntries[0]);
  copy.logIndex = String(Number(copy.logIndex) + 1);
  reindexed.verificationMaterial.tlogEntries.push(copy);
  const rePath = join(s.work, 'reindexed.sigstore.json');
  writeFileSync(rePath, JSON.stringify(reindexed));
  assert.match((await verifyCli([...policy, '--tlog-threshold', '2'], rePath)).stderr, /DUPLICATE_TLOG_ENTRY/);
  // The oracle: sigstore-js accepts the original and refuses the copies.
  const sigPolicy = { subjectAlternativeName: EVIL_SUBJECT, extensions: { issuer: s.issuer } };
  sigstoreVerifyBundle(s, b, content, sigPolicy);
  assert.throws(() => sigstoreVerifyBundle(s, tripled, content, sigPolicy, { tlogThreshold: 2 }), /duplicate/);
  assert.throws(() => sigstoreVerifyBundle(s, tripled, content, sigPolicy, { timestampThreshold: 2 }), /duplicate/);
});

test('finding 1: a bundle repeating an RFC 3161 timestamp is refused (DUPLICATE_TIMESTAMP)', async () => {
  const b = readJson(bundlePath);
  // Any timestamp token bytes will do: duplicates are refused before any timestamp is checked.
  const token = Buffer.from('a timestamp token').toString('base64');
  b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: token }, { signedTimestamp: token }] };
  const p = join(s.work, 'dup-timestamps.sigstore.json');
  writeFileSync(p, JSON.stringify(b));
  const r = await verifyCli(['--certificate-identity', EVIL_SUBJECT, '--timestamp-threshold', '2'], p);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DUPLICATE_TIMESTAMP/);
});
