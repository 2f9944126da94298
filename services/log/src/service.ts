/**
 * `createService` for the transparency log: state in ctx.dataDir (log.db, log-key.pem 0600,
 * state.json with the tree ID and the key's creation time), routes, metrics, trust info.
 *
 * Config section `log`: batchMaxSize (default 256), batchMaxDelayMs (default 2),
 * keyType (ecdsa-p256 | ed25519; Ed25519 logs accept v2 writes only), keyPassphrase, witnesses
 * (allow-list of witness keys: vkey strings or {name, publicKey PEM}; see witness.ts),
 * verifyWorkers (threads that validate entries and check their signatures; default one per core
 * beyond the first, at least 1 and at most 4; 0 = on the main thread) and verifyWorkersAfter (writes per second that start
 * them; default 200, 0 = at start), pkcs11Key (with a `pkcs11` section, --pkcs11-module: the
 * signing key's URI, default pkcs11:token=<token>;object=cairn-log made by `cairn hsm init`;
 * log-key.pem is then not used).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  LocalSigner,
  storeOf,
  section,
  sectionValue,
  sectionNumber,
  sectionString,
  isRecord,
  SharedError,
  type ServiceFactory,
  type Signer,
  type TrustInfo,
} from '@cairn/shared';
import { writeAtomic } from '@cairn/shared/io';
import { loadOrCreatePrivateKey } from '@cairn/shared/key-files';
import { openServiceKey, pkcs11Settings } from '@cairn/shared/pkcs11';
import { DEFAULT_BATCH_MAX_DELAY_MS, DEFAULT_BATCH_MAX_SIZE, MAX_BATCH_DELAY_MS, MAX_BATCH_SIZE } from './engine.ts';
import { LogError } from './errors.ts';
import { PreparePool } from './prepare-pool.ts';
import { RekorLog, newTreeId } from './rekor-log.ts';
import { createRoutes } from './routes.ts';
import { SqliteCosignatureStore, createWitnessRouter, parseWitnessKeys } from './witness.ts';

interface LogState {
  treeId: string;
  keyCreatedAt: string;
  /** Hex SHA-256 of the signing key's SPKI: another key (a move into a token) starts a new validity. */
  keyId?: string;
}

/**
 * RFC 3339 at whole seconds, rounded DOWN: integratedTime is Unix seconds, and clients require
 * validFor.start <= integratedTime, so a start with milliseconds would exclude the first second.
 */
