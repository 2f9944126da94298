import { CairnError } from '@cairn/shared';

/**
 * Why a policy file, an AdmissionReview or a start-up setting is refused. Per-image decision
 * reasons are the verifier's codes (NO_SIGNATURES, IDENTITY_MISMATCH, CONDITION_FAILED, ...)
 * plus the few of ImageDecision in engine.ts.
 */
export type AdmissionErrorCode =
  /** A policy document is malformed (a value of the wrong type, a bad pattern, a bad key). */
  | 'POLICY_INVALID'
  /** A policy uses a construct Cairn does not implement (CUE, Rego, JMESPath functions, KMS, ...). */
  | 'POLICY_UNSUPPORTED'
  /** The body is not JSON, or not an AdmissionReview (HTTP 400). */
  | 'REVIEW_INVALID'
  /** An AdmissionReview of another apiVersion/kind (HTTP 400). */
  | 'REVIEW_UNSUPPORTED'
  /** A body over the size limit (HTTP 413). */
  | 'BODY_TOO_LARGE'
  /** An object with more containers or distinct images than the limits (allowed: false, 400). */
  | 'TOO_MANY_IMAGES'
  /** An object whose pod spec is malformed (allowed: false, 400). */
  | 'OBJECT_INVALID'
  | 'CONFIG_INVALID'
  | 'IO_ERROR';

export class AdmissionError extends CairnError<AdmissionErrorCode> {
  constructor(code: AdmissionErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'AdmissionError';
  }
}

export function admissionFail(code: AdmissionErrorCode, message: string, cause?: unknown): never {
  throw new AdmissionError(code, message, cause === undefined ? {} : { cause });
}
