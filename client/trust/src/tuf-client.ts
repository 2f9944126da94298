/**
 * Cairn's own TUF client (TUF 1.0 §5 "detailed client workflow"): the runtime path for
 * `cairn trust init`, so tuf-js stays a test oracle. Every download has a byte cap, every step
 * names the spec section it implements, and the cache is written only with verified files.
 *
 * Cache layout (same file names tuf-js uses): root.json timestamp.json snapshot.json
 * targets.json targets/<name>.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '@cairn/shared';
import {
  MAX_METADATA_BYTES,
  MAX_ROOT_ROTATIONS,
  TufError,
  checkMetaBytes,
  checkTargetBytes,
  isExpired,
  isSafeTargetName,
  parseMetadata,
  verifyRole,
  type Envelope,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
} from '@cairn/shared/tuf';
import { fetchCapped as fetchShared, FetchError } from '@cairn/shared/fetch';
import { writeAtomic } from '@cairn/shared/io';
import { TrustError } from './errors.ts';

export { MAX_ROOT_ROTATIONS };

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;

/** Where trust caches live: `$CAIRN_TRUST_CACHE` or `~/.cairn/trust`. */
export function trustHome(env: Record<string, string | undefined> = process.env): string {
  return env.CAIRN_TRUST_CACHE !== undefined && env.CAIRN_TRUST_CACHE !== '' ? env.CAIRN_TRUST_CACHE : join(homedir(), '.cairn', 'trust');
}

/** The default cache directory of a mirror: `trustHome()` plus the encoded mirror. */
export function defaultCacheDir(mirror: string, env: Record<string, string | undefined> = process.env): string {
  const base = trustHome(env);
  const u = new URL(mirror);
  return join(base, encodeURIComponent(u.host + u.pathname.replace(/\/+$/, '')));
}

/** GET with a byte cap and a timeout; undefined on 403/404 (TUF §5.3.3 end of the root chain). */
export async function fetchCapped(
  url: string,
  max: number,
  timeoutMs: number,
  tooLarge: 'METADATA_TOO_LARGE' | 'LENGTH_MISMATCH' = 'METADATA_TOO_LARGE',
): Promise<Buffer | undefined> {
  let res;
  try {
    res = await fetchShared(url, { maxBytes: max, timeoutMs });
  } catch (e) {
    if (e instanceof FetchError && e.code === 'TOO_LARGE') throw new TufError(tooLarge, `${url} is larger than ${max} bytes`, { cause: e });
    throw new TrustError('FETCH_FAILED', `cannot fetch ${url}`, { cause: e });
  }
  if (res.status === 404 || res.status === 403) return undefined;
  if (res.status !== 200) throw new TrustError('FETCH_FAILED', `${url} answered HTTP ${res.status}`);
  return res.body;
}

export interface TufClientOptions {
  /** Mirror base URL, e.g. http://127.0.0.1:3000/tuf */
  mirror: string;
  cacheDir: string;
  clock?: Clock;
  fetchTimeoutMs?: number;
}

export class CairnTufClient {
  readonly mirror: string;
  readonly cacheDir: string;
  private readonly clock: Clock;
  private readonly timeout: number;
  private root: Envelope<RootSigned> | undefined;
  private timestamp: Envelope<TimestampSigned> | undefined;
  private snapshot: Envelope<SnapshotSigned> | undefined;
  private targets: Envelope<TargetsSigned> | undefined;

  constructor(o: TufClientOptions) {
    this.mirror = o.mirror.replace(/\/+$/, '');
    this.cacheDir = o.cacheDir;
    this.clock = o.clock ?? systemClock;
    this.timeout = o.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  }

  /** Seeds the cache with an out-of-band trusted root (the ceremony's root.json). */
  static seed(cacheDir: string, rootBytes: Uint8Array, force = false): void {
    const env = parseMetadata('root', rootBytes);
    // TUF §5.2: the trusted root must verify with its own root keys.
    verifyRole(env.signed, 'root', env);
    mkdirSync(join(cacheDir, 'targets'), { recursive: true });
    if (existsSync(join(cacheDir, 'root.json')) && !force) return;
    for (const f of ['timestamp.json', 'snapshot.json', 'targets.json']) rmSync(join(cacheDir, f), { force: true });
    rmSync(join(cacheDir, 'targets'), { recursive: true, force: true });
    mkdirSync(join(cacheDir, 'targets'), { recursive: true });
    writeAtomic(join(cacheDir, 'root.json'), rootBytes);
  }

  private readCached(name: string, max: number): Buffer | undefined {
    const p = join(this.cacheDir, name);
    if (!existsSync(p)) return undefined;
    const b = readFileSync(p);
    return b.byteLength > max ? undefined : b;
  }

