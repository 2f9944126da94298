/**
 * Rotations with the roots in a PKCS#11 token (issue 18: trust-material rotations with the keys
 * in an HSM), with SoftHSM2: `cairn ca rotate-intermediate --pkcs11-module` and `cairn tsa
 * rotate-signing --pkcs11-module` generate the new key in the token (not extractable), sign its
 * certificate with the root in the token, and switch the service label to it; `cairn up
 * --pkcs11-module` then issues and timestamps with the new keys, trusted_root.json keeps the old
 * chains with a validFor.end, and bundles from before and after verify with `cairn verify` and
 * @sigstore/verify. Refusals (a wrong PIN, the root missing from the token, a failure after the
 * new key was made) answer a stable code and leave the token's keys and the data directory as
 * they were.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sigstoreTuf from '@sigstore/tuf';
import * as sigstoreVerify from '@sigstore/verify';
import * as sigstoreBundle from '@sigstore/bundle';
import { destroyPkcs11Key, existingLabels, Pkcs11Signer, relabelPkcs11Key } from '@cairn/shared/pkcs11';
import { cairn, startCairn, tempDir, type RunResult, type UpProcess } from './helpers/cli.ts';
import { SOFTHSM_MODULE, softHsm } from './helpers/softhsm.ts';

const PIN = '318204';
const SUBJECT = 'https://ci.example.internal/pipelines/hsm-rotation';
const hsm = ['--pkcs11-module', SOFTHSM_MODULE];
const withPin = { env: { CAIRN_PKCS11_PIN: PIN } };
let base: string;
let dataDir: string;
let partialDir: string;
let work: string;
let port: string;
let up: UpProcess | undefined;

function code(r: RunResult): string | undefined {
  return /error \[([A-Z0-9_]+)\]/.exec(r.stderr)?.[1];
}

/** Every file under a directory with the SHA-256 of its content. */
function snapshot(dir: string, prefix = ''): Record<string, string> {
  if (!existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) Object.assign(out, snapshot(p, `${prefix}${n}/`));
    else out[`${prefix}${n}`] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

interface StatusRow {
  label: string;
  present: boolean;
  extractable?: boolean;
  keyId?: string;
}
function tokenStatus(token = 'cairn'): StatusRow[] {
  const r = cairn(['hsm', 'status', ...hsm, '--pkcs11-token', token, '--json'], withPin);
  return JSON.parse(r.stdout) as StatusRow[];
}
function keyIdOf(label: string, token = 'cairn'): string | undefined {
  return tokenStatus(token).find((r) => r.label === label)?.keyId;
}
const spkiHash = (pem: string): string => createHash('sha256').update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
const staged = (token: string): string[] =>
  existingLabels({ modulePath: SOFTHSM_MODULE, uri: `pkcs11:token=${token};object=x`, pin: PIN, labels: ['cairn-ca-intermediate-next', 'cairn-tsa-signing-next'] });

const env = (): Record<string, string> => ({ HOME: work, XDG_DATA_HOME: join(work, 'xdg'), CAIRN_TRUST_CACHE: join(work, 'trust') });
function signOnce(name: string, url: string): { artifact: string; bundle: string } {
  const artifact = join(work, `${name}.txt`);
  writeFileSync(artifact, `${name}\n`);
  const bundle = join(work, `${name}.sigstore.json`);
  const token = cairn(['token', '--data-dir', dataDir, '--subject', SUBJECT]).stdout.trim();
  const r = cairn(['sign', artifact, '--url', url, '--bundle', bundle, '--identity-token', token], { env: env() });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout + r.stderr, /Timestamped by the TSA/);
  return { artifact, bundle };
}
interface BundleJson {
  verificationMaterial: { certificate: { rawBytes: string }; timestampVerificationData: { rfc3161Timestamps: { signedTimestamp: string }[] } };
}
const bundleJson = (f: string): BundleJson => JSON.parse(readFileSync(f, 'utf8')) as BundleJson;

before(() => {
  base = tempDir('cairn-hsm-rotate-');
  const h = softHsm(join(base, 'softhsm'));
  h.initToken('cairn', PIN);
  h.initToken('partial', PIN);
  h.initToken('custom', PIN);
  dataDir = join(base, 'data');
  partialDir = join(base, 'partial-data');
  work = tempDir('cairn-hsm-rotate-work-');
});
after(async () => {
  await up?.stop();
});

