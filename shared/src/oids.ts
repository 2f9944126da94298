/**
 * Object identifiers, the one table: X.509 extensions (RFC 5280), CT (RFC 6962), the Fulcio
 * extension arc (fulcio docs/oid-info.md), X.520 attributes, signature algorithms, and the CMS /
 * RFC 3161 identifiers. The CA writes, the verifier, the monitor and the TSA read, from here.
 */
export const OID = {
  // RFC 5280 §4.2.1
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  // RFC 5280 §4.2.1.12 key purposes
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  // RFC 6962 §3.1, §3.3
  sctList: '1.3.6.1.4.1.11129.2.4.2',
  ctPoison: '1.3.6.1.4.1.11129.2.4.3',
  ctPrecertSigning: '1.3.6.1.4.1.11129.2.4.4',
  // X.520 attribute types
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  // Signature algorithms (RFC 5758 §3.2, RFC 4055, RFC 8410)
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ed25519: '1.3.101.112',
  // Fulcio (oid-info.md): the OIDC issuer, deprecated raw 1.1 and DER 1.8; the username SAN otherName type-id
  fulcioIssuerV1: '1.3.6.1.4.1.57264.1.1',
  fulcioIssuerV2: '1.3.6.1.4.1.57264.1.8',
  fulcioUsername: '1.3.6.1.4.1.57264.1.7',
  // Sigstore's TSA policy (oid-info.md)
  sigstoreTsaPolicy: '1.3.6.1.4.1.57264.2',
  // CMS (RFC 5652) and RFC 3161 / RFC 5035
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
} as const;

/** Fulcio's extension arc, with the trailing dot. */
export const FULCIO_ARC = '1.3.6.1.4.1.57264.1.';

/** Fulcio arc 1.3.6.1.4.1.57264.1.N. */
export function fulcioOid(n: number): string {
  return `${FULCIO_ARC}${n}`;
}
