/**
 * Reading, verifying and refreshing a published repository directory. The server serves only what
 * `verifyPublished` accepted; `refreshOnlineRoles` is the online half of the repository (TUF
 * §5.4/§5.5 roles re-signed before they expire) used by both the server timer and `cairn tuf publish`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  TufError,
  MAX_METADATA_BYTES,
  MAX_ROOT_ROTATIONS,
  SPEC_VERSION,
  checkThreshold,
  formatExpires,
  isExpired,
  parseMetadata,
  serializeEnvelope,
  signEnvelope,
  verifyRole,
  type Envelope,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
  checkMetaBytes,
  checkTargetBytes,
  hashesOf,
  type TufSigner,
} from '@cairn/shared/tuf';
import { MAX_TARGET_BYTES, TARGETS_DIR, publishedVersions, readCapped, writeAtomic, type Expiry } from './layout.ts';


export interface Loaded<T extends RootSigned | TargetsSigned | SnapshotSigned | TimestampSigned> {
  envelope: Envelope<T>;
  bytes: Buffer;
}

export function loadRole<R extends 'root' | 'targets' | 'snapshot' | 'timestamp'>(
  path: string,
  role: R,
): Loaded<R extends 'root' ? RootSigned : R extends 'targets' ? TargetsSigned : R extends 'snapshot' ? SnapshotSigned : TimestampSigned> {
  const bytes = readCapped(path, MAX_METADATA_BYTES[role]);
  return { envelope: parseMetadata(role, bytes), bytes };
}

/**
 * Verifies the chain of published roots, `1.root.json` .. `N.root.json`: version N+1 must be
 * signed by the root-role thresholds of both N and N+1 (TUF §5.3.4-5.3.5). Returns them in order.
 */
export function loadRootChain(publishedDir: string): Loaded<RootSigned>[] {
  const versions = publishedVersions(publishedDir, 'root');
  if (versions.length === 0) throw new TufError('REPO_NOT_FOUND', `no published root in ${publishedDir}`);
  if (versions.length > MAX_ROOT_ROTATIONS) throw new TufError('TOO_MANY_ROTATIONS', 'too many root versions');
  const chain: Loaded<RootSigned>[] = [];
  for (let i = 0; i < versions.length; i++) {
    if (versions[i] !== i + 1) throw new TufError('VERSION_MISMATCH', `published roots skip from ${i} to ${versions[i]}`);
    const r = loadRole(join(publishedDir, `${i + 1}.root.json`), 'root');
    if (r.envelope.signed.version !== i + 1) throw new TufError('VERSION_MISMATCH', `${i + 1}.root.json holds version ${r.envelope.signed.version}`);
    const prev = chain[i - 1];
    if (prev) verifyRole(prev.envelope.signed, 'root', r.envelope);
    verifyRole(r.envelope.signed, 'root', r.envelope);
    chain.push(r);
  }
  return chain;
}

export interface PublishedState {
  roots: Loaded<RootSigned>[];
  root: RootSigned;
  timestamp: Loaded<TimestampSigned>;
  snapshot: Loaded<SnapshotSigned>;
  targets: Loaded<TargetsSigned>;
  /** Served path (relative to the mirror URL) -> bytes, for every file a client may fetch. */
  files: Map<string, Buffer>;
}

/**
 * Loads a published directory and checks it the way a client would (TUF §5.3-§5.7), so the
 * server never serves a role below threshold, a broken meta reference or a mismatching target.
 * Expiry is not an error here (an expired repository is still served, `ready()` reports it).
 */
