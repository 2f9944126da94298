/**
 * Offline Sigstore bundle verification. This module graph performs no network I/O: it imports
 * nothing that can reach the network (checked by test/verify-offline.test.ts).
 */
export { verify, preAuthEncoding, type ArtifactInput, type VerificationPolicy, type VerificationResult, type TrustedTime } from './verify.ts';
export { VerifyError, type VerifyErrorCode } from './errors.ts';
export {
  parseTrustedRoot,
  parseTrustedRootJson,
  TRUSTED_ROOT_MEDIA_TYPES,
  type TrustMaterial,
  type TransparencyLogAuthority,
  type CertificateAuthority,
  type ValidityPeriod,
  type KeyDetails,
} from './trusted-root.ts';
export { Certificate } from './x509.ts';
export { setVerificationMemo, clearVerificationMemo } from './memo.ts';
export { certificateIdentity, MAX_POLICY_PATTERN, type IdentityPolicy } from './policy.ts';
export { parseTimestampResponse, verifyRfc3161Timestamp, type ParsedTimestamp } from './timestamp.ts';
export { parseBundle, parseBundleJson, type Bundle } from './bundle/index.ts';
export {
  checkAttestation,
  parseCondition,
  evaluateCondition,
  makeCondition,
  CONDITION_OPS,
  globMatch,
  resolvePredicateType,
  SLSA_PROVENANCE_V1,
  CONDITION_LIMITS,
  type Condition,
  type ConditionOp,
} from './attestation.ts';
export { forbidNetwork } from './offline.ts';
export { setSignedBytes, verifySet, verifyProof, verifyCheckpoint, type VerifiedCheckpoint } from './tlog.ts';
export type { TransparencyLogEntry, InclusionProof } from './bundle/types.ts';
