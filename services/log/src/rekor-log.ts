/**
 * The Rekor-compatible log on top of the engine: entry kinds, entry IDs, SETs, v1 and v2
 * checkpoints over the SAME tree, the search index, and the JSON shapes of Rekor v1 and the
 * protojson TransparencyLogEntry of Rekor v2.
 *
 * Names (sigstore-protocols §2.8, §3.3, §10 items 4-7):
 *   v1 checkpoint: origin `<host[:port]> - <treeID>`, key name `<host[:port]>` (contained in the
 *     trusted-root baseUrl, as sigstore-js matches it), hint = logID[0:4].
 *   v2 checkpoint (also the tiles `/checkpoint`): origin = key name = URL hostname without port
 *     (sigstore-go requires origin == Hostname(baseUrl)); hint = C2SP key ID[0:4].
 *   logID (v1) = SHA-256(DER SPKI), lowercase hex; v2 logId.keyId = C2SP note key ID (equal to
 *   the v1 log ID for ECDSA keys).
 */
import { randomBytes } from 'node:crypto';
import { canonicalizeJcs, toPem, type Clock, type Signer } from '@cairn/shared';
import { formatCheckpoint, formatSignedNote, noteKeyId, signNote } from '@cairn/shared/checkpoint';
import { leafHash } from '@cairn/shared/merkle';
import { openLogEngine, type AppendResult, type AppendedLeaf, type BatchStatement, type LogEngine, type SignedTreeHead, type TreeHead } from './engine.ts';
import { LogError } from './errors.ts';
import type { Migration } from './store/sqlite-log-store.ts';
import { PreparePool } from './prepare-pool.ts';
import { ownBytes } from './store/batch-writer.ts';
import { prepareProposedEntry, type PreparedEntry } from './types/index.ts';
import { MAX_ATTESTATION_BYTES, sha256Hex } from './types/common.ts';

/** POST /api/v1/log/entries/retrieve: items per list (Rekor's limit). */
export const MAX_RETRIEVE_ITEMS = 10;
/** POST /api/v1/index/retrieve: results returned at most. */
export const MAX_SEARCH_RESULTS = 1000;
/** Longest search value accepted (emails, SANs, hashes). */
export const MAX_SEARCH_VALUE = 1024;

export const REKOR_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `CREATE TABLE search_index (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) WITHOUT ROWID;`,
    pgSql: `CREATE TABLE search_index (key text NOT NULL, idx bigint NOT NULL, PRIMARY KEY (key, idx));`,
  },
  {
    // Search keys became the engine's secondary keys (leaf_keys, filled in bulk steps).
    version: 2,
    sql: `INSERT OR IGNORE INTO leaf_keys (key, idx) SELECT key, idx FROM search_index; DROP TABLE search_index;`,
    pgSql: `INSERT INTO leaf_keys (key, idx) SELECT key, idx FROM search_index ON CONFLICT DO NOTHING; DROP TABLE search_index;`,
  },
  {
    // The in-toto statements (DSSE payloads) of attestation entries, by leaf index: written in the
    // batch transaction of their leaf, returned on v1 reads as `attestation.data`. Entries logged
    // before this step have none.
    version: 3,
    sql: `CREATE TABLE attestations (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);`,
    pgSql: `CREATE TABLE attestations (idx bigint PRIMARY KEY, data bytea NOT NULL);`,
  },
];

/** The tables of REKOR_MIGRATIONS that hold data (copied by `cairn store migrate`). */
export const REKOR_TABLES: readonly string[] = ['attestations'];

const INSERT_ATTESTATION = 'INSERT INTO attestations (idx, data) VALUES (?, ?)';
const SELECT_ATTESTATION = 'SELECT data FROM attestations WHERE idx = ?';

/**
 * The attestation rows of a batch: one per new leaf whose prepared entry kept its payload. The
 * meta of a leaf handed in by another PostgreSQL replica went through the append queue (v8
 * serialization), so any Uint8Array is taken; the size is checked again all the same.
 */
