export { IntotoError, type IntotoErrorCode } from './errors.ts';
export { fnmatch, fnmatchFilter, compilePattern, MAX_PATTERN_LENGTH } from './fnmatch.ts';
export { ExcludeFilter, DEFAULT_EXCLUDE_PATTERNS } from './gitwildmatch.ts';
export {
  keyidOf,
  loadPublicKey,
  loadSigningKey,
  publicKeyFromMetadata,
  publicKeyFromPem,
  publicKeyFromKeyObject,
  signingKeyFrom,
  verifyBytes,
  generateKeyFiles,
  INTOTO_SCHEMES,
  type IntotoPublicKey,
  type IntotoSigningKey,
  type IntotoScheme,
  type KeyMetadata,
} from './keys.ts';
export { parseLink, parseLayout, linkToSignable, layoutToSignable, type Link, type Layout, type Step, type Inspection } from './models.ts';
export {
  parseMetadata,
  loadMetadata,
  checkSignature,
  signMetadata,
  unsignedMetadataText,
  linkFileName,
  pae,
  INTOTO_PAYLOAD_TYPE,
  type Metadata,
  type Signature,
  type SignatureCheck,
} from './metadata.ts';
export { unpackRule, verifyItemRules, type Rule, type ArtifactMap, type HashDict } from './rules.ts';
export { recordArtifacts, normpath, hashFile, type RecordOptions } from './artifacts.ts';
export { runStep, executeCommand, type RunOptions } from './run.ts';
export { recordStart, recordStop, unfinishedFileName, type RecordStartOptions, type RecordStopOptions } from './record.ts';
export { verifyLayout, type VerifyOptions, type VerifyResult, type LayoutMetadata } from './verify.ts';
export { layoutFromDescription, loadDescription, shlexSplit } from './description.ts';
export { signLinkKeyless, type KeylessOptions, type KeylessResult } from './keyless.ts';
export { pythonJsonDumps } from './python-json.ts';
export { MAX_EXCLUDE_PATTERNS } from './gitwildmatch.ts';
export { writeText } from './metadata.ts';
