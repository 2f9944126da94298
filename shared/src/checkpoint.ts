/**
 * C2SP signed-note, tlog-checkpoint and tlog-cosignature.
 *
 * A signed note is a text ending in a newline, a blank line, and one or more signature lines
 * `— <name> base64(keyHint[4] || signature)`. Signatures cover the text including its final
 * newline. A checkpoint is a note text of origin, decimal tree size, base64 root hash and optional
 * extension lines. Witness cosignatures (type 0x04, Ed25519) sign
 * `cosignature/v1\ntime <t>\n` followed by the checkpoint text.
 */
import { createHash } from 'node:crypto';
import type { PublicKey, Signer, Verifier } from './crypto.ts';
import { CairnError } from './errors.ts';
import { isBase64 } from './encoding.ts';
import { HASH_SIZE } from './merkle.ts';

export type CheckpointErrorCode =
  | 'MALFORMED_NOTE'
  | 'NOTE_TOO_LARGE'
  | 'INVALID_CHECKPOINT'
  | 'INVALID_KEY_NAME'
  | 'UNSUPPORTED_KEY'
  | 'UNVERIFIED_NOTE';

export class CheckpointError extends CairnError<CheckpointErrorCode> {
  constructor(code: CheckpointErrorCode, message: string) {
    super(code, message, { status: 400 });
  }
}

/** Whole signed note, in UTF-8 bytes. Room for 16+ post-quantum signatures (signed-note: "at least 16"). */
export const MAX_NOTE_BYTES = 256 * 1024;
/** Signature lines accepted in one note. */
export const MAX_NOTE_SIGNATURES = 100;
/** Extension lines accepted in one checkpoint. */
export const MAX_CHECKPOINT_EXTENSIONS = 64;
/** Key names and origins longer than this are rejected. */
export const MAX_KEY_NAME_LENGTH = 512;

/** Bytes of a timestamped Ed25519 cosignature: u64 timestamp + 64-byte signature. */
const COSIGNATURE_BYTES = 8 + 64;
/** signed-note signature type bytes. */
const SIG_TYPE_ED25519 = 0x01;
const SIG_TYPE_COSIGNATURE_V1 = 0x04;
const SIG_TYPE_UNASSIGNED = 0xff;
const RSA_SIG_TYPE_ID = 'PKIX-RSA-PKCS#1v1.5';
/** DER SPKI of an Ed25519 key is a fixed 12-byte prefix and the 32-byte key. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const EM_DASH = '\u2014';
const DECIMAL_RE = /^(0|[1-9][0-9]*)$/;
/** Unicode white space (key names MUST NOT contain any). */
const SPACE_RE = /\s/u;

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  extensions: string[];
}

export interface NoteSignature {
  name: string;
  /** The 4-byte key ID. */
  keyHint: Buffer;
  signature: Buffer;
}

export interface SignedNote {
  /** The note text, including its final newline. */
  text: string;
  signatures: NoteSignature[];
}

function isWellFormedUtf16(s: string): boolean {
  // Lone surrogates cannot be encoded as UTF-8; the round trip replaces them with U+FFFD.
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

/** signed-note: valid UTF-8, no ASCII control characters other than newline. */
function checkNoteChars(s: string, what: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) throw new CheckpointError('MALFORMED_NOTE', `${what} contains a control character`);
  }
  if (!isWellFormedUtf16(s)) throw new CheckpointError('MALFORMED_NOTE', `${what} is not valid UTF-8`);
}

function checkText(text: string): void {
  if (typeof text !== 'string' || text.length === 0 || !text.endsWith('\n')) {
    throw new CheckpointError('MALFORMED_NOTE', 'note text must be non-empty and end with a newline');
  }
  if (Buffer.byteLength(text, 'utf8') > MAX_NOTE_BYTES) throw new CheckpointError('NOTE_TOO_LARGE', 'note text is too large');
  checkNoteChars(text, 'note text');
}

