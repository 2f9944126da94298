/**
 * Who signed a log entry: the identity in a Fulcio certificate (SANs, OIDC issuer, the
 * 1.3.6.1.4.1.57264.1.* extensions) or the fingerprint of a bare public key.
 *
 * Certificates are read with the strict DER reader only (RFC 5280 §4.1 structure checked field by
 * field). node:crypto's X509Certificate was measured at ~380 µs per certificate, which capped a
 * catch-up at ~2,500 entries/s, and it exposes no per-extension access anyway. The monitor judges
 * identities; it does not verify certificate chains (clients do that when they verify bundles).
 */
import { createHash, createPublicKey } from 'node:crypto';
import { TAG, children, oidToString, readOne, type Tlv } from '@cairn/shared/der';
import { FULCIO_ARC, OID } from '@cairn/shared/oids';

const OID_SAN = OID.subjectAltName;
const OID_ISSUER_V1 = OID.fulcioIssuerV1;
const OID_ISSUER_V2 = OID.fulcioIssuerV2;
const OID_OTHERNAME_USERNAME = OID.fulcioUsername;
/** 57264.1.1 .. 1.6 hold the raw string; 1.8 onwards a DER-encoded string (oid-info.md). */
const RAW_VALUE_ARCS = new Set(['1', '2', '3', '4', '5', '6']);
const MAX_EXTENSIONS = 64;
const MAX_SANS = 32;

export interface CertificateIdentity {
  kind: 'certificate';
  /** SAN URIs, emails and Fulcio usernames, in certificate order. */
  subjects: string[];
  /** The OIDC issuer: extension 57264.1.8, else the deprecated 57264.1.1. */
  issuer: string | undefined;
  /** Every 57264.1.* extension value as a string, keyed by dotted OID. */
  extensions: Record<string, string>;
  /** Lowercase hex SHA-256 of the certificate DER. */
  fingerprint: string;
}

export interface KeyIdentity {
  kind: 'key';
  /** Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo. */
  fingerprint: string;
}

export type SignerIdentity = CertificateIdentity | KeyIdentity;

/** OID bytes -> dotted string; certificates repeat the same few dozen OIDs (bounded cache). */
const oidCache = new Map<string, string>();
const MAX_OID_CACHE = 512;
function oidOf(content: Buffer): string {
  const k = content.toString('latin1');
  let s = oidCache.get(k);
  if (s === undefined) {
    s = oidToString(content);
    if (oidCache.size < MAX_OID_CACHE) oidCache.set(k, s);
  }
  return s;
}

function field(tbs: Tlv[], tag: number): Tlv | undefined {
  return tbs.find((t) => t.tag === tag);
}

function decodeString(value: Buffer): string {
  const t = readOne(value);
  if (t.tag !== TAG.UTF8_STRING && t.tag !== TAG.IA5_STRING && t.tag !== TAG.PRINTABLE_STRING) {
    throw new Error(`extension value is not a string (tag 0x${t.tag.toString(16)})`);
  }
  return t.value.toString('utf8');
}

/** Reads the identity of a certificate (DER). Throws on anything that is not a certificate. */
export function certificateIdentity(der: Buffer): CertificateIdentity {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1);
  // readOne rejects trailing bytes.
  const top = children(readOne(der, TAG.SEQUENCE), 3);
  const [tbsTlv, algTlv, sigTlv] = top;
  if (top.length !== 3 || tbsTlv?.tag !== TAG.SEQUENCE || algTlv?.tag !== TAG.SEQUENCE || sigTlv?.tag !== TAG.BIT_STRING) {
    throw new Error('not an X.509 certificate');
  }
  // TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject,
  // subjectPublicKeyInfo, then optional [1] [2] unique IDs and [3] extensions.
  const tbs = children(tbsTlv, 10);
  const expected = [0xa0, TAG.INTEGER, TAG.SEQUENCE, TAG.SEQUENCE, TAG.SEQUENCE, TAG.SEQUENCE, TAG.SEQUENCE];
  if (tbs.length < expected.length || expected.some((tag, i) => tbs[i]!.tag !== tag)) throw new Error('malformed tbsCertificate');
  if (tbs.slice(expected.length).some((t) => t.tag !== 0x81 && t.tag !== 0x82 && t.tag !== 0xa3)) throw new Error('unexpected tbsCertificate field');
  const extWrapper = field(tbs, 0xa3);
  const extensions: Record<string, string> = {};
  const subjects: string[] = [];
  if (extWrapper !== undefined) {
    const list = children(extWrapper, 1)[0];
    if (list === undefined || list.tag !== TAG.SEQUENCE) throw new Error('malformed extensions');
    for (const ext of children(list, MAX_EXTENSIONS)) {
      const parts = children(ext, 3);
      const oidTlv = parts[0];
      const valueTlv = parts[parts.length - 1];
      if (oidTlv?.tag !== TAG.OID || valueTlv?.tag !== TAG.OCTET_STRING) throw new Error('malformed extension');
      const oid = oidOf(oidTlv.value);
      if (oid === OID_SAN) {
        for (const gn of children(readOne(valueTlv.value, TAG.SEQUENCE), MAX_SANS)) {
          if (gn.tag === 0x86 || gn.tag === 0x81) subjects.push(gn.value.toString('utf8'));
          else if (gn.tag === 0xa0) {
            const [typeId, val] = children(gn, 2);
            if (typeId?.tag === TAG.OID && oidOf(typeId.value) === OID_OTHERNAME_USERNAME && val !== undefined) {
              const s = children(val, 1)[0];
              if (s !== undefined) subjects.push(s.value.toString('utf8'));
            }
          }
        }
      } else if (oid.startsWith(FULCIO_ARC)) {
        const arc = oid.slice(FULCIO_ARC.length);
        extensions[oid] = RAW_VALUE_ARCS.has(arc) ? valueTlv.value.toString('utf8') : decodeString(valueTlv.value);
      }
    }
  }
  let fingerprint: string | undefined;
  return {
    kind: 'certificate',
    subjects,
    issuer: extensions[OID_ISSUER_V2] ?? extensions[OID_ISSUER_V1],
    extensions,
    // Only alerts need it: computed on first use (an enumerable getter, so JSON output has it).
    get fingerprint(): string {
      return (fingerprint ??= createHash('sha256').update(der).digest('hex'));
    },
  };
}

/** Fingerprint of a public key given as DER SPKI. Throws when it is not a key node can load. */
export function keyIdentity(spki: Buffer): KeyIdentity {
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const canonical = key.export({ type: 'spki', format: 'der' });
  return { kind: 'key', fingerprint: createHash('sha256').update(canonical).digest('hex') };
}
