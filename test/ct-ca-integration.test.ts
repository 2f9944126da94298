/**
 * CA + CT in one process (the `cairn up` wiring): a Fulcio v2 signing-certificate request yields
 * a leaf whose embedded SCT verifies with @sigstore/verify's own certificate check (chain to the
 * trusted CA + SCTs against the trusted ctlogs, threshold 1), and the CT leaf holds exactly the
 * leaf's TBS minus the SCT list.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { toTrustMaterial, VerificationError } from '@sigstore/verify';
import { verifyCertificate } from '@sigstore/verify/dist/key/index.js';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { fromPemAll, loadConfig, systemClock, type TrustInfo } from '@cairn/shared';
import { leafHash, verifyInclusion } from '@cairn/shared/merkle';
import { OID_SCT_LIST, parseMerkleTreeLeaf, removeExtensionFromTbs, splitCertificate, tbsExtensions, parseSctList } from '@cairn/shared/sct';
import { mintDevToken } from '@cairn/oidc';
import { startStack, type Stack } from '@cairn/host';
import type { CtService } from '@cairn/ct';
import { buildTrustedRoot } from '@cairn/shared/trusted-root';
import { newKey, spkiOf } from './ct-fixtures.ts';

const SUBJECT = 'https://ci.cairn.test/pipelines/7';
let dir: string;
let stack: Stack;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-ct-ca-'));
  stack = await startStack(loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent', dev: true } }), { components: ['oidc', 'ct', 'ca'] });
});

after(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const sx = (b: Buffer): SigstoreX509 => SigstoreX509.parse(Buffer.from(b));

function trustedRoot(info: TrustInfo[], ctKeyOverride?: Buffer): ReturnType<typeof TrustedRoot.fromJSON> {
  const ca = info.find((i) => i.kind === 'ca');
  const ct = info.find((i) => i.kind === 'ctlog');
  assert.ok(ca && ca.kind === 'ca' && ct && ct.kind === 'ctlog');
  return TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [
      { subject: ca.subject, uri: ca.uri, certChain: { certificates: ca.certChain.map((c) => ({ rawBytes: c })) }, validFor: { start: ca.validFrom } },
    ],
    ctlogs: [
      {
        baseUrl: ct.baseUrl,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: ctKeyOverride?.toString('base64') ?? ct.publicKey, keyDetails: ct.keyDetails, validFor: { start: ct.validFrom } },
        logId: { keyId: ct.logId },
      },
    ],
    timestampAuthorities: [],
  });
}

async function issue(): Promise<Buffer[]> {
  const token = await mintDevToken(join(dir, 'oidc'), { subject: SUBJECT }, systemClock);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = await fetch(`${stack.url}/api/v2/signingCert`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      credentials: { oidcIdentityToken: token },
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
        proofOfPossession: sign('sha256', Buffer.from(SUBJECT), privateKey).toString('base64'),
      },
    }),
  });
  const body = (await res.json()) as any;
  assert.equal(res.status, 200, JSON.stringify(body));
  const pems: string[] = body.signedCertificateEmbeddedSct.chain.certificates;
  return pems.map((p) => fromPemAll(p)[0]!.der);
}

test('an issued certificate embeds an SCT that @sigstore/verify accepts (ctlogThreshold 1)', async () => {
  const [leaf, issuer] = await issue();
  const info = (await (await fetch(`${stack.url}/api/cairn/v1/trust-info`)).json()) as TrustInfo[];
  const tm = toTrustMaterial(trustedRoot(info));
  const result = verifyCertificate(sx(leaf!), [new Date()], tm);
  assert.equal(result.scts.length, 1);
  const ct = stack.services.find((s) => s.name === 'ct') as CtService;
  assert.deepEqual(Buffer.from(result.scts[0]!), ct.logId);

  // The same through the trusted_root.json Cairn itself publishes (the @cairn/shared/trusted-root builder).
  const published = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(JSON.stringify(buildTrustedRoot(info)))));
  assert.equal(verifyCertificate(sx(leaf!), [new Date()], published).scts.length, 1);

  // With another key under the same log id, sigstore-js refuses the certificate outright.
  assert.throws(() => verifyCertificate(sx(leaf!), [new Date()], toTrustMaterial(trustedRoot(info, spkiOf(newKey())))), VerificationError);

  // The CT log holds exactly the leaf's TBS minus the SCT list, provably included.
  const sct = parseSctList(tbsExtensions(splitCertificate(leaf!).tbs).find((e) => e.oid === OID_SCT_LIST)!.value)[0]!;
  const sth = (await (await fetch(`${stack.url}/ct/v1/get-sth`)).json()) as any;
  const entries = (await (await fetch(`${stack.url}/ct/v1/get-entries?start=0&end=${sth.tree_size - 1}`)).json()) as any;
  const expectedTbs = removeExtensionFromTbs(splitCertificate(leaf!).tbs, OID_SCT_LIST);
  const idx = entries.entries.findIndex((e: any) => {
    const l = parseMerkleTreeLeaf(Buffer.from(e.leaf_input, 'base64'));
    return l.entryType === 'precert' && l.tbs.equals(expectedTbs);
  });
  assert.ok(idx >= 0, 'the precert TBS is in the CT log');
  const leafInput = Buffer.from(entries.entries[idx].leaf_input, 'base64');
  assert.equal(parseMerkleTreeLeaf(leafInput).timestamp, sct.timestamp);
  const lh = leafHash(leafInput);
  const proof = (await (await fetch(`${stack.url}/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(lh.toString('base64'))}&tree_size=${sth.tree_size}`)).json()) as any;
  verifyInclusion(lh, proof.leaf_index, sth.tree_size, proof.audit_path.map((h: string) => Buffer.from(h, 'base64')), Buffer.from(sth.sha256_root_hash, 'base64'));
  assert.ok(issuer);
});
