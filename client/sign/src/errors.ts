import { CairnError } from '@cairn/shared';

/**
 * Stable codes of the signing client. Tests and callers branch on these, never on messages.
 * - TOKEN_*: the OIDC identity token (absent, malformed, expired, unverified email).
 * - OIDC_ERROR: the client-credentials grant against an issuer failed.
 * - CA_ERROR / TLOG_ERROR / TSA_ERROR: the CA, the log or the timestamp authority refused, was
 *   unreachable, or answered garbage.
 * - TSA_REQUIRED: a keyless Rekor v2 entry without an RFC 3161 timestamp would never verify.
 * - KEY_*: the local signing key (unreadable, wrong passphrase, algorithm not allowed).
 * - INPUT_INVALID: an artifact, statement, predicate or flag value the client cannot use.
 * - URL_MISSING: no service URL for a step that needs one.
 * - ENTRY_NOT_FOUND, PROOF_INVALID, SET_INVALID, CHECKPOINT_INVALID, LOG_UNTRUSTED: `cairn log` found an
 *   entry missing, a log answer that does not verify, or a log the trust root does not know.
 */
export type SignErrorCode =
  | 'TOKEN_MISSING'
  | 'TOKEN_INVALID'
  | 'TOKEN_EXPIRED'
  | 'OIDC_ERROR'
  | 'CA_ERROR'
  | 'TLOG_ERROR'
  | 'TSA_ERROR'
  | 'TSA_REQUIRED'
  | 'KEY_INVALID'
  | 'KEY_PASSPHRASE'
  | 'KEY_UNSUPPORTED'
  | 'INPUT_INVALID'
  | 'URL_MISSING'
  | 'ENTRY_NOT_FOUND'
  | 'PROOF_INVALID'
  | 'SET_INVALID'
  | 'CHECKPOINT_INVALID'
  | 'LOG_UNTRUSTED';

export class SignError extends CairnError<SignErrorCode> {
  constructor(code: SignErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, { ...options, status: 400 });
  }
}