let signedBefore: { artifact: string; bundle: string };
let interBefore: string;
let tsaBefore: string;

test('keys made in the token by cairn hsm init; a keyless signature before the rotation', async () => {
  const init = cairn(['hsm', 'init', '--data-dir', dataDir, ...hsm, '--org', 'Example'], withPin);
  assert.equal(init.status, 0, init.stderr + init.stdout);
  // A second token whose roots are gone (as if they were kept in another, offline token).
  const partial = cairn(['hsm', 'init', '--data-dir', partialDir, ...hsm, '--pkcs11-token', 'partial'], withPin);
  assert.equal(partial.status, 0, partial.stderr + partial.stdout);
  for (const object of ['cairn-ca-root', 'cairn-tsa-root']) assert.equal(destroyPkcs11Key({ modulePath: SOFTHSM_MODULE, uri: `pkcs11:token=partial;object=${object}`, pin: PIN }), 2);

  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir, ...hsm], { CAIRN_PKCS11_PIN: PIN });
  port = new URL(up.url).port;
  const init2 = cairn(['trust', 'init', '--mirror', `${up.url}/tuf`, '--root', join(dataDir, 'tuf', 'repository', '1.root.json')], { env: env() });
  assert.equal(init2.status, 0, init2.stderr + init2.stdout);
  signedBefore = signOnce('before', up.url);
  await up.stop();
  up = undefined;
  interBefore = readFileSync(join(dataDir, 'ca', 'intermediate.crt.pem'), 'utf8');
  tsaBefore = readFileSync(join(dataDir, 'tsa', 'signing.crt.pem'), 'utf8');
  assert.equal(spkiHash(interBefore), keyIdOf('cairn-ca-intermediate'));
});

test('refused rotations (wrong PIN, root missing, a failure after the new key was made) change neither the token nor the data directory', () => {
  const files = snapshot(dataDir);
  const partialFiles = snapshot(partialDir);
  const keys = tokenStatus();
  const partialKeys = tokenStatus('partial');
  const unchanged = (what: string): void => {
    assert.deepEqual(snapshot(dataDir), files, `${what}: the data directory (certificates, trusted_root.json) is unchanged`);
    assert.deepEqual(snapshot(partialDir), partialFiles, `${what}: the other data directory is unchanged`);
    assert.deepEqual(tokenStatus(), keys, `${what}: the token's keys are unchanged`);
    assert.deepEqual(tokenStatus('partial'), partialKeys, `${what}: the other token's keys are unchanged`);
    assert.deepEqual([...staged('cairn'), ...staged('partial')], [], `${what}: no staged key is left in a token`);
  };
  const ca = ['ca', 'rotate-intermediate', '--dir', join(dataDir, 'ca'), ...hsm];
  const tsa = ['tsa', 'rotate-signing', '--dir', join(dataDir, 'tsa'), ...hsm];

  const wrongPinFile = join(base, 'wrong-pin.txt');
  writeFileSync(wrongPinFile, '000000\n', { mode: 0o600 });
  for (const r of [cairn(ca, { env: { CAIRN_PKCS11_PIN: '000000' } }), cairn([...tsa, '--pin-file', wrongPinFile])]) {
    assert.equal(code(r), 'PKCS11_PIN_INCORRECT', r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /000000/, 'the PIN is never printed');
  }
  unchanged('wrong PIN');
  for (const r of [cairn(ca, { env: { CAIRN_PKCS11_PIN: undefined } }), cairn([...tsa, '--pin-env', 'NO_SUCH_PIN_VARIABLE'])]) assert.equal(code(r), 'PKCS11_PIN_MISSING', r.stderr);

  const caPartial = cairn(['ca', 'rotate-intermediate', '--dir', join(partialDir, 'ca'), ...hsm, '--pkcs11-token', 'partial'], withPin);
  assert.equal(code(caPartial), 'PKCS11_OBJECT_NOT_FOUND', caPartial.stderr);
  assert.match(caPartial.stderr, /cairn-ca-root/);
  const tsaPartial = cairn(['tsa', 'rotate-signing', '--dir', join(partialDir, 'tsa'), ...hsm, '--pkcs11-token', 'partial'], withPin);
  assert.equal(code(tsaPartial), 'PKCS11_OBJECT_NOT_FOUND', tsaPartial.stderr);
  assert.match(tsaPartial.stderr, /cairn-tsa-root/);
  unchanged('root missing');

  // The certificates of another CA in the directory: the token's root does not match root.crt.pem.
  const mismatch = cairn(['ca', 'rotate-intermediate', '--dir', join(partialDir, 'ca'), ...hsm], withPin);
  assert.equal(code(mismatch), 'INVALID_CA_KEYS', mismatch.stderr);
  unchanged('another CA');

  // A failure after the new key was generated in the token (its certificate cannot be written):
  // the new key is destroyed again and no file moves.
  for (const [args, file] of [[ca, join(dataDir, 'ca', 'intermediate.crt.pem.new')], [tsa, join(dataDir, 'tsa', 'signing.crt.pem.new')]] as const) {
    mkdirSync(file);
    const r = cairn([...args], withPin);
    assert.match(code(r) ?? '', /^INVALID_(CA|TSA)_KEYS$/, r.stderr);
    assert.match(r.stderr, /undone/);
    rmdirSync(file);
    unchanged(`failure half-way (${args[0]})`);
  }

  for (const r of [cairn([...ca, '--passphrase-file', wrongPinFile], withPin), cairn(['ca', 'rotate-intermediate', '--dir', join(dataDir, 'ca'), '--pin-env', 'X']), cairn(['tsa', 'rotate-signing', '--dir', join(dataDir, 'tsa'), '--pkcs11-token', 'cairn'])]) {
    assert.equal(code(r), 'USAGE', r.stderr);
  }
  // Without --pkcs11-module the file-key rotation asks for root-key.pem.
  const noFlag = cairn(['ca', 'rotate-intermediate', '--dir', join(dataDir, 'ca')]);
  assert.equal(code(noFlag), 'INVALID_CA_KEYS');
  assert.match(noFlag.stderr, /--pkcs11-module/);
  unchanged('usage');
});

