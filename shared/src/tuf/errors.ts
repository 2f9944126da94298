import { CairnError } from '@cairn/shared';

/** Stable codes for everything the TUF model, ceremony, server and client reject. */
export type TufErrorCode =
  | 'INVALID_METADATA'
  | 'METADATA_TOO_LARGE'
  | 'UNSUPPORTED_KEY'
  | 'BELOW_THRESHOLD'
  | 'EXPIRED'
  | 'VERSION_NOT_INCREASING'
  | 'VERSION_MISMATCH'
  | 'HASH_MISMATCH'
  | 'LENGTH_MISMATCH'
  | 'UNKNOWN_TARGET'
  | 'TOO_MANY_ROTATIONS'
  | 'REPO_NOT_FOUND'
  | 'REPO_EXISTS'
  | 'NOTHING_STAGED'
  | 'KEY_NOT_AUTHORISED'
  | 'ALREADY_SIGNED'
  | 'INVALID_ARGUMENT'
  | 'ONLINE_KEY_MISSING'
  | 'INVALID_ARCHIVE'
  | 'ARCHIVE_TOO_LARGE'
  | 'UNSAFE_PATH'
  | 'FETCH_FAILED'
  | 'CACHE_NOT_INITIALISED';

export class TufError extends CairnError<TufErrorCode> {}
