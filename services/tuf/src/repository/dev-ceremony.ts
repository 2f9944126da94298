/**
 * The DEVELOPMENT ceremony in one call, for `cairn up`'s first run: keys generated next to the
 * repository (files named DEVELOPMENT-*.pem), threshold 1, root marked `x-cairn-development`.
 * Never use its output as a production trust root: run the real ceremony (`cairn tuf init`) with
 * offline keyholders instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey, privateKeyFromPem, privateKeyToPem, type Clock, type TrustInfo } from '@cairn/shared';
import { writeSecretFile } from '@cairn/shared/key-files';
import { localTufSigner, tufKeyFor, type TufSigner } from '@cairn/shared/tuf';
import {
  CEREMONY_FILE,
  initRepository,
  loadOnlineSigners,
  publishStaged,
  readTarget,
  refreshOnlineRoles,
  readCeremonyConfig,
  signStaged,
  stageRootRotation,
  stageTargetsResign,
  verifyPublished,
  stageTarget,
  PUBLISHED_DIR,
  STAGED_DIR,
  type Expiry,
  type OnlineSigners,
} from './index.ts';
import {
  SIGNING_CONFIG_TARGET,
  TRUSTED_ROOT_TARGET,
  buildSigningConfig,
  buildTrustedRoot,
  mergeTrustedRoot,
  readTrustedRootDocument,
  type SigningConfigUrls,
} from '@cairn/shared/trusted-root';

export const DEV_KEY_DIR = 'DEVELOPMENT-keys';

export interface DevCeremonyOptions {
  /** The repository directory (the tuf component's data directory, e.g. <data-dir>/tuf). */
  dir: string;
  infos: TrustInfo[];
  urls?: SigningConfigUrls;
  clock: Clock;
  expiry?: Partial<Expiry>;
  /** Online keys held elsewhere (a PKCS#11 token): named by root v1, used to publish; no PEM written. */
  online?: OnlineSigners;
}

export interface DevCeremonyResult {
  created: boolean;
  /** Targets version now published. */
  targetsVersion: number;
  /** True when this call published a new targets version. */
  changed: boolean;
  /** Path of the published root.json clients start from (`cairn trust init --root`). */
  rootPath: string;
}

function devSigner(dir: string): TufSigner {
  const path = join(dir, DEV_KEY_DIR, 'DEVELOPMENT-root-and-targets.pem');
  if (existsSync(path)) return localTufSigner(privateKeyFromPem(readFileSync(path, 'utf8')));
  const key = generateKey('ecdsa-p256');
  writeSecretFile(path, privateKeyToPem(key));
  return localTufSigner(key);
}

const canonical = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

/**
 * Generates keys and initialises the repository on first use, then stages trusted_root.json and
 * signing_config.v0.2.json (keeping retired keys with an end date), signs to threshold and
 * publishes. Re-running with unchanged trust material publishes nothing new; with changed
 * material it publishes the next targets version.
 */
export async function runDevelopmentCeremony(o: DevCeremonyOptions): Promise<DevCeremonyResult> {
  const created = !existsSync(join(o.dir, CEREMONY_FILE));
  const signer = devSigner(o.dir);
  const held = o.online?.snapshot !== undefined && o.online.timestamp !== undefined ? { snapshot: o.online.snapshot, timestamp: o.online.timestamp } : undefined;
  if (created) {
    const snapshot = held ? undefined : generateKey('ecdsa-p256');
    const timestamp = held ? undefined : generateKey('ecdsa-p256');
    initRepository({
      dir: o.dir,
      rootKeys: [signer.key],
      rootThreshold: 1,
      targetsKeys: [signer.key],
      targetsThreshold: 1,
      snapshotKey: held?.snapshot.key ?? tufKeyFor(snapshot!),
      timestampKey: held?.timestamp.key ?? tufKeyFor(timestamp!),
      ...(o.expiry ? { expiry: o.expiry } : {}),
      clock: o.clock,
      development: true,
      ...(held ? {} : { onlinePrivateKeys: { snapshot: snapshot!, timestamp: timestamp! } }),
    });
  } else if (held) {
    // A development repository made with file keys, now started with its online keys in a token:
    // rotate the root to name the token's keys (the old ones are dropped with it).
    const root = verifyPublished(join(o.dir, PUBLISHED_DIR)).root;
    if (!root.roles.snapshot.keyids.includes(held.snapshot.keyid) || !root.roles.timestamp.keyids.includes(held.timestamp.keyid)) {
      stageRootRotation({ dir: o.dir, clock: o.clock, snapshotKey: held.snapshot.key, timestampKey: held.timestamp.key });
    }
  }
  const next = buildTrustedRoot(o.infos);
  const prevBytes = created ? undefined : readTarget(o.dir, TRUSTED_ROOT_TARGET);
  const trusted = prevBytes ? mergeTrustedRoot(readTrustedRootDocument(JSON.parse(prevBytes.toString('utf8'))), next, o.clock.now()) : next;
  const custom = { cairn: { development: true } };
  let changed = stageTarget({ dir: o.dir, name: TRUSTED_ROOT_TARGET, content: Buffer.from(canonical(trusted)), custom, clock: o.clock });
  changed =
    stageTarget({ dir: o.dir, name: SIGNING_CONFIG_TARGET, content: Buffer.from(canonical(buildSigningConfig(o.infos, o.urls))), custom, clock: o.clock }) ||
    changed;
  // The offline roles of a development repository are renewed here too (a production ceremony
  // does it with its keyholders): a new version once less than half of the validity is left.
  const cfg = readCeremonyConfig(o.dir)!;
  let renewed = false;
  if (!created) {
    const published = verifyPublished(join(o.dir, PUBLISHED_DIR));
    const halfLeft = (expires: string, seconds: number): boolean => new Date(expires).getTime() - o.clock.now().getTime() < (seconds * 1000) / 2;
    if (halfLeft(published.root.expires, cfg.expiry.root)) {
      stageRootRotation({ dir: o.dir, clock: o.clock });
      renewed = true;
    }
    if (!changed && halfLeft(published.targets.envelope.signed.expires, cfg.expiry.targets)) {
      stageTargetsResign(o.dir, o.clock);
      renewed = true;
    }
  }
  const rootStaged = existsSync(join(o.dir, STAGED_DIR, 'root.json'));
  if (changed || created || renewed || rootStaged) {
    await signStaged(o.dir, signer);
    await publishStaged(o.dir, o.clock, held);
  } else {
    // Nothing new to sign; keep the online roles fresh for a server that is not running yet.
    await refreshOnlineRoles(join(o.dir, PUBLISHED_DIR), held ?? loadOnlineSigners(o.dir), cfg.expiry, o.clock.now());
  }
  const targetsVersion = verifyPublished(join(o.dir, PUBLISHED_DIR)).targets.envelope.signed.version;
  return { created, targetsVersion, changed: changed || created, rootPath: join(o.dir, PUBLISHED_DIR, 'root.json') };
}
