/**
 * Rotating the CA intermediate under the same root (on the offline CA machine, which holds
 * root-key.pem): a new key and a new intermediate certificate with the root's exact subject as
 * issuer; the old intermediate (key and certificate) moves to `retired/` so nothing is lost, and
 * the service started on the directory issues from the new one. trusted_root.json keeps the old
 * chain with a validFor.end (cairn trust build), so certificates it issued keep verifying.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bitString, bool, children, integer, oid, readOne, seq } from '@cairn/shared/der';
import { CairnError, LocalSigner, generateKey, privateKeyFromPem, privateKeyToPem, toPem, type Clock, type Signer } from '@cairn/shared';
import type { TokenKeyRotation } from '@cairn/shared/pkcs11';
import { writeSecretFile } from '@cairn/shared/key-files';
import { CaError } from './errors.ts';
import { OID } from './profile/oids.ts';
import { extension } from './profile/extensions.ts';
import { akiExtension, encodeTbs, randomSerial, signTbs, signatureAlgorithmIdentifier, skiExtension, subjectKeyIdentifier } from './profile/certificate.ts';
import { INTERMEDIATE_CERT_FILE, INTERMEDIATE_KEY_FILE, ROOT_KEY_FILE, loadCa, type LoadedCa } from './ca-keys.ts';

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
  /**
   * The root and the intermediate in a PKCS#11 token (`cairn hsm init`): the new key is generated
   * in the token, the certificate signed there, and no key file is read or written.
   */
  token?: TokenKeyRotation;
}

export interface RotateIntermediateResult {
  intermediatePem: string;
  /** Where the previous intermediate certificate and key went (a file path, or a pkcs11: URI). */
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

/** The root signer (root-key.pem, or the token's root) and the current material, checked to belong together. */
function currentMaterial(dir: string, o: RotateIntermediateOptions): { current: LoadedCa; rootSigner: Signer } {
  if (o.token) {
    for (const f of [ROOT_KEY_FILE, INTERMEDIATE_KEY_FILE]) {
      if (existsSync(join(dir, f))) throw new CaError('INVALID_CA_KEYS', `${join(dir, f)} exists: this CA's keys are files, rotate it without --pkcs11-module`);
    }
    return { current: loadCa(dir, undefined, o.token.current), rootSigner: o.token.root };
  }
  if (!existsSync(join(dir, ROOT_KEY_FILE))) {
    throw new CaError('INVALID_CA_KEYS', `${join(dir, ROOT_KEY_FILE)} is missing: rotate the intermediate on the offline machine that holds the root key (or give --pkcs11-module when the root is in a token)`);
  }
  // The current material must load and belong together before anything changes.
  const current = loadCa(dir, o.passphrase);
  let rootKey;
  try {
    rootKey = privateKeyFromPem(readPem(join(dir, ROOT_KEY_FILE)), o.passphrase);
  } catch (e) {
    throw new CaError('INVALID_CA_KEYS', `cannot load the root key: ${(e as Error).message}`, { cause: e });
  }
  return { current, rootSigner: new LocalSigner(rootKey) };
}

export async function rotateIntermediate(dir: string, o: RotateIntermediateOptions): Promise<RotateIntermediateResult> {
  const { current, rootSigner } = currentMaterial(dir, o);
  const rootDer = current.rootDer;
  const root = current.root;
  if (!root.publicKey.export({ type: 'spki', format: 'der' }).equals(rootSigner.publicKey.spki)) {
    throw new CaError('INVALID_CA_KEYS', `${o.token ? `the token's ${o.token.root.uri}` : 'root-key.pem'} does not match root.crt.pem`);
  }
  const now = new Date(Math.floor(o.clock.now().getTime() / 1000) * 1000);
  const rootEnd = new Date(root.validTo).getTime();
  const days = o.intermediateValidityDays ?? Math.min(1825, Math.floor((rootEnd - now.getTime()) / DAY_MS));
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  if (!(days >= 1) || notAfter.getTime() > rootEnd) throw new CaError('INVALID_CONFIG', 'the new intermediate must be valid for at least a day and not outlive the root');

  const stamp = current.intermediate.serialNumber.toLowerCase().slice(0, 16);
  const retiredDir = join(dir, RETIRED_DIR);
  const retiredCert = join(retiredDir, `intermediate-${stamp}.crt.pem`);
  const retiredKey = join(retiredDir, `intermediate-${stamp}-key.pem`);
  if (existsSync(retiredCert) || existsSync(retiredKey)) throw new CaError('INVALID_CA_KEYS', `${retiredDir} already holds intermediate ${stamp}`);
  const newKey = join(dir, `${INTERMEDIATE_KEY_FILE}.new`);
  const newCert = join(dir, `${INTERMEDIATE_CERT_FILE}.new`);

  const curve = rootSigner.algorithm === 'ecdsa-p384-sha384' ? 'ecdsa-p384' : 'ecdsa-p256';
  const written: string[] = [];
  const renamed: [string, string][] = [];
  const move = (from: string, to: string): void => {
    renameSync(from, to);
    renamed.push([from, to]);
  };
  try {
    // From here a failure undoes what was made: the new key (in the token), the *.new files.
    const key = o.token ? undefined : generateKey(curve);
    const newSigner = o.token ? o.token.generate(curve) : new LocalSigner(key!);
    const spki = newSigner.publicKey.spki;
    const alg = signatureAlgorithmIdentifier(rootSigner.algorithm);
    const tbs = encodeTbs({
      serial: randomSerial(),
      signatureAlgorithm: alg,
      issuer: subjectDer(rootDer),
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

    // The new pair is written completely (as *.new) before the old pair moves: a crash in between
    // leaves the old pair in retired/ and the new one beside it, never a half-written file.
    mkdirSync(retiredDir, { recursive: true, mode: 0o700 });
    if (key) {
      writeSecretFile(newKey, privateKeyToPem(key, o.passphrase));
      written.push(newKey);
    }
    writeFileSync(newCert, pem, { mode: 0o644, flag: 'wx' });
    written.push(newCert);
    // In a token: the new key takes the service label, the old one a retired label.
    o.token?.commit();
    move(join(dir, INTERMEDIATE_CERT_FILE), retiredCert);
    if (key) move(join(dir, INTERMEDIATE_KEY_FILE), retiredKey);
    if (key) move(newKey, join(dir, INTERMEDIATE_KEY_FILE));
    move(newCert, join(dir, INTERMEDIATE_CERT_FILE));
    // The new pair loads and chains to the root (the token's new key, now under the service label).
    loadCa(dir, o.passphrase, o.token ? newSigner : undefined);
    return { intermediatePem: pem, retired: o.token ? [retiredCert, o.token.retiredUri] : [retiredCert, retiredKey] };
  } catch (e) {
    for (const [from, to] of renamed.reverse()) {
      try {
        renameSync(to, from);
      } catch {
        // Reported by the original error.
      }
    }
    for (const f of written) rmSync(f, { force: true });
    o.token?.abort();
    throw e instanceof CairnError ? e : new CaError('INVALID_CA_KEYS', `the rotation failed and was undone: ${(e as Error).message}`, { cause: e });
  }
}
