/**
 * Just enough X.509 (RFC 5280) for Sigstore verification, read with the strict DER reader:
 * TBS bytes, names as raw DER (compared bytewise), validity, SPKI, extensions, and the Fulcio
 * identity extensions. Signatures are checked with node:crypto against an explicit allow-list.
 */
import type { KeyObject } from 'node:crypto';
import { children, oidToString, readOne, readTime, readUnsignedInteger, TAG, type Tlv } from '@cairn/shared/der';
import { OID } from '@cairn/shared/oids';
import { fail } from './errors.ts';
import { spkiKey, verifySignature } from './memo.ts';

export { OID };

/** Certificate / CMS signature algorithms accepted, with the digest node:crypto needs (null = pure). */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, string | null>> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
  [OID.sha256WithRsa]: 'sha256',
  [OID.sha384WithRsa]: 'sha384',
  [OID.sha512WithRsa]: 'sha512',
  [OID.ed25519]: null,
};

export function signatureDigest(oid: string): string | null | undefined {
  return Object.prototype.hasOwnProperty.call(SIGNATURE_ALGORITHMS, oid) ? SIGNATURE_ALGORITHMS[oid] : undefined;
}

export interface Extension {
  oid: string;
  critical: boolean;
  /** extnValue content (the bytes inside the OCTET STRING). */
  value: Buffer;
}

export interface SubjectAltNames {
  uris: string[];
  emails: string[];
  otherNames: string[];
}

const MAX_EXTENSIONS = 64;

export class Certificate {
  readonly der: Buffer;
  readonly tbs: Buffer;
  readonly serial: Buffer;
  readonly signatureAlgorithm: string;
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly extensions: Extension[];
  readonly signature: Buffer;
  private keyCache: KeyObject | undefined;
  /** Derived extension values, decoded on first use (trust-root certificates are reused). */
  private readonly derived = new Map<string, unknown>();

