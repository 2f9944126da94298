/**
 * The one home of operator-written patterns (identity regexps, policy globs). Every regular
 * expression is compiled by RE2 (re2-wasm), which matches in time linear in the input, the engine
 * cosign uses through Go's regexp: `(a+)+$` cannot backtrack. Patterns RE2 cannot express
 * (backreferences, lookaround) are refused at compile time with PATTERN_INVALID, never run by a
 * backtracking JavaScript RegExp. Globs are matched by a linear two-pointer scan.
 */
import { createRequire } from 'node:module';
import { CairnError } from './errors.ts';

export type PatternErrorCode = 'PATTERN_INVALID';

export const MAX_PATTERN_LENGTH = 1024;
/** Inputs longer than this never match (identities and image references are far shorter). */
export const MAX_SUBJECT_LENGTH = 64 * 1024;

interface Re2 {
  test(s: string): boolean;
}
type Re2Ctor = new (pattern: string, flags: string) => Re2;
let RE2Class: Re2Ctor | undefined;

function re2(): Re2Ctor {
  RE2Class ??= (createRequire(import.meta.url)('re2-wasm') as { RE2: Re2Ctor }).RE2;
  return RE2Class;
}

function checkLength(pattern: string, what: string): void {
  if (typeof pattern !== 'string' || pattern === '' || pattern.length > MAX_PATTERN_LENGTH) {
    throw new CairnError<PatternErrorCode>('PATTERN_INVALID', `the ${what} pattern must be 1-${MAX_PATTERN_LENGTH} characters`);
  }
}

export interface CompileOptions {
  /** Match the whole input (`^(?:p)$`), as Fulcio's and the monitor's policies do; default: unanchored, as cosign's `--*-regexp` flags. */
  anchored?: boolean;
}

/** Compiles an RE2 regular expression; throws PATTERN_INVALID (with `what` named) when RE2 refuses it. */
export function compileRegExp(pattern: string, what = 'regular expression', options: CompileOptions = {}): (s: string) => boolean {
  checkLength(pattern, what);
  const source = options.anchored === true ? `^(?:${pattern})$` : pattern;
  let r: Re2;
  try {
    r = new (re2())(source, 'u');
  } catch (e) {
    throw new CairnError<PatternErrorCode>('PATTERN_INVALID', `the ${what} pattern is not a valid RE2 expression (no backreferences or lookaround): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return (s) => typeof s === 'string' && s.length <= MAX_SUBJECT_LENGTH && r.test(s);
}

const RE2_META = /[\\^$.|?*+()[\]{}]/;

/**
 * The RE2 source (unanchored; compile with `anchored: true`) of a glob: `*` any run (not crossing
 * `segment` when given), `**` any run (with `globstar`), `?` one character, everything else literal.
 * For identity globs (Kyverno's keyless `subject: https://…/workflows/*`) that must become RE2 rules.
 */
export function globToRegExpSource(pattern: string, options: { segment?: string; globstar?: boolean } = {}): string {
  const chars = [...pattern];
  const sep = options.segment;
  const notSep = sep === undefined ? '.' : `[^${RE2_META.test(sep) || sep === '-' ? `\\${sep}` : sep}]`;
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      if (options.globstar === true && chars[i + 1] === '*') {
        while (chars[i + 1] === '*') i++;
        out += '.*';
      } else out += `${notSep}*`;
    } else if (c === '?') out += notSep;
    else out += RE2_META.test(c) ? `\\${c}` : c;
  }
  return `(?s:${out})`;
}

/**
 * Glob with `*` (any run of characters, `/` included unless `segment` is set) and `?` (one
 * character); everything else literal. Linear: the classic star-backtrack scan keeps one resume point.
 */
export function compileGlob(pattern: string, what = 'glob', options: { segment?: string; globstar?: boolean } = {}): (s: string) => boolean {
  checkLength(pattern, what);
  if (options.globstar === true) {
    // `**` crosses the separator, `*` and `?` do not (policy-controller's image globs): compiled to
    // an anchored RE2 expression, which matches in linear time like the scan below.
    const sep = options.segment ?? '/';
    return compileRegExp(globToRegExpSource(pattern, { segment: sep, globstar: true }), what, { anchored: true });
  }
  const p = [...pattern];
  const sep = options.segment;
  return (input) => {
    if (typeof input !== 'string' || input.length > MAX_SUBJECT_LENGTH) return false;
    const s = [...input];
    let i = 0;
    let j = 0;
    let star = -1;
    let mark = 0;
    while (i < s.length) {
      if (j < p.length && (p[j] === '?' ? s[i] !== sep : p[j] === s[i]) && p[j] !== '*') {
        i++;
        j++;
      } else if (j < p.length && p[j] === '*') {
        star = j++;
        mark = i;
      } else if (star >= 0 && s[mark] !== sep) {
        j = star + 1;
        i = ++mark;
      } else {
        return false;
      }
    }
    while (j < p.length && p[j] === '*') j++;
    return j === p.length;
  };
}
