/**
 * `cairn tuf import`: brings an archive made by `cairn tuf export` into a repository directory.
 *
 * What the archive carries replaces what is here, so nothing stale survives:
 * - staged/ is the archive's. Signatures collected here over the very same staged bytes are kept
 *   (two keyholders may sign copies of one export); a staged role with other content is replaced.
 *   Online keys waiting in staged/online stay only while the staged root still names them.
 * - repository/: the archive's roots, targets and target files are added. A root or targets
 *   version that differs from the one already published here is a fork (VERSION_MISMATCH); an
 *   archive older than what is here is a rollback (VERSION_NOT_INCREASING).
 * - snapshot and timestamp belong to whoever holds the online keys. The archive's are taken only
 *   when they are newer than ours (versions never go back for clients, TUF §5.4.3/§5.5.5);
 *   otherwise ours are kept and, when root or targets changed, re-signed here at higher versions.
 * - online/ is the archive's when it carries one (`--include-online-keys`), else ours.
 *
 * With `server: true` (the tuf server's data directory) the result must be servable: it verifies
 * as a client would, and snapshot and timestamp are signed by the online keys the new root
 * names; otherwise the import is refused (ONLINE_KEY_MISSING and others) and nothing changes.
 *
 * Everything is assembled and checked in a temporary folder inside `dir`; only then does each
 * part (ceremony.json, staged/, online/, repository/) replace the old one with a rename, so a
 * refused import leaves the directory as it was and a reader never sees half a repository.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { TufError, parseMetadata, serializeEnvelope, signedBytes, type Envelope, type SignedCommon } from '@cairn/shared/tuf';
import { CEREMONY_FILE, ONLINE_DIR, PUBLISHED_DIR, STAGED_DIR, TARGETS_DIR, parseCeremonyConfig, publishedVersions, readCapped, writeAtomic } from './layout.ts';
import { readArchive, type ArchiveMember } from './archive.ts';
import { loadRootChain, refreshOnlineRoles, verifyPublished, type OnlineSigners, type RefreshResult } from './published.ts';
import { loadOnlineSigners } from './ceremony.ts';

const MAX_STAGED_ROLE_BYTES = 5_000_000;

export interface ImportOptions {
  /** The destination is the tuf server's data directory: refuse anything it could not serve. */
  server?: boolean;
  now?: Date;
  /** Online keys held elsewhere (the server's PKCS#11 token) instead of the files in online/. */
  online?: OnlineSigners;
}

export interface ImportResult {
  written: number;
  /** Files kept because the destination already had a newer version (timestamp.json). */
  kept: string[];
  /** Set when this import signed snapshot and timestamp with the online keys here. */
  online?: RefreshResult;
  /** Latest published root and targets versions after the import (undefined: none). */
  root?: number;
  targets?: number;
}

function isSecretPath(p: string): boolean {
  return p.startsWith(`${ONLINE_DIR}/`) || p.startsWith(`${STAGED_DIR}/${ONLINE_DIR}/`);
}

function versionedName(name: string, role: 'root' | 'targets' | 'snapshot'): number | undefined {
  const suffix = `.${role}.json`;
  if (!name.endsWith(suffix)) return undefined;
  const v = name.slice(0, -suffix.length);
  return /^[1-9]\d{0,14}$/.test(v) ? Number(v) : undefined;
}

function timestampVersion(bytes: Buffer | undefined): number | undefined {
  if (!bytes) return undefined;
  try {
    return parseMetadata('timestamp', bytes).signed.version;
  } catch {
    return undefined;
  }
}

/** Keeps our signatures over exactly the staged bytes the archive carries (a union by key ID). */
function mergeStaged(role: 'root' | 'targets', theirs: Buffer, oursPath: string): Buffer {
  const t = parseMetadata(role, theirs) as Envelope<SignedCommon>;
  if (!existsSync(oursPath)) return theirs;
  let o: Envelope<SignedCommon>;
  try {
    o = parseMetadata(role, readCapped(oursPath, MAX_STAGED_ROLE_BYTES));
  } catch {
    return theirs;
  }
  if (!Buffer.from(signedBytes(o.signed)).equals(Buffer.from(signedBytes(t.signed)))) return theirs;
  const have = new Set(t.signatures.map((s) => s.keyid));
  const extra = o.signatures.filter((s) => !have.has(s.keyid));
  return extra.length === 0 ? theirs : serializeEnvelope({ signed: t.signed, signatures: [...t.signatures, ...extra] });
}

