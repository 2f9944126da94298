import { CairnError } from '@cairn/shared';

export type TrustErrorCode = 'INVALID_TRUST_INFO' | 'INVALID_TRUSTED_ROOT' | 'FETCH_FAILED' | 'CACHE_NOT_INITIALISED' | 'CACHE_INVALID';

export class TrustError extends CairnError<TrustErrorCode> {}
