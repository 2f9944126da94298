/**
 * Issues leaf certificates in Fulcio's profile (pkg/ca/common.go MakeX509, baseca.go): with a
 * CT log, first a precertificate carrying the critical poison extension, logged for an SCT, then
 * the final certificate with the same extensions in the same order, minus the poison, plus the
 * SCT list last (RFC 6962 §3.1, §3.3). Signing goes through `Signer` so a KMS/HSM can stand in.
 */
import { encodeSctList } from '@cairn/shared/sct';
import type { Clock, Signer } from '@cairn/shared';
import { CaError } from './errors.ts';
import { OID } from './profile/oids.ts';
import { extension, renderFulcioExtensions } from './profile/extensions.ts';
import {
  EMPTY_NAME,
  LEAF_EXT_KEY_USAGE,
  LEAF_KEY_USAGE,
  POISON_EXTENSION,
  akiExtension,
  encodeTbs,
  randomSerial,
  sanExtension,
  signTbs,
  signatureAlgorithmIdentifier,
  skiExtension,
  subjectKeyIdentifier,
} from './profile/certificate.ts';
import type { Principal } from './identity/principal.ts';
import type { CtClient } from './ct-client.ts';
import type { LoadedCa } from './ca-keys.ts';
import { children, readOne, TAG } from '@cairn/shared/der';

/** Fulcio leaves live ten minutes. */
export const LEAF_VALIDITY_MS = 10 * 60 * 1000;

export interface Issued {
  leafDer: Buffer;
  /** [leaf, intermediate, root] DER. */
  chainDer: Buffer[];
  /** The precertificate, when a CT log was used (for tests and audits). */
  precertDer?: Buffer;
}

export class CertificateAuthority {
  private readonly signer: Signer;
  private readonly sigAlg: Buffer;
  private readonly issuerName: Buffer;
  private readonly aki: Buffer;
  private readonly notAfterLimit: number;
  private readonly notBeforeLimit: number;
  readonly intermediateDer: Buffer;
  readonly rootDer: Buffer;

  constructor(
    ca: LoadedCa,
    private readonly clock: Clock,
    private readonly ct: CtClient | undefined,
  ) {
    this.signer = ca.signer;
    this.sigAlg = signatureAlgorithmIdentifier(ca.signer.algorithm);
    this.intermediateDer = ca.intermediateDer;
    this.rootDer = ca.rootDer;
    // The leaf's issuer is the intermediate's subject, byte for byte.
    const tbs = children(readOne(ca.intermediateDer, TAG.SEQUENCE))[0]!;
    const f = children(tbs);
    const base = f[0]?.tag === 0xa0 ? 1 : 0;
    this.issuerName = Buffer.from(f[base + 4]!.raw);
    this.aki = akiExtension(subjectKeyIdentifier(Buffer.from(f[base + 5]!.raw)));
    this.notAfterLimit = new Date(ca.intermediate.validTo).getTime();
    this.notBeforeLimit = new Date(ca.intermediate.validFrom).getTime();
  }

  async issue(principal: Principal, spki: Buffer): Promise<Issued> {
    // X.509 times have one-second resolution; truncate so the encoded validity is exactly 10 min.
    const now = Math.floor(this.clock.now().getTime() / 1000) * 1000;
    const notBefore = new Date(now);
    const notAfter = new Date(now + LEAF_VALIDITY_MS);
    // Fulcio: a leaf must not outlive (or predate) its issuer.
    if (notAfter.getTime() > this.notAfterLimit || now < this.notBeforeLimit) {
      throw new CaError('CA_UNAVAILABLE', 'the issuing CA certificate does not cover the leaf validity');
    }
    // Extension order as observed in production: KU, EKU, SKI, AKI, SAN, 57264.*, (poison | SCT list).
    const extensions = [
      LEAF_KEY_USAGE,
      LEAF_EXT_KEY_USAGE,
      skiExtension(subjectKeyIdentifier(spki)),
      this.aki,
      sanExtension(principal.san),
      ...renderFulcioExtensions(principal.extensions),
    ];
    const serial = randomSerial();
    const build = (extra: Buffer[]): Buffer =>
      encodeTbs({ serial, signatureAlgorithm: this.sigAlg, issuer: this.issuerName, notBefore, notAfter, subject: EMPTY_NAME, spki, extensions: [...extensions, ...extra] });
    if (!this.ct) {
      const leafDer = await signTbs(build([]), this.sigAlg, this.signer);
      return { leafDer, chainDer: [leafDer, this.intermediateDer, this.rootDer] };
    }
    const precertDer = await signTbs(build([POISON_EXTENSION]), this.sigAlg, this.signer);
    const sct = await this.ct.addPreChain([precertDer, this.intermediateDer, this.rootDer]);
    const sctExt = extension(OID.sctList, false, encodeSctList([sct]));
    const leafDer = await signTbs(build([sctExt]), this.sigAlg, this.signer);
    return { leafDer, chainDer: [leafDer, this.intermediateDer, this.rootDer], precertDer };
  }
}
