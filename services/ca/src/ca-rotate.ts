/**
 * Rotating the CA intermediate under the same root (on the offline CA machine, which holds
 * root-key.pem): a new key and a new intermediate certificate with the root's exact subject as
 * issuer; the old intermediate (key and certificate) moves to `retired/` so nothing is lost, and
 * the service started on the directory issues from the new one. trusted_root.json keeps the old
 * chain with a validFor.end (cairn trust build), so certificates it issued keep verifying.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bitString, bool, children, integer, oid, readOne, seq } from '@cairn/shared/der';
import { LocalSigner, fromPem, generateKey, privateKeyFromPem, privateKeyToPem, toPem, type Clock } from '@cairn/shared';
import { writeSecretFile } from '@cairn/shared/key-files';
import { CaError } from './errors.ts';
import { OID } from './profile/oids.ts';
import { extension } from './profile/extensions.ts';
import { akiExtension, encodeTbs, randomSerial, signTbs, signatureAlgorithmIdentifier, skiExtension, subjectKeyIdentifier } from './profile/certificate.ts';
import { INTERMEDIATE_CERT_FILE, INTERMEDIATE_KEY_FILE, ROOT_CERT_FILE, ROOT_KEY_FILE, loadCa } from './ca-keys.ts';

const DAY_MS = 86_400_000;
const MAX_PEM_BYTES = 64 * 1024;
/** KeyUsage keyCertSign | cRLSign, critical (as ca-keys.ts). */
const CA_KEY_USAGE = extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1));
export const RETIRED_DIR = 'retired';

export interface RotateIntermediateOptions {
  passphrase?: string;
  /** Validity of the new intermediate (default: min(1825, what is left of the root)). */
  intermediateValidityDays?: number;
  clock: Clock;
}

export interface RotateIntermediateResult {
  intermediatePem: string;
  /** Where the previous intermediate certificate and key went. */
  retired: string[];
}

function readPem(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CaError('INVALID_CA_KEYS', `cannot read ${path}`);
  }
  if (text.length > MAX_PEM_BYTES) throw new CaError('INVALID_CA_KEYS', `${path} is too large`);
  return text;
}

/** The raw subject Name of a certificate: RFC 5280 §4.1 TBSCertificate field 6 (after the optional version). */
function subjectDer(certDer: Buffer): Buffer {
  const tbs = children(readOne(certDer))[0];
  const fields = tbs ? children(tbs) : [];
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4];
  if (!subject) throw new CaError('INVALID_CA_KEYS', 'the root certificate has no subject');
  return subject.raw;
}

export async function rotateIntermediate(dir: string, o: RotateIntermediateOptions): Promise<RotateIntermediateResult> {
  if (!existsSync(join(dir, ROOT_KEY_FILE))) {
    throw new CaError('INVALID_CA_KEYS', `${join(dir, ROOT_KEY_FILE)} is missing: rotate the intermediate on the offline machine that holds the root key`);
  }
  // The current material must load and belong together before anything changes.
  const current = loadCa(dir, o.passphrase);
  let rootKey;
  try {
    rootKey = privateKeyFromPem(readPem(join(dir, ROOT_KEY_FILE)), o.passphrase);
  } catch (e) {
    throw new CaError('INVALID_CA_KEYS', `cannot load the root key: ${(e as Error).message}`, { cause: e });
  }
  const rootSigner = new LocalSigner(rootKey);
  const rootDer = fromPem(readPem(join(dir, ROOT_CERT_FILE)), 'CERTIFICATE', ROOT_CERT_FILE);
  const root = new X509Certificate(rootDer);
  if (!root.publicKey.export({ type: 'spki', format: 'der' }).equals(rootSigner.publicKey.spki)) {
    throw new CaError('INVALID_CA_KEYS', 'root-key.pem does not match root.crt.pem');
  }
  const now = new Date(Math.floor(o.clock.now().getTime() / 1000) * 1000);
  const rootEnd = new Date(root.validTo).getTime();
  const days = o.intermediateValidityDays ?? Math.min(1825, Math.floor((rootEnd - now.getTime()) / DAY_MS));
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  if (!(days >= 1) || notAfter.getTime() > rootEnd) throw new CaError('INVALID_CONFIG', 'the new intermediate must be valid for at least a day and not outlive the root');

  const curve = rootSigner.algorithm === 'ecdsa-p384-sha384' ? 'ecdsa-p384' : 'ecdsa-p256';
  const key = generateKey(curve);
  const spki = new LocalSigner(key).publicKey.spki;
  const alg = signatureAlgorithmIdentifier(rootSigner.algorithm);
  const rootName = subjectDer(rootDer);
  const tbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: alg,
    issuer: rootName,
    notBefore: now,
    notAfter,
    // The same subject as the retiring intermediate: verifiers tell them apart by key (SKI/AKI).
    subject: subjectDer(current.intermediateDer),
    spki,
    extensions: [
      CA_KEY_USAGE,
      extension(OID.extKeyUsage, false, seq(oid(OID.codeSigning))),
      extension(OID.basicConstraints, true, seq(bool(true), integer(0))),
      skiExtension(subjectKeyIdentifier(spki)),
      akiExtension(subjectKeyIdentifier(rootSigner.publicKey.spki)),
    ],
  });
  const der = await signTbs(tbs, alg, rootSigner);
  const pem = toPem('CERTIFICATE', der);

  const stamp = current.intermediate.serialNumber.toLowerCase().slice(0, 16);
  const retiredDir = join(dir, RETIRED_DIR);
  mkdirSync(retiredDir, { recursive: true, mode: 0o700 });
  const retired = [join(retiredDir, `intermediate-${stamp}.crt.pem`), join(retiredDir, `intermediate-${stamp}-key.pem`)];
  if (retired.some((p) => existsSync(p))) throw new CaError('INVALID_CA_KEYS', `${retiredDir} already holds intermediate ${stamp}`);
  // The new pair is written completely (as *.new) before the old pair moves: a crash in between
  // leaves the old pair in retired/ and the new one beside it, never a half-written file.
  const newKey = join(dir, `${INTERMEDIATE_KEY_FILE}.new`);
  const newCert = join(dir, `${INTERMEDIATE_CERT_FILE}.new`);
  writeSecretFile(newKey, privateKeyToPem(key, o.passphrase));
  writeFileSync(newCert, pem, { mode: 0o644 });
  renameSync(join(dir, INTERMEDIATE_CERT_FILE), retired[0]!);
  renameSync(join(dir, INTERMEDIATE_KEY_FILE), retired[1]!);
  renameSync(newKey, join(dir, INTERMEDIATE_KEY_FILE));
  renameSync(newCert, join(dir, INTERMEDIATE_CERT_FILE));
  loadCa(dir, o.passphrase);
  return { intermediatePem: pem, retired };
}
