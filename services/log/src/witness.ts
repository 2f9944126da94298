/**
 * Witness cosignatures for the log's checkpoints (C2SP tlog-cosignature, Ed25519, type 0x04).
 * Monitors that verified a checkpoint (`cairn monitor --witness-key K --witness-name N`) post
 * their cosignature here; the log then serves `/checkpoint` with every cosignature collected for
 * that exact note text, so clients can require k witnesses.
 *
 * API (all of it):
 *   const store = SqliteCosignatureStore.open(join(dataDir, 'witness.db'));   // or ':memory:'
 *   const router = createWitnessRouter({
 *     store,
 *     witnesses: parseWitnessKeys(configValue),   // allow-list: [{name, publicKey}] (PEM or vkey)
 *     logKey,                                     // PublicKey the log signs checkpoints with
 *     clock,
 *   });
 *   // mount `router` (POST /api/cairn/v1/witness/cosignatures) and serve /checkpoint as
 *   //   note + store.lines(note).join('')        (lines end in "\n"; unknown notes get [])
 *   store.close();
 *
 * POST /api/cairn/v1/witness/cosignatures  body JSON:
 *   {"checkpoint": "<signed checkpoint note as served by /checkpoint>",
 *    "cosignature": "— <witness name> <base64(keyID[4] || timestamp[8] || ed25519 sig[64])>\n"}
 * 201 {"stored": true, "treeSize": n}. Errors ({code, message}): 400 INVALID_COSIGNATURE_REQUEST,
 * 400 UNVERIFIED_CHECKPOINT (not signed by this log's key), 403 UNKNOWN_WITNESS (name/key ID not
 * in the allow-list), 400 INVALID_COSIGNATURE (signature does not verify), 400
 * COSIGNATURE_IN_FUTURE (timestamp more than 5 minutes ahead), 413 BODY_TOO_LARGE.
 * Nothing is stored unless every check passed.
 */
import { createHash, createPublicKey } from 'node:crypto';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { CairnError, LocalVerifier, PublicKey, isRecord, type Clock } from '@cairn/shared';
import {
  cosignatureKeyId,
  noteKeyId,
  parseCheckpoint,
  parseSignedNote,
  verifyCosignature,
  type NoteSignature,
} from '@cairn/shared/checkpoint';
import { jsonBody } from '@cairn/shared/http';

export type WitnessErrorCode =
  | 'INVALID_COSIGNATURE_REQUEST'
  | 'UNVERIFIED_CHECKPOINT'
  | 'UNKNOWN_WITNESS'
  | 'INVALID_COSIGNATURE'
  | 'COSIGNATURE_IN_FUTURE'
  | 'INVALID_WITNESS_CONFIG';

export class WitnessError extends CairnError<WitnessErrorCode> {}

export const WITNESS_ROUTE = '/api/cairn/v1/witness/cosignatures';
/** A checkpoint note plus one cosignature line fit easily. */
export const MAX_COSIGNATURE_BODY_BYTES = 64 * 1024;
/** Cosignatures served with one checkpoint (signed-note verifiers must accept at least 16 lines). */
export const MAX_SERVED_COSIGNATURES = 15;
/** Checkpoints kept per witness; older cosignatures are pruned. */
export const KEPT_CHECKPOINTS_PER_WITNESS = 64;
/** tlog-cosignature: verifiers MAY reject timestamps in the future; allow this much clock skew. */
export const MAX_FUTURE_SKEW_SECONDS = 300;
const MAX_WITNESSES = 256;

export interface WitnessKey {
  name: string;
  publicKey: PublicKey;
}

/** Where cosignatures are kept. */
export interface CosignatureStore {
  put(noteText: string, treeSize: number, sig: NoteSignature, timestamp: number): void;
  /** Signature lines (each ending in "\n") collected for the note's exact text. */
  lines(note: string): string[];
  close(): void;
}

function noteTextOf(note: string): string {
  // A signed note's text ends at its last blank line (signed-note §Format); a bare text is itself.
  const split = note.lastIndexOf('\n\n');
  return split < 0 ? note : note.slice(0, split + 1);
}

