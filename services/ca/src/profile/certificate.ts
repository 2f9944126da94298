/**
 * Hand-built DER for TBSCertificates (RFC 5280 §4.1) so that the precertificate and the final
 * certificate are byte-identical except for the poison / SCT-list extension (RFC 6962 §3.1):
 * sigstore-js rebuilds the precert TBS from the final certificate with its own DER writer and
 * verifies the SCT over it, so every encoding here is minimal DER.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  bitString,
  children,
  encodeTlv,
  explicit,
  implicitPrimitive,
  integer,
  nullValue,
  oid,
  printableString,
  readOne,
  seq,
  set,
  utf8String,
  x509Time,
  TAG,
} from '@cairn/shared/der';
import type { SignatureAlgorithm, Signer } from '@cairn/shared';
import { CaError } from '../errors.ts';
import { OID } from './oids.ts';
import { extension } from './extensions.ts';

/** RFC 5280 §4.1.1.2 AlgorithmIdentifier of the signature the CA key makes. */
export function signatureAlgorithmIdentifier(alg: SignatureAlgorithm): Buffer {
  switch (alg) {
    case 'ecdsa-p256-sha256':
      return seq(oid(OID.ecdsaWithSha256));
    case 'ecdsa-p384-sha384':
      return seq(oid(OID.ecdsaWithSha384));
    case 'ecdsa-p521-sha512':
      return seq(oid(OID.ecdsaWithSha512));
    case 'rsa-pkcs1-sha256':
      // RFC 4055 §5: the parameters of sha256WithRSAEncryption are NULL.
      return seq(oid(OID.sha256WithRsa), nullValue());
    default:
      // sigstore-js understands only ECDSA and PKCS#1 certificate signatures (§1.8).
      throw new CaError('INVALID_CA_KEYS', `a CA key with algorithm ${alg} cannot sign certificates clients accept`);
  }
}

/** X.501 Name with O and CN (Fulcio root/intermediate convention), one attribute per RDN. */
export function distinguishedName(organization: string, commonName: string): Buffer {
  const str = (s: string): Buffer => (/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s) ? printableString(s) : utf8String(s));
  const rdns: Buffer[] = [];
  if (organization !== '') rdns.push(set(seq(oid(OID.organization), str(organization))));
  if (commonName !== '') rdns.push(set(seq(oid(OID.commonName), str(commonName))));
  return seq(...rdns);
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function subjectKeyIdentifier(spki: Buffer): Buffer {
  const parts = children(readOne(spki, TAG.SEQUENCE));
  const bits = parts[1];
  if (!bits || bits.tag !== TAG.BIT_STRING || bits.value.length < 2) throw new CaError('INVALID_PUBLIC_KEY', 'malformed SubjectPublicKeyInfo');
  return createHash('sha1').update(bits.value.subarray(1)).digest();
}

/** 160-bit positive random serial (Fulcio certificate-specification: unique, random, positive). */
export function randomSerial(): Buffer {
  const b = randomBytes(20);
  b[0]! &= 0x7f;
  if (b[0] === 0) b[0] = 0x01; // keep the full 160-bit size class and never zero
  return b;
}

// Fixed extensions of the leaf profile (Fulcio pkg/ca/common.go MakeX509).
/** KeyUsage digitalSignature, critical: BIT STRING 07 80. */
export const LEAF_KEY_USAGE = extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7));
/** ExtKeyUsage codeSigning, non-critical (as in production certificates). */
export const LEAF_EXT_KEY_USAGE = extension(OID.extKeyUsage, false, seq(oid(OID.codeSigning)));
/** RFC 6962 §3.1 poison: critical, value ASN.1 NULL. */
export const POISON_EXTENSION = extension(OID.ctPoison, true, nullValue());

export function skiExtension(ski: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, encodeTlv(TAG.OCTET_STRING, ski));
}

/** AuthorityKeyIdentifier with keyIdentifier [0] only. */
export function akiExtension(issuerSki: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, seq(implicitPrimitive(0, issuerSki)));
}

export type SubjectAltName =
  | { kind: 'email'; value: string }
  | { kind: 'uri'; value: string }
  | { kind: 'username'; value: string };

/** RFC 5280 §4.2.1.6 GeneralName; critical because the subject is empty. */
export function sanExtension(san: SubjectAltName): Buffer {
  let name: Buffer;
  switch (san.kind) {
    case 'email':
      name = implicitPrimitive(1, ia5(san.value, 'email'));
      break;
    case 'uri':
      name = implicitPrimitive(6, ia5(san.value, 'URI'));
      break;
    case 'username':
      // otherName [0] { type-id 57264.1.7, [0] EXPLICIT UTF8String } (Fulcio username principal).
      name = encodeTlv(0xa0, Buffer.concat([oid(OID.fulcioUsername), explicit(0, utf8String(san.value))]));
      break;
  }
  return extension(OID.subjectAltName, true, seq(name));
}

function ia5(s: string, what: string): Buffer {
   
  if (!/^[\x21-\x7e]+$/.test(s)) throw new CaError('IDENTITY_REJECTED', `${what} SAN must be printable ASCII without spaces`);
  return Buffer.from(s, 'ascii');
}

export interface TbsInput {
  serial: Buffer;
  signatureAlgorithm: Buffer;
  issuer: Buffer;
  notBefore: Date;
  notAfter: Date;
  subject: Buffer;
  spki: Buffer;
  extensions: Buffer[];
}

/** RFC 5280 §4.1.2: v3 TBSCertificate. The explicit [0] version is always present (sigstore-js needs it). */
export function encodeTbs(t: TbsInput): Buffer {
  return seq(
    explicit(0, integer(2)),
    integer(t.serial),
    t.signatureAlgorithm,
    t.issuer,
    seq(x509Time(t.notBefore), x509Time(t.notAfter)),
    t.subject,
    t.spki,
    explicit(3, seq(...t.extensions)),
  );
}

/** Signs a TBS with the Signer seam and assembles the Certificate. */
export async function signTbs(tbs: Buffer, signatureAlgorithm: Buffer, signer: Signer): Promise<Buffer> {
  const sig = await signer.sign(tbs);
  return seq(tbs, signatureAlgorithm, bitString(sig));
}

/** Empty Name: SEQUENCE {} (Fulcio leaves have no subject; the SAN identifies them). */
export const EMPTY_NAME = seq();
