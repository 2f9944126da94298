/**
 * A small strict DER reader (X.690) for what the explorer decodes: certificates and SPKI keys.
 * Definite lengths only, no indefinite forms, every length checked against the buffer.
 */
export interface Tlv {
  tag: number;
  /** The whole element (tag, length, value). */
  raw: Uint8Array;
  value: Uint8Array;
}

export function readTlv(buf: Uint8Array, at = 0): { tlv: Tlv; next: number } {
  if (at + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not used here');
  let len = buf[at + 1]!;
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) {
      if (off >= buf.length) throw new Error('DER: truncated');
      len = len * 256 + buf[off++]!;
    }
    if (len < 0x80) throw new Error('DER: non-minimal length');
  }
  if (off + len > buf.length) throw new Error('DER: element runs past its buffer');
  return { tlv: { tag, raw: buf.subarray(at, off + len), value: buf.subarray(off, off + len) }, next: off + len };
}

/** The elements inside a constructed value. */
export function children(value: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let at = 0;
  while (at < value.length) {
    const { tlv, next } = readTlv(value, at);
    out.push(tlv);
    at = next;
  }
  return out;
}

export function oid(value: Uint8Array): string {
  if (value.length === 0) throw new Error('DER: empty OID');
  const parts: number[] = [];
  let v = 0;
  for (const b of value) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

const dec = new TextDecoder('utf-8', { fatal: false });
export const text = (value: Uint8Array): string => dec.decode(value);

/** UTCTime (0x17) or GeneralizedTime (0x18) as a Date. */
export function time(t: Tlv): Date {
  const s = text(t.value);
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s);
  if (!m) throw new Error(`DER: bad time ${s}`);
  let y = Number(m[1]);
  if (t.tag === 0x17) y += y < 50 ? 2000 : 1900;
  return new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
