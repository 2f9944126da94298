/**
 * TUF 1.0 metadata as pure data: the four top-level roles, their strict parsers and the
 * signing / threshold checks. No I/O here (the ceremony, the server and the client do that).
 *
 * Parsed objects are the JSON objects themselves after every field was checked, so unrecognised
 * fields survive and the canonical bytes a signature covers are exactly what was received
 * (TUF spec §4.2: implementations keep unrecognised fields).
 */
import { canonicalizeOlpc, isRecord, parseJson } from '../index.ts';
import { TufError } from './errors.ts';
import { MAX_SIGNATURE_HEX, verifierFor, verifyHexSignature, type TufSigner } from './keys.ts';
import type { TufKeyJson } from './keys.ts';

export type RoleName = 'root' | 'targets' | 'snapshot' | 'timestamp';
export const TOP_LEVEL_ROLES: readonly RoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];

/** TUF §5.3.3 bound on root versions one chain may rotate through (tuf-js maxRootRotations). */
export const MAX_ROOT_ROTATIONS = 256;

/** Byte caps per role, the same as tuf-js `config.js` (TUF §5: clients bound every download). */
export const MAX_METADATA_BYTES: Readonly<Record<RoleName, number>> = {
  root: 512_000,
  timestamp: 16_384,
  snapshot: 2_000_000,
  targets: 5_000_000,
};

/** The specification version Cairn writes (the one tuf-js 5 implements). */
export const SPEC_VERSION = '1.0.31';
export const MAX_KEYS = 256;
export const MAX_SIGNATURES = 256;
export const MAX_TARGETS = 10_000;
export const MAX_META_ENTRIES = 10_000;
const MAX_NAME_CHARS = 1024;
const MAX_HASH_HEX = 128;

export interface Signature {
  keyid: string;
  sig: string;
  [k: string]: unknown;
}

export interface Envelope<T extends SignedCommon> {
  signed: T;
  signatures: Signature[];
}

export interface SignedCommon {
  _type: RoleName;
  spec_version: string;
  version: number;
  expires: string;
  [k: string]: unknown;
}

export interface RoleKeys {
  keyids: string[];
  threshold: number;
  [k: string]: unknown;
}

export interface RootSigned extends SignedCommon {
  _type: 'root';
  consistent_snapshot: boolean;
  keys: Record<string, TufKeyJson>;
  roles: Record<RoleName, RoleKeys>;
}

export interface MetaFile {
  version: number;
  length?: number;
  hashes?: Record<string, string>;
  [k: string]: unknown;
}

export interface TimestampSigned extends SignedCommon {
  _type: 'timestamp';
  meta: { 'snapshot.json': MetaFile };
}

export interface SnapshotSigned extends SignedCommon {
  _type: 'snapshot';
  meta: Record<string, MetaFile>;
}

export interface TargetFile {
  length: number;
  hashes: Record<string, string>;
  custom?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface TargetsSigned extends SignedCommon {
  _type: 'targets';
  targets: Record<string, TargetFile>;
}

function bad(message: string): never {
  throw new TufError('INVALID_METADATA', message);
}

function isSafeUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkString(v: unknown, what: string, max = MAX_NAME_CHARS): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) bad(`${what} must be a non-empty string`);
  return v;
}

/** TUF §4.2: "expires" is an ISO 8601 UTC timestamp, `YYYY-MM-DDTHH:MM:SSZ`. */
const EXPIRES_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export function parseExpires(v: unknown): Date {
  if (typeof v !== 'string' || !EXPIRES_RE.test(v)) bad('expires must be YYYY-MM-DDTHH:MM:SSZ');
  const d = new Date(v);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 19) + 'Z' !== v) bad('expires is not a real date');
  return d;
}

/** The `expires` string for a date (whole seconds, UTC). */
export function formatExpires(d: Date): string {
  return d.toISOString().slice(0, 19) + 'Z';
}

export function isExpired(signed: SignedCommon, now: Date): boolean {
  // tuf-js Signed.isExpired: expired when now >= expires.
  return now.getTime() >= new Date(signed.expires).getTime();
}

function checkCommon(s: Record<string, unknown>, type: RoleName): void {
  if (s._type !== type) throw new TufError('INVALID_METADATA', `expected _type ${type}, got ${String(s._type)}`);
  const spec = checkString(s.spec_version, 'spec_version', 32);
  const parts = spec.split('.');
  // TUF §5.3.x / tuf-js base.js: the major version must be 1.
  if (parts.length < 2 || parts.length > 3 || parts[0] !== '1' || !parts.every((p) => /^\d{1,6}$/.test(p))) {
    bad(`unsupported spec_version ${spec}`);
  }
  if (!isSafeUint(s.version) || s.version < 1) bad('version must be a positive integer');
  parseExpires(s.expires);
}

