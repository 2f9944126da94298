import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJson, systemClock, type Clock } from '@cairn/shared';
import { IoError, readCappedFile } from '@cairn/shared/io';
import { MAX_METADATA_BYTES, TufError, checkTargetBytes, isExpired, parseMetadata, verifyRole } from '@cairn/shared/tuf';
import { TrustError } from './errors.ts';
import { CairnTufClient, defaultCacheDir, trustHome } from './tuf-client.ts';
import { writeAtomic } from '@cairn/shared/io';
import { SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET, readTrustedRootDocument, type TrustedRootJson } from '@cairn/shared/trusted-root';

const MAX_TRUSTED_ROOT_BYTES = 5_000_000;
const MAX_SIGNING_CONFIG_BYTES = 1_000_000;

export interface LoadCachedOptions {
  env?: Record<string, string | undefined>;
  clock?: Clock;
  /** Accept an expired root or targets role (for forensics only; verification should not). */
  allowExpired?: boolean;
}

function resolveCacheDir(cacheDirOrMirror: string, env: Record<string, string | undefined>): string {
  return /^https?:\/\//.test(cacheDirOrMirror) ? defaultCacheDir(cacheDirOrMirror, env) : cacheDirOrMirror;
}

function readCapped(path: string, max: number): Buffer {
  try {
    return readCappedFile(path, max);
  } catch (e) {
    if (!(e instanceof IoError)) throw e;
    if (e.code === 'FILE_NOT_FOUND') throw new TrustError('CACHE_NOT_INITIALISED', `${path} is missing: run 'cairn trust init'`);
    if (e.code === 'FILE_TOO_LARGE') throw new TufError('METADATA_TOO_LARGE', `${path} is larger than ${max} bytes`);
    throw e;
  }
}

/**
 * The trusted root cached by `cairn trust init`, read with no network: the cached TUF root must
 * verify with its own keys, the cached targets under that root, and `trusted_root.json` must match
 * the length and hashes the targets role lists. Root and targets must be unexpired; timestamp and
 * snapshot (freshness for online clients, valid a day) are not consulted, so verification keeps
 * working offline between refreshes.
 *
 * `cacheDirOrMirror`: a cache directory, or the mirror URL (then `defaultCacheDir(mirror)`).
 */
export function loadCachedTrustedRoot(cacheDirOrMirror: string, options: LoadCachedOptions = {}): TrustedRootJson {
  const bytes = cachedTarget(cacheDirOrMirror, TRUSTED_ROOT_TARGET, MAX_TRUSTED_ROOT_BYTES, options);
  if (!bytes) throw new TufError('UNKNOWN_TARGET', `the cached targets list no ${TRUSTED_ROOT_TARGET}`);
  return readTrustedRootDocument(parseJson(bytes.toString('utf8'), TRUSTED_ROOT_TARGET));
}

/**
 * The cached `signing_config.v0.2.json` (parsed JSON, checked the same way as the trusted root:
 * cached root, targets under it, length and hashes), or undefined when the targets list none.
 */
export function loadCachedSigningConfig(cacheDirOrMirror: string, options: LoadCachedOptions = {}): unknown {
  const bytes = cachedTarget(cacheDirOrMirror, SIGNING_CONFIG_TARGET, MAX_SIGNING_CONFIG_BYTES, options);
  return bytes ? parseJson(bytes.toString('utf8'), SIGNING_CONFIG_TARGET) : undefined;
}

function cachedTarget(cacheDirOrMirror: string, name: string, max: number, options: LoadCachedOptions): Buffer | undefined {
  const dir = resolveCacheDir(cacheDirOrMirror, options.env ?? process.env);
  const now = (options.clock ?? systemClock).now();
  const root = parseMetadata('root', readCapped(join(dir, 'root.json'), MAX_METADATA_BYTES.root));
  verifyRole(root.signed, 'root', root);
  const targets = parseMetadata('targets', readCapped(join(dir, 'targets.json'), MAX_METADATA_BYTES.targets));
  verifyRole(root.signed, 'targets', targets);
  if (options.allowExpired !== true) {
    if (isExpired(root.signed, now)) throw new TufError('EXPIRED', `cached root expired at ${root.signed.expires}`);
    if (isExpired(targets.signed, now)) throw new TufError('EXPIRED', `cached targets expired at ${targets.signed.expires}`);
  }
  const info = targets.signed.targets[name];
  if (!info) return undefined;
  const bytes = readCapped(join(dir, 'targets', name), max);
  checkTargetBytes(bytes, info, name);
  return bytes;
}

