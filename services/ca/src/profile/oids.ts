/** Object identifiers of the certificate profile (RFC 5280, RFC 6962, Fulcio docs/oid-info.md). */
export const OID = {
  // RFC 5280 §4.2.1
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  // RFC 6962 §3.1, §3.3
  ctPoison: '1.3.6.1.4.1.11129.2.4.3',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
  // X.520 attribute types
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  // Signature algorithms (RFC 5758 §3.2, RFC 4055, RFC 8410)
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
  // Fulcio username SAN otherName type-id
  fulcioUsername: '1.3.6.1.4.1.57264.1.7',
} as const;

/** Fulcio arc 1.3.6.1.4.1.57264.1.N. */
export function fulcioOid(n: number): string {
  return `1.3.6.1.4.1.57264.1.${n}`;
}