function attestationRows(leaves: readonly AppendedLeaf[]): BatchStatement[] {
  const rows: BatchStatement[] = [];
  for (const l of leaves) {
    const a = (l.meta as Partial<PreparedEntry> | undefined)?.attestation as unknown;
    if (a instanceof Uint8Array && a.length <= MAX_ATTESTATION_BYTES) rows.push({ sql: INSERT_ATTESTATION, params: [l.index, ownBytes(a)] });
  }
  return rows;
}

export interface LogEntryV1 {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    inclusionProof: { checkpoint: string; hashes: string[]; logIndex: number; rootHash: string; treeSize: number };
    signedEntryTimestamp: string;
  };
  /**
   * Rekor v1's `attestation`: base64 of the stored in-toto statement (the DSSE payload) of an
   * intoto / dsse entry, absent when none is stored (another payloadType, a payload over
   * MAX_ATTESTATION_BYTES, a hashedrekord, an entry logged before attestations were kept). Not
   * covered by the SET: a reader checks its SHA-256 against the body's payloadHash.
   */
  attestation?: { data: string };
}

export interface TransparencyLogEntryV2 {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  inclusionProof: { logIndex: string; rootHash: string; treeSize: string; hashes: string[]; checkpoint: { envelope: string } };
  canonicalizedBody: string;
}

export interface RekorLogOptions {
  dbPath: string;
  /** postgres://…: the PostgreSQL store (replicas on one database); default the SQLite file at dbPath. */
  storeUrl?: string;
  leaseMs?: number;
  signer: Signer;
  baseUrl: string;
  treeId: string;
  clock: Clock;
  batchMaxSize?: number;
  batchMaxDelayMs?: number;
  /** v1 writes need SETs a client can check with the key; disabled for Ed25519 logs. */
  v1Writes: boolean;
  onBatch?: (size: number) => void;
  /** Where entries are prepared (validated, canonicalized, signatures checked); default inline. */
  preparePool?: PreparePool;
}

/**
 * Replicas on one database must be one log: the first one records its identity (tree ID, key ID)
 * in the store; a replica with another identity (another data dir's key or state.json) is refused.
 */
export function claimIdentity(engine: LogEngine, kind: string, identity: string): void {
  const key = `${kind}.identity`;
  const stored = engine.getMeta(key);
  if (stored === undefined) engine.setMeta(key, identity);
  else if (stored !== identity) {
    throw new LogError('STORE_CORRUPT', `the database holds another ${kind} log (${stored}); replicas must share the log key and state of one data dir`);
  }
}

/** A random positive 63-bit tree ID in decimal (Trillian style). */
export function newTreeId(): string {
  const v = randomBytes(8).readBigUInt64BE() & 0x7fffffffffffffffn;
  return (v === 0n ? 1n : v).toString();
}

export class RekorLog {
  readonly engine: LogEngine;
  readonly treeId: string;
  readonly treeIdHex: string;
  /** Lowercase hex SHA-256 of the DER SPKI (Rekor v1 logID). */
  readonly logIdHex: string;
  /** C2SP checkpoint key ID for the v2 name (Rekor v2 logId.keyId). */
  readonly v2KeyId: Buffer;
  readonly v1Name: string;
  readonly v2Name: string;
  readonly v1Writes: boolean;
  private readonly signer: Signer;
  private readonly pool: PreparePool;

  private constructor(engine: LogEngine, o: RekorLogOptions, names: { v1Name: string; v2Name: string }) {
    this.engine = engine;
    this.signer = o.signer;
    this.treeId = o.treeId;
    this.treeIdHex = BigInt(o.treeId).toString(16).padStart(16, '0');
    this.logIdHex = o.signer.publicKey.keyId.toString('hex');
    this.v1Name = names.v1Name;
    this.v2Name = names.v2Name;
    this.v2KeyId = noteKeyId(names.v2Name, o.signer.publicKey);
    this.v1Writes = o.v1Writes;
    this.pool = o.preparePool ?? new PreparePool({ workers: 0 });
  }

