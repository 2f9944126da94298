/**
 * `json.dumps` as CPython writes it (ensure_ascii on), so files cairn writes look like the ones
 * python-in-toto writes: metadata with `indent=1, sort_keys=True` (Metablock.dump) and key files
 * with the default `", "` / `": "` separators in insertion order (securesystemslib). Only the
 * layout of the text differs from JSON.stringify; verification never depends on it.
 */
const MAX_DEPTH = 64;

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += c === 0x7f ? '\x7f' : '\\u' + c.toString(16).padStart(4, '0');
    else out += s[i];
  }
  return out + '"';
}

export interface PyJsonOptions {
  indent?: number;
  sortKeys?: boolean;
}

export function pythonJsonDumps(value: unknown, opts: PyJsonOptions = {}): string {
  const { indent, sortKeys = false } = opts;
  const itemSep = indent === undefined ? ', ' : ',';
  const go = (v: unknown, depth: number): string => {
    if (depth > MAX_DEPTH) throw new TypeError('JSON nested too deeply');
    if (v === null || v === undefined) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new TypeError('non-finite number');
      return Number.isInteger(v) ? String(v) : JSON.stringify(v);
    }
    if (typeof v === 'string') return pyString(v);
    const pad = indent === undefined ? '' : '\n' + ' '.repeat(indent * (depth + 1));
    const close = indent === undefined ? '' : '\n' + ' '.repeat(indent * depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return '[' + v.map((x) => pad + go(x, depth + 1)).join(itemSep) + close + ']';
    }
    if (typeof v === 'object') {
      const obj = v as Record<string, unknown>;
      let keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
      if (sortKeys) keys = keys.sort();
      if (keys.length === 0) return '{}';
      return '{' + keys.map((k) => pad + pyString(k) + ': ' + go(obj[k], depth + 1)).join(itemSep) + close + '}';
    }
    throw new TypeError(`cannot serialise ${typeof v}`);
  };
  return go(value, 0);
}
