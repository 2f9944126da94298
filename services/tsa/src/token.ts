/**
 * TimeStampResp construction (RFC 3161 §2.4.2) with the token as CMS SignedData (RFC 5652 §5)
 * over a TSTInfo, signed attributes contentType, messageDigest and signingCertificateV2
 * (RFC 5816 §2.2.1 / RFC 5035 ESSCertIDv2). What the verifiers check is in
 * sigstore-protocols §8.3: signerInfo with IssuerAndSerialNumber, an ecdsa-with-SHA* signature
 * algorithm OID, genTime without fractional seconds.
 */
import { bitString, encodeTlv, explicit, generalizedTime, integer, oid, octetString, seq, set, utf8String } from '@cairn/shared/der';
import { digest, type Signer } from '@cairn/shared';
import { OID } from '@cairn/shared/oids';
import { FAIL_INFO_BIT, type TsaErrorCode } from './errors.ts';
import { hashOid, type TimestampQuery } from './request.ts';

export { OID };

/** The signing side: key, certificate and the identifiers a SignerInfo names. */
export interface TsaIdentity {
  signer: Signer;
  /** DER of the signing certificate (the chain's first element). */
  leafDer: Buffer;
  /** DER of the chain, leaf first, self-signed root last. */
  chainDer: Buffer[];
  /** The leaf's issuer Name (DER) and serial INTEGER (TLV), for sid and ESSCertIDv2. */
  issuerName: Buffer;
  serialTlv: Buffer;
}

export interface TokenOptions {
  identity: TsaIdentity;
  policy: string;
  serial: bigint;
  genTime: Date;
  accuracySeconds: number;
}

/** PKIStatus (RFC 3161 §2.4.2). */
const GRANTED = 0;
const REJECTION = 2;

function signatureAlgorithm(signer: Signer): { digest: 'sha256' | 'sha384'; sigOid: string } {
  switch (signer.algorithm) {
    case 'ecdsa-p256-sha256':
      return { digest: 'sha256', sigOid: OID.ecdsaWithSha256 };
    case 'ecdsa-p384-sha384':
      return { digest: 'sha384', sigOid: OID.ecdsaWithSha384 };
    default:
      // sigstore-js maps only ECDSA signature OIDs for timestamps (@sigstore/core rfc3161).
      throw new TypeError(`a TSA key must be ECDSA P-256 or P-384, not ${signer.algorithm}`);
  }
}

export function checkTsaKey(signer: Signer): void {
  signatureAlgorithm(signer);
}

function attribute(type: string, value: Buffer): Buffer {
  return seq(oid(type), set(value));
}

// Encoded once: OID encoding is the costliest step of the DER writer, and none of these vary.
const VERSION_1 = integer(1);
const VERSION_3 = integer(3);
const GRANTED_STATUS = seq(integer(GRANTED));
const SIGNED_DATA_OID = oid(OID.signedData);
const TST_INFO_OID = oid(OID.tstInfo);
const CONTENT_TYPE_ATTR = attribute(OID.contentType, oid(OID.tstInfo));
const MESSAGE_DIGEST_OID = oid(OID.messageDigest);
const DIGEST_ALG = { sha256: seq(oid(hashOid('sha256'))), sha384: seq(oid(hashOid('sha384'))) } as const;
const SIG_ALG: Readonly<Record<string, Buffer>> = { [OID.ecdsaWithSha256]: seq(oid(OID.ecdsaWithSha256)), [OID.ecdsaWithSha384]: seq(oid(OID.ecdsaWithSha384)) };
/** The policy OID is configuration: a handful at most over a process's life. */
const policyOids = new Map<string, Buffer>();
const MAX_POLICY_CACHE = 16;
/** Per signing identity: sid and the signingCertificateV2 attribute. */
const identityParts = new WeakMap<TsaIdentity, { sid: Buffer; signingCertificate: Buffer }>();

function policyOid(policy: string): Buffer {
  let b = policyOids.get(policy);
  if (!b) {
    b = oid(policy);
    if (policyOids.size < MAX_POLICY_CACHE) policyOids.set(policy, b);
  }
  return b;
}