function textHash(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class SqliteCosignatureStore implements CosignatureStore {
  private readonly insert: Statement;
  private readonly prune: Statement;
  private readonly select: Statement;

  private constructor(private readonly db: Db) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE IF NOT EXISTS witness_cosignatures (
      note_hash BLOB NOT NULL,
      witness TEXT NOT NULL,
      key_hint BLOB NOT NULL,
      tree_size INTEGER NOT NULL,
      timestamp INTEGER NOT NULL,
      line TEXT NOT NULL,
      PRIMARY KEY (note_hash, witness, key_hint)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS witness_cosignatures_by_witness ON witness_cosignatures (witness, tree_size);`);
    this.insert = db.prepare(`INSERT INTO witness_cosignatures (note_hash, witness, key_hint, tree_size, timestamp, line)
      VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (note_hash, witness, key_hint) DO UPDATE SET timestamp = excluded.timestamp, line = excluded.line
      WHERE excluded.timestamp > witness_cosignatures.timestamp`);
    this.prune = db.prepare(`DELETE FROM witness_cosignatures WHERE witness = ? AND tree_size < (
      SELECT min(tree_size) FROM (SELECT DISTINCT tree_size FROM witness_cosignatures WHERE witness = ? ORDER BY tree_size DESC LIMIT ?))`);
    this.select = db.prepare('SELECT line FROM witness_cosignatures WHERE note_hash = ? ORDER BY witness, key_hint LIMIT ?').pluck();
  }

  static open(path: string): SqliteCosignatureStore {
    return new SqliteCosignatureStore(new Database(path));
  }

  put(noteText: string, treeSize: number, sig: NoteSignature, timestamp: number): void {
    const line = `\u2014 ${sig.name} ${Buffer.concat([sig.keyHint, sig.signature]).toString('base64')}\n`;
    this.db.transaction(() => {
      this.insert.run(textHash(noteText), sig.name, sig.keyHint, treeSize, timestamp, line);
      this.prune.run(sig.name, sig.name, KEPT_CHECKPOINTS_PER_WITNESS);
    })();
  }

  lines(note: string): string[] {
    return this.select.all(textHash(noteTextOf(note)), MAX_SERVED_COSIGNATURES) as string[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** C2SP vkey: `<name>+<hex key ID>+<base64(0x04 || 32-byte Ed25519 key)>`. */
function fromVkey(s: string): WitnessKey {
  // Names and hex contain no '+', base64 may: split at the first two.
  const a = s.indexOf('+');
  const b = a < 0 ? -1 : s.indexOf('+', a + 1);
  if (a <= 0 || b < 0) throw new WitnessError('INVALID_WITNESS_CONFIG', 'a witness vkey is name+hexid+base64key');
  const name = s.slice(0, a);
  const hex = s.slice(a + 1, b);
  const b64 = s.slice(b + 1);
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 33 || raw[0] !== 0x04 || raw.toString('base64') !== b64) {
    throw new WitnessError('INVALID_WITNESS_CONFIG', 'witness vkey must carry type 0x04 and a 32-byte Ed25519 key');
  }
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw.subarray(1)]);
  const publicKey = PublicKey.fromSpki(spki);
  if (cosignatureKeyId(name, publicKey).subarray(0, 4).toString('hex') !== hex) {
    throw new WitnessError('INVALID_WITNESS_CONFIG', `witness vkey ${name}: key ID does not match the key`);
  }
  return { name, publicKey };
}

/** The witness allow-list from config: a list of vkey strings or `{name, publicKey: PEM}`. */
export function parseWitnessKeys(value: unknown): WitnessKey[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_WITNESSES) throw new WitnessError('INVALID_WITNESS_CONFIG', 'witnesses must be a list');
  return value.map((w, i): WitnessKey => {
    try {
      let k: WitnessKey;
      if (typeof w === 'string') k = fromVkey(w);
      else if (isRecord(w) && typeof w.name === 'string' && typeof w.publicKey === 'string') {
        k = { name: w.name, publicKey: new PublicKey(createPublicKey(w.publicKey)) };
      } else throw new WitnessError('INVALID_WITNESS_CONFIG', 'expected a vkey string or {name, publicKey}');
      // Computing the cosignature key ID validates the name and that the key is Ed25519.
      cosignatureKeyId(k.name, k.publicKey);
      return k;
    } catch (e) {
      throw new WitnessError('INVALID_WITNESS_CONFIG', `witnesses[${i}]: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

/** The vkey a witness operator hands to the log operator. */
export function witnessVkey(name: string, publicKey: PublicKey): string {
  const id = cosignatureKeyId(name, publicKey).subarray(0, 4).toString('hex');
  return `${name}+${id}+${Buffer.concat([Buffer.from([0x04]), publicKey.spki.subarray(12)]).toString('base64')}`;
}

export interface WitnessRouterOptions {
  store: CosignatureStore;
  witnesses: readonly WitnessKey[];
  /** The key the log signs its checkpoints with. */
  logKey: PublicKey;
  clock: Clock;
}

export function createWitnessRouter(o: WitnessRouterOptions): Router {
  const logVerifier = new LocalVerifier(o.logKey);
  const known = o.witnesses.map((w) => ({ ...w, hint: cosignatureKeyId(w.name, w.publicKey).subarray(0, 4), verifier: new LocalVerifier(w.publicKey) }));
  const router = Router();
  router.post(WITNESS_ROUTE, jsonBody(MAX_COSIGNATURE_BODY_BYTES), (req: Request, res: Response, next: NextFunction) => {
    try {
      const body: unknown = req.body;
      if (!isRecord(body) || typeof body.checkpoint !== 'string' || typeof body.cosignature !== 'string') {
        throw new WitnessError('INVALID_COSIGNATURE_REQUEST', 'body must be {checkpoint: string, cosignature: string}');
      }
      let note;
      let line: NoteSignature | undefined;
      try {
        note = parseSignedNote(body.checkpoint);
        const cosigned = parseSignedNote(`${note.text}\n${body.cosignature}`);
        if (cosigned.signatures.length !== 1) throw new Error('exactly one cosignature line');
        line = cosigned.signatures[0];
      } catch (e) {
        throw new WitnessError('INVALID_COSIGNATURE_REQUEST', 'checkpoint or cosignature line is malformed', { cause: e });
      }
      const text = Buffer.from(note.text, 'utf8');
      const signedByLog = note.signatures.some((s) => {
        try {
          return s.keyHint.equals(noteKeyId(s.name, o.logKey).subarray(0, 4)) && logVerifier.verify(text, s.signature);
        } catch {
          return false;
        }
      });
      if (!signedByLog) throw new WitnessError('UNVERIFIED_CHECKPOINT', 'the checkpoint is not signed by this log');
      let cp;
      try {
        cp = parseCheckpoint(note.text);
      } catch (e) {
        throw new WitnessError('UNVERIFIED_CHECKPOINT', 'the signed note is not a checkpoint', { cause: e });
      }
      const sig = line!;
      const witness = known.find((w) => w.name === sig.name && w.hint.equals(sig.keyHint));
      if (witness === undefined) throw new WitnessError('UNKNOWN_WITNESS', 'no configured witness has this name and key ID', { status: 403 });
      const { ok, timestamp } = verifyCosignature(note.text, sig, witness.name, witness.verifier);
      if (!ok) throw new WitnessError('INVALID_COSIGNATURE', 'the cosignature does not verify');
      if (timestamp > Math.floor(o.clock.now().getTime() / 1000) + MAX_FUTURE_SKEW_SECONDS) {
        throw new WitnessError('COSIGNATURE_IN_FUTURE', 'the cosignature timestamp is in the future');
      }
      o.store.put(note.text, cp.size, sig, timestamp);
      res.status(201).json({ stored: true, treeSize: cp.size });
    } catch (e) {
      next(e);
    }
  });
  return router;
}
