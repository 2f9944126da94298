/**
 * A strict DER (X.690 §10) reader and writer: definite, minimal-length encodings only, single-byte
 * tags (every tag X.509, CMS, RFC 3161 and RFC 6962 use), bounded nesting. Certificates, CSRs,
 * SCT lists and timestamps are parsed and built with it, so a re-encoding is byte-identical to the
 * original whenever the original was valid DER (what SCT verification depends on).
 */
import { SharedError } from './errors.ts';

export interface Tlv {
  /** The identifier octet (class, constructed bit and tag number together). */
  tag: number;
  /** Offset of the identifier octet in the buffer read from. */
  start: number;
  headerLength: number;
  length: number;
  /** Offset one past the last content octet. */
  end: number;
  /** The content octets. */
  value: Buffer;
  /** Identifier, length and content octets. */
  raw: Buffer;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const MAX_DEPTH = 32;

function fail(message: string): never {
  throw new SharedError('INVALID_ENCODING', `DER: ${message}`);
}

/** Reads one TLV at `offset`. Rejects indefinite, non-minimal and overlong lengths. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset >= buf.length) fail('unexpected end of input');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) fail('multi-byte tags are not supported');
  let pos = offset + 1;
  if (pos >= buf.length) fail('missing length');
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) fail('indefinite length');
    if (n > 4) fail('length too large');
    if (pos + n > buf.length) fail('truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos + i]!;
    if (buf[pos] === 0) fail('non-minimal length');
    if (length < 0x80) fail('non-minimal length');
    pos += n;
  }
  const end = pos + length;
  if (end > buf.length) fail('content runs past the end of input');
  return new LazyTlv(buf, tag, offset, pos, length, end);
}

/**
 * A TLV whose `value` and `raw` views are made on first use: a Buffer view costs more than the
 * rest of reading a TLV, and most TLVs of a certificate are only walked over.
 */
class LazyTlv implements Tlv {
  readonly headerLength: number;
  private v: Buffer | undefined;
  private r: Buffer | undefined;
  constructor(
    private readonly buf: Buffer,
    readonly tag: number,
    readonly start: number,
    private readonly contentStart: number,
    readonly length: number,
    readonly end: number,
  ) {
    this.headerLength = contentStart - start;
  }
  get value(): Buffer {
    return (this.v ??= this.buf.subarray(this.contentStart, this.end));
  }
  get raw(): Buffer {
    return (this.r ??= this.buf.subarray(this.start, this.end));
  }
}

/** Walks the TLVs of `buf[from, to)` without making views, calling `each` with (tag, contentStart, end). */
function walk(buf: Buffer, from: number, to: number, depth: number): void {
  if (depth > MAX_DEPTH) fail('nested too deeply');
  let off = from;
  while (off < to) {
    const t = readTlv(buf, off);
    if (t.end > to) fail('content runs past the end of input');
    if (t.tag & 0x20) walk(buf, t.start + t.headerLength, t.end, depth + 1);
    off = t.end;
  }
}

/** Reads exactly one TLV spanning the whole buffer. */
export function readOne(buf: Buffer, expectedTag?: number): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) fail('trailing bytes after value');
  if (expectedTag !== undefined && t.tag !== expectedTag) fail(`expected tag 0x${expectedTag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** The TLVs inside a constructed value's content, in order. */
export function children(tlv: Tlv, maxChildren = 100_000): Tlv[] {
  if ((tlv.tag & 0x20) === 0) fail('children of a primitive value');
  const out: Tlv[] = [];
  const content = tlv.value;
  let off = 0;
  while (off < content.length) {
    if (out.length >= maxChildren) fail('too many elements');
    const c = readTlv(content, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

/** Checks a whole structure is strict DER, down to `MAX_DEPTH` levels of nesting. */
export function assertDer(buf: Buffer, depth = 0): void {
  const t = readOne(buf);
  if (t.tag & 0x20) walk(buf, t.headerLength, t.end, depth + 1);
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv) fail(`missing ${what}`);
  if (tlv.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, got 0x${tlv.tag.toString(16)}`);
  return tlv;
}

// ---- writing ----------------------------------------------------------------

export function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeTlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function seq(...parts: Uint8Array[]): Buffer {
  return encodeTlv(TAG.SEQUENCE, Buffer.concat(parts));
}

/** SET OF: DER sorts the encoded elements (X.690 §11.6). */
export function set(...parts: Uint8Array[]): Buffer {
  const sorted = [...parts].map((p) => Buffer.from(p)).sort((a, b) => Buffer.compare(a, b));
  return encodeTlv(TAG.SET, Buffer.concat(sorted));
}

/** INTEGER from a bigint or from unsigned big-endian magnitude bytes; minimal two's complement. */
export function integer(v: bigint | number | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof v === 'bigint' || typeof v === 'number') {
    let n = BigInt(v);
    if (n < 0n) {
      // Two's complement for negatives (rare in X.509; kept for completeness).
      let len = 1;
      while (-(1n << BigInt(8 * len - 1)) > n) len++;
      n = (1n << BigInt(8 * len)) + n;
      bytes = Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex');
      return encodeTlv(TAG.INTEGER, bytes);
    }
    const hex = n.toString(16);
    bytes = Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
  } else {
    bytes = Buffer.from(v);
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    bytes = bytes.subarray(i);
    if (bytes.length === 0) bytes = Buffer.from([0]);
  }
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return encodeTlv(TAG.INTEGER, bytes);
}

