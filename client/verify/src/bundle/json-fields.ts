/**
 * Strict readers for protobuf-JSON documents (bundles, trusted roots): every field is checked,
 * unknown fields are rejected (as sigstore-go's protojson does), sizes are bounded. The caller
 * supplies how a failure is reported so each module keeps its own error codes.
 */
import { isRecord } from '@cairn/shared';

export type Fail = (message: string) => never;

const INT_RE = /^(?:0|[1-9][0-9]{0,15})$/;

export class Fields {
  readonly path: string;
  readonly obj: Record<string, unknown>;
  private readonly fail: Fail;

  constructor(value: unknown, path: string, fail: Fail, allowed: readonly string[]) {
    if (!isRecord(value)) fail(`${path} must be a JSON object`);
    this.path = path;
    this.obj = value;
    this.fail = fail;
    for (const k of Object.keys(value)) {
      if (!allowed.includes(k)) fail(`${path} has an unknown field "${k.slice(0, 64)}"`);
    }
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  child(key: string, allowed: readonly string[]): Fields {
    return new Fields(this.obj[key], `${this.path}.${key}`, this.fail, allowed);
  }

  optChild(key: string, allowed: readonly string[]): Fields | undefined {
    return this.has(key) ? this.child(key, allowed) : undefined;
  }

  string(key: string, maxLength: number): string {
    const v = this.obj[key];
    if (typeof v !== 'string') this.fail(`${this.path}.${key} must be a string`);
    if (v.length > maxLength) this.fail(`${this.path}.${key} is longer than ${maxLength} characters`);
    return v;
  }

  optString(key: string, maxLength: number): string | undefined {
    return this.has(key) ? this.string(key, maxLength) : undefined;
  }

  /** protobuf `bytes`: standard base64 with padding. */
  bytes(key: string, maxBytes: number): Buffer {
    const v = this.string(key, Math.ceil(maxBytes / 3) * 4 + 4);
    return decodeBase64(v, `${this.path}.${key}`, maxBytes, this.fail);
  }

  optBytes(key: string, maxBytes: number): Buffer | undefined {
    return this.has(key) ? this.bytes(key, maxBytes) : undefined;
  }

  /** protobuf int64/uint64: a decimal string (or a JSON integer), non-negative and safe. */
  int(key: string): number {
    return parseInt64(this.obj[key], `${this.path}.${key}`, this.fail);
  }

  optInt(key: string): number | undefined {
    return this.has(key) ? this.int(key) : undefined;
  }

  array(key: string, maxItems: number): unknown[] {
    const v = this.obj[key];
    if (!Array.isArray(v)) this.fail(`${this.path}.${key} must be an array`);
    if (v.length > maxItems) this.fail(`${this.path}.${key} has more than ${maxItems} items`);
    return v;
  }

  optArray(key: string, maxItems: number): unknown[] {
    return this.has(key) ? this.array(key, maxItems) : [];
  }

  /** An enum given by its symbolic name; unknown names are an error (as ts-proto fromJSON does). */
  enumValue<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.string(key, 64);
    if (!(allowed as readonly string[]).includes(v)) this.fail(`${this.path}.${key} has an unknown value "${v}"`);
    return v as T;
  }
}

/**
 * Strict standard base64 with padding. Checked by a round trip through the native codec (any
 * other alphabet, missing padding, whitespace or non-canonical trailing bits changes the text).
 */
export function decodeBase64(v: string, what: string, maxBytes: number, fail: Fail): Buffer {
  const b = Buffer.from(v, 'base64');
  if (b.toString('base64') !== v) fail(`${what} is not valid base64`);
  if (b.length > maxBytes) fail(`${what} is larger than ${maxBytes} bytes`);
  return b;
}

export function parseInt64(v: unknown, what: string, fail: Fail): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer`);
    return v;
  }
  if (typeof v !== 'string' || !INT_RE.test(v)) fail(`${what} must be a non-negative decimal integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) fail(`${what} is too large`);
  return n;
}

/** google.protobuf.Timestamp in RFC 3339 UTC form. */
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

export function parseTimestamp(v: unknown, what: string, fail: Fail): Date {
  if (typeof v !== 'string' || v.length > 40 || !RFC3339_RE.test(v)) fail(`${what} must be an RFC 3339 timestamp`);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) fail(`${what} is not a valid time`);
  return d;
}