test('rotate in the token: new keys generated there and signed by the roots there; no key file', () => {
  const caKeyBefore = keyIdOf('cairn-ca-intermediate')!;
  const tsaKeyBefore = keyIdOf('cairn-tsa-signing')!;
  const pinFile = join(base, 'pin.txt');
  writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
  const ca = cairn(['ca', 'rotate-intermediate', '--dir', join(dataDir, 'ca'), ...hsm, '--pin-file', pinFile]);
  assert.equal(ca.status, 0, ca.stderr + ca.stdout);
  assert.match(ca.stdout, /new intermediate pkcs11:token=cairn;object=cairn-ca-intermediate \(generated in the token, not extractable\)/);
  assert.match(ca.stdout, /retired\/intermediate-[0-9a-f]+\.crt\.pem/);
  assert.match(ca.stdout, new RegExp(`object=cairn-ca-intermediate-retired-${caKeyBefore.slice(0, 16)}`));
  const tsa = cairn(['tsa', 'rotate-signing', '--dir', join(dataDir, 'tsa'), ...hsm], withPin);
  assert.equal(tsa.status, 0, tsa.stderr + tsa.stdout);
  assert.match(tsa.stdout, /new TSA signing key pkcs11:token=cairn;object=cairn-tsa-signing/);
  assert.doesNotMatch(ca.stdout + ca.stderr + tsa.stdout + tsa.stderr, new RegExp(PIN));

  const rows = tokenStatus();
  assert.equal(rows.length, 8);
  assert.ok(rows.every((r) => r.present && r.extractable === false), JSON.stringify(rows));
  const interAfter = readFileSync(join(dataDir, 'ca', 'intermediate.crt.pem'), 'utf8');
  const tsaAfter = readFileSync(join(dataDir, 'tsa', 'signing.crt.pem'), 'utf8');
  assert.notEqual(keyIdOf('cairn-ca-intermediate'), caKeyBefore);
  assert.notEqual(keyIdOf('cairn-tsa-signing'), tsaKeyBefore);
  assert.equal(spkiHash(interAfter), keyIdOf('cairn-ca-intermediate'), 'the new certificate is the new token key');
  assert.equal(spkiHash(tsaAfter), keyIdOf('cairn-tsa-signing'));
  // Issued by the same roots (in the token), with the same subjects.
  const caRoot = new X509Certificate(readFileSync(join(dataDir, 'ca', 'root.crt.pem')));
  const tsaRoot = new X509Certificate(readFileSync(join(dataDir, 'tsa', 'root.crt.pem')));
  assert.ok(new X509Certificate(interAfter).verify(caRoot.publicKey) && new X509Certificate(interAfter).checkIssued(caRoot));
  assert.ok(new X509Certificate(tsaAfter).verify(tsaRoot.publicKey));
  assert.equal(new X509Certificate(interAfter).subject, new X509Certificate(interBefore).subject);
  // The old keys stay in the token under retired labels; the old certificates in retired/.
  const retired = [`cairn-ca-intermediate-retired-${caKeyBefore.slice(0, 16)}`, `cairn-tsa-signing-retired-${tsaKeyBefore.slice(0, 16)}`];
  assert.deepEqual(existingLabels({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=cairn;object=x', pin: PIN, labels: retired }), retired);
  assert.deepEqual(staged('cairn'), []);
  assert.equal(readFileSync(join(dataDir, 'ca', 'retired', readdirSync(join(dataDir, 'ca', 'retired'))[0]!), 'utf8'), interBefore);
  assert.equal(readFileSync(join(dataDir, 'tsa', 'retired', readdirSync(join(dataDir, 'tsa', 'retired'))[0]!), 'utf8'), tsaBefore);
  const keyFiles = Object.keys(snapshot(dataDir)).filter((f) => /key[^/]*\.pem$/.test(f) && !f.startsWith('oidc/') && !f.startsWith('tuf/DEVELOPMENT-keys/'));
  assert.deepEqual(keyFiles, [], 'no private key file');
});

test('cairn up --pkcs11-module signs with the new keys; bundles from before and after verify where their windows say', async () => {
  up = await startCairn(['up', '--port', port, '--data-dir', dataDir, ...hsm], { CAIRN_PKCS11_PIN: PIN });
  const url = up.url;
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  const refreshed = cairn(['trust', 'refresh', '--mirror', `${url}/tuf`], { env: env() });
  assert.equal(refreshed.status, 0, refreshed.stderr);
  const signedAfter = signOnce('after', url);
  const leaf = (b: string): X509Certificate => new X509Certificate(Buffer.from(bundleJson(b).verificationMaterial.certificate.rawBytes, 'base64'));
  const interAfter = new X509Certificate(readFileSync(join(dataDir, 'ca', 'intermediate.crt.pem')));
  assert.ok(leaf(signedAfter.bundle).verify(interAfter.publicKey), 'issued by the new intermediate');
  assert.ok(leaf(signedBefore.bundle).verify(new X509Certificate(interBefore).publicKey), 'the earlier one by the old intermediate');
  assert.ok(!leaf(signedAfter.bundle).verify(new X509Certificate(interBefore).publicKey));
  const ts = (b: string): string => bundleJson(b).verificationMaterial.timestampVerificationData.rfc3161Timestamps[0]!.signedTimestamp;
  assert.notEqual(ts(signedAfter.bundle), ts(signedBefore.bundle));

  const rootJson = join(dataDir, 'tuf', 'repository', '1.root.json');
  const trustedRoot = await sigstoreTuf.getTrustedRoot({ mirrorURL: `${url}/tuf`, rootPath: rootJson, cachePath: join(work, 'sigstore-tuf'), forceInit: true });
  interface Authority {
    certChain: { certificates: { rawBytes: Uint8Array }[] };
    validFor: { start: Date; end?: Date };
  }
  const tr = trustedRoot as unknown as { certificateAuthorities: Authority[]; timestampAuthorities: Authority[] };
  const der = (pem: string): string => new X509Certificate(pem).raw.toString('base64');
  const first = (a: Authority): string => Buffer.from(a.certChain.certificates[0]!.rawBytes).toString('base64');
  for (const [what, list, old, now] of [
    ['CA', tr.certificateAuthorities, interBefore, readFileSync(join(dataDir, 'ca', 'intermediate.crt.pem'), 'utf8')],
    ['TSA', tr.timestampAuthorities, tsaBefore, readFileSync(join(dataDir, 'tsa', 'signing.crt.pem'), 'utf8')],
  ] as const) {
    assert.equal(list.length, 2, `${what}: ${JSON.stringify(list)}`);
    const retired = list.find((a) => first(a) === der(old));
    const current = list.find((a) => first(a) === der(now));
    assert.ok(retired && current, `${what}: both chains are listed`);
    assert.ok(retired.validFor.end !== undefined && new Date(retired.validFor.end).getTime() <= Date.now(), `${what}: the retired chain ended at the rotation`);
    assert.ok(new Date(retired.validFor.end).getTime() >= new Date(current.validFor.start).getTime() - 1000, `${what}: the windows meet`);
    assert.ok(new Date(current.validFor.end ?? '9999-01-01').getTime() > Date.now() + 86_400_000, `${what}: the new chain is valid on`);
  }

  const verifier = new sigstoreVerify.Verifier(sigstoreVerify.toTrustMaterial(trustedRoot));
  for (const b of [signedBefore, signedAfter]) {
    const v = cairn(['verify', b.artifact, '--bundle', b.bundle, '--tuf-mirror', `${url}/tuf`, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', `${url}/oidc`], { env: env() });
    assert.equal(v.status, 0, v.stderr + v.stdout);
    assert.match(v.stdout, /Verified OK/);
    const entity = sigstoreVerify.toSignedEntity(sigstoreBundle.bundleFromJSON(JSON.parse(readFileSync(b.bundle, 'utf8'))), readFileSync(b.artifact));
    verifier.verify(entity, { subjectAlternativeName: SUBJECT, extensions: { issuer: `${url}/oidc` } });
  }
  // Outside its window the retired chain does not verify: against a trusted root whose old CA
  // ended before the "before" bundle was signed, that bundle is refused.
  const ended = {
    ...tr,
    certificateAuthorities: tr.certificateAuthorities.map((a) =>
      first(a) === der(interBefore) ? { ...a, validFor: { start: new Date(a.validFor.start.getTime() - 60_000), end: new Date(a.validFor.start.getTime() - 1000) } } : a,
    ),
  };
  const strict = new sigstoreVerify.Verifier(sigstoreVerify.toTrustMaterial(ended as unknown as typeof trustedRoot));
  const entityBefore = sigstoreVerify.toSignedEntity(sigstoreBundle.bundleFromJSON(JSON.parse(readFileSync(signedBefore.bundle, 'utf8'))), readFileSync(signedBefore.artifact));
  assert.throws(() => strict.verify(entityBefore, { subjectAlternativeName: SUBJECT, extensions: { issuer: `${url}/oidc` } }));
});

test("keys under the operator's own labels (ca.pkcs11Key, tsa.pkcs11Key) rotate with --pkcs11-key: the new key takes that label, and the services start on the same settings", async () => {
  await up?.stop();
  up = undefined;
  const customDir = join(base, 'custom-data');
  const token = ['--pkcs11-token', 'custom'];
  const init = cairn(['hsm', 'init', '--data-dir', customDir, ...hsm, ...token], withPin);
  assert.equal(init.status, 0, init.stderr + init.stdout);
  const labels = { ca: 'ops-ca-2026', tsa: 'ops-tsa-2026' };
  assert.equal(relabelPkcs11Key({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=custom;object=cairn-ca-intermediate', pin: PIN, label: labels.ca }), 2);
  assert.equal(relabelPkcs11Key({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=custom;object=cairn-tsa-signing', pin: PIN, label: labels.tsa }), 2);
  const uri = (label: string): string => `pkcs11:token=custom;object=${label}`;
  const keyId = (label: string): string => {
    const k = Pkcs11Signer.open({ modulePath: SOFTHSM_MODULE, uri: uri(label), pin: PIN });
    try {
      return createHash('sha256').update(k.publicKey.spki).digest('hex');
    } finally {
      k.close();
    }
  };
  const rotations = [
    { what: 'ca', args: ['ca', 'rotate-intermediate', '--dir', join(customDir, 'ca'), ...hsm, ...token], label: labels.ca, cert: join(customDir, 'ca', 'intermediate.crt.pem') },
    { what: 'tsa', args: ['tsa', 'rotate-signing', '--dir', join(customDir, 'tsa'), ...hsm, ...token], label: labels.tsa, cert: join(customDir, 'tsa', 'signing.crt.pem') },
  ];
  const files = snapshot(customDir);
  for (const r of rotations) {
    // Without the URI the default label is looked for: refused before anything changes.
    const missing = cairn(r.args, withPin);
    assert.equal(code(missing), 'PKCS11_OBJECT_NOT_FOUND', missing.stderr);
    // A URI in another token, one without a label, or one pinning the old key's id: refused.
    for (const bad of [`pkcs11:token=cairn;object=${r.label}`, 'pkcs11:token=custom;id=%01', `pkcs11:token=custom;object=${r.label};id=%01`]) {
      const refused = cairn([...r.args, '--pkcs11-key', bad], withPin);
      assert.equal(code(refused), 'PKCS11_URI_INVALID', `${bad}: ${refused.stderr}`);
    }
    // Without --pkcs11-module the flag is a usage error.
    assert.equal(code(cairn([r.what, r.what === 'ca' ? 'rotate-intermediate' : 'rotate-signing', '--dir', join(customDir, r.what), '--pkcs11-key', uri(r.label)])), 'USAGE');
  }
  assert.deepEqual(snapshot(customDir), files, 'the refusals changed no file');
  for (const r of rotations) {
    const before = keyId(r.label);
    assert.equal(spkiHash(readFileSync(r.cert, 'utf8')), before);
    const ok = cairn([...r.args, '--pkcs11-key', uri(r.label)], withPin);
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    assert.ok(ok.stdout.includes(uri(r.label)), ok.stdout);
    const after = keyId(r.label);
    assert.notEqual(after, before, `${r.what}: the label names a new key`);
    assert.equal(spkiHash(readFileSync(r.cert, 'utf8')), after, `${r.what}: the new certificate is that key's`);
    const retired = `${r.label}-retired-${before.slice(0, 16)}`;
    assert.deepEqual(existingLabels({ modulePath: SOFTHSM_MODULE, uri: uri('x'), pin: PIN, labels: [retired, `${r.label}-next`] }), [retired]);
  }
  // The services configured with those URIs start and sign with the new keys.
  const custom = await startCairn(['up', '--port', '0', '--data-dir', customDir, ...hsm, ...token], {
    CAIRN_PKCS11_PIN: PIN,
    CAIRN_CA__PKCS11_KEY: uri(labels.ca),
    CAIRN_TSA__PKCS11_KEY: uri(labels.tsa),
  });
  try {
    assert.equal((await fetch(`${custom.url}/readyz`)).status, 200);
    const e = { env: { ...env(), CAIRN_TRUST_CACHE: join(work, 'trust-custom') } };
    const ti = cairn(['trust', 'init', '--mirror', `${custom.url}/tuf`, '--root', join(customDir, 'tuf', 'repository', '1.root.json')], e);
    assert.equal(ti.status, 0, ti.stderr + ti.stdout);
    const artifact = join(work, 'custom.txt');
    writeFileSync(artifact, 'custom labels\n');
    const bundle = join(work, 'custom.sigstore.json');
    const idToken = cairn(['token', '--data-dir', customDir, '--subject', SUBJECT]).stdout.trim();
    const signed = cairn(['sign', artifact, '--url', custom.url, '--bundle', bundle, '--identity-token', idToken], e);
    assert.equal(signed.status, 0, signed.stderr + signed.stdout);
    assert.match(signed.stdout + signed.stderr, /Timestamped by the TSA/);
    const leaf = new X509Certificate(Buffer.from(bundleJson(bundle).verificationMaterial.certificate.rawBytes, 'base64'));
    assert.ok(leaf.verify(new X509Certificate(readFileSync(join(customDir, 'ca', 'intermediate.crt.pem'))).publicKey), 'issued by the rotated intermediate');
    const v = cairn(['verify', artifact, '--bundle', bundle, '--tuf-mirror', `${custom.url}/tuf`, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', `${custom.url}/oidc`], e);
    assert.equal(v.status, 0, v.stderr + v.stdout);
  } finally {
    await custom.stop();
  }
});