function partsOf(id: TsaIdentity): { sid: Buffer; signingCertificate: Buffer } {
  let p = identityParts.get(id);
  if (!p) {
    // RFC 5035 §5.4.1 ESSCertIDv2 { hashAlgorithm DEFAULT sha256 (omitted), certHash, issuerSerial
    // { GeneralNames [directoryName [4] issuer], serialNumber } }, inside SigningCertificateV2.
    const essCertIdV2 = seq(octetString(digest('sha256', id.leafDer)), seq(seq(explicit(4, id.issuerName)), id.serialTlv));
    p = { sid: seq(id.issuerName, id.serialTlv), signingCertificate: attribute(OID.signingCertificateV2, seq(seq(essCertIdV2))) };
    identityParts.set(id, p);
  }
  return p;
}

/** RFC 3161 §2.4.2 TSTInfo. */
export function tstInfo(q: TimestampQuery, o: TokenOptions): Buffer {
  const parts = [VERSION_1, policyOid(o.policy), q.messageImprint, integer(o.serial), generalizedTime(o.genTime)];
  // Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0], micros [1] }.
  if (o.accuracySeconds > 0) parts.push(seq(integer(o.accuracySeconds)));
  // ordering DEFAULT FALSE is omitted in DER; the nonce is echoed unchanged.
  if (q.nonce !== undefined) parts.push(q.nonce);
  return seq(...parts);
}

/** The whole granted TimeStampResp. */
export async function grantedResponse(q: TimestampQuery, o: TokenOptions): Promise<Buffer> {
  const id = o.identity;
  const { digest: digestName, sigOid } = signatureAlgorithm(id.signer);
  const digestAlg = DIGEST_ALG[digestName];
  const content = tstInfo(q, o);
  const { sid, signingCertificate } = partsOf(id);
  const attrs = [CONTENT_TYPE_ATTR, seq(MESSAGE_DIGEST_OID, set(octetString(digest(digestName, content)))), signingCertificate];
  // RFC 5652 §5.4: the signature is over the DER SET OF the attributes; in SignerInfo they are
  // [0] IMPLICIT with the same (sorted) content.
  const signedSet = set(...attrs);
  const signature = await id.signer.sign(signedSet);
  const signedAttrs = Buffer.concat([Buffer.from([0xa0]), signedSet.subarray(1)]);
  const signerInfo = seq(VERSION_1, sid, digestAlg, signedAttrs, SIG_ALG[sigOid]!, octetString(signature));
  const sdParts = [
    // RFC 5652 §5.1: version 3 because eContentType is not id-data.
    VERSION_3,
    set(digestAlg),
    seq(TST_INFO_OID, explicit(0, octetString(content))),
  ];
  // RFC 3161 §2.4.1: with certReq the certificate named by ESSCertID MUST be in `certificates`.
  if (q.certReq) sdParts.push(encodeTlv(0xa0, id.leafDer));
  sdParts.push(set(signerInfo));
  const token = seq(SIGNED_DATA_OID, explicit(0, seq(...sdParts)));
  return seq(GRANTED_STATUS, token);
}

/** BIT STRING of one named bit, DER (X.690 §11.2.2: trailing zero bits removed). */
export function failInfoBits(bit: number): Buffer {
  const bytes = Buffer.alloc(Math.floor(bit / 8) + 1);
  bytes[Math.floor(bit / 8)] = 0x80 >> (bit % 8);
  return bitString(bytes, 7 - (bit % 8));
}

/** A rejection TimeStampResp: status rejection, statusString, failInfo (RFC 3161 §2.4.2). */
export function rejectionResponse(code: TsaErrorCode, message: string): Buffer {
  const bit = FAIL_INFO_BIT[code] ?? FAIL_INFO_BIT.BAD_REQUEST!;
  return seq(seq(integer(REJECTION), seq(utf8String(message.slice(0, 256))), failInfoBits(bit)));
}
