/** The offline ceremony and repository file handling (no network). */
export {
  initRepository,
  stageTarget,
  stageRootRotation,
  stageTargetsResign,
  signStaged,
  stagedStatus,
  publishStaged,
  discardStaged,
  readKeyFile,
  readSigner,
  readTarget,
  loadOnlineSigners,
  type InitOptions,
  type StageTargetOptions,
  type RotationOptions,
  type RepoStatus,
  type RoleStatus,
  type ThresholdStatus,
  type PublishResult,
} from './ceremony.ts';
export { refreshOnlineRoles, verifyPublished, expiredRoles, loadRootChain, type PublishedState, type OnlineSigners, type RefreshResult } from './published.ts';
export { exportRepository, readArchive, isSafeMemberPath, MAX_ARCHIVE_BYTES, type ExportOptions } from './archive.ts';
export { importRepository, type ImportOptions, type ImportResult } from './import.ts';
export {
  CEREMONY_FILE,
  STAGED_DIR,
  ONLINE_DIR,
  PUBLISHED_DIR,
  DEFAULT_EXPIRY,
  parseDuration,
  readCeremonyConfig,
  writeAtomic,
  type Expiry,
  type CeremonyConfig,
} from './layout.ts';
export { TufError, type TufErrorCode } from '@cairn/shared/tuf';
export { openTokenOnlineKeys, type TokenOnlineKeys } from './token-keys.ts';
export { runDevelopmentCeremony, DEV_KEY_DIR, type DevCeremonyOptions, type DevCeremonyResult } from './dev-ceremony.ts';
