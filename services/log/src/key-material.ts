/**
 * Fast, strict parsing of the key material clients propose (DER certificates and
 * SubjectPublicKeyInfo). OpenSSL 3's decoder framework costs hundreds of microseconds per key or
 * certificate, more than the signature check itself, so the hot path walks the DER with the
 * strict reader instead: the SPKI and the email/URI SANs come out of the certificate directly, and
 * an ECDSA key becomes a curve point that `prehash.ts` verifies with. Anything else (RSA,
 * Ed25519) falls back to node:crypto, which then also decides what is valid; EC keys outside the
 * canonical named-curve uncompressed form are refused, as Go's x509 (Rekor) refuses them.
 *
 * RFC 5280 §4.1 (Certificate, TBSCertificate), §4.2.1.6 (SubjectAltName); RFC 5480 §2 (EC SPKI).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { TAG, bitString, children, oid, readOne, seq, type Tlv } from '@cairn/shared/der';
import { LogError } from './errors.ts';

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const SAN_OID = oid('2.5.29.17');

export interface CurveParams {
  name: 'prime256v1' | 'secp384r1' | 'secp521r1';
  oid: string;
  p: bigint;
  b: bigint;
  bytes: number;
}

export const EC_CURVES: readonly CurveParams[] = [
  {
    name: 'prime256v1',
    oid: '1.2.840.10045.3.1.7',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    bytes: 32,
  },
  {
    name: 'secp384r1',
    oid: '1.3.132.0.34',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    bytes: 48,
  },
  {
    name: 'secp521r1',
    oid: '1.3.132.0.35',
    p: (1n << 521n) - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
    bytes: 66,
  },
];

const CURVE_BY_OID_HEX = new Map(EC_CURVES.map((c) => [oid(c.oid).toString('hex'), c]));
const EC_PUBLIC_KEY_HEX = oid(EC_PUBLIC_KEY).toString('hex');

export interface EcPoint {
  curve: CurveParams;
  x: bigint;
  y: bigint;
}

/** A parsed verifying key: DER SPKI, and the curve point for ECDSA keys. */
export class VerifyingKey {
  private keyObject: KeyObject | undefined;
  constructor(
    readonly spki: Buffer,
    readonly ec: EcPoint | undefined,
    key?: KeyObject,
  ) {
    this.keyObject = key;
  }

  /** node:crypto key, built on first use (DSSE signatures, RSA). */
  get key(): KeyObject {
    this.keyObject ??= createPublicKey({ key: this.spki, format: 'der', type: 'spki' });
    return this.keyObject;
  }
}

function bad(code: 'INVALID_KEY', message: string): never {
  throw new LogError(code, message);
}

function fromBytes(b: Buffer): bigint {
  return BigInt('0x' + b.toString('hex'));
}

function onCurve(c: CurveParams, x: bigint, y: bigint): boolean {
  if (x >= c.p || y >= c.p) return false;
  const lhs = (y * y) % c.p;
  const rhs = (((x * x * x - 3n * x + c.b) % c.p) + c.p) % c.p;
  return lhs === rhs;
}

/** The ECDSA point of a canonical uncompressed EC SPKI, or undefined when it is not one. */
function ecPointOf(spki: Tlv): EcPoint | undefined {
  const parts = children(spki, 3);
  if (parts.length !== 2 || parts[0]!.tag !== TAG.SEQUENCE || parts[1]!.tag !== TAG.BIT_STRING) return undefined;
  const alg = children(parts[0]!, 3);
  if (alg.length !== 2 || alg[0]!.raw.toString('hex') !== EC_PUBLIC_KEY_HEX) return undefined;
  const curve = CURVE_BY_OID_HEX.get(alg[1]!.raw.toString('hex'));
  if (!curve) return undefined;
  const bits = parts[1]!.value;
  if (bits.length !== 2 + 2 * curve.bytes || bits[0] !== 0 || bits[1] !== 0x04) return undefined;
  const point = bits.subarray(1);
  // Only the canonical encoding takes the fast path (what Go's MarshalPKIXPublicKey writes).
  if (!seq(seq(alg[0]!.raw, alg[1]!.raw), bitString(point)).equals(spki.raw)) return undefined;
  const x = fromBytes(point.subarray(1, 1 + curve.bytes));
  const y = fromBytes(point.subarray(1 + curve.bytes));
  if (!onCurve(curve, x, y)) bad('INVALID_KEY', 'the EC public key is not a point on its curve');
  return { curve, x, y };
}