export interface InitTrustOptions {
  mirror: string;
  /** The ceremony's root.json (any published version the client decides to trust). */
  rootBytes: Uint8Array;
  cacheDir?: string;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  /** Replace an existing cache (otherwise its root stays the starting point). */
  force?: boolean;
}

export interface InitTrustResult {
  cacheDir: string;
  rootVersion: number;
  targetsVersion: number;
  trustedRoot: TrustedRootJson;
}

/**
 * `cairn trust init`: seed the cache with a root, run the TUF update and fetch trusted_root.json.
 * A cache in the default location also becomes the default trust source (as `cosign initialize`
 * does): verification with no trust flags reads it.
 */
export async function initTrustCache(o: InitTrustOptions): Promise<InitTrustResult> {
  const env = o.env ?? process.env;
  const cacheDir = o.cacheDir ?? defaultCacheDir(o.mirror, env);
  CairnTufClient.seed(cacheDir, o.rootBytes, o.force === true);
  const r = await refreshTrustCache({ mirror: o.mirror, cacheDir, ...(o.clock ? { clock: o.clock } : {}) });
  if (o.cacheDir === undefined) setDefaultMirror(o.mirror, env);
  return r;
}

const DEFAULT_FILE = 'default.json';
const MAX_DEFAULT_FILE = 4096;

/** Records `mirror` as the default trust source (`<trust home>/default.json`). */
export function setDefaultMirror(mirror: string, env: Record<string, string | undefined> = process.env): void {
  writeAtomic(join(trustHome(env), DEFAULT_FILE), JSON.stringify({ mirror: new URL(mirror).href.replace(/\/+$/, '') }) + '\n', 0o600);
}

/** The mirror `cairn trust init` last made the default, or undefined when there is none. */
export function defaultMirror(env: Record<string, string | undefined> = process.env): string | undefined {
  const path = join(trustHome(env), DEFAULT_FILE);
  if (!existsSync(path)) return undefined;
  const bytes = readFileSync(path);
  if (bytes.byteLength > MAX_DEFAULT_FILE) throw new TrustError('CACHE_INVALID', `${path} is larger than ${MAX_DEFAULT_FILE} bytes`);
  let mirror: unknown;
  try {
    mirror = (JSON.parse(bytes.toString('utf8')) as { mirror?: unknown }).mirror;
  } catch {
    mirror = undefined;
  }
  if (typeof mirror !== 'string' || !/^https?:\/\//.test(mirror)) throw new TrustError('CACHE_INVALID', `${path} does not name a mirror URL: run 'cairn trust init' again`);
  return mirror;
}

/** Runs the TUF update on an initialised cache and returns the (re-checked) trusted root. */
export async function refreshTrustCache(o: { mirror: string; cacheDir: string; clock?: Clock }): Promise<InitTrustResult> {
  const client = new CairnTufClient({ mirror: o.mirror, cacheDir: o.cacheDir, ...(o.clock ? { clock: o.clock } : {}) });
  await client.refresh();
  await client.getTarget(TRUSTED_ROOT_TARGET);
  // The signing config (service URLs, which Rekor API, which TSA) is cached too when published:
  // `cairn sign` follows it by default.
  if (client.hasTarget(SIGNING_CONFIG_TARGET)) await client.getTarget(SIGNING_CONFIG_TARGET);
  const trustedRoot = loadCachedTrustedRoot(o.cacheDir, o.clock ? { clock: o.clock } : {});
  return { cacheDir: o.cacheDir, rootVersion: client.trustedRootVersion!, targetsVersion: client.targetsVersion!, trustedRoot };
}
