import { CairnError } from '@cairn/shared';

/**
 * Every way the CT log refuses a request. Routes answer `{code, message}` with the status below;
 * tests assert the code, never the message. A refused submission stores nothing.
 */
export type CtErrorCode =
  | 'INVALID_JSON' // 400 body is not a JSON object
  | 'INVALID_REQUEST' // 400 `chain` missing, not an array of strings, or empty
  | 'INVALID_BASE64' // 400 a chain element is not strict base64
  | 'INVALID_CERTIFICATE' // 400 a chain element is not a strict-DER X.509 certificate
  | 'CHAIN_TOO_LARGE' // 400 too many certificates or one too large
  | 'MISSING_POISON' // 400 add-pre-chain: the first certificate has no critical poison extension
  | 'UNEXPECTED_POISON' // 400 add-chain: the first certificate is a precertificate
  | 'BROKEN_CHAIN' // 400 a certificate is not issued and signed by the next one, or the issuer is no CA
  | 'UNKNOWN_ROOT' // 400 the chain does not end at (or below) an accepted root
  | 'UNSUPPORTED_PRECERT_SIGNER' // 400 RFC 6962 §3.1 Precertificate Signing Certificates are not supported
  | 'INVALID_PARAMETER' // 400 a query parameter is missing, malformed or out of range
  | 'ENTRY_NOT_FOUND' // 404 get-proof-by-hash: no leaf with that hash within the tree size
  | 'INVALID_ROOT' // 400 a root offered to addRoot / the roots file is not a self-signed CA certificate
  | 'LOG_BUSY' // 503 too many submissions waiting for their batch; nothing stored, retry
  | 'STORE_CLOSED' // 503 the log is shutting down
  | 'SIGNING_FAILED'; // 503 the CT key could not sign; nothing was stored

const STATUS: Record<CtErrorCode, number> = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  INVALID_BASE64: 400,
  INVALID_CERTIFICATE: 400,
  CHAIN_TOO_LARGE: 400,
  MISSING_POISON: 400,
  UNEXPECTED_POISON: 400,
  BROKEN_CHAIN: 400,
  UNKNOWN_ROOT: 400,
  UNSUPPORTED_PRECERT_SIGNER: 400,
  INVALID_PARAMETER: 400,
  ENTRY_NOT_FOUND: 404,
  INVALID_ROOT: 400,
  LOG_BUSY: 503,
  STORE_CLOSED: 503,
  SIGNING_FAILED: 503,
};

export class CtError extends CairnError<CtErrorCode> {
  constructor(code: CtErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, status: STATUS[code] });
  }
}
