import { CairnError } from '@cairn/shared';

/** Every way offline verification can fail; tests and callers branch on these, never on text. */
export type VerifyErrorCode =
  | 'BUNDLE_INVALID'
  | 'UNSUPPORTED_BUNDLE_VERSION'
  | 'TRUST_ROOT_INVALID'
  | 'POLICY_INVALID'
  | 'ARTIFACT_MISMATCH'
  | 'SIGNATURE_INVALID'
  | 'CERT_INVALID'
  | 'CERT_CHAIN_INVALID'
  | 'UNTRUSTED_CA'
  | 'CERT_EXPIRED_AT_SIGNING'
  | 'SCT_INVALID'
  | 'SCT_THRESHOLD'
  | 'TLOG_UNTRUSTED'
  | 'TLOG_ENTRY_MISMATCH'
  | 'TLOG_INCLUSION_MISSING'
  | 'TLOG_INCLUSION_INVALID'
  | 'CHECKPOINT_INVALID'
  | 'SET_INVALID'
  | 'TLOG_THRESHOLD'
  | 'DUPLICATE_TLOG_ENTRY'
  | 'DUPLICATE_TIMESTAMP'
  | 'TIMESTAMP_INVALID'
  | 'TIMESTAMP_UNTRUSTED'
  | 'TIMESTAMP_OUTSIDE_VALIDITY'
  | 'TIMESTAMP_THRESHOLD'
  | 'IDENTITY_MISMATCH'
  | 'ISSUER_MISMATCH'
  | 'KEY_REQUIRED'
  | 'KEY_MISMATCH'
  | 'PREDICATE_TYPE_MISMATCH'
  | 'CONDITION_FAILED'
  | 'NETWORK_FORBIDDEN';

export class VerifyError extends CairnError<VerifyErrorCode> {
  constructor(code: VerifyErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

export function fail(code: VerifyErrorCode, message: string, cause?: unknown): never {
  throw new VerifyError(code, message, cause === undefined ? {} : { cause });
}