function wholeSeconds(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function loadState(path: string, nowExact: Date, keyCreated: boolean, keyId: string): LogState {
  const now = wholeSeconds(nowExact);
  if (existsSync(path)) {
    const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (isRecord(raw) && typeof raw.treeId === 'string' && /^[1-9][0-9]{0,18}$/.test(raw.treeId) && typeof raw.keyCreatedAt === 'string') {
      const otherKey = typeof raw.keyId === 'string' && raw.keyId !== keyId;
      const state = { treeId: raw.treeId, keyCreatedAt: keyCreated || otherKey ? now : raw.keyCreatedAt, keyId };
      if (keyCreated || raw.keyId !== keyId) writeState(path, state);
      return state;
    }
    throw new LogError('STORE_CORRUPT', `${path} is not a valid log state file`);
  }
  const state = { treeId: newTreeId(), keyCreatedAt: now, keyId };
  writeState(path, state);
  return state;
}

function writeState(path: string, state: LogState): void {
  writeAtomic(path, JSON.stringify(state, null, 2) + '\n', 0o644);
}

export const createService: ServiceFactory = async (ctx) => {
  const cfg = section(ctx.config, 'log');
  const keyType = sectionString(cfg, 'keyType', 'ecdsa-p256');
  if (keyType !== 'ecdsa-p256' && keyType !== 'ed25519') {
    throw new SharedError('INVALID_CONFIG', `log.keyType must be ecdsa-p256 or ed25519, not ${keyType}`);
  }
  const passphrase = sectionString(cfg, 'keyPassphrase');
  const batchMaxSize = sectionNumber(cfg, 'batchMaxSize', DEFAULT_BATCH_MAX_SIZE, 1, MAX_BATCH_SIZE);
  const batchMaxDelayMs = sectionNumber(cfg, 'batchMaxDelayMs', DEFAULT_BATCH_MAX_DELAY_MS, 0, MAX_BATCH_DELAY_MS);
  const verifyWorkers = sectionNumber(cfg, 'verifyWorkers', Math.max(1, Math.min(4, availableParallelism() - 1)), 0, 64);
  const verifyWorkersAfter = sectionNumber(cfg, 'verifyWorkersAfter', 200, 0, 1_000_000);

  mkdirSync(ctx.dataDir, { recursive: true, mode: 0o700 });
  const p11 = pkcs11Settings(ctx.config);
  const keyUri = sectionString(cfg, 'pkcs11Key');
  if (!p11 && keyUri !== undefined) throw new SharedError('INVALID_CONFIG', 'log.pkcs11Key needs a PKCS#11 module (--pkcs11-module)');
  const hsm = p11 ? openServiceKey(p11, 'log', keyUri) : undefined;
  let signer: Signer;
  let created = false;
  if (hsm) signer = hsm;
  else {
    const loaded = loadOrCreatePrivateKey(join(ctx.dataDir, 'log-key.pem'), keyType, passphrase);
    signer = new LocalSigner(loaded.key);
    created = loaded.created;
  }
  if (signer.algorithm !== 'ecdsa-p256-sha256' && signer.algorithm !== 'ed25519') {
    hsm?.close();
    throw new SharedError('INVALID_CONFIG', 'the log key must be ECDSA P-256 or Ed25519');
  }
  if (created) ctx.logger.info('created the log signing key', { path: join(ctx.dataDir, 'log-key.pem') });
  const state = loadState(join(ctx.dataDir, 'state.json'), ctx.clock.now(), created, signer.publicKey.keyId.toString('hex'));

  const m = ctx.metrics;
  const sizeGauge = m.gauge('cairn_log_tree_size', 'Entries in the transparency log');
  const batchSizes = m.histogram('cairn_log_batch_size', 'Leaves per sequenced batch', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]);
  const appended = m.counter('cairn_log_entries_appended_total', 'Entries appended, by API');
  const verifyWorkerGauge = m.gauge('cairn_log_verify_workers', 'Worker threads preparing and verifying entries');
  const rejections = m.counter('cairn_log_rejections_total', 'Rejected log requests, by error code');

  const pool = new PreparePool({
    workers: verifyWorkers,
    startAfterPerSecond: verifyWorkersAfter,
    onWorkerError: (message) => ctx.logger.warn(message),
  });
  const store = storeOf(ctx.config);
  let log: RekorLog;
  try {
    log = await RekorLog.open({
      dbPath: join(ctx.dataDir, 'log.db'),
      ...(store.url !== undefined ? { storeUrl: store.url, leaseMs: store.leaseMs } : {}),
      signer,
      baseUrl: ctx.baseUrl,
      treeId: state.treeId,
      clock: ctx.clock,
      batchMaxSize,
      batchMaxDelayMs,
      v1Writes: signer.algorithm === 'ecdsa-p256-sha256',
      onBatch: (n) => batchSizes.observe(n),
      preparePool: pool,
    });
  } catch (e) {
    hsm?.close();
    throw e;
  }
  verifyWorkerGauge.set(() => pool.size);
  sizeGauge.set(() => log.engine.size);
  m.gauge('cairn_log_sequencer', '1 while this replica sequences the log (holds the lease on the PostgreSQL store)').set(() => ((log.engine.isSequencer ?? true) ? 1 : 0));
  ctx.logger.info('transparency log ready', { treeId: log.treeId, logId: log.logIdHex, size: log.engine.size });

  // Witness cosignatures (services/log/src/witness.ts): collected per checkpoint and served on the
  // tiles /checkpoint only; v1 checkpoints stay single-signature (sigstore-go's v1 path and the
  // CLI's bundled verifier reject extra lines).
  let witnessStore: SqliteCosignatureStore;
  try {
    witnessStore = SqliteCosignatureStore.open(join(ctx.dataDir, 'witness.db'));
  } catch (e) {
    await log.close();
    throw e;
  }
  const witnessRouter = createWitnessRouter({ store: witnessStore, witnesses: parseWitnessKeys(sectionValue(cfg, 'witnesses')), logKey: signer.publicKey, clock: ctx.clock });
  const { router, leanRoutes } = createRoutes({
    log,
    maxBodyBytes: ctx.config.maxBodyBytes,
    logger: ctx.logger,
    rejections,
    appended,
    cosignatures: (note) => witnessStore.lines(note),
    extraRouter: witnessRouter,
  });

  const trust: TrustInfo = {
    kind: 'tlog',
    baseUrl: ctx.baseUrl,
    publicKey: signer.publicKey.spki.toString('base64'),
    keyDetails: signer.algorithm === 'ed25519' ? 'PKIX_ED25519' : 'PKIX_ECDSA_P256_SHA_256',
    logId: log.v2KeyId.toString('base64'),
    validFrom: state.keyCreatedAt,
    // Rekor v1 writes need an ECDSA key (the SET); Rekor v2 is always served.
    majorApiVersions: signer.algorithm === 'ecdsa-p256-sha256' ? [1, 2] : [2],
  };

  let closing: Promise<void> | undefined;
  return {
    name: 'log',
    router,
    leanRoutes,
    ready: () => (log.engine.ready() ? (hsm?.health() ?? { ok: true }) : { ok: false, reason: 'the log store is not open' }),
    trustInfo: () => [trust],
    close: () =>
      (closing ??= log.close().finally(() => {
        witnessStore.close();
        hsm?.close();
      })),
  };
};
