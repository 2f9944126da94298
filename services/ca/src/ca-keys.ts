/**
 * The CA's key material: a self-signed root and an intermediate that issues leaves (Fulcio
 * docs/certificate-specification.md). Private keys are PKCS#8 PEM files, mode 0600, optionally
 * encrypted with a passphrase. Serving code only ever holds the intermediate behind `Signer`.
 *
 * Files in the CA directory: root-key.pem, root.crt.pem, intermediate-key.pem, intermediate.crt.pem.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bitString, integer, oid, seq, bool } from '@cairn/shared/der';
import {
  LocalSigner,
  fromPem,
  generateKey,
  privateKeyFromPem,
  privateKeyToPem,
  toPem,
  type Clock,
  type Signer,
} from '@cairn/shared';
import { writeSecretFile } from '@cairn/shared/key-files';
import { CaError } from './errors.ts';
import { OID } from './profile/oids.ts';
import { extension } from './profile/extensions.ts';
import {
  akiExtension,
  distinguishedName,
  encodeTbs,
  randomSerial,
  signTbs,
  signatureAlgorithmIdentifier,
  skiExtension,
  subjectKeyIdentifier,
} from './profile/certificate.ts';

export const ROOT_KEY_FILE = 'root-key.pem';
export const ROOT_CERT_FILE = 'root.crt.pem';
export const INTERMEDIATE_KEY_FILE = 'intermediate-key.pem';
export const INTERMEDIATE_CERT_FILE = 'intermediate.crt.pem';
const MAX_PEM_FILE_BYTES = 64 * 1024;

export type CaCurve = 'p256' | 'p384';

export interface CaInitOptions {
  curve?: CaCurve;
  passphrase?: string;
  organization?: string;
  commonName?: string;
  rootValidityDays?: number;
  intermediateValidityDays?: number;
  clock: Clock;
  /**
   * Keys held elsewhere (a PKCS#11 token, `cairn hsm init`): the certificates are built around
   * them and no key file is written. Without them both keys are generated into PEM files.
   */
  keys?: { root: Signer; intermediate: Signer };
}

export interface CaInitResult {
  rootPem: string;
  intermediatePem: string;
  files: string[];
}

const DAY_MS = 86_400_000;
/** KeyUsage keyCertSign | cRLSign (bits 5 and 6), critical. */
const CA_KEY_USAGE = extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1));

export function caFilesExist(dir: string): boolean {
  return [ROOT_CERT_FILE, INTERMEDIATE_KEY_FILE, INTERMEDIATE_CERT_FILE].some((f) => existsSync(join(dir, f)));
}

/** Creates a root and an intermediate (codeSigning EKU, pathlen 0) in `dir`. Refuses to overwrite. */
export async function initCa(dir: string, o: CaInitOptions): Promise<CaInitResult> {
  if (caFilesExist(dir) || existsSync(join(dir, ROOT_KEY_FILE))) {
    throw new CaError('INVALID_CA_KEYS', `${dir} already holds CA files; refusing to overwrite them`);
  }
  const curve = o.curve ?? 'p256';
  const keyType = curve === 'p256' ? 'ecdsa-p256' : 'ecdsa-p384';
  if (o.keys && (o.keys.root.publicKey.spki.equals(o.keys.intermediate.publicKey.spki))) throw new CaError('INVALID_CA_KEYS', 'the root and the intermediate need two keys');
  const org = o.organization ?? 'cairn';
  const cn = o.commonName ?? 'cairn';
  const now = new Date(Math.floor(o.clock.now().getTime() / 1000) * 1000);
  const rootDays = o.rootValidityDays ?? 3650;
  const interDays = o.intermediateValidityDays ?? Math.min(rootDays, 1825);
  if (!(rootDays >= 1 && interDays >= 1 && interDays <= rootDays)) {
    throw new CaError('INVALID_CONFIG', 'validity days must be positive and the intermediate must not outlive the root');
  }

  const rootKey = o.keys ? undefined : generateKey(keyType);
  const rootSigner = o.keys?.root ?? new LocalSigner(rootKey!);
  const rootSpki = rootSigner.publicKey.spki;
  const rootSki = subjectKeyIdentifier(rootSpki);
  const rootName = distinguishedName(org, cn);
  const rootAlg = signatureAlgorithmIdentifier(rootSigner.algorithm);
  const rootTbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: rootAlg,
    issuer: rootName,
    notBefore: now,
    notAfter: new Date(now.getTime() + rootDays * DAY_MS),
    subject: rootName,
    spki: rootSpki,
    extensions: [CA_KEY_USAGE, extension(OID.basicConstraints, true, seq(bool(true))), skiExtension(rootSki)],
  });
  const rootDer = await signTbs(rootTbs, rootAlg, rootSigner);

  const interKey = o.keys ? undefined : generateKey(keyType);
  const interSpki = o.keys?.intermediate.publicKey.spki ?? new LocalSigner(interKey!).publicKey.spki;
  const interTbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: rootAlg,
    issuer: rootName,
    notBefore: now,
    notAfter: new Date(now.getTime() + interDays * DAY_MS),
    subject: distinguishedName(org, `${cn} intermediate`),
    spki: interSpki,
    extensions: [
      CA_KEY_USAGE,
      // Fulcio's chain check and Go's EKU chaining need codeSigning (or no EKU) on the intermediate.
      extension(OID.extKeyUsage, false, seq(oid(OID.codeSigning))),
      extension(OID.basicConstraints, true, seq(bool(true), integer(0))),
      skiExtension(subjectKeyIdentifier(interSpki)),
      akiExtension(rootSki),
    ],
  });
  const interDer = await signTbs(interTbs, rootAlg, rootSigner);

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rootPem = toPem('CERTIFICATE', rootDer);
  const intermediatePem = toPem('CERTIFICATE', interDer);
  const files: string[] = [];
  const write = (name: string, text: string, secret: boolean): void => {
    const p = join(dir, name);
    if (secret) writeSecretFile(p, text);
    else writeFileSync(p, text, { mode: 0o644 });
    files.push(p);
  };
  if (rootKey) write(ROOT_KEY_FILE, privateKeyToPem(rootKey, o.passphrase), true);
  write(ROOT_CERT_FILE, rootPem, false);
  if (interKey) write(INTERMEDIATE_KEY_FILE, privateKeyToPem(interKey, o.passphrase), true);
  write(INTERMEDIATE_CERT_FILE, intermediatePem, false);
  return { rootPem, intermediatePem, files };
}

