/**
 * `cairn admission certs`: the webhook's serving material. A fresh CA (ECDSA P-256, its key
 * used once and never written) signs a serving certificate for `<service>.<namespace>.svc` (and
 * the short and cluster.local names, plus any extra hosts); the CA certificate is the
 * webhook configurations' caBundle. Files: ca.crt, tls.crt, tls.key (0600), caBundle (base64).
 */
import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { writeAtomic } from '@cairn/shared/io';
import { writeSecretFile } from '@cairn/shared/key-files';
import { admissionFail } from './errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export interface CertsOptions {
  service: string;
  namespace: string;
  out: string;
  /** Extra SANs (DNS names or IPs); default localhost and 127.0.0.1 for a local check with curl. */
  hosts?: string[];
  days?: number;
}

export interface CertsResult {
  files: { ca: string; cert: string; key: string; caBundle: string };
  dnsNames: string[];
  caBundle: string;
  notAfter: Date;
}

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  return b.toString('hex');
}

export async function createWebhookCerts(o: CertsOptions): Promise<CertsResult> {
  if (!DNS_LABEL.test(o.service)) admissionFail('CONFIG_INVALID', `--service ${o.service.slice(0, 80)} is not a DNS label (a Service name)`);
  if (!DNS_LABEL.test(o.namespace)) admissionFail('CONFIG_INVALID', `--namespace ${o.namespace.slice(0, 80)} is not a DNS label`);
  const days = o.days ?? 365;
  if (!Number.isInteger(days) || days < 1 || days > 3650) admissionFail('CONFIG_INVALID', '--days is 1-3650');
  const hosts = o.hosts ?? ['localhost', '127.0.0.1'];
  for (const h of hosts) if (isIP(h) === 0 && !HOST.test(h)) admissionFail('CONFIG_INVALID', `--host ${h.slice(0, 80)} is neither a DNS name nor an IP address`);
  const dnsNames = [o.service, `${o.service}.${o.namespace}`, `${o.service}.${o.namespace}.svc`, `${o.service}.${o.namespace}.svc.cluster.local`];
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const now = Date.now();
  const notBefore = new Date(now - 5 * 60_000);
  const notAfter = new Date(now + days * 86_400_000);
  const caKeys = (await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']));
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${o.service}.${o.namespace} webhook CA, O=cairn`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey)],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']));
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${o.service}.${o.namespace}.svc`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...dnsNames, ...hosts].map((h) => (isIP(h) !== 0 ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${keyDer.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  try {
    mkdirSync(o.out, { recursive: true });
  } catch {
    admissionFail('IO_ERROR', `cannot create ${o.out}`);
  }
  const caPem = ca.toString('pem') + '\n';
  const caBundle = Buffer.from(caPem).toString('base64');
  const files = { ca: join(o.out, 'ca.crt'), cert: join(o.out, 'tls.crt'), key: join(o.out, 'tls.key'), caBundle: join(o.out, 'caBundle') };
  try {
    writeSecretFile(files.key, keyPem);
    writeAtomic(files.cert, leaf.toString('pem') + '\n' + caPem);
    writeAtomic(files.ca, caPem);
    writeAtomic(files.caBundle, caBundle + '\n');
  } catch (e) {
    admissionFail('IO_ERROR', `cannot write the certificates to ${o.out}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { files, dnsNames: [...dnsNames, ...hosts], caBundle, notAfter };
}