export async function importRepository(gz: Uint8Array, dir: string, options: ImportOptions = {}): Promise<ImportResult> {
  const members = readArchive(gz);
  const now = options.now ?? new Date();
  const byPath = new Map<string, Buffer>(members.map((m: ArchiveMember) => [m.path, m.data]));
  const cfg = parseCeremonyConfig(byPath.get(CEREMONY_FILE)!);
  const existed = existsSync(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.import-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  const result: ImportResult = { written: 0, kept: [] };
  try {
    const write = (rel: string, data: Uint8Array): void => {
      writeAtomic(join(tmp, rel), data, isSecretPath(rel) ? 0o600 : 0o644);
      result.written++;
    };
    write(CEREMONY_FILE, byPath.get(CEREMONY_FILE)!);

    // staged/: the archive's, with our signatures over identical bytes.
    mkdirSync(join(tmp, STAGED_DIR, TARGETS_DIR), { recursive: true });
    for (const [p, data] of byPath) {
      if (!p.startsWith(`${STAGED_DIR}/`)) continue;
      if (p === `${STAGED_DIR}/root.json` || p === `${STAGED_DIR}/targets.json`) {
        const role = p === `${STAGED_DIR}/root.json` ? 'root' : 'targets';
        write(p, mergeStaged(role, data, join(dir, p)));
      } else write(p, data);
    }
    const stagedRoot = byPath.get(`${STAGED_DIR}/root.json`);
    const ourPending = join(dir, STAGED_DIR, ONLINE_DIR);
    if (stagedRoot && ![...byPath.keys()].some((p) => p.startsWith(`${STAGED_DIR}/${ONLINE_DIR}/`)) && existsSync(ourPending)) {
      // Rotated online keys made here wait for the staged root; they stay while it still names them.
      const root = parseMetadata('root', stagedRoot).signed;
      const pending = loadOnlineSigners(ourPending, { snapshot: join(ourPending, 'snapshot.pem'), timestamp: join(ourPending, 'timestamp.pem') });
      for (const role of ['snapshot', 'timestamp'] as const) {
        const s = pending[role];
        if (s && root.roles[role].keyids.includes(s.keyid)) cpSync(join(ourPending, `${role}.pem`), join(tmp, STAGED_DIR, ONLINE_DIR, `${role}.pem`));
      }
    }

    // online/: the archive's when it has one.
    const carriesOnline = [...byPath.keys()].some((p) => p.startsWith(`${ONLINE_DIR}/`));
    for (const [p, data] of byPath) if (p.startsWith(`${ONLINE_DIR}/`)) write(p, data);
    const onlineDir = carriesOnline ? join(tmp, ONLINE_DIR) : join(dir, ONLINE_DIR);

    // repository/: ours, then the archive's roots and targets on top (never a different version N).
    const ourRepo = join(dir, PUBLISHED_DIR);
    const newRepo = join(tmp, PUBLISHED_DIR);
    const repoMembers = [...byPath].filter(([p]) => p.startsWith(`${PUBLISHED_DIR}/`));
    const hasRepo = repoMembers.length > 0 || existsSync(ourRepo);
    if (existsSync(ourRepo)) cpSync(ourRepo, newRepo, { recursive: true, filter: (src) => !src.includes('.tmp-') });
    if (repoMembers.length > 0) {
      const latest = (role: 'root' | 'targets', names: string[]): number => Math.max(0, ...names.map((n) => versionedName(n, role) ?? 0));
      const theirNames = repoMembers.map(([p]) => p.slice(PUBLISHED_DIR.length + 1));
      const ourNames = existsSync(ourRepo) ? readdirSync(ourRepo) : [];
      for (const role of ['root', 'targets'] as const) {
        const theirs = latest(role, theirNames);
        const ours = latest(role, ourNames);
        if (theirs < ours) {
          throw new TufError('VERSION_NOT_INCREASING', `the archive's latest ${role} is v${theirs}, this directory already has v${ours}: it is older than what is here`);
        }
      }
      const ourTs = existsSync(join(ourRepo, 'timestamp.json')) ? readCapped(join(ourRepo, 'timestamp.json'), 16_384) : undefined;
      const theirTs = byPath.get(`${PUBLISHED_DIR}/timestamp.json`);
      const ourSnap = Math.max(0, ...publishedVersions(ourRepo, 'snapshot'));
      const theirSnap = Math.max(0, ...theirNames.map((n) => versionedName(n, 'snapshot') ?? 0));
      const tsTheirs = timestampVersion(theirTs);
      const tsOurs = timestampVersion(ourTs);
      // Their online roles win only when strictly newer on both counts.
      const takeOnline = tsTheirs !== undefined && (tsOurs === undefined || (tsTheirs > tsOurs && theirSnap > ourSnap));
      for (const [p, data] of repoMembers) {
        const name = p.slice(PUBLISHED_DIR.length + 1);
        const isOnline = name === 'timestamp.json' || versionedName(name, 'snapshot') !== undefined;
        if (isOnline && !takeOnline) continue;
        const target = join(newRepo, name);
        if (!isOnline && name !== 'root.json' && existsSync(target) && !readFileSync(target).equals(data)) {
          throw new TufError('VERSION_MISMATCH', `the archive's ${name} differs from the one already published here (a different ceremony?)`);
        }
        write(p, data);
      }
      if (theirTs && !takeOnline) result.kept.push(`${PUBLISHED_DIR}/timestamp.json`);
      if (!takeOnline) {
        // root.json is the latest root whichever side it came from.
        const roots = publishedVersions(newRepo, 'root');
        const last = roots[roots.length - 1];
        if (last !== undefined) cpSync(join(newRepo, `${last}.root.json`), join(newRepo, 'root.json'));
      }
    }

    if (hasRepo && publishedVersions(newRepo, 'root').length > 0) {
      loadRootChain(newRepo); // a broken chain is refused here, whoever imports it
      const signers = options.online ?? loadOnlineSigners(onlineDir, { snapshot: join(onlineDir, 'snapshot.pem'), timestamp: join(onlineDir, 'timestamp.pem') });
      if (signers.snapshot && signers.timestamp) {
        try {
          result.online = await refreshOnlineRoles(newRepo, signers, cfg.expiry, now);
          if (result.online.resignedSnapshot || result.online.resignedTimestamp) result.kept = [];
        } catch (e) {
          if (options.server === true || !(e instanceof TufError && e.code === 'ONLINE_KEY_MISSING')) throw e;
        }
      }
      if (options.server === true) {
        try {
          verifyPublished(newRepo);
        } catch (e) {
          if (e instanceof TufError && (e.code === 'REPO_NOT_FOUND' || e.code === 'BELOW_THRESHOLD') && !(signers.snapshot && signers.timestamp)) {
            throw new TufError(
              'ONLINE_KEY_MISSING',
              `snapshot and timestamp need signing and ${onlineDir} holds no online keys: put the server's keys there ` +
                '(cairn tuf keygen --out DIR/online/snapshot.pem, likewise timestamp.pem, named at tuf init) or import an archive made with --include-online-keys',
              { cause: e },
            );
          }
          throw e;
        }
      }
      const roots = publishedVersions(newRepo, 'root');
      const targets = publishedVersions(newRepo, 'targets');
      result.root = roots[roots.length - 1];
      result.targets = targets[targets.length - 1];
    } else if (options.server === true) {
      throw new TufError('REPO_NOT_FOUND', 'the archive holds no published repository: publish first (cairn tuf publish on the coordinator)');
    }

    // Commit: each part replaces the old one by rename (the repository last, so a server reading
    // meanwhile sees either the old or the new published layout, never a mix).
    renameSync(join(tmp, CEREMONY_FILE), join(dir, CEREMONY_FILE));
    const swap = (part: string): void => {
      const fresh = join(tmp, part);
      if (!existsSync(fresh)) return;
      const old = join(tmp, `old-${part}`);
      if (existsSync(join(dir, part))) renameSync(join(dir, part), old);
      renameSync(fresh, join(dir, part));
    };
    swap(STAGED_DIR);
    if (carriesOnline) swap(ONLINE_DIR);
    swap(PUBLISHED_DIR);
    return result;
  } catch (e) {
    if (!existed) {
      rmSync(dir, { recursive: true, force: true });
    }
    throw e;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    if (!existed && existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  }
}
