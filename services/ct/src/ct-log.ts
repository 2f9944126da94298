/**
 * The RFC 6962 CT log on the shared log engine (services/log `openLogEngine`): the engine owns
 * the Merkle store, batching and durability; this file owns what is CT-specific — chain
 * validation, the MerkleTreeLeaf (§3.4), SCT signing (§3.2), the signed tree head (§3.5), the
 * extra_data of get-entries (§4.6) and deduplication of resubmitted certificates.
 *
 * Durability: an SCT is returned only after the batch holding its leaf is committed (fsync) by
 * the engine, together with this log's own row for the entry (same SQLite transaction, via the
 * engine's `batchWrites` rows, run by its writer thread). So every SCT ever handed out is backed
 * by an integrated leaf: the maximum merge delay is zero.
 */
import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import { LogError, openLogEngine, type AppendedLeaf, type BatchStatement, type LogEngine } from '@cairn/log';
import { LocalSigner, isCairnError, sha256, type Clock, type Counter, type Logger, type MetricsRegistry, type PublicKey, type Signer } from '@cairn/shared';
import { loadOrCreatePrivateKey } from '@cairn/shared/key-files';
import {
  certificateSignedData,
  encodeMerkleTreeLeaf,
  issuerKeyHash,
  precertSignedData,
  removeExtensionFromTbs,
  signDigitallySigned,
  treeHeadSignedData,
  OID_CT_POISON,
  type Sct,
  type TimestampedEntry,
} from '@cairn/shared/sct';
import { CtError } from './errors.ts';
import { ChainValidator, type EntryKind } from './chain.ts';
import { RootStore, type AcceptedRoot } from './roots.ts';

/** RFC 6962 §4.6 lets a log return fewer entries than asked; this is the most per request. */
export const MAX_GET_ENTRIES = 256;
/** Submissions waiting for their batch at once; beyond it new ones get 503 LOG_BUSY (bounded memory). */
export const DEFAULT_MAX_PENDING = 4096;
const KEY_FILE = 'ct-key.pem';
const DB_FILE = 'ct.sqlite';

/**
 * What the CA needs from a CT log: the `peers.ct` contract in-process, `HttpCtLog` over HTTP.
 * Resolves only once the entry is durably in the log.
 */
export interface CtLog {
  /** RFC 6962 §4.2: log a precertificate chain [precert, issuer, ..., root]. */
  addPreChain(chainDer: Buffer[]): Promise<Sct>;
}

/** The in-process log: also final-certificate chains, root management and its identity. */
export interface LocalCtLog extends CtLog {
  /** RFC 6962 §4.1: log a final certificate chain. */
  addChain(chainDer: Buffer[]): Promise<Sct>;
  /** Accepts chains to this self-signed root from now on (persisted in `<dataDir>/roots/`). */
  addRoot(rootDer: Buffer): void;
  /** The log's key; `logId` = SHA-256 of its DER SPKI (RFC 6962 §3.2). */
  readonly publicKey: PublicKey;
  readonly logId: Buffer;
}

export interface SignedTreeHeadJson {
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  tree_head_signature: string;
}

export interface LeafEntryJson {
  leaf_input: string;
  extra_data: string;
}

interface EntryRow {
  idx: number;
  sct_ts: number;
  sct_sig: Buffer;
}

