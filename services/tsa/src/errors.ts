import { CairnError } from '@cairn/shared';

/**
 * Stable codes of the timestamp authority. The first six are RFC 3161 §2.4.2 PKIFailureInfo
 * reasons (a DER query refused with one of them gets a TimeStampResp with that failInfo bit);
 * the rest are HTTP-level or start-up errors.
 */
export type TsaErrorCode =
  | 'BAD_ALG'
  | 'BAD_REQUEST'
  | 'BAD_DATA_FORMAT'
  | 'UNACCEPTED_POLICY'
  | 'UNACCEPTED_EXTENSION'
  | 'TIME_NOT_AVAILABLE'
  | 'INVALID_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BODY_TOO_LARGE'
  | 'NOT_INITIALIZED'
  | 'INVALID_TSA_KEYS'
  | 'INVALID_CONFIG'
  | 'SERIAL_STATE';

export class TsaError extends CairnError<TsaErrorCode> {
  constructor(code: TsaErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, { status: options.status ?? defaultStatus(code), cause: options.cause });
  }
}

function defaultStatus(code: TsaErrorCode): number {
  switch (code) {
    case 'BODY_TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'TIME_NOT_AVAILABLE':
      return 503;
    case 'NOT_INITIALIZED':
    case 'INVALID_TSA_KEYS':
    case 'INVALID_CONFIG':
    case 'SERIAL_STATE':
      return 500;
    default:
      return 400;
  }
}

/** RFC 3161 §2.4.2 PKIFailureInfo bit of each query-rejection code. */
export const FAIL_INFO_BIT: Partial<Record<TsaErrorCode, number>> = {
  BAD_ALG: 0,
  BAD_REQUEST: 2,
  BAD_DATA_FORMAT: 5,
  TIME_NOT_AVAILABLE: 14,
  UNACCEPTED_POLICY: 15,
  UNACCEPTED_EXTENSION: 16,
};
