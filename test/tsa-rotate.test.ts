/**
 * TSA signing-key rotation (issue 18: trust-material rotations with overlapping windows):
 * `cairn tsa rotate-signing` on the directory holding the TSA root key, then `cairn up` again.
 * trusted_root.json keeps the old signing certificate with a validFor.end and adds the new one;
 * a bundle timestamped before the rotation and one after both verify with `cairn verify` and
 * @sigstore/verify (trusted root from the stack's TUF mirror through @sigstore/tuf). Without the
 * root key the rotation is refused with INVALID_TSA_KEYS and nothing changes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sigstoreTuf from '@sigstore/tuf';
import * as sigstoreVerify from '@sigstore/verify';
import * as sigstoreBundle from '@sigstore/bundle';
import { cairn, startCairn, tempDir, type UpProcess } from './helpers/cli.ts';

const SUBJECT = 'https://ci.example.internal/pipelines/tsa-rotation';
let up: UpProcess | undefined;
after(async () => {
  await up?.stop();
});

interface Tsa {
  certChain: { certificates: { rawBytes: string }[] };
  validFor: { start: string; end?: string };
}

test('a new TSA signing key: timestamps from before and after the rotation both verify', async () => {
  const dataDir = tempDir('cairn-tsa-rotate-');
  const work = tempDir('cairn-tsa-rotate-work-');
  const env = { HOME: work, XDG_DATA_HOME: join(work, 'xdg'), CAIRN_TRUST_CACHE: join(work, 'trust') };
  const rootJson = join(dataDir, 'tuf', 'repository', '1.root.json');
  const signOnce = (name: string, url: string): { artifact: string; bundle: string } => {
    const artifact = join(work, `${name}.txt`);
    writeFileSync(artifact, `${name}\n`);
    const bundle = join(work, `${name}.sigstore.json`);
    const token = cairn(['token', '--data-dir', dataDir, '--subject', SUBJECT]).stdout.trim();
    const r = cairn(['sign', artifact, '--url', url, '--bundle', bundle, '--identity-token', token], { env });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout + r.stderr, /Timestamped by the TSA/);
    return { artifact, bundle };
  };
  const tokenCert = (bundle: string): string => {
    const b = JSON.parse(readFileSync(bundle, 'utf8')) as { verificationMaterial: { timestampVerificationData: { rfc3161Timestamps: { signedTimestamp: string }[] } } };
    return b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0]!.signedTimestamp;
  };

  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir]);
  const firstUrl = up.url;
  assert.equal(cairn(['trust', 'init', '--mirror', `${up.url}/tuf`, '--root', rootJson], { env }).status, 0);
  const before = signOnce('before', up.url);
  await up.stop();
  up = undefined;

  const tsaDir = join(dataDir, 'tsa');
  const leafBefore = readFileSync(join(tsaDir, 'signing.crt.pem'), 'utf8');
  // Refused without the root key; nothing moves.
  renameSync(join(tsaDir, 'root-key.pem'), join(work, 'root-key.pem'));
  const refused = cairn(['tsa', 'rotate-signing', '--dir', tsaDir]);
  assert.match(refused.stderr, /error \[INVALID_TSA_KEYS\]/);
  assert.equal(readFileSync(join(tsaDir, 'signing.crt.pem'), 'utf8'), leafBefore);
  renameSync(join(work, 'root-key.pem'), join(tsaDir, 'root-key.pem'));
  const badFlag = cairn(['tsa', 'rotate-signing', '--dir', tsaDir, '--curve', 'p384']);
  assert.match(badFlag.stderr, /error \[USAGE\]/);

  const rotated = cairn(['tsa', 'rotate-signing', '--dir', tsaDir]);
  assert.equal(rotated.status, 0, rotated.stderr);
  assert.match(rotated.stdout, /retired\/signing-[0-9a-f]+\.crt\.pem/);
  assert.notEqual(readFileSync(join(tsaDir, 'signing.crt.pem'), 'utf8'), leafBefore);

  // The same port: the client's cached signing config (Rekor v2 + TSA) is keyed by the URL.
  up = await startCairn(['up', '--port', new URL(firstUrl).port, '--data-dir', dataDir]);
  const url = up.url;
  const refreshed = cairn(['trust', 'refresh', '--mirror', `${url}/tuf`], { env });
  assert.equal(refreshed.status, 0, refreshed.stderr);
  const after = signOnce('after', url);
  assert.notEqual(tokenCert(after.bundle), tokenCert(before.bundle));

  const trustedRoot = await sigstoreTuf.getTrustedRoot({ mirrorURL: `${url}/tuf`, rootPath: rootJson, cachePath: join(work, 'sigstore-tuf'), forceInit: true });
  const tsas = (JSON.parse(JSON.stringify(trustedRoot)) as { timestampAuthorities: Tsa[] }).timestampAuthorities;
  assert.equal(tsas.length, 2, JSON.stringify(tsas));
  assert.ok(tsas[0]!.validFor.end !== undefined, 'the retired TSA has an end of validity');
  assert.ok(new Date(tsas[0]!.validFor.end).getTime() <= Date.now(), 'the retired TSA ended at the rotation, not at its certificate expiry');
  assert.ok(new Date(tsas[1]!.validFor.end ?? '9999-01-01').getTime() > Date.now() + 86_400_000, 'the new TSA is valid through its certificate');
  assert.ok(new Date(tsas[0]!.validFor.end).getTime() >= new Date(tsas[1]!.validFor.start).getTime() - 1000, 'the windows meet');

  const verifier = new sigstoreVerify.Verifier(sigstoreVerify.toTrustMaterial(trustedRoot));
  for (const b of [before, after]) {
    const v = cairn(['verify', b.artifact, '--bundle', b.bundle, '--tuf-mirror', `${url}/tuf`, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', `${url}/oidc`], { env });
    assert.equal(v.status, 0, v.stderr + v.stdout);
    const entity = sigstoreVerify.toSignedEntity(sigstoreBundle.bundleFromJSON(JSON.parse(readFileSync(b.bundle, 'utf8'))), readFileSync(b.artifact));
    verifier.verify(entity, { subjectAlternativeName: SUBJECT, extensions: { issuer: `${url}/oidc` } });
  }
});
