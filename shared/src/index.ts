export { CairnError, SharedError, isCairnError, type SharedErrorCode } from './errors.ts';
export {
  canonicalizeJcs,
  canonicalizeOlpc,
  fromBase64,
  isBase64,
  toBase64,
  fromBase64Url,
  fromHex,
  toHex,
  toPem,
  fromPem,
  fromPemAll,
  parseJson,
  isRecord,
  type PemBlock,
} from './encoding.ts';
export {
  PublicKey,
  LocalSigner,
  LocalVerifier,
  SIGNATURE_ALGORITHMS,
  defaultAlgorithm,
  digest,
  sha256,
  sha256Hex,
  hashOf,
  generateKey,
  privateKeyToPem,
  privateKeyFromPem,
  type Signer,
  type Verifier,
  type SignatureAlgorithm,
  type HashAlgorithm,
  type KeyType,
} from './crypto.ts';
export { SystemClock, FixedClock, systemClock, type Clock } from './clock.ts';
export { createLogger, silentLogger, redact, type Logger, type LogLevel } from './logger.ts';
export { MetricsRegistry, Counter, Gauge, Histogram } from './metrics.ts';
export {
  loadConfig,
  section,
  sectionNumber,
  sectionString,
  sectionBool,
  baseUrlOf,
  DEFAULT_CORE,
  type CairnConfig,
  type CoreConfig,
  type Section,
  type LoadConfigOptions,
} from './config.ts';
export {
  COMPONENTS,
  type ComponentName,
  type ServiceContext,
  type Service,
  type ReadyStatus,
  type TrustInfo,
  type Peers,
  type ServiceFactory,
} from './service.ts';