  private constructor(der: Buffer) {
    this.der = der;
    const cert = readOne(der, TAG.SEQUENCE);
    const [tbsTlv, algTlv, sigTlv, ...rest] = children(cert, 4);
    if (!tbsTlv || !algTlv || !sigTlv || rest.length > 0) bad('Certificate must be SEQUENCE { tbs, algorithm, signature }');
    this.tbs = tbsTlv.raw;
    this.signatureAlgorithm = algorithmOid(algTlv);
    this.signature = bitStringBytes(sigTlv);

    const tbs = children(expectTag(tbsTlv, TAG.SEQUENCE, 'tbsCertificate'), 16);
    let i = 0;
    // RFC 5280 §4.1: version [0] EXPLICIT must be v3 (sigstore-js indexes TBS fields assuming it).
    const versionTlv = expectTag(tbs[i++], 0xa0, 'version');
    const version = readUnsignedInteger(expectTag(children(versionTlv, 1)[0], TAG.INTEGER, 'version'));
    if (version !== 2n) bad('only X.509 v3 certificates are supported');
    this.serial = expectTag(tbs[i++], TAG.INTEGER, 'serialNumber').value;
    const innerAlg = algorithmOid(expectTag(tbs[i++], TAG.SEQUENCE, 'signature'));
    if (innerAlg !== this.signatureAlgorithm) bad('tbsCertificate.signature differs from signatureAlgorithm (RFC 5280 §4.1.1.2)');
    this.issuer = expectTag(tbs[i++], TAG.SEQUENCE, 'issuer').raw;
    const validity = children(expectTag(tbs[i++], TAG.SEQUENCE, 'validity'), 2);
    this.notBefore = readTime(expectDefined(validity[0], 'notBefore'));
    this.notAfter = readTime(expectDefined(validity[1], 'notAfter'));
    this.subject = expectTag(tbs[i++], TAG.SEQUENCE, 'subject').raw;
    this.spki = expectTag(tbs[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo').raw;
    const exts: Extension[] = [];
    for (; i < tbs.length; i++) {
      const t = tbs[i]!;
      if (t.tag === 0x81 || t.tag === 0x82) continue; // issuer/subject unique IDs
      if (t.tag !== 0xa3) bad(`unexpected field with tag 0x${t.tag.toString(16)} in tbsCertificate`);
      const list = expectTag(children(t, 1)[0], TAG.SEQUENCE, 'extensions');
      for (const ext of children(list, MAX_EXTENSIONS)) exts.push(parseExtension(ext));
    }
    const seen = new Set<string>();
    for (const e of exts) {
      if (seen.has(e.oid)) bad(`extension ${e.oid} appears twice (RFC 5280 §4.2)`);
      seen.add(e.oid);
    }
    this.extensions = exts;
  }

  /** Parses DER; a malformed certificate is CERT_INVALID. */
  static fromDer(der: Buffer): Certificate {
    try {
      return new Certificate(der);
    } catch (e) {
      if (e instanceof Error && 'code' in e && (e as { code: string }).code === 'CERT_INVALID') throw e;
      return fail('CERT_INVALID', `malformed certificate: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  }

  get publicKey(): KeyObject {
    if (!this.keyCache) {
      try {
        this.keyCache = spkiKey(this.spki);
      } catch (e) {
        fail('CERT_INVALID', 'certificate public key is not a supported SubjectPublicKeyInfo', e);
      }
    }
    return this.keyCache;
  }

  extension(oid: string): Extension | undefined {
    return this.extensions.find((e) => e.oid === oid);
  }

  private once<T>(key: string, compute: () => T): T {
    if (this.derived.has(key)) return this.derived.get(key) as T;
    const v = compute();
    this.derived.set(key, v);
    return v;
  }

  /** RFC 5280 §4.2.1.9. */
  get basicConstraints(): { ca: boolean; pathLen: number | undefined } {
    return this.once('bc', () => {
      const e = this.extension(OID.basicConstraints);
      if (!e) return { ca: false, pathLen: undefined };
      return guard(() => {
        const items = children(readOne(e.value, TAG.SEQUENCE), 2);
        let ca = false;
        let pathLen: number | undefined;
        for (const it of items) {
          if (it.tag === TAG.BOOLEAN) ca = it.value.length === 1 && it.value[0] === 0xff;
          else if (it.tag === TAG.INTEGER) pathLen = Number(readUnsignedInteger(it));
          else bad('basicConstraints holds an unexpected field');
        }
        return { ca, pathLen };
      });
    });
  }

  /** KeyUsage bit n (RFC 5280 §4.2.1.3: 0 digitalSignature ... 5 keyCertSign); undefined if absent. */
  keyUsage(bit: number): boolean | undefined {
    const e = this.extension(OID.keyUsage);
    if (!e) return undefined;
    const bytes = guard(() => bitStringBytes(readOne(e.value, TAG.BIT_STRING), false));
    const byte = bytes[bit >> 3] ?? 0;
    return (byte & (0x80 >> (bit & 7))) !== 0;
  }

  get extKeyUsage(): string[] | undefined {
    return this.once('eku', () => {
      const e = this.extension(OID.extKeyUsage);
      if (!e) return undefined;
      return guard(() => children(readOne(e.value, TAG.SEQUENCE), 32).map((t) => oidToString(expectTag(t, TAG.OID, 'keyPurposeId').value)));
    });
  }

  /** A CA certificate: basicConstraints cA and, when KeyUsage is present, keyCertSign. */
  get isCA(): boolean {
    if (!this.basicConstraints.ca) return false;
    const kcs = this.keyUsage(5);
    return kcs === undefined || kcs;
  }

  get subjectAltNames(): SubjectAltNames {
    return this.once('san', () => {
      const out: SubjectAltNames = { uris: [], emails: [], otherNames: [] };
      const e = this.extension(OID.subjectAltName);
      if (!e) return out;
      guard(() => {
        for (const gn of children(readOne(e.value, TAG.SEQUENCE), 32)) {
          if (gn.tag === 0x86) out.uris.push(gn.value.toString('utf8'));
          else if (gn.tag === 0x81) out.emails.push(gn.value.toString('utf8'));
          else if (gn.tag === 0xa0) {
            // otherName: type-id OID, [0] EXPLICIT value (Fulcio username identities, 57264.1.7).
            const [typeId, val] = children(gn, 2);
            if (typeId && val && typeId.tag === TAG.OID && oidToString(typeId.value) === OID.fulcioUsername) {
              const s = children(val, 1)[0];
              if (s && s.tag === TAG.UTF8_STRING) out.otherNames.push(s.value.toString('utf8'));
            }
          }
        }
      });
      return out;
    });
  }

  /** The Fulcio OIDC issuer: 57264.1.8 (DER UTF8String) first, then deprecated 1.1 (raw bytes). */
  get fulcioIssuer(): string | undefined {
    return this.once('iss', () => {
      const v2 = this.extension(OID.fulcioIssuerV2);
      if (v2) return guard(() => readOne(v2.value, TAG.UTF8_STRING).value.toString('utf8'));
      const v1 = this.extension(OID.fulcioIssuerV1);
      return v1 ? v1.value.toString('utf8') : undefined;
    });
  }

  get subjectKeyId(): Buffer | undefined {
    return this.once('ski', () => {
      const e = this.extension(OID.subjectKeyIdentifier);
      return e ? guard(() => readOne(e.value, TAG.OCTET_STRING).value) : undefined;
    });
  }

  get authorityKeyId(): Buffer | undefined {
    return this.once('aki', () => {
      const e = this.extension(OID.authorityKeyIdentifier);
      if (!e) return undefined;
      return guard(() => children(readOne(e.value, TAG.SEQUENCE), 3).find((t) => t.tag === 0x80)?.value);
    });
  }

  validAt(t: Date): boolean {
    const ms = t.getTime();
    return this.notBefore.getTime() <= ms && ms <= this.notAfter.getTime();
  }

  /** True when `issuer`'s key verifies this certificate's signature and the names chain. */
  issuedBy(issuer: Certificate): boolean {
    if (!this.issuer.equals(issuer.subject)) return false;
    const digest = signatureDigest(this.signatureAlgorithm);
    if (digest === undefined) return false;
    return verifySignature(digest, this.tbs, issuer.publicKey, issuer.spki, this.signature);
  }

  get isSelfIssued(): boolean {
    return this.issuer.equals(this.subject);
  }
}

function parseExtension(t: Tlv): Extension {
  const parts = children(expectTag(t, TAG.SEQUENCE, 'extension'), 3);
  const oid = oidToString(expectTag(parts[0], TAG.OID, 'extnID').value);
  let critical = false;
  let valueTlv = parts[1];
  if (valueTlv?.tag === TAG.BOOLEAN) {
    critical = valueTlv.value.length === 1 && valueTlv.value[0] === 0xff;
    valueTlv = parts[2];
  }
  return { oid, critical, value: expectTag(valueTlv, TAG.OCTET_STRING, 'extnValue').value };
}

export function algorithmOid(t: Tlv): string {
  const parts = children(expectTag(t, TAG.SEQUENCE, 'AlgorithmIdentifier'), 2);
  return oidToString(expectTag(parts[0], TAG.OID, 'algorithm').value);
}

/** BIT STRING content; `octetAligned` (signatures, keys) requires zero unused bits (X.690 §8.6). */
export function bitStringBytes(t: Tlv, octetAligned = true): Buffer {
  expectTag(t, TAG.BIT_STRING, 'BIT STRING');
  if (t.value.length === 0) bad('empty BIT STRING');
  const unused = t.value[0]!;
  if (unused > 7 || (octetAligned && unused !== 0) || (t.value.length === 1 && unused !== 0)) bad('BIT STRING has invalid unused bits');
  return t.value.subarray(1);
}

function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) bad(`missing ${what}`);
  if (t.tag !== tag) bad(`${what} has tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return t;
}

function expectDefined(t: Tlv | undefined, what: string): Tlv {
  if (!t) bad(`missing ${what}`);
  return t;
}

function bad(message: string): never {
  return fail('CERT_INVALID', message);
}

function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && 'code' in e && (e as { code: string }).code === 'CERT_INVALID') throw e;
    return fail('CERT_INVALID', `malformed certificate extension: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}