function checkHashes(v: unknown, what: string): Record<string, string> {
  if (!isRecord(v)) bad(`${what} hashes must be an object`);
  const entries = Object.entries(v);
  if (entries.length === 0 || entries.length > 8) bad(`${what} hashes must list 1..8 hashes`);
  for (const [alg, h] of entries) {
    checkString(alg, `${what} hash algorithm`, 32);
    if (typeof h !== 'string' || h.length === 0 || h.length > MAX_HASH_HEX || !/^[0-9a-f]+$/.test(h)) bad(`${what} hash must be lowercase hex`);
  }
  return v as Record<string, string>;
}

function checkMetaFile(v: unknown, what: string): MetaFile {
  if (!isRecord(v)) bad(`${what} must be an object`);
  if (!isSafeUint(v.version) || v.version < 1) bad(`${what} version must be a positive integer`);
  if (v.length !== undefined && !isSafeUint(v.length)) bad(`${what} length must be a non-negative integer`);
  if (v.hashes !== undefined) checkHashes(v.hashes, what);
  return v as MetaFile;
}

function checkKey(v: unknown, id: string): TufKeyJson {
  if (!isRecord(v)) bad(`key ${id} must be an object`);
  checkString(v.keytype, `key ${id} keytype`, 64);
  checkString(v.scheme, `key ${id} scheme`, 64);
  if (!isRecord(v.keyval)) bad(`key ${id} keyval must be an object`);
  checkString(v.keyval.public, `key ${id} public`, 8192);
  return v as TufKeyJson;
}

function checkRoot(s: Record<string, unknown>): RootSigned {
  checkCommon(s, 'root');
  if (typeof s.consistent_snapshot !== 'boolean') bad('consistent_snapshot must be a boolean');
  if (!isRecord(s.keys)) bad('keys must be an object');
  const keyIds = Object.keys(s.keys);
  if (keyIds.length > MAX_KEYS) bad(`more than ${MAX_KEYS} keys`);
  for (const id of keyIds) {
    checkString(id, 'key ID', 128);
    checkKey(s.keys[id], id);
  }
  if (!isRecord(s.roles)) bad('roles must be an object');
  for (const role of TOP_LEVEL_ROLES) {
    const r = s.roles[role];
    if (!isRecord(r)) bad(`roles.${role} is missing`);
    if (!Array.isArray(r.keyids) || r.keyids.length > MAX_KEYS) bad(`roles.${role}.keyids must be an array`);
    const seen = new Set<string>();
    for (const k of r.keyids) {
      if (typeof k !== 'string' || !(k in s.keys)) bad(`roles.${role} names an unknown key`);
      if (seen.has(k)) bad(`roles.${role} lists key ${k} twice`);
      seen.add(k);
    }
    if (!isSafeUint(r.threshold) || r.threshold < 1) bad(`roles.${role}.threshold must be a positive integer`);
  }
  for (const role of Object.keys(s.roles)) {
    if (!(TOP_LEVEL_ROLES as readonly string[]).includes(role)) bad(`unknown role ${role} in root`);
  }
  return s as RootSigned;
}

function checkTimestamp(s: Record<string, unknown>): TimestampSigned {
  checkCommon(s, 'timestamp');
  if (!isRecord(s.meta)) bad('meta must be an object');
  const names = Object.keys(s.meta);
  if (names.length !== 1 || names[0] !== 'snapshot.json') bad('timestamp meta must hold exactly snapshot.json');
  checkMetaFile(s.meta['snapshot.json'], 'meta snapshot.json');
  return s as TimestampSigned;
}

function checkSnapshot(s: Record<string, unknown>): SnapshotSigned {
  checkCommon(s, 'snapshot');
  if (!isRecord(s.meta)) bad('meta must be an object');
  const names = Object.keys(s.meta);
  if (names.length > MAX_META_ENTRIES) bad('too many meta entries');
  if (!('targets.json' in s.meta)) bad('snapshot meta must hold targets.json');
  for (const n of names) checkMetaFile(s.meta[n], `meta ${checkString(n, 'meta name')}`);
  return s as SnapshotSigned;
}

function checkTargets(s: Record<string, unknown>): TargetsSigned {
  checkCommon(s, 'targets');
  if (!isRecord(s.targets)) bad('targets must be an object');
  const names = Object.keys(s.targets);
  if (names.length > MAX_TARGETS) bad('too many targets');
  for (const n of names) {
    checkString(n, 'target name');
    const t = s.targets[n];
    if (!isRecord(t)) bad(`target ${n} must be an object`);
    if (!isSafeUint(t.length)) bad(`target ${n} length must be a non-negative integer`);
    checkHashes(t.hashes, `target ${n}`);
    if (t.custom !== undefined && !isRecord(t.custom)) bad(`target ${n} custom must be an object`);
  }
  if (s.delegations !== undefined && !isRecord(s.delegations)) bad('delegations must be an object');
  return s as TargetsSigned;
}

const CHECKERS = {
  root: checkRoot,
  targets: checkTargets,
  snapshot: checkSnapshot,
  timestamp: checkTimestamp,
} as const;

