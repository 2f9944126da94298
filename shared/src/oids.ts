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

/**
 * Fulcio's certificate extensions (fulcio docs/oid-info.md), in ascending OID order: the field
 * name, the config/display key, and the OID suffixes under 57264.1 (`raw`: the deprecated
 * unwrapped value; `der`: the value as a DER UTF8String). The CA writes them from this table and
 * the explorer names them from it.
 */
export const FULCIO_EXTENSIONS = [
  { field: 'issuer', key: 'issuer', raw: 1, der: 8 },
  { field: 'githubWorkflowTrigger', key: 'github-workflow-trigger', raw: 2 },
  { field: 'githubWorkflowSha', key: 'github-workflow-sha', raw: 3 },
  { field: 'githubWorkflowName', key: 'github-workflow-name', raw: 4 },
  { field: 'githubWorkflowRepository', key: 'github-workflow-repository', raw: 5 },
  { field: 'githubWorkflowRef', key: 'github-workflow-ref', raw: 6 },
  { field: 'buildSignerUri', key: 'build-signer-uri', der: 9 },
  { field: 'buildSignerDigest', key: 'build-signer-digest', der: 10 },
  { field: 'runnerEnvironment', key: 'runner-environment', der: 11 },
  { field: 'sourceRepositoryUri', key: 'source-repository-uri', der: 12 },
  { field: 'sourceRepositoryDigest', key: 'source-repository-digest', der: 13 },
  { field: 'sourceRepositoryRef', key: 'source-repository-ref', der: 14 },
  { field: 'sourceRepositoryIdentifier', key: 'source-repository-identifier', der: 15 },
  { field: 'sourceRepositoryOwnerUri', key: 'source-repository-owner-uri', der: 16 },
  { field: 'sourceRepositoryOwnerIdentifier', key: 'source-repository-owner-identifier', der: 17 },
  { field: 'buildConfigUri', key: 'build-config-uri', der: 18 },
  { field: 'buildConfigDigest', key: 'build-config-digest', der: 19 },
  { field: 'buildTrigger', key: 'build-trigger', der: 20 },
  { field: 'runInvocationUri', key: 'run-invocation-uri', der: 21 },
  { field: 'sourceRepositoryVisibilityAtSigning', key: 'source-repository-visibility-at-signing', der: 22 },
  { field: 'deploymentEnvironment', key: 'deployment-environment', der: 23 },
  { field: 'tokenSubject', key: 'token-subject', der: 24 },
] as const;

export type FulcioExtensionField = (typeof FULCIO_EXTENSIONS)[number]['field'];
