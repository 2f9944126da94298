/**
 * The on-disk layout of a Cairn TUF repository directory (the ceremony's `--dir REPO`, and the
 * tuf component's data directory):
 *
 *   REPO/ceremony.json        expiry periods and flags chosen at init
 *   REPO/staged/              roles and target files waiting for signatures
 *     root.json  targets.json  targets/<name>
 *   REPO/online/              online snapshot / timestamp private keys (0600), if held here
 *     snapshot.pem  timestamp.pem
 *   REPO/repository/          the published layout, served as-is at /tuf/ (TUF §5 consistent snapshots)
 *     N.root.json  root.json  timestamp.json  V.snapshot.json  V.targets.json  targets/<sha256>.<name>
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isRecord, parseJson } from '@cairn/shared';
import { TufError } from '@cairn/shared/tuf';
import { IoError, readCappedFile, writeAtomic } from '@cairn/shared/io';

export const CEREMONY_FILE = 'ceremony.json';
export const STAGED_DIR = 'staged';
export const ONLINE_DIR = 'online';
export const PUBLISHED_DIR = 'repository';
export const TARGETS_DIR = 'targets';
/** Most files a published directory may hold before the loader refuses to scan it. */
export const MAX_PUBLISHED_FILES = 100_000;
/** Largest target file Cairn stages or serves (trusted roots are a few KB). */
export const MAX_TARGET_BYTES = 5_000_000;

export interface Expiry {
  /** Seconds each role's metadata stays valid after signing. */
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
}

export const DEFAULT_EXPIRY: Expiry = {
  root: 365 * 86400,
  targets: 180 * 86400,
  snapshot: 7 * 86400,
  timestamp: 86400,
};

export interface CeremonyConfig {
  format: 1;
  expiry: Expiry;
  /** True for the one-call development ceremony: keys on the same disk, threshold 1. */
  development: boolean;
  /**
   * Where the private online (snapshot, timestamp) keys live: `repository` = in REPO/online of the
   * coordinator's directory (publish signs, the server gets them with --include-online-keys);
   * `server` = only the tuf server has them (publish leaves snapshot and timestamp to its import).
   */
  onlineKeys: 'repository' | 'server';
}

/** Parses `365d`, `12h`, `30m`, `90s`, `2w` (or bare seconds) into seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  if (!m) throw new TufError('INVALID_ARGUMENT', `bad duration ${JSON.stringify(text.slice(0, 32))}: use e.g. 365d, 12h, 30m`);
  const n = Number(m[1]);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  const seconds = n * unit;
  if (seconds < 60 || seconds > 20 * 365 * 86400) throw new TufError('INVALID_ARGUMENT', 'durations must be between 1 minute and 20 years');
  return seconds;
}

export const MAX_CEREMONY_FILE_BYTES = 64 * 1024;

export function readCeremonyConfig(dir: string): CeremonyConfig | undefined {
  const p = join(dir, CEREMONY_FILE);
  if (!existsSync(p)) return undefined;
  return parseCeremonyConfig(readCapped(p, MAX_CEREMONY_FILE_BYTES));
}

export function parseCeremonyConfig(bytes: Uint8Array): CeremonyConfig {
  if (bytes.byteLength > MAX_CEREMONY_FILE_BYTES) throw new TufError('METADATA_TOO_LARGE', `${CEREMONY_FILE} is too large`);
  const doc = parseJson(Buffer.from(bytes).toString('utf8'), CEREMONY_FILE);
  if (!isRecord(doc) || doc.format !== 1 || !isRecord(doc.expiry)) throw new TufError('INVALID_ARGUMENT', `${CEREMONY_FILE} is malformed`);
  const e = doc.expiry;
  const expiry: Expiry = { ...DEFAULT_EXPIRY };
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    const v = e[role];
    if (!Number.isSafeInteger(v) || (v as number) < 60) throw new TufError('INVALID_ARGUMENT', `${CEREMONY_FILE}: bad expiry.${role}`);
    expiry[role] = v as number;
  }
  const onlineKeys = doc.onlineKeys ?? 'repository';
  if (onlineKeys !== 'repository' && onlineKeys !== 'server') throw new TufError('INVALID_ARGUMENT', `${CEREMONY_FILE}: bad onlineKeys`);
  return { format: 1, expiry, development: doc.development === true, onlineKeys };
}

export function writeCeremonyConfig(dir: string, cfg: CeremonyConfig): void {
  writeAtomic(join(dir, CEREMONY_FILE), JSON.stringify(cfg, null, 2) + '\n');
}

/** Reads a file, refusing it when larger than `max` bytes (never trusts the size up front). */
export function readCapped(path: string, max: number): Buffer {
  try {
    return readCappedFile(path, max);
  } catch (e) {
    if (e instanceof IoError && e.code === 'FILE_TOO_LARGE') throw new TufError('METADATA_TOO_LARGE', `${path} is larger than ${max} bytes`);
    throw new TufError('REPO_NOT_FOUND', `cannot read ${path}`, { cause: e });
  }
}

export { writeAtomic } from '@cairn/shared/io';

/** The versions present for `<V>.<role>.json` files in a published directory, ascending. */
export function publishedVersions(publishedDir: string, role: 'root' | 'snapshot' | 'targets'): number[] {
  if (!existsSync(publishedDir)) return [];
  const names = readdirSync(publishedDir);
  if (names.length > MAX_PUBLISHED_FILES) throw new TufError('INVALID_METADATA', 'published directory holds too many files');
  const suffix = `.${role}.json`;
  const out: number[] = [];
  for (const n of names) {
    if (!n.endsWith(suffix)) continue;
    const v = n.slice(0, -suffix.length);
    if (/^[1-9]\d{0,14}$/.test(v)) out.push(Number(v));
  }
  return out.sort((a, b) => a - b);
}