type SignedOf<R extends RoleName> = R extends 'root'
  ? RootSigned
  : R extends 'targets'
    ? TargetsSigned
    : R extends 'snapshot'
      ? SnapshotSigned
      : TimestampSigned;

/**
 * Parses one metadata file of the given role from its bytes: size cap first, then JSON, then
 * every field. Signatures are checked separately (`verifyRole`), against the trusted root.
 */
export function parseMetadata<R extends RoleName>(role: R, bytes: Uint8Array | string): Envelope<SignedOf<R>> {
  const length = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (length > MAX_METADATA_BYTES[role]) throw new TufError('METADATA_TOO_LARGE', `${role} metadata is larger than ${MAX_METADATA_BYTES[role]} bytes`);
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  let doc: unknown;
  try {
    doc = parseJson(text, `${role} metadata`);
  } catch {
    bad(`${role} metadata is not valid JSON`);
  }
  if (!isRecord(doc)) bad('metadata must be an object');
  for (const k of Object.keys(doc)) if (k !== 'signed' && k !== 'signatures') bad(`unexpected top-level field ${k}`);
  if (!isRecord(doc.signed)) bad('signed must be an object');
  if (!Array.isArray(doc.signatures) || doc.signatures.length > MAX_SIGNATURES) bad('signatures must be an array');
  const seen = new Set<string>();
  for (const sig of doc.signatures) {
    if (!isRecord(sig)) bad('signature must be an object');
    const id = checkString(sig.keyid, 'signature keyid', 128);
    if (typeof sig.sig !== 'string' || sig.sig.length > MAX_SIGNATURE_HEX) bad('signature sig must be a string');
    // TUF §4.2 / python-tuf: more than one signature per key ID is malformed metadata.
    if (seen.has(id)) bad(`two signatures for key ${id}`);
    seen.add(id);
  }
  const signed = (CHECKERS[role] as (s: Record<string, unknown>) => SignedOf<R>)(doc.signed);
  // Integer-only numbers: canonicalizing now rejects floats before anything trusts the file.
  try {
    canonicalizeOlpc(signed);
  } catch {
    bad(`${role} metadata holds a value canonical JSON cannot encode`);
  }
  return { signed, signatures: doc.signatures as Signature[] };
}

/** The bytes every signature covers: OLPC canonical JSON of `signed` (TUF §4.2). */
export function signedBytes(signed: SignedCommon): Buffer {
  return Buffer.from(canonicalizeOlpc(signed), 'utf8');
}

export interface ThresholdResult {
  threshold: number;
  /** Key IDs of the role whose signatures verified. */
  valid: string[];
  met: boolean;
}

/**
 * Counts the role's keys that signed `envelope` validly (TUF §5.3.4, §5.4.2 ...). Signatures by
 * keys outside the role are ignored; two key IDs carrying the same public key count once, so a
 * root cannot reach a threshold by listing one key twice.
 */
export function checkThreshold(root: RootSigned, role: RoleName, envelope: Envelope<SignedCommon>): ThresholdResult {
  const spec = root.roles[role];
  const data = signedBytes(envelope.signed);
  const valid: string[] = [];
  const material = new Set<string>();
  for (const sig of envelope.signatures) {
    if (!spec.keyids.includes(sig.keyid)) continue;
    const key = root.keys[sig.keyid];
    if (!key) continue;
    let ok = false;
    try {
      ok = verifyHexSignature(verifierFor(key), data, sig.sig);
    } catch {
      ok = false;
    }
    if (!ok) continue;
    const pub = `${key.keytype}\n${key.keyval.public}`;
    if (material.has(pub)) continue;
    material.add(pub);
    valid.push(sig.keyid);
  }
  return { threshold: spec.threshold, valid, met: valid.length >= spec.threshold };
}

/** Throws BELOW_THRESHOLD unless `root`'s `role` keys signed `envelope` to threshold. */
export function verifyRole(root: RootSigned, role: RoleName, envelope: Envelope<SignedCommon>): void {
  const r = checkThreshold(root, role, envelope);
  if (!r.met) {
    throw new TufError('BELOW_THRESHOLD', `${role} v${envelope.signed.version} has ${r.valid.length} valid signature(s), threshold ${r.threshold}`);
  }
}

/** Adds (or replaces) the signer's signature on the envelope. */
export async function signEnvelope<T extends SignedCommon>(envelope: Envelope<T>, signer: TufSigner): Promise<Envelope<T>> {
  const sig = (await signer.signer.sign(signedBytes(envelope.signed))).toString('hex');
  const others = envelope.signatures.filter((s) => s.keyid !== signer.keyid);
  return { signed: envelope.signed, signatures: [...others, { keyid: signer.keyid, sig }] };
}

/** Serialises an envelope the way it is published (indented, stable, UTF-8). */
export function serializeEnvelope(envelope: Envelope<SignedCommon>): Buffer {
  return Buffer.from(JSON.stringify({ signed: envelope.signed, signatures: envelope.signatures }, null, 2) + '\n', 'utf8');
}