export function verifyPublished(publishedDir: string): PublishedState {
  const roots = loadRootChain(publishedDir);
  const root = roots[roots.length - 1]!.envelope.signed;
  const files = new Map<string, Buffer>();
  for (const r of roots) files.set(`${r.envelope.signed.version}.root.json`, r.bytes);
  files.set('root.json', roots[roots.length - 1]!.bytes);

  const tsPath = join(publishedDir, 'timestamp.json');
  if (!existsSync(tsPath)) throw new TufError('REPO_NOT_FOUND', 'no published timestamp.json');
  const timestamp = loadRole(tsPath, 'timestamp');
  verifyRole(root, 'timestamp', timestamp.envelope);
  files.set('timestamp.json', timestamp.bytes);

  const snapMeta = timestamp.envelope.signed.meta['snapshot.json'];
  const snapName = root.consistent_snapshot ? `${snapMeta.version}.snapshot.json` : 'snapshot.json';
  const snapshot = loadRole(join(publishedDir, snapName), 'snapshot');
  checkMetaBytes(snapshot.bytes, snapMeta, snapName);
  verifyRole(root, 'snapshot', snapshot.envelope);
  if (snapshot.envelope.signed.version !== snapMeta.version) throw new TufError('VERSION_MISMATCH', 'snapshot version differs from timestamp meta');
  files.set(snapName, snapshot.bytes);

  const targMeta = snapshot.envelope.signed.meta['targets.json']!;
  const targName = root.consistent_snapshot ? `${targMeta.version}.targets.json` : 'targets.json';
  const targets = loadRole(join(publishedDir, targName), 'targets');
  checkMetaBytes(targets.bytes, targMeta, targName);
  verifyRole(root, 'targets', targets.envelope);
  if (targets.envelope.signed.version !== targMeta.version) throw new TufError('VERSION_MISMATCH', 'targets version differs from snapshot meta');
  files.set(targName, targets.bytes);

  for (const [name, info] of Object.entries(targets.envelope.signed.targets)) {
    const sha = info.hashes.sha256;
    if (sha === undefined) throw new TufError('INVALID_METADATA', `target ${name} has no sha256 hash`);
    const servedName = root.consistent_snapshot ? `${sha}.${name}` : name;
    const bytes = readCapped(join(publishedDir, TARGETS_DIR, servedName), MAX_TARGET_BYTES);
    checkTargetBytes(bytes, info, name);
    files.set(`${TARGETS_DIR}/${servedName}`, bytes);
  }
  return { roots, root, timestamp, snapshot, targets, files };
}

/** The role expires within `margin` ms (or already has). */
function expiresWithin(expires: string, now: Date, marginMs: number): boolean {
  return new Date(expires).getTime() - now.getTime() <= marginMs;
}

export interface OnlineSigners {
  snapshot?: TufSigner;
  timestamp?: TufSigner;
}

export interface RefreshResult {
  snapshotVersion: number;
  timestampVersion: number;
  resignedSnapshot: boolean;
  resignedTimestamp: boolean;
}

function tryLoad<R extends 'snapshot' | 'timestamp'>(path: string, role: R): ReturnType<typeof loadRole<R>> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return loadRole(path, role);
  } catch {
    return undefined;
  }
}

/**
 * Brings snapshot and timestamp up to date with the latest published root and targets, signing
 * with the online keys: a new snapshot when targets changed, the online keys rotated, or the
 * current one is in the last half of its validity; a new timestamp whenever the snapshot changed
 * or the same rules hold for it. Versions only grow (TUF §5.4.3, §5.5.5 rollback checks).
 */