  private loadTrustedRoot(): Envelope<RootSigned> {
    const bytes = this.readCached('root.json', MAX_METADATA_BYTES.root);
    if (!bytes) throw new TrustError('CACHE_NOT_INITIALISED', `no trusted root in ${this.cacheDir}: run 'cairn trust init'`);
    const env = parseMetadata('root', bytes);
    verifyRole(env.signed, 'root', env);
    return env;
  }

  /** Cached metadata that still verifies under the current root, else undefined (TUF §5.4.1 etc.). */
  private loadCachedRole<R extends 'timestamp' | 'snapshot' | 'targets'>(role: R): Envelope<R extends 'timestamp' ? TimestampSigned : R extends 'snapshot' ? SnapshotSigned : TargetsSigned> | undefined {
    const bytes = this.readCached(`${role}.json`, MAX_METADATA_BYTES[role]);
    if (!bytes) return undefined;
    try {
      const env = parseMetadata(role, bytes);
      verifyRole(this.root!.signed, role, env);
      return env as never;
    } catch {
      return undefined;
    }
  }

  /** TUF §5.3: follow root N+1, N+2, ... each signed by the old and the new root keys. */
  private async updateRoot(): Promise<void> {
    let trusted = this.loadTrustedRoot();
    const start = trusted.signed;
    for (let i = 0; i < MAX_ROOT_ROTATIONS; i++) {
      const next = trusted.signed.version + 1;
      const bytes = await fetchCapped(`${this.mirror}/${next}.root.json`, MAX_METADATA_BYTES.root, this.timeout);
      if (!bytes) break;
      const env = parseMetadata('root', bytes);
      verifyRole(trusted.signed, 'root', env); // §5.3.4: threshold of the trusted root's keys
      verifyRole(env.signed, 'root', env); // §5.3.4: threshold of its own keys
      // §5.3.5: rollback / mix-and-match: version must be exactly N+1.
      if (env.signed.version !== next) throw new TufError('VERSION_MISMATCH', `${next}.root.json holds version ${env.signed.version}`);
      trusted = env;
      writeAtomic(join(this.cacheDir, 'root.json'), bytes);
    }
    // §5.3.10: the final root must not be expired (freeze attack).
    if (isExpired(trusted.signed, this.clock.now())) throw new TufError('EXPIRED', `root v${trusted.signed.version} expired at ${trusted.signed.expires}`);
    // §5.3.11: new timestamp or snapshot keys: forget those roles to recover from a fast-forward attack.
    const same = (r: 'timestamp' | 'snapshot'): boolean =>
      JSON.stringify(start.roles[r].keyids) === JSON.stringify(trusted.signed.roles[r].keyids);
    if (!same('timestamp') || !same('snapshot')) {
      rmSync(join(this.cacheDir, 'timestamp.json'), { force: true });
      rmSync(join(this.cacheDir, 'snapshot.json'), { force: true });
    }
    this.root = trusted;
  }

  /** TUF §5.4: timestamp. */
  private async updateTimestamp(): Promise<void> {
    const old = this.loadCachedRole('timestamp');
    const bytes = await fetchCapped(`${this.mirror}/timestamp.json`, MAX_METADATA_BYTES.timestamp, this.timeout);
    if (!bytes) throw new TrustError('FETCH_FAILED', 'the mirror has no timestamp.json');
    const env = parseMetadata('timestamp', bytes);
    verifyRole(this.root!.signed, 'timestamp', env); // §5.4.2
    if (old) {
      // §5.4.3: rollback checks of the timestamp and of the snapshot version it names.
      if (env.signed.version < old.signed.version) throw new TufError('VERSION_NOT_INCREASING', `timestamp v${env.signed.version} is older than trusted v${old.signed.version}`);
      if (env.signed.meta['snapshot.json'].version < old.signed.meta['snapshot.json'].version) {
        throw new TufError('VERSION_NOT_INCREASING', 'timestamp names an older snapshot than the trusted one');
      }
    }
    // §5.4.4: freeze attack.
    if (isExpired(env.signed, this.clock.now())) throw new TufError('EXPIRED', `timestamp expired at ${env.signed.expires}`);
    if (!old || env.signed.version > old.signed.version) writeAtomic(join(this.cacheDir, 'timestamp.json'), bytes);
    this.timestamp = old && env.signed.version === old.signed.version ? old : env;
  }

