import { CairnError } from '@cairn/shared';

/**
 * Stable codes of in-toto operations. Verification failures map to the reference's exception
 * classes (python-in-toto 1.3.1 verifylib): LayoutExpiredError -> LAYOUT_EXPIRED,
 * SignatureVerificationError on the layout -> LAYOUT_SIGNATURE_INVALID, LinkNotFoundError ->
 * LINK_NOT_FOUND, ThresholdVerificationError -> THRESHOLD_NOT_MET (or the more precise
 * LINK_SIGNATURE_INVALID / UNAUTHORIZED_FUNCTIONARY when that is why links were skipped),
 * RuleVerificationError -> RULE_VIOLATION, BadReturnValueError -> INSPECTION_FAILED.
 */
export type IntotoErrorCode =
  | 'LAYOUT_EXPIRED'
  | 'LAYOUT_SIGNATURE_INVALID'
  | 'LINK_SIGNATURE_INVALID'
  | 'LINK_NOT_FOUND'
  | 'THRESHOLD_NOT_MET'
  | 'ARTIFACTS_DIFFER'
  | 'UNAUTHORIZED_FUNCTIONARY'
  | 'RULE_VIOLATION'
  | 'INSPECTION_FAILED'
  | 'MALFORMED_LAYOUT'
  | 'MALFORMED_LINK'
  | 'MALFORMED_DESCRIPTION'
  | 'UNKNOWN_KEY_TYPE'
  | 'INVALID_KEY'
  | 'NO_SIGNING_KEY'
  | 'FILE_TOO_LARGE'
  | 'TOO_MANY_ARTIFACTS'
  | 'PREFIX_CONFLICT'
  | 'COMMAND_NOT_FOUND'
  | 'COMMAND_TIMEOUT'
  | 'SUBLAYOUT_TOO_DEEP'
  | 'IO_ERROR'
  | 'NO_IDENTITY_TOKEN'
  | 'CA_REQUEST_FAILED'
  | 'LOG_REQUEST_FAILED';

export class IntotoError extends CairnError<IntotoErrorCode> {}
