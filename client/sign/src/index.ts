/** The signing client: keyless and key-based signing, attestations, and Rekor/Fulcio clients. */
export { sign, attest, MAX_ARTIFACT_BYTES, MAX_STATEMENT_BYTES, KEY_ALGORITHMS, type SignOptions, type AttestOptions, type SignResult } from './sign.ts';
export { SignError, type SignErrorCode } from './errors.ts';
export {
  BUNDLE_V03_MEDIA_TYPE,
  INTOTO_PAYLOAD_TYPE,
  messageSignatureBundle,
  dsseBundle,
  serializeBundle,
  type BundleJson,
  type KeyMaterial,
  type TransparencyLogEntryJson,
  type DsseEnvelopeJson,
} from './bundle.ts';
export { pae, envelopeJson } from './dsse.ts';
export { decodeTokenClaims, challengeSubject, checkTokenFresh, clientCredentialsToken, type ClientCredentials, type TokenClaims } from './oidc.ts';
export { FulcioClient, parseSigningCertificate, type SigningCertificate } from './fulcio.ts';
export {
  RekorClient,
  hashedRekordEntry,
  dsseEntry,
  intotoEntry,
  parseLogEntryMap,
  toTransparencyLogEntry,
  type LogEntry,
  type ProposedEntry,
  type SearchQuery,
} from './rekor.ts';
export { verifyLogEntry, setPayload, type EntryVerification } from './log-proof.ts';
export { buildStatement, resolvePredicateType, PREDICATE_TYPE_ALIASES, STATEMENT_TYPE_V1, SLSA_PROVENANCE_V1, type Subject } from './statement.ts';
export { buildProvenance, detectCi, normalizeTimestamp, GENERIC_BUILD_TYPE, GITHUB_BUILD_TYPE, GITLAB_BUILD_TYPE, type ProvenanceInputs } from './provenance.ts';
export { httpRequest, type HttpOptions } from './http.ts';
export { urlsFromSigningConfig, planFromSigningConfig, SIGNING_CONFIG_V02_MEDIA_TYPE, type SigningPlan } from './signing-config.ts';
export { TsaClient, MAX_TIMESTAMP_RESPONSE_BYTES } from './tsa.ts';
export { RekorV2Client, hashedRekordV2Request, keyDetailsOf, parseV2Entry, checkV2EntryMatches, type V2Verifier } from './rekor-v2.ts';
export { trustedRootLogKeys, pinnedLogKey, logAuthorityForKey, type LogKeySource } from './log-keys.ts';
export { identityToken, loadSigningKey, serviceUrls, loadTrustedRootJson } from './inputs.ts';
export { checkWritable, readSmallFile, writeFileAtomic } from './inputs.ts';
export { type HeadConsistency, verifyConsistencyWithHead } from './log-proof.ts';
