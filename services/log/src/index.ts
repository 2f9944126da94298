export { createService } from './service.ts';
export {
  openLogEngine,
  MAX_LEAF_BYTES,
  DEFAULT_BATCH_MAX_SIZE,
  DEFAULT_BATCH_MAX_DELAY_MS,
  type LogEngine,
  type LogEngineOptions,
  type AppendResult,
  type AppendedLeaf,
  type BatchStatement,
  type TreeHead,
  type SignedTreeHead,
  type TreeHeadSigner,
  type StoredLeaf,
  type Migration,
} from './engine.ts';
export { migrateLogToPg, type MigrateLogOptions, type MigrateLogResult } from './store/migrate.ts';
export { RekorLog, REKOR_MIGRATIONS, REKOR_TABLES, claimIdentity, type LogEntryV1, type TransparencyLogEntryV2 } from './rekor-log.ts';
export { verifyPrehashed } from './prehash.ts';
export { MAX_ATTESTATION_BYTES } from './types/common.ts';
export { LogError, type LogErrorCode } from './errors.ts';