  static async open(o: RekorLogOptions): Promise<RekorLog> {
    const url = new URL(o.baseUrl);
    const v1Name = url.host;
    const v2Name = url.hostname;
    const v1Hint = noteKeyId(v1Name, o.signer.publicKey);
    const v2Hint = noteKeyId(v2Name, o.signer.publicKey);
    const signTreeHead = async (h: TreeHead): Promise<Record<string, string>> => {
      const note = async (origin: string, name: string, hint: Buffer): Promise<string> => {
        const text = formatCheckpoint({ origin, size: h.size, rootHash: h.rootHash, extensions: [] });
        return formatSignedNote({ text, signatures: [await signNote(text, name, o.signer, hint)] });
      };
      return { v1: await note(`${v1Name} - ${o.treeId}`, v1Name, v1Hint), v2: await note(v2Name, v2Name, v2Hint) };
    };
    const engine = await openLogEngine({
      dbPath: o.dbPath,
      ...(o.storeUrl !== undefined ? { storeUrl: o.storeUrl, leaseMs: o.leaseMs ?? 3_000 } : {}),
      clock: o.clock,
      signTreeHead,
      ...(o.batchMaxSize !== undefined ? { batchMaxSize: o.batchMaxSize } : {}),
      ...(o.batchMaxDelayMs !== undefined ? { batchMaxDelayMs: o.batchMaxDelayMs } : {}),
      extraMigrations: { namespace: 'rekor', migrations: REKOR_MIGRATIONS },
      leafKeys: (_data, meta) => (meta as PreparedEntry).indexKeys,
      // The attestations commit in the batch transaction of their leaves (or not at all).
      batchWrites: (leaves) => {
        o.onBatch?.(leaves.length);
        return attestationRows(leaves);
      },
    });
    if (o.storeUrl !== undefined) {
      try {
        claimIdentity(engine, 'rekor', `${o.treeId}/${o.signer.publicKey.keyId.toString('hex')}`);
      } catch (e) {
        await engine.close();
        throw e;
      }
    }
    return new RekorLog(engine, o, { v1Name, v2Name });
  }

  entryId(leafHash: Buffer): string {
    return this.treeIdHex + leafHash.toString('hex');
  }

  /** Appends a prepared entry; DUPLICATE_ENTRY (with the existing entry ID) if already logged. */
  private async append(prepared: PreparedEntry): Promise<AppendResult> {
    const r = await this.engine.append(prepared.body, prepared);
    if (r.duplicateOf !== undefined) {
      throw new LogError('DUPLICATE_ENTRY', `an equivalent entry already exists in the log with UUID ${this.entryId(r.leafHash)}`, {
        details: { entryId: this.entryId(r.leafHash), logIndex: r.duplicateOf },
      });
    }
    return r;
  }

  async addV1(input: unknown): Promise<{ entryId: string; entry: LogEntryV1 }> {
    if (!this.v1Writes) throw new LogError('V1_DISABLED', 'this log signs with Ed25519 and accepts Rekor v2 writes only');
    const prepared = await this.pool.prepare('v1', input);
    const r = await this.append(prepared);
    return { entryId: this.entryId(r.leafHash), entry: await this.renderV1(r.index, prepared.body, r.integratedTime, r.treeHead) };
  }

  async addV2(input: unknown): Promise<TransparencyLogEntryV2> {
    const prepared = await this.pool.prepare('v2', input);
    const r = await this.append(prepared);
    const head = r.treeHead;
    return {
      logIndex: String(r.index),
      logId: { keyId: this.v2KeyId.toString('base64') },
      kindVersion: { kind: prepared.kind, version: prepared.apiVersion },
      inclusionProof: {
        logIndex: String(r.index),
        rootHash: head.rootHash.toString('base64'),
        treeSize: String(head.size),
        hashes: this.engine.inclusionProof(r.index, head.size).map((h) => h.toString('base64')),
        checkpoint: { envelope: head.signatures.v2! },
      },
      canonicalizedBody: prepared.body.toString('base64'),
    };
  }

  /** The SET: log signature over JCS {body, integratedTime, logID, logIndex} (§2.6). */
  private async signEntry(body: string, integratedTime: number, logIndex: number): Promise<string> {
    const payload = canonicalizeJcs({ body, integratedTime, logID: this.logIdHex, logIndex });
    return (await this.signer.sign(Buffer.from(payload))).toString('base64');
  }