export async function refreshOnlineRoles(publishedDir: string, signers: OnlineSigners, expiry: Expiry, now: Date): Promise<RefreshResult> {
  const roots = loadRootChain(publishedDir);
  const root = roots[roots.length - 1]!.envelope.signed;
  const targetVersions = publishedVersions(publishedDir, 'targets');
  const latestTargets = targetVersions[targetVersions.length - 1];
  if (latestTargets === undefined) throw new TufError('REPO_NOT_FOUND', 'no published targets metadata');
  const targets = loadRole(join(publishedDir, `${latestTargets}.targets.json`), 'targets');
  verifyRole(root, 'targets', targets.envelope);

  const timestamp = tryLoad(join(publishedDir, 'timestamp.json'), 'timestamp');
  const tsValid = timestamp !== undefined && checkThreshold(root, 'timestamp', timestamp.envelope).met;
  const snapVersion = timestamp?.envelope.signed.meta['snapshot.json'].version;
  const snapshot = snapVersion === undefined ? undefined : tryLoad(join(publishedDir, `${snapVersion}.snapshot.json`), 'snapshot');

  const snapshotFresh =
    snapshot !== undefined &&
    checkThreshold(root, 'snapshot', snapshot.envelope).met &&
    snapshot.envelope.signed.meta['targets.json']?.version === latestTargets &&
    !expiresWithin(snapshot.envelope.signed.expires, now, (expiry.snapshot * 1000) / 2);

  let snapshotBytes = snapshot?.bytes;
  let snapshotEnvelope = snapshot?.envelope;
  const snapVersions = publishedVersions(publishedDir, 'snapshot');
  if (!snapshotFresh) {
    const signer = signers.snapshot;
    if (!signer || !root.roles.snapshot.keyids.includes(signer.keyid) || root.roles.snapshot.threshold !== 1) {
      throw new TufError('ONLINE_KEY_MISSING', 'the snapshot role needs re-signing and no authorised online snapshot key is loaded');
    }
    const version = Math.max(snapVersions[snapVersions.length - 1] ?? 0, snapVersion ?? 0) + 1;
    const signed: SnapshotSigned = {
      _type: 'snapshot',
      spec_version: SPEC_VERSION,
      version,
      expires: formatExpires(new Date(now.getTime() + expiry.snapshot * 1000)),
      meta: { 'targets.json': { version: latestTargets, length: targets.bytes.byteLength, hashes: hashesOf(targets.bytes) } },
    };
    snapshotEnvelope = await signEnvelope({ signed, signatures: [] }, signer);
    snapshotBytes = serializeEnvelope(snapshotEnvelope);
    writeAtomic(join(publishedDir, `${version}.snapshot.json`), snapshotBytes);
  }

  const timestampFresh =
    snapshotFresh && tsValid && !expiresWithin(timestamp.envelope.signed.expires, now, (expiry.timestamp * 1000) / 2);
  let tsVersion = timestamp?.envelope.signed.version ?? 0;
  if (!timestampFresh) {
    const signer = signers.timestamp;
    if (!signer || !root.roles.timestamp.keyids.includes(signer.keyid) || root.roles.timestamp.threshold !== 1) {
      throw new TufError('ONLINE_KEY_MISSING', 'the timestamp role needs re-signing and no authorised online timestamp key is loaded');
    }
    tsVersion += 1;
    const signed: TimestampSigned = {
      _type: 'timestamp',
      spec_version: SPEC_VERSION,
      version: tsVersion,
      expires: formatExpires(new Date(now.getTime() + expiry.timestamp * 1000)),
      meta: {
        'snapshot.json': { version: snapshotEnvelope!.signed.version, length: snapshotBytes!.byteLength, hashes: hashesOf(snapshotBytes!) },
      },
    };
    const env = await signEnvelope({ signed, signatures: [] }, signer);
    writeAtomic(join(publishedDir, 'timestamp.json'), serializeEnvelope(env));
  }
  return {
    snapshotVersion: snapshotEnvelope!.signed.version,
    timestampVersion: tsVersion,
    resignedSnapshot: !snapshotFresh,
    resignedTimestamp: !timestampFresh,
  };
}

/** Which published roles are expired at `now` (empty when all are current). */
export function expiredRoles(state: PublishedState, now: Date): string[] {
  const out: string[] = [];
  if (isExpired(state.root, now)) out.push('root');
  if (isExpired(state.timestamp.envelope.signed, now)) out.push('timestamp');
  if (isExpired(state.snapshot.envelope.signed, now)) out.push('snapshot');
  if (isExpired(state.targets.envelope.signed, now)) out.push('targets');
  return out;
}
