import { SharedError } from './errors.ts';

const MAX_DEPTH = 64;

/**
 * RFC 8785 JSON Canonicalization Scheme. Keys sorted by UTF-16 code units, no whitespace,
 * ES6 number serialisation (what JSON.stringify does), ES6 string escaping.
 */
export function canonicalizeJcs(value: unknown): string {
  return jcs(value, 0);
}

function jcs(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new SharedError('INVALID_JSON', 'JSON nested too deeply');
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SharedError('INVALID_JSON', 'non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return '[' + value.map((v) => jcs(v, depth + 1)).join(',') + ']';
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + jcs(obj[k], depth + 1)).join(',') + '}';
  }
  throw new SharedError('INVALID_JSON', `cannot canonicalize ${typeof value}`);
}

/**
 * OLPC canonical JSON as TUF and securesystemslib sign it: keys sorted by code point, only `"`
 * and `\` escaped in strings, no whitespace, integers only (floats are an error).
 */
export function canonicalizeOlpc(value: unknown): string {
  return olpc(value, 0);
}

function olpcString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

function olpc(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new SharedError('INVALID_JSON', 'JSON nested too deeply');
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return olpcString(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new SharedError('NON_CANONICAL_NUMBER', 'canonical JSON allows integers only');
    return String(value);
  }
  if (Array.isArray(value)) return '[' + value.map((v) => olpc(v, depth + 1)).join(',') + ']';
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(compareCodePoints);
    return '{' + keys.map((k) => olpcString(k) + ':' + olpc(obj[k], depth + 1)).join(',') + '}';
  }
  throw new SharedError('INVALID_JSON', `cannot canonicalize ${typeof value}`);
}

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Standard base64 alphabet with padding, no whitespace (Go's StdEncoding, as Rekor reads it). */
export function isBase64(s: string): boolean {
  return B64_RE.test(s);
}

/** Strict standard base64 (padding required, no whitespace). */
export function fromBase64(s: string, what = 'value'): Buffer {
  if (typeof s !== 'string' || !isBase64(s)) throw new SharedError('INVALID_ENCODING', `${what} is not valid base64`);
  return Buffer.from(s, 'base64');
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

export function fromBase64Url(s: string, what = 'value'): Buffer {
  if (typeof s !== 'string' || !B64URL_RE.test(s)) throw new SharedError('INVALID_ENCODING', `${what} is not valid base64url`);
  return Buffer.from(s, 'base64url');
}

export function fromHex(s: string, what = 'value'): Buffer {
  if (typeof s !== 'string' || !HEX_RE.test(s)) throw new SharedError('INVALID_ENCODING', `${what} is not valid hex`);
  return Buffer.from(s, 'hex');
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** PEM armour with 64-column lines and a trailing newline (what Go's pem.Encode writes). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export interface PemBlock {
  label: string;
  der: Buffer;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]{1,64})-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g;

/** All PEM blocks in a text, in order. Throws if there is none. */
export function fromPemAll(text: string, what = 'PEM'): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    out.push({ label: m[1]!, der: fromBase64(m[2]!.replace(/\s+/g, ''), what) });
  }
  if (out.length === 0) throw new SharedError('INVALID_ENCODING', `${what} holds no PEM block`);
  return out;
}

export function fromPem(text: string, label?: string, what = 'PEM'): Buffer {
  const blocks = fromPemAll(text, what);
  const b = label === undefined ? blocks[0] : blocks.find((x) => x.label === label);
  if (!b) throw new SharedError('INVALID_ENCODING', `${what} holds no ${label ?? ''} PEM block`);
  return b.der;
}

/** JSON.parse that reports malformed input as a CairnError. */
export function parseJson(text: string, what = 'JSON'): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SharedError('INVALID_JSON', `${what} is not valid JSON`);
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
