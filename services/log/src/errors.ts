import { CairnError } from '@cairn/shared';

/**
 * Every way the transparency log refuses a request. Routes answer `{code, message}` with the
 * status below; tests assert the code, never the message.
 */
export type LogErrorCode =
  | 'INVALID_JSON' // 400 body is not JSON or not an object
  | 'INVALID_ENTRY' // 400 the proposed entry breaks its kind's schema
  | 'UNSUPPORTED_KIND' // 400 kind not in hashedrekord|dsse|intoto
  | 'UNSUPPORTED_VERSION' // 400 apiVersion not supported for the kind
  | 'INVALID_ENCODING' // 400 bad base64, hex or PEM
  | 'INVALID_DIGEST' // 400 digest length does not match its algorithm
  | 'INVALID_KEY' // 400 key or certificate does not parse
  | 'UNSUPPORTED_KEY' // 400 key type or size outside the allow-list
  | 'INVALID_SIGNATURE' // 400 a signature does not verify
  | 'ENTRY_TOO_LARGE' // 400 canonical body too large for the tile entry bundle format
  | 'DUPLICATE_ENTRY' // 409 the same canonical body is already in the log
  | 'ENTRY_NOT_FOUND' // 404
  | 'INVALID_ENTRY_ID' // 400 neither a 64-hex UUID nor an 80-hex entry ID
  | 'INVALID_LOG_INDEX' // 400
  | 'INVALID_PROOF_REQUEST' // 400 proof sizes out of range
  | 'INVALID_SEARCH' // 400 malformed search query
  | 'TOO_MANY_ITEMS' // 422 more than the per-request limit of UUIDs/indexes/entries
  | 'INVALID_TILE_PATH' // 400
  | 'TILE_NOT_FOUND' // 404 tile beyond the current tree
  | 'V1_DISABLED' // 405 v1 writes need an ECDSA log key (SETs); this log uses Ed25519
  | 'STORE_CLOSED' // 503
  | 'STORE_CORRUPT' // 500 stored hashes do not reproduce the signed root
  | 'STORE_WRITE_FAILED' // 503 the batch transaction failed (disk full, I/O error); nothing was written
  | 'STORE_UNAVAILABLE' // 503 the database cannot be reached (PostgreSQL store): nothing stale is served
  | 'NOT_SEQUENCER' // 503 this replica lost the sequencer lease while the batch was in flight; nothing was written
  | 'SIGNING_FAILED'; // 503 the tree head could not be signed; the batch was not written

const STATUS: Record<LogErrorCode, number> = {
  INVALID_JSON: 400,
  INVALID_ENTRY: 400,
  UNSUPPORTED_KIND: 400,
  UNSUPPORTED_VERSION: 400,
  INVALID_ENCODING: 400,
  INVALID_DIGEST: 400,
  INVALID_KEY: 400,
  UNSUPPORTED_KEY: 400,
  INVALID_SIGNATURE: 400,
  ENTRY_TOO_LARGE: 400,
  DUPLICATE_ENTRY: 409,
  ENTRY_NOT_FOUND: 404,
  INVALID_ENTRY_ID: 400,
  INVALID_LOG_INDEX: 400,
  INVALID_PROOF_REQUEST: 400,
  INVALID_SEARCH: 400,
  TOO_MANY_ITEMS: 422,
  INVALID_TILE_PATH: 400,
  TILE_NOT_FOUND: 404,
  V1_DISABLED: 405,
  STORE_CLOSED: 503,
  STORE_CORRUPT: 500,
  STORE_WRITE_FAILED: 503,
  STORE_UNAVAILABLE: 503,
  NOT_SEQUENCER: 503,
  SIGNING_FAILED: 503,
};

export class LogError extends CairnError<LogErrorCode> {
  constructor(code: LogErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, { ...options, status: STATUS[code] });
  }
}