export interface LoadedCa {
  signer: Signer;
  intermediateDer: Buffer;
  rootDer: Buffer;
  intermediate: X509Certificate;
  root: X509Certificate;
}

function readPemFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CaError('INVALID_CA_KEYS', `cannot read ${path}`);
  }
  if (text.length > MAX_PEM_FILE_BYTES) throw new CaError('INVALID_CA_KEYS', `${path} is too large`);
  return text;
}

function certFromFile(path: string): { der: Buffer; cert: X509Certificate } {
  try {
    const der = fromPem(readPemFile(path), 'CERTIFICATE', path);
    return { der, cert: new X509Certificate(der) };
  } catch (e) {
    if (e instanceof CaError) throw e;
    throw new CaError('INVALID_CA_KEYS', `${path} is not a PEM certificate`, { cause: e });
  }
}

/**
 * Loads the intermediate key and the chain, checking that they belong together. `keySigner`: the
 * intermediate key held elsewhere (a PKCS#11 token) instead of intermediate-key.pem.
 */
export function loadCa(dir: string, passphrase?: string, keySigner?: Signer): LoadedCa {
  const inter = certFromFile(join(dir, INTERMEDIATE_CERT_FILE));
  const root = certFromFile(join(dir, ROOT_CERT_FILE));
  let signer: Signer;
  if (keySigner) signer = keySigner;
  else {
    let key: KeyObject;
    try {
      key = privateKeyFromPem(readPemFile(join(dir, INTERMEDIATE_KEY_FILE)), passphrase);
    } catch (e) {
      if (e instanceof CaError) throw e;
      throw new CaError('INVALID_CA_KEYS', `cannot load the intermediate key: ${(e as Error).message}`, { cause: e });
    }
    signer = new LocalSigner(key);
  }
  const certSpki = inter.cert.publicKey.export({ type: 'spki', format: 'der' });
  if (!certSpki.equals(signer.publicKey.spki)) throw new CaError('INVALID_CA_KEYS', 'the intermediate key does not match the intermediate certificate');
  if (!root.cert.verify(root.cert.publicKey) || !inter.cert.verify(root.cert.publicKey) || !inter.cert.checkIssued(root.cert)) {
    throw new CaError('INVALID_CA_KEYS', 'the intermediate certificate is not issued by the root');
  }
  if (!inter.cert.ca || !root.cert.ca) throw new CaError('INVALID_CA_KEYS', 'root and intermediate must be CA certificates');
  signatureAlgorithmIdentifier(signer.algorithm);
  return { signer, intermediateDer: inter.der, rootDer: root.der, intermediate: inter.cert, root: root.cert };
}
