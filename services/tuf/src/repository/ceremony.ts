/**
 * The offline key ceremony on a repository directory (layout in ./layout.ts). Nothing here opens
 * a socket: these functions run on air-gapped machines, driven by `cairn tuf ...`.
 *
 * Flow: `initRepository` stages root v1 and an empty targets v1; `stageTarget` stages targets
 * files; `stageRootRotation` stages root N+1 (add / revoke keys, thresholds, online keys);
 * every keyholder runs `signStaged` with their key file; `stagedStatus` reports thresholds;
 * `publishStaged` refuses anything below threshold, expired or not newer, then writes the
 * published layout and (when the online keys are here) fresh snapshot and timestamp.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { privateKeyFromPem, type Clock } from '@cairn/shared';
import {
  TufError,
  SPEC_VERSION,
  checkThreshold,
  formatExpires,
  isExpired,
  parseMetadata,
  serializeEnvelope,
  signEnvelope,
  type Envelope,
  type RoleName,
  type RootSigned,
  type TargetsSigned,
  keyIdOf,
  localTufSigner,
  tufKeyFor,
  type TufKeyJson,
  type TufSigner,
  hashesOf,
  isSafeTargetName,
} from '@cairn/shared/tuf';
import {
  CEREMONY_FILE,
  DEFAULT_EXPIRY,
  MAX_TARGET_BYTES,
  ONLINE_DIR,
  PUBLISHED_DIR,
  STAGED_DIR,
  TARGETS_DIR,
  publishedVersions,
  readCapped,
  readCeremonyConfig,
  writeAtomic,
  writeCeremonyConfig,
  type CeremonyConfig,
  type Expiry,
} from './layout.ts';
import { loadRole, loadRootChain, refreshOnlineRoles, type OnlineSigners, type RefreshResult } from './published.ts';

const MAX_KEY_FILE = 64 * 1024;

/** Reads a PEM key file: private keys give a signer, public keys only a TUF key dictionary. */
export function readKeyFile(path: string, passphrase?: string): { key: TufKeyJson; privateKey?: KeyObject } {
  const text = readCapped(path, MAX_KEY_FILE).toString('utf8');
  if (text.includes('PRIVATE KEY')) {
    const privateKey = privateKeyFromPem(text, passphrase);
    return { key: tufKeyFor(createPublicKey(privateKey)), privateKey };
  }
  try {
    return { key: tufKeyFor(createPublicKey(text)) };
  } catch (e) {
    if (e instanceof TufError) throw e;
    throw new TufError('UNSUPPORTED_KEY', `${path} holds no PEM public or private key`, { cause: e });
  }
}

export function readSigner(path: string, passphrase?: string): TufSigner {
  const { privateKey } = readKeyFile(path, passphrase);
  if (!privateKey) throw new TufError('UNSUPPORTED_KEY', `${path} holds a public key; signing needs the private key`);
  return localTufSigner(privateKey);
}

function stagedPath(dir: string, role: 'root' | 'targets'): string {
  return join(dir, STAGED_DIR, `${role}.json`);
}

function requireRepo(dir: string): CeremonyConfig {
  const cfg = readCeremonyConfig(dir);
  if (!cfg) throw new TufError('REPO_NOT_FOUND', `${dir} is not a Cairn TUF repository (no ${CEREMONY_FILE})`);
  return cfg;
}

function readStaged<R extends 'root' | 'targets'>(dir: string, role: R): Envelope<R extends 'root' ? RootSigned : TargetsSigned> | undefined {
  const p = stagedPath(dir, role);
  if (!existsSync(p)) return undefined;
  return parseMetadata(role, readCapped(p, 5_000_000)) as never;
}

function writeStaged(dir: string, envelope: Envelope<RootSigned> | Envelope<TargetsSigned>): void {
  writeAtomic(stagedPath(dir, envelope.signed._type), serializeEnvelope(envelope));
}

function publishedDir(dir: string): string {
  return join(dir, PUBLISHED_DIR);
}