/** signed-note: key names are non-empty, without Unicode spaces or `+`. */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= MAX_KEY_NAME_LENGTH &&
    !SPACE_RE.test(name) &&
    !name.includes('+') &&
    ![...name].some((ch) => ch.charCodeAt(0) < 0x20) &&
    isWellFormedUtf16(name)
  );
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) throw new CheckpointError('INVALID_KEY_NAME', 'key name must be non-empty without spaces or "+"');
}

function strictBase64(s: string): Buffer | undefined {
  if (s.length === 0 || s.length % 4 !== 0 || !isBase64(s)) return undefined;
  return Buffer.from(s, 'base64');
}

/** tlog-checkpoint body: `origin\nsize\nbase64(root)\n` followed by extension lines. */
export function formatCheckpoint(cp: Checkpoint): string {
  if (typeof cp.origin !== 'string' || cp.origin.length === 0 || cp.origin.length > MAX_KEY_NAME_LENGTH || cp.origin.includes('\n')) {
    throw new CheckpointError('INVALID_CHECKPOINT', 'origin must be one non-empty line');
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new CheckpointError('INVALID_CHECKPOINT', 'size must be a non-negative integer');
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== HASH_SIZE) {
    throw new CheckpointError('INVALID_CHECKPOINT', 'root hash must be 32 bytes');
  }
  if (cp.extensions.length > MAX_CHECKPOINT_EXTENSIONS) throw new CheckpointError('INVALID_CHECKPOINT', 'too many extension lines');
  for (const e of cp.extensions) {
    if (typeof e !== 'string' || e.length === 0 || e.includes('\n')) throw new CheckpointError('INVALID_CHECKPOINT', 'extension lines must be non-empty single lines');
  }
  const text = [cp.origin, String(cp.size), Buffer.from(cp.rootHash).toString('base64'), ...cp.extensions].join('\n') + '\n';
  checkNoteChars(text, 'checkpoint');
  return text;
}

/**
 * Parses a checkpoint note text (tlog-checkpoint §Note text). Strict: final newline, at least
 * three lines, decimal size without leading zeros, standard base64 of exactly 32 bytes, non-empty
 * extension lines. Pass the `text` of a parsed signed note, never an unverified envelope.
 */
export function parseCheckpoint(noteText: string): Checkpoint {
  checkText(noteText);
  const lines = noteText.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointError('INVALID_CHECKPOINT', 'checkpoint needs origin, size and root hash lines');
  if (lines.length > 3 + MAX_CHECKPOINT_EXTENSIONS) throw new CheckpointError('INVALID_CHECKPOINT', 'too many extension lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0 || origin.length > MAX_KEY_NAME_LENGTH) throw new CheckpointError('INVALID_CHECKPOINT', 'origin line is empty or too long');
  if (!DECIMAL_RE.test(sizeLine) || sizeLine.length > 16) throw new CheckpointError('INVALID_CHECKPOINT', 'size line is not a decimal number');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new CheckpointError('INVALID_CHECKPOINT', 'tree size is out of range');
  const rootHash = strictBase64(rootLine);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) throw new CheckpointError('INVALID_CHECKPOINT', 'root hash line is not base64 of 32 bytes');
  if (extensions.some((e) => e.length === 0)) throw new CheckpointError('INVALID_CHECKPOINT', 'empty extension line');
  return { origin, size, rootHash, extensions };
}

/**
 * Splits a signed note at its last blank line (signed-note §Format) and decodes every signature
 * line. Signatures from unknown keys are kept (callers ignore what they do not know); a line that
 * is not a well-formed signature line makes the whole note malformed.
 */
