/**
 * Python `fnmatch` semantics (what in-toto's artifact rules use: `fnmatch.filter(queue, pattern)`,
 * case-sensitive on POSIX): `*` matches any run of characters including `/` and leading dots,
 * `?` one character, `[seq]` / `[!seq]` character classes with ranges; `\` is not special.
 *
 * The pattern is compiled into tokens and matched by a two-pointer wildcard algorithm with a
 * single backtrack point, so matching is O(len(pattern) x len(name)) and never builds a RegExp
 * from the (attacker-controlled) pattern.
 */

/** Patterns longer than this are rejected by the layout parser; a bound on matching work. */
export const MAX_PATTERN_LENGTH = 4096;

type Token =
  | { kind: 'lit'; cp: number }
  | { kind: 'any' }
  | { kind: 'one' }
  | { kind: 'class'; negate: boolean; items: Array<[number, number]> };

export interface CompiledPattern {
  readonly source: string;
  readonly tokens: readonly Token[];
}

const cache = new Map<string, CompiledPattern>();
const CACHE_LIMIT = 1024;

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

/**
 * A bracket expression, reproducing CPython 3.11 `fnmatch.translate`: ranges whose low end is
 * above the high end are dropped together with their endpoints, a `-` first or last is literal.
 * `pat` is the whole pattern; `i` indexes the first character after `[`, `j` the closing `]`.
 */
function compileClass(pat: number[], i: number, j: number): Token {
  const DASH = 0x2d;
  const BANG = 0x21;
  let chunks: number[][];
  const hasDash = pat.slice(i, j).includes(DASH);
  if (!hasDash) {
    chunks = [pat.slice(i, j)];
  } else {
    chunks = [];
    let start = i;
    let k = pat[i] === BANG ? i + 2 : i + 1;
    for (;;) {
      let found = -1;
      for (let x = k; x < j; x++) {
        if (pat[x] === DASH) {
          found = x;
          break;
        }
      }
      if (found < 0) break;
      chunks.push(pat.slice(start, found));
      start = found + 1;
      k = found + 3;
    }
    const last = pat.slice(start, j);
    if (last.length > 0) chunks.push(last);
    else if (chunks.length > 0) chunks[chunks.length - 1]!.push(DASH);
    for (let k2 = chunks.length - 1; k2 > 0; k2--) {
      const prev = chunks[k2 - 1]!;
      const cur = chunks[k2]!;
      if (prev.length > 0 && cur.length > 0 && prev[prev.length - 1]! > cur[0]!) {
        chunks[k2 - 1] = prev.slice(0, -1).concat(cur.slice(1));
        chunks.splice(k2, 1);
      }
    }
  }
  // Join: adjacent chunks form a range across the joining '-'; all other characters are literal.
  let negate = false;
  const flat: Array<{ cp: number; rangeAfter: boolean }> = [];
  chunks.forEach((c, idx) => {
    c.forEach((cp, n) => flat.push({ cp, rangeAfter: n === c.length - 1 && idx < chunks.length - 1 }));
  });
  if (flat.length === 0) return { kind: 'class', negate: false, items: [] }; // matches nothing
  if (flat[0]!.cp === BANG) {
    negate = true;
    flat.shift();
    // `[!]` with nothing else: Python emits '.', any single character.
    if (flat.length === 0) return { kind: 'one' };
  }
  const items: Array<[number, number]> = [];
  for (let n = 0; n < flat.length; n++) {
    const a = flat[n]!;
    const b = flat[n + 1];
    if (a.rangeAfter && b !== undefined) {
      items.push([a.cp, b.cp]);
      n++;
    } else {
      items.push([a.cp, a.cp]);
    }
  }
  return { kind: 'class', negate, items };
}

export function compilePattern(pattern: string): CompiledPattern {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const pat = codePoints(pattern);
  const tokens: Token[] = [];
  let i = 0;
  const n = pat.length;
  while (i < n) {
    const c = pat[i++]!;
    if (c === 0x2a /* * */) {
      if (tokens.length === 0 || tokens[tokens.length - 1]!.kind !== 'any') tokens.push({ kind: 'any' });
    } else if (c === 0x3f /* ? */) {
      tokens.push({ kind: 'one' });
    } else if (c === 0x5b /* [ */) {
      let j = i;
      if (j < n && pat[j] === 0x21) j++;
      if (j < n && pat[j] === 0x5d) j++;
      while (j < n && pat[j] !== 0x5d) j++;
      if (j >= n) {
        tokens.push({ kind: 'lit', cp: c });
      } else {
        tokens.push(compileClass(pat, i, j));
        i = j + 1;
      }
    } else {
      tokens.push({ kind: 'lit', cp: c });
    }
  }
  const compiled = { source: pattern, tokens };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

function tokenMatches(t: Token, cp: number): boolean {
  switch (t.kind) {
    case 'lit':
      return t.cp === cp;
    case 'one':
      return true;
    case 'any':
      return true;
    case 'class': {
      let inside = false;
      for (const [lo, hi] of t.items) {
        if (cp >= lo && cp <= hi) {
          inside = true;
          break;
        }
      }
      return inside !== t.negate;
    }
  }
}

function matchTokens(tokens: readonly Token[], name: number[]): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  // Each step advances s or p, and a backtrack moves starS forward: O(|tokens| * |name|) steps.
  while (s < name.length) {
    const t = tokens[p];
    if (t !== undefined && t.kind === 'any') {
      starP = p++;
      starS = s;
    } else if (t !== undefined && tokenMatches(t, name[s]!)) {
      p++;
      s++;
    } else if (starP >= 0) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (p < tokens.length && tokens[p]!.kind === 'any') p++;
  return p === tokens.length;
}

/** Python `fnmatch.fnmatchcase(name, pattern)`. */
export function fnmatch(name: string, pattern: string | CompiledPattern): boolean {
  const compiled = typeof pattern === 'string' ? compilePattern(pattern) : pattern;
  return matchTokens(compiled.tokens, codePoints(name));
}

/** Python `fnmatch.filter(names, pattern)` (POSIX: no case folding). */
export function fnmatchFilter(names: Iterable<string>, pattern: string): string[] {
  const compiled = compilePattern(pattern);
  const out: string[] = [];
  for (const n of names) if (matchTokens(compiled.tokens, codePoints(n))) out.push(n);
  return out;
}
