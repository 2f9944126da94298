/**
 * Who signed a log entry: the identity in a Fulcio certificate (SANs, OIDC issuer, the
 * 1.3.6.1.4.1.57264.1.* extensions) or the fingerprint of a bare public key.
 *
 * node:crypto's X509Certificate validates that the certificate parses at all; the extensions are
 * read with the strict DER reader because node exposes no per-extension access.
 */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import { TAG, children, oidToString, readOne, type Tlv } from '@cairn/shared/der';

/** Fulcio's extension arc (fulcio docs/oid-info.md). */
const FULCIO_ARC = '1.3.6.1.4.1.57264.1.';
const OID_SAN = '2.5.29.17';
const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_OTHERNAME_USERNAME = '1.3.6.1.4.1.57264.1.7';
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
  // Throws on malformed input; also rejects trailing garbage that a lenient reader would skip.
  const x509 = new X509Certificate(der);
  if (!x509.raw.equals(der)) throw new Error('certificate has trailing bytes');
  const cert = readOne(der, TAG.SEQUENCE);
  const tbsTlv = children(cert, 3)[0];
  if (tbsTlv === undefined || tbsTlv.tag !== TAG.SEQUENCE) throw new Error('no tbsCertificate');
  const extWrapper = field(children(tbsTlv, 12), 0xa3);
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
      const oid = oidToString(oidTlv.value);
      if (oid === OID_SAN) {
        for (const gn of children(readOne(valueTlv.value, TAG.SEQUENCE), MAX_SANS)) {
          if (gn.tag === 0x86 || gn.tag === 0x81) subjects.push(gn.value.toString('utf8'));
          else if (gn.tag === 0xa0) {
            const [typeId, val] = children(gn, 2);
            if (typeId?.tag === TAG.OID && oidToString(typeId.value) === OID_OTHERNAME_USERNAME && val !== undefined) {
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
  return {
    kind: 'certificate',
    subjects,
    issuer: extensions[OID_ISSUER_V2] ?? extensions[OID_ISSUER_V1],
    extensions,
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
}

/** Fingerprint of a public key given as DER SPKI. Throws when it is not a key node can load. */
export function keyIdentity(spki: Buffer): KeyIdentity {
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const canonical = key.export({ type: 'spki', format: 'der' });
  return { kind: 'key', fingerprint: createHash('sha256').update(canonical).digest('hex') };
}