  private async renderV1(index: number, data: Buffer, integratedTime: number, head: SignedTreeHead): Promise<LogEntryV1> {
    const body = data.toString('base64');
    return {
      body,
      integratedTime,
      logID: this.logIdHex,
      logIndex: index,
      verification: {
        inclusionProof: {
          checkpoint: head.signatures.v1!,
          hashes: this.engine.inclusionProof(index, head.size).map((h) => h.toString('hex')),
          logIndex: index,
          rootHash: head.rootHash.toString('hex'),
          treeSize: head.size,
        },
        signedEntryTimestamp: await this.signEntry(body, integratedTime, index),
      },
    };
  }

  /** The entry at `index` with a proof against the current tree head, or undefined. */
  async entryByIndex(index: number): Promise<{ entryId: string; entry: LogEntryV1 } | undefined> {
    const head = this.engine.checkpoint();
    if (index >= head.size) return undefined;
    const leaf = this.engine.leaf(index);
    if (!leaf) return undefined;
    const entry = await this.renderV1(index, leaf.data, Math.floor(leaf.timestampMs / 1000), head);
    const attestation = this.attestation(index);
    if (attestation) entry.attestation = { data: attestation.toString('base64') };
    return { entryId: this.entryId(leaf.leafHash), entry };
  }

  /** The stored in-toto statement of the entry at `index` (committed with its leaf), or undefined. */
  attestation(index: number): Buffer | undefined {
    const row = this.engine.query<{ data: Uint8Array }>(SELECT_ATTESTATION, [index])[0];
    return row ? Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength) : undefined;
  }

  /** By 64-hex UUID or 80-hex entry ID (whose tree ID must be ours). */
  async entryByUuid(id: string): Promise<{ entryId: string; entry: LogEntryV1 } | undefined> {
    const lower = id.toLowerCase();
    if (!/^([0-9a-f]{16})?[0-9a-f]{64}$/.test(lower)) throw new LogError('INVALID_ENTRY_ID', 'an entry ID is 64 hex digits (UUID) or 80 (tree ID + UUID)');
    if (lower.length === 80 && lower.slice(0, 16) !== this.treeIdHex) return undefined;
    const index = this.engine.indexOfLeafHash(Buffer.from(lower.slice(-64), 'hex'));
    return index === undefined ? undefined : this.entryByIndex(index);
  }

  /** Looks a proposed entry up by its canonical body (POST /api/v1/log/entries/retrieve `entries`). */
  async entryByProposed(input: unknown): Promise<{ entryId: string; entry: LogEntryV1 } | undefined> {
    const prepared = prepareProposedEntry(input);
    const index = this.engine.indexOfLeafHash(leafHash(prepared.body));
    return index === undefined ? undefined : this.entryByIndex(index);
  }

  /** Entry IDs matching every (`and`) or any (`or`) of the keys. */
  search(keys: string[], operator: 'and' | 'or'): string[] {
    let result: Set<number> | undefined;
    for (const k of keys) {
      const found = new Set(this.engine.leavesWithKey(k, MAX_SEARCH_RESULTS));
      if (result === undefined) result = found;
      else if (operator === 'and') result = new Set([...result].filter((i) => found.has(i)));
      else for (const i of found) result.add(i);
    }
    const size = this.engine.size;
    const indexes = [...(result ?? [])]
      .filter((i) => i < size)
      .sort((a, b) => a - b)
      .slice(0, MAX_SEARCH_RESULTS);
    return this.engine.leafHashesAt(indexes).flatMap((h) => (h ? [this.entryId(h)] : []));
  }

  logInfo(): { rootHash: string; treeSize: number; signedTreeHead: string; treeID: string } {
    const head = this.engine.checkpoint();
    return { rootHash: head.rootHash.toString('hex'), treeSize: head.size, signedTreeHead: head.signatures.v1!, treeID: this.treeId };
  }

  publicKeyPem(): string {
    return toPem('PUBLIC KEY', this.signer.publicKey.spki);
  }

  async close(): Promise<void> {
    // The engine first: queued appends are written; requests still being prepared then get
    // STORE_CLOSED (503) from the closed engine, not an error from a stopped worker.
    await this.engine.close();
    await this.pool.close();
  }
}

export { sha256Hex };
