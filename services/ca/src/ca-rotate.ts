/**
 * Rotating the CA intermediate under the same root (on the offline CA machine, which holds
 * root-key.pem): a new key and a new intermediate certificate with the root's exact subject as
 * issuer; the old intermediate (key and certificate) moves to `retired/` so nothing is lost, and
 * the service started on the directory issues from the new one. trusted_root.json keeps the old
 * chain with a validFor.end (cairn trust build), so certificates it issued keep verifying.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bitString, bool, integer, oid, seq } from '@cairn/shared/der';
import { LocalSigner, privateKeyFromPem, type Clock, type Signer } from '@cairn/shared';
import type { TokenKeyRotation } from '@cairn/shared/pkcs11';
import { certificateSubject, rotateCertifiedKey } from '@cairn/shared/key-rotation';
import { CaError } from './errors.ts';
import { OID } from './profile/oids.ts';
import { extension } from './profile/extensions.ts';
import { akiExtension, encodeTbs, randomSerial, signTbs, signatureAlgorithmIdentifier, skiExtension, subjectKeyIdentifier } from './profile/certificate.ts';
import { INTERMEDIATE_CERT_FILE, INTERMEDIATE_KEY_FILE, ROOT_KEY_FILE, loadCa, type LoadedCa } from './ca-keys.ts';

const MAX_PEM_BYTES = 64 * 1024;
/** KeyUsage keyCertSign | cRLSign, critical (as ca-keys.ts). */
const CA_KEY_USAGE = extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1));
export { RETIRED_DIR } from '@cairn/shared/key-rotation';

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
  if (!current.root.publicKey.export({ type: 'spki', format: 'der' }).equals(rootSigner.publicKey.spki)) {
    throw new CaError('INVALID_CA_KEYS', `${o.token ? `the token's ${o.token.root.uri}` : 'root-key.pem'} does not match root.crt.pem`);
  }
  const issuer = certificateSubject(current.rootDer);
  if (!issuer) throw new CaError('INVALID_CA_KEYS', 'the root certificate has no subject');
  const subject = certificateSubject(current.intermediateDer);
  if (!subject) throw new CaError('INVALID_CA_KEYS', 'the intermediate certificate has no subject');
  const r = await rotateCertifiedKey({
    dir,
    keyFile: INTERMEDIATE_KEY_FILE,
    certFile: INTERMEDIATE_CERT_FILE,
    retiredStem: 'intermediate',
    what: 'intermediate',
    currentSerial: current.intermediate.serialNumber,
    rootSigner,
    rootValidTo: current.root.validTo,
    ...(o.intermediateValidityDays !== undefined ? { validityDays: o.intermediateValidityDays } : {}),
    clock: o.clock,
    ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
    ...(o.token ? { token: o.token } : {}),
    async certify({ spki, notBefore, notAfter }) {
      const alg = signatureAlgorithmIdentifier(rootSigner.algorithm);
      const tbs = encodeTbs({
        serial: randomSerial(),
        signatureAlgorithm: alg,
        issuer,
        notBefore,
        notAfter,
        // The same subject as the retiring intermediate: verifiers tell them apart by key (SKI/AKI).
        subject,
        spki,
        extensions: [
          CA_KEY_USAGE,
          extension(OID.extKeyUsage, false, seq(oid(OID.codeSigning))),
          extension(OID.basicConstraints, true, seq(bool(true), integer(0))),
          skiExtension(subjectKeyIdentifier(spki)),
          akiExtension(subjectKeyIdentifier(rootSigner.publicKey.spki)),
        ],
      });
      return signTbs(tbs, alg, rootSigner);
    },
    // The new pair loads and chains to the root (the token's new key, now under the service label).
    reload: (newSigner) => void loadCa(dir, o.passphrase, newSigner),
    keyError: (message, cause) => new CaError('INVALID_CA_KEYS', message, { cause }),
    configError: (message) => new CaError('INVALID_CONFIG', message),
  });
  return { intermediatePem: r.pem, retired: r.retired };
}
