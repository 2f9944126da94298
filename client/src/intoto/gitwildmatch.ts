/**
 * Exclude patterns for artifact recording, as python-in-toto applies them through pathspec's
 * `gitwildmatch` (in_toto/runlib.py `_apply_exclude_patterns`): a pattern without a slash matches
 * a path component at any depth; a leading or inner slash anchors it at the recording root; `*`
 * and `?` stay inside one component; `**` spans components; a trailing slash matches only what
 * lies beneath a directory; a match on a directory also excludes everything under it; a leading
 * `!` re-includes. Matching is segment by segment, never through a RegExp built from the pattern.
 */
import { fnmatch, compilePattern, type CompiledPattern } from './fnmatch.ts';

/** in_toto.settings.ARTIFACT_EXCLUDE_PATTERNS. */
export const DEFAULT_EXCLUDE_PATTERNS: readonly string[] = ['*.link*', '.git', '*.pyc', '*~'];

/** A bound on the number of exclude patterns accepted from a command line or environment. */
export const MAX_EXCLUDE_PATTERNS = 256;

type Segment = { kind: 'globstar' } | { kind: 'glob'; pattern: CompiledPattern };

interface WildPattern {
  include: boolean;
  segments: Segment[];
  /** Trailing slash (or trailing `/**`): matches only paths strictly below a match. */
  dirOnly: boolean;
}

function compileOne(raw: string): WildPattern | undefined {
  let p = raw;
  if (p === '' || p.startsWith('#')) return undefined;
  let include = false;
  if (p.startsWith('!')) {
    include = true;
    p = p.slice(1);
  }
  if (p.startsWith('\\')) p = p.slice(1); // "\#" and "\!" escapes
  if (p === '/' || p === '') return undefined;
  let parts = p.split('/');
  let anchored = false;
  if (parts[0] === '') {
    anchored = true;
    parts = parts.slice(1);
  }
  let dirOnly = false;
  if (parts.length > 1 && parts[parts.length - 1] === '') {
    dirOnly = true;
    parts = parts.slice(0, -1);
  }
  if (parts.length > 1 && parts[parts.length - 1] === '**') {
    dirOnly = true;
    parts = parts.slice(0, -1);
  }
  if (parts.length > 1) anchored = true;
  const segments: Segment[] = [];
  if (!anchored && parts[0] !== '**') segments.push({ kind: 'globstar' });
  for (const part of parts) {
    if (part === '**') {
      if (segments.length === 0 || segments[segments.length - 1]!.kind !== 'globstar') segments.push({ kind: 'globstar' });
    } else {
      segments.push({ kind: 'glob', pattern: compilePattern(part) });
    }
  }
  return { include, segments, dirOnly };
}

/** Does `segs[si..]` match `path[pi..end)` exactly? Memoised: O(|segs| * |path|). */
function matchSegments(segs: Segment[], path: string[], end: number): boolean {
  const memo = new Map<number, boolean>();
  const go = (si: number, pi: number): boolean => {
    const key = si * (end + 1) + pi;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (si === segs.length) r = pi === end;
    else {
      const s = segs[si]!;
      if (s.kind === 'globstar') {
        r = false;
        for (let k = pi; k <= end && !r; k++) r = go(si + 1, k);
      } else {
        r = pi < end && fnmatch(path[pi]!, s.pattern) && go(si + 1, pi + 1);
      }
    }
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

function patternMatches(p: WildPattern, parts: string[]): boolean {
  // The pattern may match the path itself or any ancestor directory of it.
  const maxEnd = p.dirOnly ? parts.length - 1 : parts.length;
  for (let end = 1; end <= maxEnd; end++) if (matchSegments(p.segments, parts, end)) return true;
  return false;
}

export class ExcludeFilter {
  private readonly patterns: WildPattern[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map(compileOne).filter((p): p is WildPattern => p !== undefined);
  }

  /** True when `path` (normalised, relative, '/'-separated) is excluded. Last match wins. */
  excludes(path: string): boolean {
    const parts = path.split('/');
    let excluded = false;
    for (const p of this.patterns) if (patternMatches(p, parts)) excluded = !p.include;
    return excluded;
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }
}