interface EntryMeta {
  certHash: Buffer;
  kind: EntryKind;
  timestamp: number;
  signature: Buffer;
  extra: Buffer;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE ct_entries (
        idx INTEGER PRIMARY KEY,
        cert_hash BLOB NOT NULL UNIQUE,
        kind INTEGER NOT NULL,
        sct_ts INTEGER NOT NULL,
        sct_sig BLOB NOT NULL,
        extra BLOB NOT NULL
      );`,
  },
];

function u24(n: number): Buffer {
  return Buffer.from([(n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function asn1Cert(der: Buffer): Buffer {
  return Buffer.concat([u24(der.length), der]);
}

/** RFC 6962 §4.6 extra_data: `certificate_chain` for x509 entries, the PrecertChainEntry otherwise. */
function extraData(kind: EntryKind, certs: readonly Buffer[]): Buffer {
  const chain = Buffer.concat(certs.slice(1).map(asn1Cert));
  const list = Buffer.concat([u24(chain.length), chain]);
  return kind === 'precert' ? Buffer.concat([asn1Cert(certs[0]!), list]) : list;
}

/** Log key schemes, each with its trusted-root keyDetails (RSA is out: see reference §6.1). */
export const CT_KEY_DETAILS = {
  'ecdsa-p256-sha256': 'PKIX_ECDSA_P256_SHA_256',
  'ecdsa-p384-sha384': 'PKIX_ECDSA_P384_SHA_384',
} as const;

export interface EngineCtLogOptions {
  dataDir: string;
  /** The log key behind the crypto seam (KMS, HSM); default: `<dataDir>/ct-key.pem`, P-256, 0600. */
  signer?: Signer;
  clock: Clock;
  logger: Logger;
  metrics: MetricsRegistry;
  rootsFile?: string;
  batchMaxSize?: number;
  batchMaxDelayMs?: number;
  /** Default DEFAULT_MAX_PENDING. */
  maxPending?: number;
}

export class EngineCtLog implements LocalCtLog {
  readonly publicKey: PublicKey;
  readonly logId: Buffer;
  readonly roots: RootStore;
  /** When this key was first used: the trusted root's validFor.start. */
  readonly keyValidFrom: Date;
  /** protobuf-specs PublicKeyDetails of the log key. */
  readonly keyDetails: string;
  private readonly inFlight = new Map<string, Promise<Sct>>();
  private readonly validator: ChainValidator;
  private readonly byHash: Statement<[Buffer], EntryRow>;
  private readonly byIndex: Statement<[number], { extra: Buffer }>;
  private readonly submitted: Counter;
  private closed = false;
  private maxPending = DEFAULT_MAX_PENDING;

  private constructor(
    private readonly engine: LogEngine,
    private readonly signer: Signer,
    private readonly clock: Clock,
    roots: RootStore,
    keyValidFrom: Date,
    metrics: MetricsRegistry,
  ) {
    this.publicKey = signer.publicKey;
    this.logId = signer.publicKey.keyId;
    this.roots = roots;
    this.validator = new ChainValidator(roots);
    this.keyValidFrom = keyValidFrom;
    this.keyDetails = CT_KEY_DETAILS[signer.algorithm as keyof typeof CT_KEY_DETAILS];
    this.byHash = engine.db.prepare<[Buffer], EntryRow>('SELECT idx, sct_ts, sct_sig FROM ct_entries WHERE cert_hash = ?');
    this.byIndex = engine.db.prepare<[number], { extra: Buffer }>('SELECT extra FROM ct_entries WHERE idx = ?');
    this.submitted = metrics.counter('cairn_ct_submissions_total', 'CT submissions by route and outcome');
  }

  static async open(o: EngineCtLogOptions): Promise<EngineCtLog> {
    const signer = o.signer ?? new LocalSigner(loadOrCreatePrivateKey(join(o.dataDir, KEY_FILE), 'ecdsa-p256').key);
    if (!(signer.algorithm in CT_KEY_DETAILS)) throw new TypeError(`a CT log key must be one of ${Object.keys(CT_KEY_DETAILS).join(', ')}`);
    const roots = new RootStore(join(o.dataDir, 'roots'), o.clock, o.logger, o.rootsFile);
    const engine = await openLogEngine({
      dbPath: join(o.dataDir, DB_FILE),
      clock: o.clock,
      // RFC 6962 §3.5: the STH signature is a digitally-signed TreeHeadSignature.
      signTreeHead: async (head) => ({
        sth: (await signDigitallySigned(signer, treeHeadSignedData({ timestamp: head.timestampMs, treeSize: head.size, rootHash: head.rootHash }))).toString('base64'),
      }),
      extraMigrations: { namespace: 'ct', migrations: MIGRATIONS },
      batchWrites: entryRows,
      ...(o.batchMaxSize !== undefined ? { batchMaxSize: o.batchMaxSize } : {}),
      ...(o.batchMaxDelayMs !== undefined ? { batchMaxDelayMs: o.batchMaxDelayMs } : {}),
    });
    // The key's start of validity is persisted with the log, keyed by the log ID, on first use.
    const metaKey = `ct.key.${signer.publicKey.keyId.toString('hex')}.validFrom`;
    let validFrom = engine.getMeta(metaKey);
    if (validFrom === undefined) {
      validFrom = o.clock.now().toISOString();
      engine.setMeta(metaKey, validFrom);
    }
    const log = new EngineCtLog(engine, signer, o.clock, roots, new Date(validFrom), o.metrics);
    if (o.maxPending !== undefined) log.maxPending = o.maxPending;
    return log;
  }

  addPreChain(chainDer: Buffer[]): Promise<Sct> {
    return this.submit(chainDer, 'precert');
  }

  addChain(chainDer: Buffer[]): Promise<Sct> {
    return this.submit(chainDer, 'x509');
  }

  addRoot(rootDer: Buffer): void {
    this.roots.add(rootDer);
  }

  acceptedRoots(): AcceptedRoot[] {
    return this.roots.list();
  }

  private async submit(chainDer: Buffer[], kind: EntryKind): Promise<Sct> {
    const route = kind === 'precert' ? 'add-pre-chain' : 'add-chain';
    try {
      const sct = await this.submitInner(chainDer, kind);
      this.submitted.inc({ route, outcome: 'ok' });
      return sct;
    } catch (e) {
      this.submitted.inc({ route, outcome: isCairnError(e) ? e.code : 'INTERNAL' });
      throw e;
    }
  }

  private async submitInner(chainDer: Buffer[], kind: EntryKind): Promise<Sct> {
    if (this.closed) throw new CtError('STORE_CLOSED', 'the CT log is closing');
    if (!Array.isArray(chainDer) || chainDer.length === 0) throw new CtError('INVALID_REQUEST', 'the chain is empty');
    const chain = await this.validator.validate(chainDer, kind);
    // From here to inFlight.set nothing awaits: racing identical submissions share one leaf.
    const certHash = sha256(Buffer.concat([Buffer.from([kind === 'precert' ? 1 : 0]), chain.leaf.der]));
    const key = certHash.toString('hex');
    const existing = this.lookup(certHash);
    if (existing) return existing;
    // Two identical submissions racing share one leaf and one SCT.
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    if (this.inFlight.size >= this.maxPending) throw new CtError('LOG_BUSY', 'too many submissions are waiting; retry shortly');
    const p = this.integrate(chain.kind, chain.leaf.der, chain.leaf.tbs, chain.issuer, chain.certs, certHash).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private sctOf(timestamp: number, signature: Buffer): Sct {
    return { sctVersion: 0, logId: this.logId, timestamp, extensions: Buffer.alloc(0), signature };
  }

  private lookup(certHash: Buffer): Sct | undefined {
    const row = this.byHash.get(certHash);
    return row && this.sctOf(row.sct_ts, row.sct_sig);
  }

  private async integrate(kind: EntryKind, leafDer: Buffer, leafTbs: Buffer, issuerDer: Buffer, certs: Buffer[], certHash: Buffer): Promise<Sct> {
    const timestamp = this.clock.now().getTime();
    let entry: TimestampedEntry;
    let signedData: Buffer;
    if (kind === 'precert') {
      // RFC 6962 §3.2: the log signs the precert TBS without the poison, with the issuer's key hash.
      const tbs = removeExtensionFromTbs(leafTbs, OID_CT_POISON);
      const ikh = issuerKeyHash(issuerDer);
      entry = { entryType: 'precert', timestamp, issuerKeyHash: ikh, tbs };
      signedData = precertSignedData({ timestamp, issuerKeyHash: ikh, tbs });
    } else {
      entry = { entryType: 'x509', timestamp, certificate: leafDer };
      signedData = certificateSignedData({ timestamp, certificate: leafDer });
    }
    let signature: Buffer;
    try {
      signature = await signDigitallySigned(this.signer, signedData);
    } catch (e) {
      throw new CtError('SIGNING_FAILED', 'the CT key could not sign the SCT', { cause: e });
    }
    const meta: EntryMeta = { certHash, kind, timestamp, signature, extra: extraData(kind, certs) };
    const result = await this.engine.append(encodeMerkleTreeLeaf(entry), meta).catch((e: unknown) => {
      throw engineError(e);
    });
    if (result.duplicateOf !== undefined) {
      // The identical leaf (same certificate, same millisecond) is already logged: answer its SCT.
      const row = this.byHash.get(certHash);
      if (row) return this.sctOf(row.sct_ts, row.sct_sig);
    }
    return this.sctOf(timestamp, signature);
  }

  // ---- reads (RFC 6962 §4.3-§4.7) ----------------------------------------------------

  signedTreeHead(): SignedTreeHeadJson {
    const h = this.engine.checkpoint();
    const sig = h.signatures.sth;
    if (sig === undefined) throw new CtError('SIGNING_FAILED', 'the current tree head carries no STH signature');
    return { tree_size: h.size, timestamp: h.timestampMs, sha256_root_hash: h.rootHash.toString('base64'), tree_head_signature: sig };
  }

  get size(): number {
    return this.engine.size;
  }

  consistency(first: number, second: number): Buffer[] {
    const size = this.engine.size;
    if (first > second || second > size) throw new CtError('INVALID_PARAMETER', `need 0 <= first <= second <= ${size}`);
    return this.engine.consistencyProof(first, second);
  }

  proofByHash(leafHash: Buffer, treeSize: number): { leafIndex: number; auditPath: Buffer[] } {
    if (treeSize < 1 || treeSize > this.engine.size) throw new CtError('INVALID_PARAMETER', `tree_size must be between 1 and ${this.engine.size}`);
    const index = this.engine.indexOfLeafHash(leafHash);
    if (index === undefined || index >= treeSize) throw new CtError('ENTRY_NOT_FOUND', 'no leaf with this hash in a tree of that size');
    return { leafIndex: index, auditPath: this.engine.inclusionProof(index, treeSize) };
  }

  entries(start: number, end: number): LeafEntryJson[] {
    const size = this.engine.size;
    if (start > end) throw new CtError('INVALID_PARAMETER', 'start must not exceed end');
    if (start >= size) throw new CtError('INVALID_PARAMETER', `start must be below the tree size ${size}`);
    const last = Math.min(end, size - 1, start + MAX_GET_ENTRIES - 1);
    const out: LeafEntryJson[] = [];
    for (let i = start; i <= last; i++) {
      const leaf = this.engine.leaf(i);
      const row = this.byIndex.get(i);
      if (!leaf || !row) throw new CtError('STORE_CLOSED', `entry ${i} is not readable`);
      out.push({ leaf_input: leaf.data.toString('base64'), extra_data: row.extra.toString('base64') });
    }
    return out;
  }

  ready(): boolean {
    return !this.closed && this.engine.ready();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight.values()]);
    await this.engine.close();
  }
}

/** The engine's refusals in this log's vocabulary (its codes are the transparency log's). */
function engineError(e: unknown): unknown {
  if (e instanceof LogError) {
    if (e.code === 'ENTRY_TOO_LARGE') return new CtError('CHAIN_TOO_LARGE', 'the leaf is larger than the log accepts', { cause: e });
    if (e.code === 'STORE_CLOSED') return new CtError('STORE_CLOSED', 'the CT log is closing', { cause: e });
    if (e.code === 'SIGNING_FAILED') return new CtError('SIGNING_FAILED', 'the tree head could not be signed; nothing was stored', { cause: e });
  }
  return e;
}

/** Rows written by the engine's writer inside the batch transaction: the entry rows commit with their leaves or not at all. */
const INSERT_ENTRY = 'INSERT INTO ct_entries (idx, cert_hash, kind, sct_ts, sct_sig, extra) VALUES (?, ?, ?, ?, ?, ?)';
function entryRows(leaves: readonly AppendedLeaf[]): BatchStatement[] {
  return leaves.map((l) => {
    const m = l.meta as EntryMeta;
    return { sql: INSERT_ENTRY, params: [l.index, m.certHash, m.kind === 'precert' ? 1 : 0, m.timestamp, m.signature, m.extra] };
  });
}
