/**
 * Trust material on the client side.
 *
 * For `cairn verify` (no network): `loadCachedTrustedRoot(cacheDirOrMirror, {env?, clock?})`
 * returns the `TrustedRootJson` (trusted_root.json, protobuf-specs JSON shape: tlogs, ctlogs,
 * certificateAuthorities, timestampAuthorities) cached by `cairn trust init`. Pass either the cache
 * directory (`--trust-cache DIR`) or the mirror URL; a URL maps to `defaultCacheDir(mirror)` =
 * `$CAIRN_TRUST_CACHE` (or `~/.cairn/trust`) + `/` + encodeURIComponent(host + path). It re-checks
 * the cached TUF root, targets signatures and the target hash, and throws `TufError` (EXPIRED,
 * BELOW_THRESHOLD, HASH_MISMATCH, ...) or `TrustError` (CACHE_NOT_INITIALISED, INVALID_TRUSTED_ROOT).
 *
 * For `cairn up`: `buildTrustedRoot(infos)`, `buildSigningConfig(infos, urls)` and
 * `runDevelopmentCeremony` lives with the ceremony in `@cairn/tuf/ceremony`.
 */
export {
  buildTrustedRoot,
  buildSigningConfig,
  mergeTrustedRoot,
  readTrustedRootDocument,
  parseTrustInfos,
  TRUSTED_ROOT_MEDIA_TYPE,
  SIGNING_CONFIG_MEDIA_TYPE,
  TRUSTED_ROOT_TARGET,
  SIGNING_CONFIG_TARGET,
  LOG_KEY_DETAILS,
  type TrustedRootJson,
  type SigningConfigJson,
  type SigningConfigUrls,
  type TransparencyLogInstance,
  type CertificateAuthority,
  type ServiceJson,
  type ValidFor,
} from '@cairn/shared/trusted-root';
export { loadCachedTrustedRoot, loadCachedSigningConfig, initTrustCache, refreshTrustCache, defaultMirror, setDefaultMirror, type LoadCachedOptions, type InitTrustOptions, type InitTrustResult } from './cache.ts';
export { CairnTufClient, defaultCacheDir, fetchCapped, MAX_ROOT_ROTATIONS, type TufClientOptions } from './tuf-client.ts';
export { TrustError, type TrustErrorCode } from './errors.ts';