/** Reads an INTEGER's content as a non-negative bigint (rejects negatives and non-minimal forms). */
export function readUnsignedInteger(tlv: Tlv): bigint {
  const v = tlv.value;
  if (tlv.tag !== TAG.INTEGER || v.length === 0) fail('expected INTEGER');
  if (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) fail('non-minimal INTEGER');
  if (v.length > 1 && v[0] === 0xff && (v[1]! & 0x80) !== 0) fail('non-minimal INTEGER');
  if (v[0]! & 0x80) fail('negative INTEGER');
  return v.length === 0 ? 0n : BigInt('0x' + v.toString('hex'));
}

export function oidContent(dotted: string): Buffer {
  const parts = dotted.split('.').map((p) => {
    if (!/^\d{1,20}$/.test(p)) fail(`bad OID ${dotted}`);
    return BigInt(p);
  });
  if (parts.length < 2 || parts[0]! > 2n) fail(`bad OID ${dotted}`);
  const arcs = [parts[0]! * 40n + parts[1]!, ...parts.slice(2)];
  const out: number[] = [];
  for (const arc of arcs) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return Buffer.from(out);
}

export function oid(dotted: string): Buffer {
  return encodeTlv(TAG.OID, oidContent(dotted));
}

const oidNames = new Map<string, string>();
const MAX_OID_NAMES = 1024;

/** Dotted form of an OID's content octets (remembered for the few hundred OIDs real data uses). */
export function oidToString(content: Uint8Array): string {
  if (content.length === 0 || content.length > 128) fail('bad OID length');
  const key = Buffer.from(content.buffer, content.byteOffset, content.length).toString('latin1');
  const known = oidNames.get(key);
  if (known !== undefined) return known;
  const arcs: bigint[] = [];
  let v = 0n;
  let started = false;
  for (const b of content) {
    if (!started && b === 0x80) fail('non-minimal OID arc');
    started = true;
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
      started = false;
    }
  }
  if (started) fail('truncated OID');
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  const dotted = [...head, ...arcs.slice(1)].join('.');
  if (oidNames.size >= MAX_OID_NAMES) oidNames.clear();
  oidNames.set(key, dotted);
  return dotted;
}

export function octetString(content: Uint8Array): Buffer {
  return encodeTlv(TAG.OCTET_STRING, content);
}

/** BIT STRING with zero unused bits (keys and signatures). */
export function bitString(content: Uint8Array, unusedBits = 0): Buffer {
  return encodeTlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), content]));
}

export function utf8String(s: string): Buffer {
  return encodeTlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
}

export function printableString(s: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) fail('not a PrintableString');
  return encodeTlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'ascii'));
}

export function ia5String(s: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(s)) fail('not an IA5String');
  return encodeTlv(TAG.IA5_STRING, Buffer.from(s, 'ascii'));
}

export function nullValue(): Buffer {
  return Buffer.from([TAG.NULL, 0]);
}

export function bool(v: boolean): Buffer {
  return Buffer.from([TAG.BOOLEAN, 1, v ? 0xff : 0x00]);
}

/** [n] EXPLICIT: constructed context-specific wrapper. */
export function explicit(tagNumber: number, content: Uint8Array): Buffer {
  if (tagNumber > 30) fail('tag number too large');
  return encodeTlv(0xa0 | tagNumber, content);
}

/** [n] IMPLICIT primitive context-specific value (e.g. SAN rfc822Name [1], URI [6]). */
export function implicitPrimitive(tagNumber: number, content: Uint8Array): Buffer {
  if (tagNumber > 30) fail('tag number too large');
  return encodeTlv(0x80 | tagNumber, content);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** UTCTime YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1: years 1950-2049). */
export function utcTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) fail('UTCTime year out of range');
  const s = `${pad(y % 100)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return encodeTlv(TAG.UTC_TIME, Buffer.from(s, 'ascii'));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ, no fractional seconds. */
export function generalizedTime(d: Date): Buffer {
  const s = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return encodeTlv(TAG.GENERALIZED_TIME, Buffer.from(s, 'ascii'));
}

/** RFC 5280 time choice: UTCTime through 2049, GeneralizedTime after. */
export function x509Time(d: Date): Buffer {
  return d.getUTCFullYear() < 2050 ? utcTime(d) : generalizedTime(d);
}

/**
 * Parses UTCTime or GeneralizedTime (`Z` only; GeneralizedTime may carry fractional seconds,
 * which RFC 3161 tokens use).
 */
export function readTime(tlv: Tlv): Date {
  const s = tlv.value.toString('ascii');
  let m: RegExpExecArray | null;
  if (tlv.tag === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) fail('bad UTCTime');
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (tlv.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(s);
    if (!m) fail('bad GeneralizedTime');
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms));
  }
  return fail('expected a time value');
}
