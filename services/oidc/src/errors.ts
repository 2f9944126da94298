import { CairnError } from '@cairn/shared';

/** Stable codes of the built-in OIDC issuer. */
export type OidcErrorCode =
  | 'INVALID_REQUEST'
  | 'UNSUPPORTED_GRANT_TYPE'
  | 'INVALID_CLIENT'
  | 'INVALID_AUDIENCE'
  | 'INVALID_CLAIMS'
  | 'DEV_MODE_OFF'
  | 'NOT_INITIALIZED'
  | 'INVALID_CLIENTS_FILE';

export class OidcError extends CairnError<OidcErrorCode> {
  constructor(code: OidcErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, { status: options.status ?? defaultStatus(code), cause: options.cause });
  }
}

function defaultStatus(code: OidcErrorCode): number {
  switch (code) {
    case 'INVALID_CLIENT':
      return 401;
    case 'DEV_MODE_OFF':
      return 403;
    case 'NOT_INITIALIZED':
    case 'INVALID_CLIENTS_FILE':
      return 500;
    default:
      return 400;
  }
}