export function parseSignedNote(envelope: string): SignedNote {
  if (typeof envelope !== 'string') throw new CheckpointError('MALFORMED_NOTE', 'note must be a string');
  if (envelope.length > MAX_NOTE_BYTES || Buffer.byteLength(envelope, 'utf8') > MAX_NOTE_BYTES) {
    throw new CheckpointError('NOTE_TOO_LARGE', 'signed note is too large');
  }
  checkNoteChars(envelope, 'signed note');
  const split = envelope.lastIndexOf('\n\n');
  if (split < 0) throw new CheckpointError('MALFORMED_NOTE', 'signed note has no blank line before its signatures');
  const text = envelope.slice(0, split + 1);
  const block = envelope.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw new CheckpointError('MALFORMED_NOTE', 'signed note has no signature lines');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw new CheckpointError('NOTE_TOO_LARGE', 'too many signature lines');
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(`${EM_DASH} `)) throw new CheckpointError('MALFORMED_NOTE', 'signature line must start with an em dash');
    const parts = line.slice(2).split(' ');
    if (parts.length !== 2) throw new CheckpointError('MALFORMED_NOTE', 'signature line must be "— name signature"');
    const [name, b64] = parts as [string, string];
    if (!isValidKeyName(name)) throw new CheckpointError('MALFORMED_NOTE', 'invalid key name in signature line');
    const raw = strictBase64(b64);
    if (raw === undefined || raw.length < 5) throw new CheckpointError('MALFORMED_NOTE', 'signature is not base64 of a key ID and a signature');
    signatures.push({ name, keyHint: raw.subarray(0, 4), signature: raw.subarray(4) });
  }
  checkText(text);
  return { text, signatures };
}

/** The note text, a blank line and one line per signature, each ending in a newline. */
export function formatSignedNote(note: SignedNote): string {
  checkText(note.text);
  if (note.signatures.length === 0 || note.signatures.length > MAX_NOTE_SIGNATURES) {
    throw new CheckpointError('MALFORMED_NOTE', 'a signed note needs 1..100 signatures');
  }
  let out = `${note.text}\n`;
  for (const s of note.signatures) {
    checkName(s.name);
    if (s.keyHint.length !== 4) throw new CheckpointError('MALFORMED_NOTE', 'key hint must be 4 bytes');
    if (s.signature.length === 0) throw new CheckpointError('MALFORMED_NOTE', 'empty signature');
    out += `${EM_DASH} ${s.name} ${Buffer.concat([s.keyHint, s.signature]).toString('base64')}\n`;
  }
  return out;
}

function ed25519Raw(key: PublicKey): Buffer {
  const spki = key.spki;
  if (spki.length !== 44 || !spki.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) {
    throw new CheckpointError('UNSUPPORTED_KEY', 'not an Ed25519 public key');
  }
  return spki.subarray(12);
}

/**
 * The 32-byte key ID whose first 4 bytes are the note key hint (rekor-tiles pkg/note KeyHash;
 * C2SP signed-note §Signatures): ECDSA -> SHA-256(DER SPKI) (also the Rekor v1 log ID);
 * Ed25519 -> SHA-256(name || 0x0A || 0x01 || key); RSA -> SHA-256(name || 0x0A || 0xFF ||
 * "PKIX-RSA-PKCS#1v1.5" || DER SPKI).
 */
export function noteKeyId(name: string, key: PublicKey): Buffer {
  checkName(name);
  const type = key.keyObject.asymmetricKeyType;
  if (type === 'ec') return createHash('sha256').update(key.spki).digest();
  if (type === 'ed25519') {
    return createHash('sha256').update(name).update(Buffer.from([0x0a, SIG_TYPE_ED25519])).update(ed25519Raw(key)).digest();
  }
  if (type === 'rsa') {
    return createHash('sha256')
      .update(name)
      .update(Buffer.from([0x0a, SIG_TYPE_UNASSIGNED]))
      .update(RSA_SIG_TYPE_ID)
      .update(key.spki)
      .digest();
  }
  throw new CheckpointError('UNSUPPORTED_KEY', `no note key ID for ${type ?? 'unknown'} keys`);
}

/** tlog-cosignature: SHA-256(name || 0x0A || 0x04 || Ed25519 key); the hint is its first 4 bytes. */
export function cosignatureKeyId(name: string, key: PublicKey): Buffer {
  checkName(name);
  return createHash('sha256').update(name).update(Buffer.from([0x0a, SIG_TYPE_COSIGNATURE_V1])).update(ed25519Raw(key)).digest();
}

