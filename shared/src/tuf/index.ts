/** The TUF metadata model: pure data, parsers, key handling and threshold checks. No I/O. */
export {
  MAX_METADATA_BYTES,
  MAX_ROOT_ROTATIONS,
  SPEC_VERSION,
  TOP_LEVEL_ROLES,
  parseMetadata,
  parseExpires,
  formatExpires,
  isExpired,
  signedBytes,
  checkThreshold,
  verifyRole,
  signEnvelope,
  serializeEnvelope,
  type RoleName,
  type Envelope,
  type Signature,
  type SignedCommon,
  type RoleKeys,
  type RootSigned,
  type MetaFile,
  type TimestampSigned,
  type SnapshotSigned,
  type TargetFile,
  type TargetsSigned,
  type ThresholdResult,
} from './model.ts';
export { keyIdOf, verifierFor, tufKeyFor, localTufSigner, externalTufSigner, verifyHexSignature, type TufKeyJson, type TufSigner } from './keys.ts';
export { checkTargetBytes, checkMetaBytes, hashesOf, isSafeTargetName } from './files.ts';
export { TufError, type TufErrorCode } from './errors.ts';
