/**
 * Errors with stable codes. Each module declares its own closed union of codes and throws a
 * `CairnError<ItsCodes>`; callers and tests branch on `code`, never on `message`.
 * `status` is the HTTP status a route answers with when the error escapes a handler.
 */
export class CairnError<C extends string = string> extends Error {
  readonly code: C;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: C, message: string, options: { status?: number; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // The class actually constructed: a SignError prints as SignError, a subclass of it as itself.
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 400;
    this.details = options.details;
  }

  toJSON(): { code: C; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isCairnError(e: unknown): e is CairnError {
  return e instanceof CairnError;
}

/** Codes used by the shared primitives themselves. */
export type SharedErrorCode =
  | 'INVALID_ENCODING'
  | 'INVALID_JSON'
  | 'NON_CANONICAL_NUMBER'
  | 'UNSUPPORTED_ALGORITHM'
  | 'INVALID_KEY'
  | 'WEAK_KEY'
  | 'INVALID_CONFIG'
  | 'INVALID_CHECKPOINT'
  | 'INVALID_PROOF'
  | 'BODY_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'NOT_FOUND'
  | 'INTERNAL';

export class SharedError extends CairnError<SharedErrorCode> {}