function hintOf(given: Buffer | undefined, computed: () => Buffer): Buffer {
  const h = given ?? computed();
  if (h.length !== 4 && h.length !== 32) throw new CheckpointError('MALFORMED_NOTE', 'key hint must be 4 bytes (or a 32-byte key ID)');
  return h.subarray(0, 4);
}

/** Signs the note text (including its final newline) with `signer`. */
export async function signNote(text: string, name: string, signer: Signer, keyHint?: Buffer): Promise<NoteSignature> {
  checkText(text);
  checkName(name);
  const hint = hintOf(keyHint, () => noteKeyId(name, signer.publicKey));
  const signature = await signer.sign(Buffer.from(text, 'utf8'));
  return { name, keyHint: Buffer.from(hint), signature };
}

/** True iff some signature line with this key name and key hint verifies over the note text. */
export function verifyNoteSignature(note: SignedNote, name: string, verifier: Verifier, keyHint?: Buffer): boolean {
  const hint = hintOf(keyHint, () => noteKeyId(name, verifier.publicKey));
  const data = Buffer.from(note.text, 'utf8');
  for (const s of note.signatures) {
    if (s.name === name && s.keyHint.equals(hint) && verifier.verify(data, s.signature)) return true;
  }
  return false;
}

/**
 * Parses a signed checkpoint and requires a verifying signature by the log key before returning
 * the checkpoint: the only safe way to read one from the network.
 */
export function openCheckpoint(envelope: string, name: string, verifier: Verifier, keyHint?: Buffer): { checkpoint: Checkpoint; note: SignedNote } {
  const note = parseSignedNote(envelope);
  if (!verifyNoteSignature(note, name, verifier, keyHint)) {
    throw new CheckpointError('UNVERIFIED_NOTE', 'no signature by the log key verifies the checkpoint');
  }
  return { checkpoint: parseCheckpoint(note.text), note };
}

function cosignedMessage(noteText: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${noteText}`, 'utf8');
}

function requireEd25519(key: PublicKey): void {
  if (key.keyObject.asymmetricKeyType !== 'ed25519') throw new CheckpointError('UNSUPPORTED_KEY', 'cosignatures use Ed25519 keys');
}

/** A tlog-cosignature/v1 line for the checkpoint text at `timestampSeconds` (POSIX seconds). */
export async function cosignCheckpoint(noteText: string, name: string, signer: Signer, timestampSeconds: number): Promise<NoteSignature> {
  parseCheckpoint(noteText);
  checkName(name);
  requireEd25519(signer.publicKey);
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new CheckpointError('INVALID_CHECKPOINT', 'cosignature timestamp must be non-negative whole seconds');
  }
  const sig = await signer.sign(cosignedMessage(noteText, timestampSeconds));
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(timestampSeconds), 0);
  return { name, keyHint: cosignatureKeyId(name, signer.publicKey).subarray(0, 4), signature: Buffer.concat([ts, sig]) };
}

/**
 * Checks one cosignature line against a witness key. `timestamp` is the signed time when the line
 * is well-formed (0 otherwise); `ok` only when name, key ID and signature all match.
 */
export function verifyCosignature(noteText: string, sig: NoteSignature, name: string, verifier: Verifier): { ok: boolean; timestamp: number } {
  requireEd25519(verifier.publicKey);
  if (sig.signature.length !== COSIGNATURE_BYTES) return { ok: false, timestamp: 0 };
  const big = sig.signature.readBigUInt64BE(0);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, timestamp: 0 };
  const timestamp = Number(big);
  if (sig.name !== name || !sig.keyHint.equals(cosignatureKeyId(name, verifier.publicKey).subarray(0, 4))) return { ok: false, timestamp };
  const ok = verifier.verify(cosignedMessage(noteText, timestamp), sig.signature.subarray(8));
  return { ok, timestamp };
}
