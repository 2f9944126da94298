import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { generateKey, LocalSigner, type PublicKey } from '@cairn/shared';
import { parseSigningCertificate } from './fulcio.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function certFor(key: PublicKey): Promise<string> {
  const ca = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const pub = await webcrypto.subtle.importKey('spki', key.spki, alg, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0b',
    subject: '',
    issuer: 'CN=test ca',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 600_000),
    publicKey: pub,
    signingKey: ca.privateKey,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'https://ci.example/p/1' }], true)],
  });
  return cert.toString('pem');
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('parses embedded-SCT and detached-SCT answers; the leaf DER is chain.certificates[0]', async () => {
  const key = new LocalSigner(generateKey('ecdsa-p256')).publicKey;
  const leaf = await certFor(key);
  const other = await certFor(new LocalSigner(generateKey('ecdsa-p256')).publicKey);
  const embedded = parseSigningCertificate({ signedCertificateEmbeddedSct: { chain: { certificates: [leaf, other] } } }, key);
  assert.equal(embedded.embeddedSct, true);
  assert.equal(embedded.chain.length, 1);
  assert.equal(embedded.leaf.toString('base64'), leaf.replace(/-----[A-Z ]+-----|\s/g, ''));
  const detached = parseSigningCertificate({ signedCertificateDetachedSct: { chain: { certificates: [leaf] }, signedCertificateTimestamp: 'e30=' } }, key);
  assert.equal(detached.embeddedSct, false);
});

test('refuses answers without a chain, with junk, or certifying another key: CA_ERROR', async () => {
  const key = new LocalSigner(generateKey('ecdsa-p256')).publicKey;
  const otherCert = await certFor(new LocalSigner(generateKey('ecdsa-p256')).publicKey);
  assert.equal(code(() => parseSigningCertificate({ signedCertificateEmbeddedSct: { chain: { certificates: [otherCert] } } }, key)), 'CA_ERROR');
  assert.equal(code(() => parseSigningCertificate({}, key)), 'CA_ERROR');
  assert.equal(code(() => parseSigningCertificate([], key)), 'CA_ERROR');
  assert.equal(code(() => parseSigningCertificate({ signedCertificateEmbeddedSct: { chain: { certificates: [] } } }, key)), 'CA_ERROR');
  assert.equal(code(() => parseSigningCertificate({ signedCertificateEmbeddedSct: { chain: { certificates: ['not pem'] } } }, key)), 'CA_ERROR');
  assert.equal(code(() => parseSigningCertificate({ signedCertificateEmbeddedSct: { chain: { certificates: [42] } } }, key)), 'CA_ERROR');
  const notCert = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  assert.equal(code(() => parseSigningCertificate({ signedCertificateEmbeddedSct: { chain: { certificates: [notCert] } } }, key)), 'CA_ERROR');
  assert.equal(code(() => parseSigningCertificate({ signedCertificateEmbeddedSct: { chain: { certificates: Array(11).fill(otherCert) } } }, key)), 'CA_ERROR');
});
