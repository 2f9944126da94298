/**
 * Rotating a certified service key under the same root, for every service whose key is a
 * certificate issued by an offline root: the CA's intermediate (`cairn ca rotate-intermediate`)
 * and the TSA's signing key (`cairn tsa rotate-signing`). One mechanism for both:
 *
 * - the new certificate is valid from now for the days asked (default: up to 5 years, never past
 *   the root);
 * - the new key is generated as a PKCS#8 file (mode 0600, encrypted with the passphrase) or in the
 *   token (`TokenKeyRotation`: sensitive, not extractable), the certificate signed by the root;
 * - the new pair is written completely (as `*.new`) before the old pair moves to `retired/`
 *   (`<stem>-<serial>.crt.pem`, `<stem>-<serial>-key.pem`), so a crash never leaves a half-written
 *   file; in a token the labels switch at the same point;
 * - the service's own loader must accept the switched material, else every step is undone (files
 *   renamed back, the new files and the token's new key removed, the labels restored).
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { children, readOne } from './der.ts';
import { CairnError } from './errors.ts';
import { generateKey, LocalSigner, privateKeyToPem, type Signer } from './crypto.ts';
import { toPem } from './encoding.ts';
import type { Clock } from './clock.ts';
import { writeSecretFile } from './key-files.ts';
import type { TokenKeyRotation } from './pkcs11.ts';

export const RETIRED_DIR = 'retired';
const DAY_MS = 86_400_000;
/** The default validity of a rotated certificate: five years, or what is left of the root. */
const DEFAULT_DAYS = 1825;

/** The raw subject Name of a DER certificate (RFC 5280 §4.1: TBSCertificate field 6, after the optional version); undefined when absent. */
export function certificateSubject(certDer: Uint8Array): Buffer | undefined {
  const tbs = children(readOne(Buffer.from(certDer)))[0];
  const fields = tbs ? children(tbs) : [];
  const subject = fields[(fields[0]?.tag === 0xa0 ? 1 : 0) + 4];
  return subject ? Buffer.from(subject.raw) : undefined;
}

export interface CertifiedKeyRotation {
  /** The service's key directory. */
  dir: string;
  /** File names in `dir` of the service key and its certificate. */
  keyFile: string;
  certFile: string;
  /** Stem of the retired files' names (`intermediate`, `signing`). */
  retiredStem: string;
  /** What the certificate is, for messages ("intermediate", "signing certificate"). */
  what: string;
  /** Serial number (hex) of the retiring certificate: names its files in `retired/`. */
  currentSerial: string;
  /** The root that signs the new certificate (a file key or the token's root). */
  rootSigner: Signer;
  /** notAfter of the root (the new certificate never outlives it). */
  rootValidTo: string | Date;
  validityDays?: number;
  clock: Clock;
  passphrase?: string;
  token?: TokenKeyRotation;
  /** The new certificate (DER) for the new key, signed by `rootSigner`. */
  certify(c: { spki: Buffer; notBefore: Date; notAfter: Date; rootSigner: Signer }): Promise<Buffer>;
  /** Loads the switched material as the service would (with the token's new key when in a token); throws when it does not load or chain. */
  reload(newSigner: Signer | undefined): void;
  /** The service's error for unusable or conflicting key material. */
  keyError(message: string, cause?: unknown): CairnError;
  /** The service's error for a validity the root cannot cover. */
  configError(message: string): CairnError;
}

export interface CertifiedKeyRotationResult {
  pem: string;
  /** Where the previous certificate and key went (file paths, or the retired pkcs11: URI). */
  retired: string[];
}

export async function rotateCertifiedKey(o: CertifiedKeyRotation): Promise<CertifiedKeyRotationResult> {
  const notBefore = new Date(Math.floor(o.clock.now().getTime() / 1000) * 1000);
  const rootEnd = new Date(o.rootValidTo).getTime();
  const days = o.validityDays ?? Math.min(DEFAULT_DAYS, Math.floor((rootEnd - notBefore.getTime()) / DAY_MS));
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  if (!(days >= 1) || notAfter.getTime() > rootEnd) throw o.configError(`the new ${o.what} must be valid for at least a day and not outlive the root`);

  const stamp = o.currentSerial.toLowerCase().slice(0, 16);
  const retiredDir = join(o.dir, RETIRED_DIR);
  const retiredCert = join(retiredDir, `${o.retiredStem}-${stamp}.crt.pem`);
  const retiredKey = join(retiredDir, `${o.retiredStem}-${stamp}-key.pem`);
  if (existsSync(retiredCert) || existsSync(retiredKey)) throw o.keyError(`${retiredDir} already holds ${o.what} ${stamp}`);
  const newKey = join(o.dir, `${o.keyFile}.new`);
  const newCert = join(o.dir, `${o.certFile}.new`);
  const curve = o.rootSigner.algorithm === 'ecdsa-p384-sha384' ? 'ecdsa-p384' : 'ecdsa-p256';

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
    const der = await o.certify({ spki: newSigner.publicKey.spki, notBefore, notAfter, rootSigner: o.rootSigner });
    const pem = toPem('CERTIFICATE', der);
    mkdirSync(retiredDir, { recursive: true, mode: 0o700 });
    if (key) {
      writeSecretFile(newKey, privateKeyToPem(key, o.passphrase));
      written.push(newKey);
    }
    writeFileSync(newCert, pem, { mode: 0o644, flag: 'wx' });
    written.push(newCert);
    // In a token: the new key takes the service label, the old one a retired label.
    o.token?.commit();
    move(join(o.dir, o.certFile), retiredCert);
    if (key) {
      move(join(o.dir, o.keyFile), retiredKey);
      move(newKey, join(o.dir, o.keyFile));
    }
    move(newCert, join(o.dir, o.certFile));
    o.reload(o.token ? newSigner : undefined);
    return { pem, retired: o.token ? [retiredCert, o.token.retiredUri] : [retiredCert, retiredKey] };
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
    throw e instanceof CairnError ? e : o.keyError(`the rotation failed and was undone: ${(e as Error).message}`, e);
  }
}