/** Latest published root, or undefined before the first publish. */
function latestPublishedRoot(dir: string): Envelope<RootSigned> | undefined {
  const chain = publishedVersions(publishedDir(dir), 'root').length === 0 ? [] : loadRootChain(publishedDir(dir));
  return chain[chain.length - 1]?.envelope;
}

function latestPublishedTargets(dir: string): Envelope<TargetsSigned> | undefined {
  const versions = publishedVersions(publishedDir(dir), 'targets');
  const v = versions[versions.length - 1];
  return v === undefined ? undefined : loadRole(join(publishedDir(dir), `${v}.targets.json`), 'targets').envelope;
}

function expiresAt(clock: Clock, seconds: number): string {
  return formatExpires(new Date(clock.now().getTime() + seconds * 1000));
}

function uniqueKeys(keys: TufKeyJson[], what: string): Map<string, TufKeyJson> {
  const m = new Map<string, TufKeyJson>();
  for (const k of keys) {
    const id = keyIdOf(k);
    if (m.has(id)) throw new TufError('INVALID_ARGUMENT', `the same ${what} key is given twice`);
    m.set(id, k);
  }
  return m;
}

function checkThresholdArg(threshold: number, n: number, role: string): void {
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > n) {
    throw new TufError('INVALID_ARGUMENT', `${role} threshold must be between 1 and the number of ${role} keys (${n})`);
  }
}

export interface InitOptions {
  dir: string;
  rootKeys: TufKeyJson[];
  rootThreshold: number;
  targetsKeys: TufKeyJson[];
  targetsThreshold: number;
  snapshotKey: TufKeyJson;
  timestampKey: TufKeyJson;
  expiry?: Partial<Expiry>;
  clock: Clock;
  development?: boolean;
  /** Private online keys to keep in REPO/online (0600) for publish and the server. */
  onlinePrivateKeys?: { snapshot?: KeyObject; timestamp?: KeyObject };
}

/** Stages root v1 and an empty targets v1 in a new repository directory. */
export function initRepository(o: InitOptions): { root: RootSigned } {
  if (existsSync(join(o.dir, CEREMONY_FILE))) throw new TufError('REPO_EXISTS', `${o.dir} already holds a repository`);
  if (existsSync(o.dir) && readdirSync(o.dir).some((n) => n === STAGED_DIR || n === PUBLISHED_DIR)) {
    throw new TufError('REPO_EXISTS', `${o.dir} already holds staged or published metadata`);
  }
  if (o.rootKeys.length === 0) throw new TufError('INVALID_ARGUMENT', 'at least one root key is needed');
  if (o.targetsKeys.length === 0) throw new TufError('INVALID_ARGUMENT', 'at least one targets key is needed');
  const rootKeys = uniqueKeys(o.rootKeys, 'root');
  const targetsKeys = uniqueKeys(o.targetsKeys, 'targets');
  checkThresholdArg(o.rootThreshold, rootKeys.size, 'root');
  checkThresholdArg(o.targetsThreshold, targetsKeys.size, 'targets');
  const expiry: Expiry = { ...DEFAULT_EXPIRY, ...o.expiry };

  const keys: Record<string, TufKeyJson> = {};
  for (const [id, k] of [...rootKeys, ...targetsKeys]) keys[id] = k;
  const snapshotId = keyIdOf(o.snapshotKey);
  const timestampId = keyIdOf(o.timestampKey);
  keys[snapshotId] = o.snapshotKey;
  keys[timestampId] = o.timestampKey;
  const root: RootSigned = {
    _type: 'root',
    spec_version: SPEC_VERSION,
    version: 1,
    expires: expiresAt(o.clock, expiry.root),
    consistent_snapshot: true,
    keys,
    roles: {
      root: { keyids: [...rootKeys.keys()], threshold: o.rootThreshold },
      targets: { keyids: [...targetsKeys.keys()], threshold: o.targetsThreshold },
      snapshot: { keyids: [snapshotId], threshold: 1 },
      timestamp: { keyids: [timestampId], threshold: 1 },
    },
  };
  // An unrecognised field (kept and signed by every TUF client) so a development root can never be
  // mistaken for a production one.
  if (o.development === true) root['x-cairn-development'] = true;
  const targets: TargetsSigned = {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    version: 1,
    expires: expiresAt(o.clock, expiry.targets),
    targets: {},
  };
  mkdirSync(join(o.dir, STAGED_DIR, TARGETS_DIR), { recursive: true });
  const held = o.onlinePrivateKeys?.snapshot !== undefined && o.onlinePrivateKeys.timestamp !== undefined;
  const cfg: CeremonyConfig = { format: 1, expiry, development: o.development === true, onlineKeys: held ? 'repository' : 'server' };
  writeStaged(o.dir, { signed: root, signatures: [] });
  writeStaged(o.dir, { signed: targets, signatures: [] });
  if (o.onlinePrivateKeys?.snapshot) saveOnlineKey(o.dir, 'snapshot', o.onlinePrivateKeys.snapshot);
  if (o.onlinePrivateKeys?.timestamp) saveOnlineKey(o.dir, 'timestamp', o.onlinePrivateKeys.timestamp);
  writeCeremonyConfig(o.dir, cfg);
  return { root };
}

