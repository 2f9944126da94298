/**
 * Path validation on synthetic PKIs (built with @peculiar/x509): every rule of chain.ts has a case
 * that passes and one that fails with its code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { verifyAuthorityChain, verifyCertificatePath } from './chain.ts';
import { VerifyError } from './errors.ts';
import type { CertificateAuthority } from './trusted-root.ts';
import { Certificate } from './x509.ts';
import { codeOf } from '../../../test/helpers/codes.ts';

x509.cryptoProvider.set(webcrypto as never);
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2030-01-01T00:00:00Z');
const SIGNED_AT = new Date('2027-06-01T12:00:00Z');

interface KeyPair {
  publicKey: webcrypto.CryptoKey;
  privateKey: webcrypto.CryptoKey;
}

interface Node {
  cert: x509.X509Certificate;
  keys: KeyPair;
}

let serial = 1;
async function issue(
  name: string,
  issuer: Node | undefined,
  o: { ca?: boolean; pathLen?: number; eku?: string[]; notBefore?: Date; notAfter?: Date; extra?: x509.Extension[]; keyCertSign?: boolean } = {},
): Promise<Node> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']));
  const extensions: x509.Extension[] = [];
  if (o.ca) extensions.push(new x509.BasicConstraintsExtension(true, o.pathLen, true));
  extensions.push(
    new x509.KeyUsagesExtension(o.ca && o.keyCertSign !== false ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature, true),
  );
  if (o.eku) extensions.push(new x509.ExtendedKeyUsageExtension(o.eku, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey));
  extensions.push(...(o.extra ?? []));
  const common = {
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    notBefore: o.notBefore ?? T0,
    notAfter: o.notAfter ?? T1,
    signingAlgorithm: ALG,
    extensions,
  };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({ ...common, subject: `CN=${name}`, issuer: issuer.cert.subject, publicKey: keys.publicKey, signingKey: issuer.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: `CN=${name}`, keys });
  return { cert, keys };
}

const parse = (n: Node): Certificate => Certificate.fromDer(Buffer.from(n.cert.rawData));
const ca = (chain: Node[], validFor: CertificateAuthority['validFor'] = { start: T0, end: undefined }): CertificateAuthority => ({
  uri: 'https://ca.example',
  certChain: chain.map(parse),
  validFor,
});

const code = codeOf(VerifyError);

test('leaf -> intermediate -> root verifies; the path comes back leaf first', async () => {
  const root = await issue('root', undefined, { ca: true, pathLen: 1 });
  const inter = await issue('intermediate', root, { ca: true, pathLen: 0, eku: ['1.3.6.1.5.5.7.3.3'] });
  const leaf = await issue('leaf', inter, { eku: ['1.3.6.1.5.5.7.3.3'] });
  const path = verifyCertificatePath(parse(leaf), [ca([inter, root])], [SIGNED_AT]);
  assert.equal(path.length, 3);
  assert.ok(path[1]!.der.equals(Buffer.from(inter.cert.rawData)));
  // A leaf issued directly by the root also chains.
  const direct = await issue('direct', root, { eku: ['1.3.6.1.5.5.7.3.3'] });
  assert.equal(verifyCertificatePath(parse(direct), [ca([inter, root])], [SIGNED_AT]).length, 2);
});

test('each rule fails with its code', async () => {
  const root = await issue('root', undefined, { ca: true, pathLen: 1 });
  const inter = await issue('intermediate', root, { ca: true, pathLen: 0 });
  const authority = ca([inter, root]);
  const verifyLeaf = (leaf: Node, cas = [authority], times = [SIGNED_AT]) => code(() => verifyCertificatePath(parse(leaf), cas, times));

  assert.equal(verifyLeaf(await issue('leaf', inter)), undefined);
  // Untrusted: issued by another root.
  const otherRoot = await issue('other root', undefined, { ca: true });
  assert.equal(verifyLeaf(await issue('leaf', otherRoot)), 'UNTRUSTED_CA');
  // Same issuer name, different key: the signature does not verify.
  const impostor = await issue('intermediate', otherRoot, { ca: true });
  assert.equal(verifyLeaf(await issue('leaf', impostor)), 'UNTRUSTED_CA');
  // Signing time outside the leaf validity, and outside the CA's validFor.
  const shortLived = await issue('leaf', inter, { notBefore: new Date('2027-06-01T11:50:00Z'), notAfter: new Date('2027-06-01T11:59:59Z') });
  assert.equal(verifyLeaf(shortLived), 'CERT_EXPIRED_AT_SIGNING');
  assert.equal(verifyLeaf(await issue('leaf', inter), [ca([inter, root], { start: T0, end: new Date('2027-01-01T00:00:00Z') })]), 'CERT_EXPIRED_AT_SIGNING');
  // Every trusted time counts.
  assert.equal(verifyLeaf(await issue('leaf', inter), [authority], [SIGNED_AT, new Date('2031-01-01T00:00:00Z')]), 'CERT_EXPIRED_AT_SIGNING');
  // The leaf must be an end entity for code signing.
  assert.equal(verifyLeaf(await issue('leaf', inter, { ca: true })), 'CERT_CHAIN_INVALID');
  assert.equal(verifyLeaf(await issue('leaf', inter, { eku: ['1.3.6.1.5.5.7.3.1'] })), 'CERT_CHAIN_INVALID');
  // Unknown critical extension.
  const crit = new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00]));
  assert.equal(verifyLeaf(await issue('leaf', inter, { extra: [crit] })), 'CERT_CHAIN_INVALID');
  // An issuer that is not a CA (no basicConstraints cA, or no keyCertSign).
  const notCa = await issue('not a ca', root, {});
  assert.equal(verifyLeaf(await issue('leaf', notCa), [ca([notCa, root])]), 'CERT_CHAIN_INVALID');
  const noKcs = await issue('no kcs', root, { ca: true, keyCertSign: false });
  assert.equal(verifyLeaf(await issue('leaf', noKcs), [ca([noKcs, root])]), 'CERT_CHAIN_INVALID');
  // pathLenConstraint: root allows 0 intermediates below it, the chain has 2.
  const tight = await issue('tight root', undefined, { ca: true, pathLen: 0 });
  const i1 = await issue('i1', tight, { ca: true });
  const i2 = await issue('i2', i1, { ca: true });
  assert.equal(verifyLeaf(await issue('leaf', i2), [ca([i2, i1, tight])]), 'CERT_CHAIN_INVALID');
  const loose = await issue('loose root', undefined, { ca: true, pathLen: 1 });
  const j1 = await issue('j1', loose, { ca: true });
  const j2 = await issue('j2', j1, { ca: true });
  assert.equal(verifyLeaf(await issue('leaf', j2), [ca([j2, j1, loose])]), 'CERT_CHAIN_INVALID', 'two intermediates under pathLen 1');
  assert.equal(verifyLeaf(await issue('leaf', j1), [ca([j1, loose])]), undefined, 'one intermediate under pathLen 1');
  // A chain whose anchor is not self-signed: an intermediate alone is no trust anchor.
  assert.equal(verifyLeaf(await issue('leaf', inter), [ca([inter])]), 'UNTRUSTED_CA');
});

test('timestamp authority chains: [leaf, ..., root] each signed by the next, valid at genTime', async () => {
  const root = await issue('tsa root', undefined, { ca: true });
  const leaf = await issue('tsa', root, { eku: ['1.3.6.1.5.5.7.3.8'] });
  assert.equal(verifyAuthorityChain(ca([leaf, root]), SIGNED_AT), undefined);
  assert.match(verifyAuthorityChain(ca([leaf, root]), new Date('2031-01-01T00:00:00Z')) ?? '', /not valid|outside/);
  const other = await issue('other', undefined, { ca: true });
  assert.match(verifyAuthorityChain(ca([leaf, other]), SIGNED_AT) ?? '', /not signed/);
});
