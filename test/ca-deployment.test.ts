/**
 * The CA outside the all-in-one wiring: `cairn ca init` key ceremony (0600 keys, passphrase,
 * refusal to overwrite) loaded by the service; a split deployment where the CA reaches the CT
 * log over HTTP (RFC 6962 add-pre-chain); CT turned off; CT unreachable (503, nothing issued).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FixedClock, PublicKey, fromPemAll, loadConfig, systemClock, type TrustInfo } from '@cairn/shared';
import { children, oidToString, readOne } from '@cairn/shared/der';
import { OID_SCT_LIST, splitCertificate, tbsExtensions, verifyEmbeddedScts } from '@cairn/shared/sct';
import { mintDevToken } from '@cairn/oidc';
import { main } from '@cairn/cli';
import { startStack } from '@cairn/host';
import { ecKey, requestCert, tempDir } from './ca-fixtures.ts';

const SUBJECT = 'https://ci.example.internal/pipelines/42';

function io(cwd: string) {
  let out = '';
  let err = '';
  return { io: { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), env: {}, cwd }, out: () => out, err: () => err };
}

test('cairn ca init writes an encrypted root and intermediate that the CA service loads', async () => {
  const dir = tempDir();
  try {
    const caDir = join(dir, 'data', 'ca');
    const passFile = join(dir, 'pass.txt');
    writeFileSync(passFile, 'correct horse battery staple\n');
    const a = io(dir);
    assert.equal(await main(['ca', 'init', '--dir', caDir, '--passphrase-file', passFile, '--org', 'Example Corp', '--cn', 'Example Root', '--curve', 'p384'], a.io), 0, a.err());
    for (const f of ['root-key.pem', 'intermediate-key.pem']) {
      assert.equal(statSync(join(caDir, f)).mode & 0o777, 0o600, f);
      assert.match(readFileSync(join(caDir, f), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    }
    const root = new X509Certificate(readFileSync(join(caDir, 'root.crt.pem')));
    const inter = new X509Certificate(readFileSync(join(caDir, 'intermediate.crt.pem')));
    assert.ok(root.ca && inter.ca);
    assert.ok(inter.verify(root.publicKey) && inter.checkIssued(root));
    assert.equal(root.subject, 'O=Example Corp\nCN=Example Root');
    assert.deepEqual(inter.keyUsage, ['1.3.6.1.5.5.7.3.3'], 'intermediate carries the codeSigning EKU');
    assert.match(inter.toLegacyObject().asn1Curve ?? '', /secp384r1/);

    // Refuses to overwrite.
    const b = io(dir);
    assert.equal(await main(['ca', 'init', '--dir', caDir], b.io), 1);
    assert.match(b.err(), /\[INVALID_CA_KEYS\]/);
    // Usage errors.
    const c = io(dir);
    assert.equal(await main(['ca', 'init'], c.io), 2);
    assert.equal(await main(['ca', 'init', '--dir', join(dir, 'x'), '--curve', 'p192'], c.io), 2);

    // Without the passphrase the service refuses to start; with it, it issues from this chain.
    const config = loadConfig({ overrides: { port: 0, dataDir: join(dir, 'data'), logLevel: 'silent', dev: true } });
    await assert.rejects(startStack(config, { components: ['oidc', 'ca'] }), (e: any) => e.code === 'INVALID_CA_KEYS');
    config.sections.ca = { passphraseFile: passFile, ctEnabled: 'false' };
    const stack = await startStack(config, { components: ['oidc', 'ca'] });
    try {
      const token = await mintDevToken(join(dir, 'data', 'oidc'), { subject: SUBJECT }, systemClock);
      const res = await requestCert(stack.url, token, ecKey(), SUBJECT);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const [leaf, i2, r2] = res.body.signedCertificateEmbeddedSct.chain.certificates.map((p: string) => new X509Certificate(p));
      assert.ok(leaf.verify(inter.publicKey));
      // A P-384 intermediate signs leaves with ecdsa-with-SHA384, as Sigstore's production CA does.
      assert.equal(oidToString(children(readOne(children(readOne(leaf.raw))[1]!.raw))[0]!.value), '1.2.840.10045.4.3.3');
      assert.equal(i2.fingerprint256, inter.fingerprint256);
      assert.equal(r2.fingerprint256, root.fingerprint256);
      // CT off: no SCT list extension.
      const exts = tbsExtensions(splitCertificate(leaf.raw).tbs).map((e) => e.oid);
      assert.ok(!exts.includes(OID_SCT_LIST));
      const info = (await (await fetch(`${stack.url}/api/cairn/v1/trust-info`)).json()) as TrustInfo[];
      const ca = info.find((x) => x.kind === 'ca');
      assert.ok(ca && ca.kind === 'ca');
      assert.deepEqual(ca.subject, { organization: 'Example Corp', commonName: 'Example Root' });
      assert.deepEqual(ca.certChain, [inter.raw.toString('base64'), root.raw.toString('base64')]);
    } finally {
      await stack.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CA files that do not belong together are refused at start with INVALID_CA_KEYS', async () => {
  const dir = tempDir();
  try {
    const a = io(dir);
    assert.equal(await main(['ca', 'init', '--dir', join(dir, 'ca')], a.io), 0, a.err());
    const other = join(dir, 'other');
    assert.equal(await main(['ca', 'init', '--dir', other], a.io), 0, a.err());
    const config = loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent' } });
    config.sections.ca = { ctEnabled: 'false' };
    // The intermediate key of another CA.
    copyFileSync(join(other, 'intermediate-key.pem'), join(dir, 'ca', 'intermediate-key.pem'));
    await assert.rejects(startStack(config, { components: ['ca'] }), (e: any) => e.code === 'INVALID_CA_KEYS');
    // A matching key and certificate, but issued by another root.
    copyFileSync(join(other, 'intermediate.crt.pem'), join(dir, 'ca', 'intermediate.crt.pem'));
    await assert.rejects(startStack(config, { components: ['ca'] }), (e: any) => e.code === 'INVALID_CA_KEYS');
    // Not a certificate at all.
    writeFileSync(join(dir, 'ca', 'root.crt.pem'), 'garbage');
    await assert.rejects(startStack(config, { components: ['ca'] }), (e: any) => e.code === 'INVALID_CA_KEYS');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('split deployment: the CA gets its SCT from a separate CT log over HTTP', async () => {
  const dir = tempDir();
  // The operator's order: CA ceremony, give the CT log the CA root, start the log, start the CA.
  const a = io(dir);
  assert.equal(await main(['ca', 'init', '--dir', join(dir, 'ca-node', 'ca'), '--curve', 'p256'], a.io), 0, a.err());
  mkdirSync(join(dir, 'ct-node', 'ct', 'roots'), { recursive: true });
  copyFileSync(join(dir, 'ca-node', 'ca', 'root.crt.pem'), join(dir, 'ct-node', 'ct', 'roots', 'cairn-ca.pem'));
  const ctStack = await startStack(loadConfig({ overrides: { port: 0, dataDir: join(dir, 'ct-node'), logLevel: 'silent' } }), { components: ['ct'] });
  try {
    const config = loadConfig({ overrides: { port: 0, dataDir: join(dir, 'ca-node'), logLevel: 'silent', dev: true } });
    config.sections.ca = { ctUrl: ctStack.url, ctEnabled: 'true' };
    const caStack = await startStack(config, { components: ['oidc', 'ca'] });
    try {
      const token = await mintDevToken(join(dir, 'ca-node', 'oidc'), { subject: SUBJECT }, systemClock);
      const res = await requestCert(caStack.url, token, ecKey(), SUBJECT);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const [leaf, inter] = res.body.signedCertificateEmbeddedSct.chain.certificates.map((p: string) => fromPemAll(p)[0]!.der);
      const ctInfo = ((await (await fetch(`${ctStack.url}/api/cairn/v1/trust-info`)).json()) as TrustInfo[]).find((x) => x.kind === 'ctlog');
      assert.ok(ctInfo && ctInfo.kind === 'ctlog');
      assert.deepEqual(verifyEmbeddedScts(leaf, inter, PublicKey.fromSpki(Buffer.from(ctInfo.publicKey, 'base64'))), { verified: 1, failed: 0 });
      const sth = (await (await fetch(`${ctStack.url}/ct/v1/get-sth`)).json()) as any;
      assert.equal(sth.tree_size, 1);
    } finally {
      await caStack.close();
    }
  } finally {
    await ctStack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CT log unreachable: 503 CT_UNAVAILABLE and no certificate', async () => {
  const dir = tempDir();
  try {
    const config = loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent', dev: true } });
    config.sections.ca = { ctUrl: 'http://127.0.0.1:1' };
    const stack = await startStack(config, { components: ['oidc', 'ca'] });
    try {
      const token = await mintDevToken(join(dir, 'oidc'), { subject: SUBJECT }, systemClock);
      const res = await requestCert(stack.url, token, ecKey(), SUBJECT);
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'CT_UNAVAILABLE');
      assert.doesNotMatch(stack.metrics.render(), /cairn_ca_certificates_issued_total\{[^}]*\} [1-9]/);
    } finally {
      await stack.close();
    }
    // ctEnabled=true with nowhere to log is a configuration error at start.
    const bad = loadConfig({ overrides: { port: 0, dataDir: join(dir, 'b'), logLevel: 'silent' } });
    bad.sections.ca = { ctEnabled: 'true' };
    await assert.rejects(startStack(bad, { components: ['ca'] }), (e: any) => e.code === 'INVALID_CONFIG');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a leaf never outlives its issuer: past the intermediate validity the CA answers CA_UNAVAILABLE', async () => {
  const dir = tempDir();
  try {
    const a = io(dir);
    assert.equal(await main(['ca', 'init', '--dir', join(dir, 'ca'), '--root-days', '2', '--intermediate-days', '1'], a.io), 0, a.err());
    // 36 hours later (the root still valid, the one-day intermediate not): every request is refused.
    const later = new FixedClock(Date.now() + 36 * 3600 * 1000);
    const config = loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent', dev: true } });
    config.sections.ca = { ctEnabled: 'false' };
    const stack = await startStack(config, { components: ['oidc', 'ca'], clock: later });
    try {
      const token = await mintDevToken(join(dir, 'oidc'), { subject: SUBJECT }, later);
      const res = await requestCert(stack.url, token, ecKey(), SUBJECT);
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.code, 'CA_UNAVAILABLE');
      // At the intermediate's start the same request succeeds (the clock is the only difference).
      later.set(Date.now() + 60_000);
      const ok = await requestCert(stack.url, await mintDevToken(join(dir, 'oidc'), { subject: SUBJECT }, later), ecKey(), SUBJECT);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    } finally {
      await stack.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