function saveOnlineKey(dir: string, role: 'snapshot' | 'timestamp', key: KeyObject, staged = false): void {
  const folder = staged ? join(dir, STAGED_DIR, ONLINE_DIR) : join(dir, ONLINE_DIR);
  writeAtomic(join(folder, `${role}.pem`), key.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
}

/** Loads the online keys kept in REPO/online (or explicit files); missing ones stay undefined. */
export function loadOnlineSigners(dir: string, files: { snapshot?: string; timestamp?: string } = {}): OnlineSigners {
  const out: OnlineSigners = {};
  for (const role of ['snapshot', 'timestamp'] as const) {
    const p = files[role] ?? join(dir, ONLINE_DIR, `${role}.pem`);
    if (existsSync(p)) out[role] = readSigner(p);
  }
  return out;
}

/** The online signers a publish would use: staged/online (rotated keys) first when a root is staged. */
function pendingOnlineSigners(dir: string, rootStaged: boolean): OnlineSigners {
  const out: OnlineSigners = {};
  for (const role of ['snapshot', 'timestamp'] as const) {
    const staged = join(dir, STAGED_DIR, ONLINE_DIR, `${role}.pem`);
    const current = join(dir, ONLINE_DIR, `${role}.pem`);
    const p = rootStaged && existsSync(staged) ? staged : current;
    if (existsSync(p)) out[role] = readSigner(p);
  }
  return out;
}

/** The root that will be trusted after the next publish: the staged one, else the latest published. */
function effectiveRoot(dir: string): { root: Envelope<RootSigned>; previous: Envelope<RootSigned> | undefined; staged: boolean } {
  const staged = readStaged(dir, 'root');
  const published = latestPublishedRoot(dir);
  if (staged) return { root: staged, previous: published, staged: true };
  if (!published) throw new TufError('REPO_NOT_FOUND', 'no root is staged or published');
  return { root: published, previous: undefined, staged: false };
}

export interface StageTargetOptions {
  dir: string;
  name: string;
  content: Uint8Array;
  custom?: Record<string, unknown>;
  clock: Clock;
}

/**
 * Stages one target file. The staged targets role starts from the latest published one with the
 * next version; changing it drops the signatures collected so far (they covered other bytes).
 * Returns false when the same bytes and custom data are already staged or published.
 */
export function stageTarget(o: StageTargetOptions): boolean {
  const cfg = requireRepo(o.dir);
  if (!isSafeTargetName(o.name)) throw new TufError('INVALID_ARGUMENT', `target name ${JSON.stringify(o.name.slice(0, 64))} is not a plain file name`);
  if (o.content.byteLength > MAX_TARGET_BYTES) throw new TufError('INVALID_ARGUMENT', `target ${o.name} is larger than ${MAX_TARGET_BYTES} bytes`);
  let env = readStaged(o.dir, 'targets');
  if (!env) {
    const pub = latestPublishedTargets(o.dir);
    if (!pub) throw new TufError('REPO_NOT_FOUND', 'no targets role is staged or published');
    env = {
      signed: { ...pub.signed, version: pub.signed.version + 1, targets: { ...pub.signed.targets } },
      signatures: [],
    };
  }
  const entry = { length: o.content.byteLength, hashes: hashesOf(o.content), ...(o.custom ? { custom: o.custom } : {}) };
  const current = env.signed.targets[o.name];
  if (current && JSON.stringify(current) === JSON.stringify(entry)) return false;
  env.signed.targets[o.name] = entry;
  env.signed.expires = expiresAt(o.clock, cfg.expiry.targets);
  writeAtomic(join(o.dir, STAGED_DIR, TARGETS_DIR, o.name), o.content);
  writeStaged(o.dir, { signed: env.signed, signatures: [] });
  return true;
}

/** The bytes of a target as staged or (else) as published; undefined when it has neither. */
export function readTarget(dir: string, name: string): Buffer | undefined {
  if (!isSafeTargetName(name)) return undefined;
  const staged = readStaged(dir, 'targets');
  if (staged?.signed.targets[name]) {
    const p = join(dir, STAGED_DIR, TARGETS_DIR, name);
    if (existsSync(p)) return readCapped(p, MAX_TARGET_BYTES);
  }
  const pub = latestPublishedTargets(dir);
  const info = pub?.signed.targets[name];
  if (!info?.hashes.sha256) return undefined;
  const p = join(publishedDir(dir), TARGETS_DIR, `${info.hashes.sha256}.${name}`);
  return existsSync(p) ? readCapped(p, MAX_TARGET_BYTES) : undefined;
}

export interface RotationOptions {
  dir: string;
  clock: Clock;
  addRootKeys?: TufKeyJson[];
  /** Key IDs to revoke from the root role. */
  removeRootKeys?: string[];
  rootThreshold?: number;
  addTargetsKeys?: TufKeyJson[];
  removeTargetsKeys?: string[];
  targetsThreshold?: number;
  snapshotKey?: TufKeyJson;
  timestampKey?: TufKeyJson;
  onlinePrivateKeys?: { snapshot?: KeyObject; timestamp?: KeyObject };
}

/**
 * Stages root N+1 from the latest published root N (TUF §5.3.4: N+1 must carry the threshold of
 * signatures of both N's and its own root keys; `signStaged` accepts either set of keyholders).
 * Keys no role uses any more are dropped from the key table.
 */
export function stageRootRotation(o: RotationOptions): RootSigned {
  const cfg = requireRepo(o.dir);
  const current = latestPublishedRoot(o.dir);
  if (!current) throw new TufError('NOTHING_STAGED', 'publish root v1 before rotating it');
  const next = structuredClone(current.signed);
  next.version = current.signed.version + 1;
  next.expires = expiresAt(o.clock, cfg.expiry.root);
  const edit = (role: RoleName, add: TufKeyJson[] = [], remove: string[] = []): void => {
    const spec = next.roles[role];
    for (const id of remove) {
      if (!spec.keyids.includes(id)) throw new TufError('INVALID_ARGUMENT', `key ${id} is not a ${role} key`);
      spec.keyids = spec.keyids.filter((k) => k !== id);
    }
    for (const k of add) {
      const id = keyIdOf(k);
      if (spec.keyids.includes(id)) throw new TufError('INVALID_ARGUMENT', `key ${id} already is a ${role} key`);
      next.keys[id] = k;
      spec.keyids.push(id);
    }
  };
  edit('root', o.addRootKeys, o.removeRootKeys);
  edit('targets', o.addTargetsKeys, o.removeTargetsKeys);
  if (o.snapshotKey) {
    const id = keyIdOf(o.snapshotKey);
    next.keys[id] = o.snapshotKey;
    next.roles.snapshot = { keyids: [id], threshold: 1 };
  }
  if (o.timestampKey) {
    const id = keyIdOf(o.timestampKey);
    next.keys[id] = o.timestampKey;
    next.roles.timestamp = { keyids: [id], threshold: 1 };
  }
  if (o.rootThreshold !== undefined) next.roles.root.threshold = o.rootThreshold;
  if (o.targetsThreshold !== undefined) next.roles.targets.threshold = o.targetsThreshold;
  checkThresholdArg(next.roles.root.threshold, next.roles.root.keyids.length, 'root');
  checkThresholdArg(next.roles.targets.threshold, next.roles.targets.keyids.length, 'targets');
  const used = new Set(Object.values(next.roles).flatMap((r) => r.keyids));
  for (const id of Object.keys(next.keys)) if (!used.has(id)) delete next.keys[id];
  writeStaged(o.dir, { signed: next, signatures: [] });
  // New online keys wait in staged/online until the root authorising them is published: a server
  // sharing this directory keeps signing with the keys the current root trusts until then.
  if (o.onlinePrivateKeys?.snapshot) saveOnlineKey(o.dir, 'snapshot', o.onlinePrivateKeys.snapshot, true);
  if (o.onlinePrivateKeys?.timestamp) saveOnlineKey(o.dir, 'timestamp', o.onlinePrivateKeys.timestamp, true);
  if (o.snapshotKey && o.timestampKey) {
    // New online keys given as public keys only: from now on the server holds the private halves.
    const held = o.onlinePrivateKeys?.snapshot !== undefined && o.onlinePrivateKeys.timestamp !== undefined;
    writeCeremonyConfig(o.dir, { ...cfg, onlineKeys: held ? 'repository' : 'server' });
  }
  return next;
}

/**
 * Stages a new targets version with the same targets, e.g. to re-sign after a targets key change
 * or to renew its expiry. A targets version already staged (say by `cairn trust build`) is kept:
 * it is the one to sign, and signatures count only from the keys of the root trusted at publish.
 */
export function stageTargetsResign(dir: string, clock: Clock): { targets: TargetsSigned; alreadyStaged: boolean } {
  const cfg = requireRepo(dir);
  const staged = readStaged(dir, 'targets');
  if (staged) return { targets: staged.signed, alreadyStaged: true };
  const pub = latestPublishedTargets(dir);
  if (!pub) throw new TufError('REPO_NOT_FOUND', 'no published targets role');
  const signed = { ...pub.signed, version: pub.signed.version + 1, expires: expiresAt(clock, cfg.expiry.targets) };
  writeStaged(dir, { signed, signatures: [] });
  return { targets: signed, alreadyStaged: false };
}

/**
 * Drops staged roles (both when `role` is undefined) and what belongs to them: staged target
 * files with the targets role, online keys waiting in staged/online with the root. Published
 * metadata is never touched. NOTHING_STAGED when there is nothing of that role to drop.
 */
export function discardStaged(dir: string, role?: 'root' | 'targets'): ('root' | 'targets')[] {
  requireRepo(dir);
  const dropped: ('root' | 'targets')[] = [];
  for (const r of role === undefined ? (['root', 'targets'] as const) : [role]) {
    const p = stagedPath(dir, r);
    const extra = join(dir, STAGED_DIR, r === 'root' ? ONLINE_DIR : TARGETS_DIR);
    const hasExtra = existsSync(extra) && readdirSync(extra).length > 0;
    if (!existsSync(p) && !hasExtra) continue;
    rmSync(p, { force: true });
    rmSync(extra, { recursive: true, force: true });
    dropped.push(r);
  }
  mkdirSync(join(dir, STAGED_DIR, TARGETS_DIR), { recursive: true });
  if (dropped.length === 0) throw new TufError('NOTHING_STAGED', role === undefined ? 'nothing is staged' : `no ${role} role is staged`);
  return dropped;
}

/**
 * One keyholder signs every staged role their key is authorised for: the staged root when the
 * key is a root key of the staged root or of the root it replaces, the staged targets when it is
 * a targets key of the root that will be trusted after publish.
 */
export async function signStaged(dir: string, signer: TufSigner): Promise<RoleName[]> {
  requireRepo(dir);
  const signedRoles: RoleName[] = [];
  const { root, previous, staged } = effectiveRoot(dir);
  if (staged && (root.signed.roles.root.keyids.includes(signer.keyid) || previous?.signed.roles.root.keyids.includes(signer.keyid))) {
    writeStaged(dir, await signEnvelope(root, signer));
    signedRoles.push('root');
  }
  const targets = readStaged(dir, 'targets');
  if (targets && root.signed.roles.targets.keyids.includes(signer.keyid)) {
    writeStaged(dir, await signEnvelope(targets, signer));
    signedRoles.push('targets');
  }
  if (signedRoles.length === 0) {
    const anything = staged || targets !== undefined;
    if (!anything) throw new TufError('NOTHING_STAGED', 'nothing is staged for signing');
    throw new TufError('KEY_NOT_AUTHORISED', `key ${signer.keyid} is not a keyholder of any staged role`);
  }
  return signedRoles;
}

export interface ThresholdStatus {
  /** Which root's keys this threshold belongs to (`root v3`). */
  by: string;
  threshold: number;
  signedBy: string[];
  missing: string[];
  met: boolean;
}

export interface RoleStatus {
  role: 'root' | 'targets';
  version: number;
  expires: string;
  expired: boolean;
  thresholds: ThresholdStatus[];
  ready: boolean;
}

export interface RepoStatus {
  development: boolean;
  published: { root?: number; targets?: number; snapshot?: number };
  staged: RoleStatus[];
  /** Published offline roles that expire soon (or have), each with the command that renews them. */
  warnings: string[];
}

/** Warn this long before an offline role expires: a quarter of its period, at least 30 days for root. */
function warnMarginMs(role: 'root' | 'targets', periodSeconds: number): number {
  const quarter = (periodSeconds * 1000) / 4;
  return role === 'root' ? Math.max(quarter, 30 * 86400_000) : quarter;
}

function thresholdStatus(
  by: Envelope<RootSigned>,
  byStaged: boolean,
  role: RoleName,
  env: Envelope<RootSigned> | Envelope<TargetsSigned>,
): ThresholdStatus {
  const r = checkThreshold(by.signed, role, env);
  const keyids = by.signed.roles[role].keyids;
  return {
    by: `${role} keys of root v${by.signed.version} (${byStaged ? 'staged' : 'published'})`,
    threshold: r.threshold,
    signedBy: r.valid,
    missing: keyids.filter((k) => !r.valid.includes(k)),
    met: r.met,
  };
}

export function stagedStatus(dir: string, clock: Clock): RepoStatus {
  const cfg = requireRepo(dir);
  const now = clock.now();
  const pubDir = publishedDir(dir);
  const last = (xs: number[]): number | undefined => xs[xs.length - 1];
  const status: RepoStatus = {
    development: cfg.development,
    published: {
      root: last(publishedVersions(pubDir, 'root')),
      targets: last(publishedVersions(pubDir, 'targets')),
      snapshot: last(publishedVersions(pubDir, 'snapshot')),
    },
    staged: [],
    warnings: [],
  };
  const stagedRoot = readStaged(dir, 'root');
  const published = latestPublishedRoot(dir);
  const publishedTargets = latestPublishedTargets(dir);
  const renew = { root: 'cairn tuf root-rotate (no changes renews it), sign, publish', targets: 'cairn tuf resign-targets, sign, publish' };
  for (const [role, env] of [
    ['root', published],
    ['targets', publishedTargets],
  ] as const) {
    if (!env) continue;
    const left = new Date(env.signed.expires).getTime() - now.getTime();
    if (left > warnMarginMs(role, cfg.expiry[role])) continue;
    const when = left <= 0 ? 'EXPIRED at' : `expires in ${Math.ceil(left / 86400_000)} day(s), at`;
    status.warnings.push(`published ${role} v${env.signed.version} ${when} ${env.signed.expires}: renew it with ${renew[role]}`);
  }
  if (stagedRoot) {
    const thresholds = [thresholdStatus(stagedRoot, true, 'root', stagedRoot)];
    if (published) thresholds.unshift(thresholdStatus(published, false, 'root', stagedRoot));
    const expired = isExpired(stagedRoot.signed, now);
    status.staged.push({
      role: 'root',
      version: stagedRoot.signed.version,
      expires: stagedRoot.signed.expires,
      expired,
      thresholds,
      ready: !expired && thresholds.every((t) => t.met),
    });
  }
  const stagedTargets = readStaged(dir, 'targets');
  if (stagedTargets) {
    const by = stagedRoot ?? published;
    if (by) {
      const t = thresholdStatus(by, by === stagedRoot, 'targets', stagedTargets);
      const expired = isExpired(stagedTargets.signed, now);
      status.staged.push({
        role: 'targets',
        version: stagedTargets.signed.version,
        expires: stagedTargets.signed.expires,
        expired,
        thresholds: [t],
        ready: !expired && t.met,
      });
    }
  }
  return status;
}

export interface PublishResult {
  root?: number;
  targets?: number;
  online?: RefreshResult;
  /** Set when no online keys are held here: the server signs snapshot and timestamp on start. */
  onlinePending: boolean;
}

/**
 * Publishes the staged roles. Refuses (and changes nothing) when a staged role is below any of its
 * thresholds (BELOW_THRESHOLD), expired (EXPIRED), not exactly one version newer for root or not
 * newer for targets (VERSION_NOT_INCREASING), or when the trusted targets would not verify under
 * the new root. Order of writes: target files, targets, root, then snapshot and timestamp, so a
 * client reading meanwhile never meets a reference to a file not yet written.
 */
export async function publishStaged(dir: string, clock: Clock, online?: OnlineSigners): Promise<PublishResult> {
  const cfg = requireRepo(dir);
  const now = clock.now();
  const pubDir = publishedDir(dir);
  const stagedRoot = readStaged(dir, 'root');
  const stagedTargets = readStaged(dir, 'targets');
  if (!stagedRoot && !stagedTargets) throw new TufError('NOTHING_STAGED', 'nothing is staged');
  const published = latestPublishedRoot(dir);

  if (stagedRoot) {
    const expected = (published?.signed.version ?? 0) + 1;
    if (stagedRoot.signed.version !== expected) {
      throw new TufError('VERSION_NOT_INCREASING', `staged root is v${stagedRoot.signed.version}, the next version is v${expected}`);
    }
    if (isExpired(stagedRoot.signed, now)) throw new TufError('EXPIRED', `staged root v${stagedRoot.signed.version} expired at ${stagedRoot.signed.expires}`);
    for (const by of published ? [published, stagedRoot] : [stagedRoot]) {
      const t = checkThreshold(by.signed, 'root', stagedRoot);
      if (!t.met) {
        throw new TufError('BELOW_THRESHOLD', `staged root has ${t.valid.length} of ${t.threshold} signatures from the keys of root v${by.signed.version}`);
      }
    }
  }
  const trustedRoot = stagedRoot ?? published;
  if (!trustedRoot) throw new TufError('NOTHING_STAGED', 'the first publish needs a staged root');
  const publishedTargets = latestPublishedTargets(dir);
  const targets = stagedTargets ?? publishedTargets;
  if (!targets) throw new TufError('NOTHING_STAGED', 'the first publish needs a staged targets role');
  if (stagedTargets) {
    if (publishedTargets && stagedTargets.signed.version <= publishedTargets.signed.version) {
      throw new TufError('VERSION_NOT_INCREASING', `staged targets v${stagedTargets.signed.version} is not newer than published v${publishedTargets.signed.version}`);
    }
    if (isExpired(stagedTargets.signed, now)) throw new TufError('EXPIRED', `staged targets v${stagedTargets.signed.version} expired`);
  }
  const t = checkThreshold(trustedRoot.signed, 'targets', targets);
  if (!t.met) {
    const hint = stagedTargets ? 'collect more targets signatures (cairn tuf sign)' : 'the targets keys changed: run cairn tuf resign-targets and collect their signatures';
    throw new TufError('BELOW_THRESHOLD', `targets v${targets.signed.version} has ${t.valid.length} of ${t.threshold} signatures from the targets keys of root v${trustedRoot.signed.version}; ${hint}`);
  }
  // Every publish must be servable: either the online keys the trusted root names are here (we
  // sign snapshot and timestamp now), or ceremony.json says the tuf server holds them and signs
  // on import. Otherwise (a keyholder's copy, which never carries online keys) refuse up front.
  const signers = online ?? pendingOnlineSigners(dir, stagedRoot !== undefined);
  const authorised =
    signers.snapshot !== undefined &&
    signers.timestamp !== undefined &&
    trustedRoot.signed.roles.snapshot.keyids.includes(signers.snapshot.keyid) &&
    trustedRoot.signed.roles.timestamp.keyids.includes(signers.timestamp.keyid);
  if (!authorised && cfg.onlineKeys !== 'server') {
    throw new TufError(
      'ONLINE_KEY_MISSING',
      `the online snapshot and timestamp keys of root v${trustedRoot.signed.version} are not in ${join(dir, ONLINE_DIR)}: ` +
        'publish on the coordinator\'s machine that holds them (keyholders only sign and export), or pass --snapshot-key and --timestamp-key',
    );
  }
  const stagedFiles = new Map<string, Buffer>();
  if (stagedTargets) {
    for (const [name, info] of Object.entries(stagedTargets.signed.targets)) {
      const sha = info.hashes.sha256;
      if (sha === undefined) throw new TufError('INVALID_METADATA', `target ${name} has no sha256 hash`);
      if (existsSync(join(pubDir, TARGETS_DIR, `${sha}.${name}`))) continue;
      const p = join(dir, STAGED_DIR, TARGETS_DIR, name);
      if (!existsSync(p)) throw new TufError('REPO_NOT_FOUND', `staged target file ${name} is missing`);
      const bytes = readCapped(p, MAX_TARGET_BYTES);
      if (hashesOf(bytes).sha256 !== sha || bytes.byteLength !== info.length) throw new TufError('HASH_MISMATCH', `staged target file ${name} changed after staging`);
      stagedFiles.set(`${sha}.${name}`, bytes);
    }
  }

  for (const [name, bytes] of stagedFiles) writeAtomic(join(pubDir, TARGETS_DIR, name), bytes);
  if (stagedTargets) writeAtomic(join(pubDir, `${stagedTargets.signed.version}.targets.json`), serializeEnvelope(stagedTargets));
  if (stagedRoot) {
    const bytes = serializeEnvelope(stagedRoot);
    writeAtomic(join(pubDir, `${stagedRoot.signed.version}.root.json`), bytes);
    writeAtomic(join(pubDir, 'root.json'), bytes);
    for (const role of ['snapshot', 'timestamp'] as const) {
      const staged = join(dir, STAGED_DIR, ONLINE_DIR, `${role}.pem`);
      if (!existsSync(staged) || !stagedRoot.signed.roles[role].keyids.includes(readSigner(staged).keyid)) continue;
      mkdirSync(join(dir, ONLINE_DIR), { recursive: true, mode: 0o700 });
      renameSync(staged, join(dir, ONLINE_DIR, `${role}.pem`));
    }
  }
  rmSync(join(dir, STAGED_DIR), { recursive: true, force: true });
  mkdirSync(join(dir, STAGED_DIR, TARGETS_DIR), { recursive: true });

  const result: PublishResult = { onlinePending: true };
  if (stagedRoot) result.root = stagedRoot.signed.version;
  if (stagedTargets) result.targets = stagedTargets.signed.version;
  // Only sign online roles with keys the new root authorises; otherwise the server (holding the
  // right keys) does it when it imports the repository.
  if (authorised) {
    result.online = await refreshOnlineRoles(pubDir, signers, cfg.expiry, now);
    result.onlinePending = false;
  }
  return result;
}