/** Parses a DER SubjectPublicKeyInfo. */
export function keyFromSpki(der: Buffer): VerifyingKey {
  let tlv: Tlv;
  try {
    tlv = readOne(der, TAG.SEQUENCE);
  } catch (e) {
    throw new LogError('INVALID_KEY', 'public key is not DER', { cause: e });
  }
  let ec: EcPoint | undefined;
  try {
    ec = ecPointOf(tlv);
  } catch (e) {
    if (e instanceof LogError) throw e;
    ec = undefined;
  }
  if (ec) return new VerifyingKey(Buffer.from(der), ec);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (e) {
    throw new LogError('INVALID_KEY', 'public key does not parse', { cause: e });
  }
  // Go's x509 (Rekor) only reads uncompressed EC points; every valid one took the fast path.
  if (key.asymmetricKeyType === 'ec') bad('INVALID_KEY', 'EC public keys must be named-curve P-256/P-384/P-521 with an uncompressed point');
  return new VerifyingKey(key.export({ type: 'spki', format: 'der' }), undefined, key);
}

export interface ParsedCertificate {
  der: Buffer;
  spki: Buffer;
  /** Email and URI SANs, lowercased. */
  identities: string[];
}

/** Walks Certificate -> TBSCertificate: the SPKI and the SAN extension's emails and URIs. */
export function parseCertificate(der: Buffer): ParsedCertificate {
  try {
    const cert = readOne(der, TAG.SEQUENCE);
    const top = children(cert, 4);
    if (top.length !== 3 || top[0]!.tag !== TAG.SEQUENCE || top[1]!.tag !== TAG.SEQUENCE || top[2]!.tag !== TAG.BIT_STRING) throw new Error('not a Certificate');
    const tbs = children(top[0]!, 16);
    let i = tbs[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
    const serial = tbs[i++];
    if (serial?.tag !== TAG.INTEGER) throw new Error('serial');
    for (let k = 0; k < 4; k++) if (tbs[i++]?.tag !== TAG.SEQUENCE) throw new Error('TBS field'); // signature, issuer, validity, subject
    const spki = tbs[i++];
    if (spki?.tag !== TAG.SEQUENCE) throw new Error('subjectPublicKeyInfo');
    const identities: string[] = [];
    for (const f of tbs.slice(i)) {
      if (f.tag !== 0xa3) continue; // [3] EXPLICIT Extensions
      const exts = readOne(f.value, TAG.SEQUENCE);
      for (const ext of children(exts, 256)) {
        const parts = children(ext, 4);
        if (parts[0]?.tag !== TAG.OID || !parts[0].raw.equals(SAN_OID)) continue;
        const value = parts[parts.length - 1]!;
        if (value.tag !== TAG.OCTET_STRING) throw new Error('extension value');
        for (const gn of children(readOne(value.value, TAG.SEQUENCE), 256)) {
          // GeneralName [1] rfc822Name, [6] uniformResourceIdentifier (IA5String, implicit).
          if (gn.tag === 0x81 || gn.tag === 0x86) identities.push(gn.value.toString('latin1').toLowerCase());
        }
      }
    }
    return { der: Buffer.from(der), spki: Buffer.from(spki.raw), identities };
  } catch (e) {
    if (e instanceof LogError) throw e;
    throw new LogError('INVALID_KEY', 'certificate does not parse', { cause: e });
  }
}
