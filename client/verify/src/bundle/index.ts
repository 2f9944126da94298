export { parseBundle, parseBundleJson, BundleError, BUNDLE_LIMITS, BUNDLE_MEDIA_TYPES, type BundleErrorCode } from './parse.ts';
export type {
  Bundle,
  BundleVersion,
  BundleContent,
  MessageSignatureContent,
  DsseEnvelopeContent,
  DsseSignature,
  MessageDigest,
  HashAlgorithmName,
  VerificationMaterialContent,
  TransparencyLogEntry,
  InclusionProof,
} from './types.ts';