  /** TUF §5.5: snapshot. */
  private async updateSnapshot(): Promise<void> {
    const meta = this.timestamp!.signed.meta['snapshot.json'];
    const old = this.loadCachedRole('snapshot');
    let env: Envelope<SnapshotSigned>;
    if (old && old.signed.version === meta.version) {
      env = old;
    } else {
      const name = this.root!.signed.consistent_snapshot ? `${meta.version}.snapshot.json` : 'snapshot.json';
      const max = Math.min(meta.length ?? MAX_METADATA_BYTES.snapshot, MAX_METADATA_BYTES.snapshot);
      const bytes = await fetchCapped(`${this.mirror}/${name}`, max, this.timeout, meta.length === undefined ? 'METADATA_TOO_LARGE' : 'LENGTH_MISMATCH');
      if (!bytes) throw new TrustError('FETCH_FAILED', `the mirror has no ${name}`);
      checkMetaBytes(bytes, meta, name); // §5.5.2: hashes and length from the timestamp
      env = parseMetadata('snapshot', bytes);
      verifyRole(this.root!.signed, 'snapshot', env); // §5.5.3
      if (env.signed.version !== meta.version) throw new TufError('VERSION_MISMATCH', 'snapshot version differs from the timestamp meta'); // §5.5.4
      if (old) {
        // §5.5.5: no targets metadata may go back in version.
        for (const [file, m] of Object.entries(old.signed.meta)) {
          const now = env.signed.meta[file];
          if (!now) throw new TufError('VERSION_NOT_INCREASING', `snapshot drops ${file}`);
          if (now.version < m.version) throw new TufError('VERSION_NOT_INCREASING', `snapshot rolls ${file} back from v${m.version} to v${now.version}`);
        }
      }
      writeAtomic(join(this.cacheDir, 'snapshot.json'), bytes);
    }
    if (isExpired(env.signed, this.clock.now())) throw new TufError('EXPIRED', `snapshot expired at ${env.signed.expires}`); // §5.5.6
    this.snapshot = env;
  }

  /** TUF §5.6: top-level targets. */
  private async updateTargets(): Promise<void> {
    const meta = this.snapshot!.signed.meta['targets.json']!;
    const old = this.loadCachedRole('targets');
    let env: Envelope<TargetsSigned>;
    if (old && old.signed.version === meta.version) {
      env = old;
    } else {
      const name = this.root!.signed.consistent_snapshot ? `${meta.version}.targets.json` : 'targets.json';
      const max = Math.min(meta.length ?? MAX_METADATA_BYTES.targets, MAX_METADATA_BYTES.targets);
      const bytes = await fetchCapped(`${this.mirror}/${name}`, max, this.timeout, meta.length === undefined ? 'METADATA_TOO_LARGE' : 'LENGTH_MISMATCH');
      if (!bytes) throw new TrustError('FETCH_FAILED', `the mirror has no ${name}`);
      checkMetaBytes(bytes, meta, name); // §5.6.2
      env = parseMetadata('targets', bytes);
      verifyRole(this.root!.signed, 'targets', env); // §5.6.3
      if (env.signed.version !== meta.version) throw new TufError('VERSION_MISMATCH', 'targets version differs from the snapshot meta'); // §5.6.4
      writeAtomic(join(this.cacheDir, 'targets.json'), bytes);
    }
    if (isExpired(env.signed, this.clock.now())) throw new TufError('EXPIRED', `targets expired at ${env.signed.expires}`); // §5.6.5
    this.targets = env;
  }

  /** The whole TUF §5 update: root, timestamp, snapshot, targets. */
  async refresh(): Promise<void> {
    mkdirSync(join(this.cacheDir, 'targets'), { recursive: true });
    await this.updateRoot();
    await this.updateTimestamp();
    await this.updateSnapshot();
    await this.updateTargets();
  }

  /** TUF §5.7: a target's bytes, from the cache when they still match, else downloaded and checked. */
  async getTarget(name: string): Promise<Buffer> {
    if (!this.targets) await this.refresh();
    const info = this.targets!.signed.targets[name];
    if (!info || !isSafeTargetName(name)) throw new TufError('UNKNOWN_TARGET', `no target ${name.slice(0, 64)} in targets v${this.targets!.signed.version}`);
    const cached = this.readCached(join('targets', name), info.length);
    if (cached) {
      try {
        checkTargetBytes(cached, info, name);
        return cached;
      } catch {
        // stale or tampered cache copy: download it again
      }
    }
    // tuf-js / TUF §5.7.3: consistent snapshots prefix the file name with its (first listed) hash.
    const hash = info.hashes.sha256 ?? Object.values(info.hashes)[0]!;
    const path = this.root!.signed.consistent_snapshot ? `${hash}.${name}` : name;
    const bytes = await fetchCapped(`${this.mirror}/targets/${path}`, info.length, this.timeout, 'LENGTH_MISMATCH');
    if (!bytes) throw new TrustError('FETCH_FAILED', `the mirror has no targets/${path}`);
    checkTargetBytes(bytes, info, name);
    writeAtomic(join(this.cacheDir, 'targets', name), bytes);
    return bytes;
  }

  /** True when the (refreshed) targets role lists `name`. */
  hasTarget(name: string): boolean {
    return this.targets?.signed.targets[name] !== undefined;
  }

  get trustedRootVersion(): number | undefined {
    return this.root?.signed.version;
  }

  get targetsVersion(): number | undefined {
    return this.targets?.signed.version;
  }
}
