import { CairnError } from '@cairn/shared';

/**
 * Every way a registry operation, an image layout or an image verification can fail. Callers
 * (the CLI, the admission server) branch on `code`, never on the message.
 */
export type OciErrorCode =
  /** A reference, digest or option the caller gave is malformed (a caller mistake). */
  | 'REFERENCE_INVALID'
  | 'OPTIONS_INVALID'
  /** Only sha256 digests are accepted (allow-list). */
  | 'DIGEST_UNSUPPORTED'
  /** Bytes received do not hash to the digest that named them. */
  | 'DIGEST_MISMATCH'
  /** The size a descriptor promised differs from what arrived. */
  | 'SIZE_MISMATCH'
  /** A manifest, blob, token or index is larger than its byte cap. */
  | 'TOO_LARGE'
  /** A manifest or index lists more descriptors than allowed. */
  | 'TOO_MANY_DESCRIPTORS'
  /** A manifest or index that is not valid JSON of a known media type. */
  | 'MANIFEST_INVALID'
  | 'MEDIA_TYPE_UNSUPPORTED'
  | 'NOT_FOUND'
  /** Plain http to a non-loopback registry without allowHttp; a redirect to another host. */
  | 'INSECURE_REFUSED'
  | 'REDIRECT_REFUSED'
  | 'TOO_MANY_REDIRECTS'
  | 'AUTH_REQUIRED'
  | 'AUTH_FAILED'
  | 'TOKEN_INVALID'
  | 'DENIED'
  /** The registry answered with an unexpected status (after retries for 429/5xx). */
  | 'REGISTRY_ERROR'
  /** Connection refused, reset, TLS failure. */
  | 'NETWORK_ERROR'
  /** The deadline passed or the caller aborted. */
  | 'TIMEOUT'
  | 'ABORTED'
  | 'CREDENTIALS_INVALID'
  | 'CA_FILE_INVALID'
  | 'LAYOUT_INVALID'
  | 'IO_ERROR'
  | 'POLICY_INVALID'
  /** Verification: nothing verified. */
  | 'NO_SIGNATURES'
  | 'NO_ATTESTATIONS'
  /** A signature payload or referrer that names another image. */
  | 'SUBJECT_MISMATCH'
  /** No single identity of the policy matches both the issuer and the subject. */
  | 'IDENTITY_MISMATCH'
  | 'PAYLOAD_INVALID';

export class OciError extends CairnError<OciErrorCode> {
  constructor(code: OciErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(code, message, options);
    this.name = 'OciError';
  }
}

export function ociFail(code: OciErrorCode, message: string, cause?: unknown): never {
  throw new OciError(code, message, cause === undefined ? {} : { cause });
}
