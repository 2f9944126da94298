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
  /** Ends in `/**` (or `/`): matches only paths strictly below a match. */
  dirOnly: boolean;
  /** A lone `**` matches every path; `**` plus a trailing slash every path below the root. */
  special?: 'all' | 'below-root';
}

/** Normalisation steps of pathspec 0.11 `GitWildMatchPattern.pattern_to_regex`, in its order. */
function compileOne(raw: string): WildPattern | undefined {
  let p = raw.trim();
  if (p === '' || p.startsWith('#') || p === '/') return undefined;
  let include = false;
  if (p.startsWith('!')) {
    include = true;
    p = p.slice(1);
  }
  if (p.startsWith('\\')) p = p.slice(1); // "\#" and "\!" escapes
  let segs = p.split('/');
  // Runs of '**' segments collapse to one.
  segs = segs.filter((seg, k) => !(seg === '**' && k > 0 && segs[k - 1] === '**'));
  if (segs.length === 2 && segs[0] === '**' && segs[1] === '') return { include, segments: [], dirOnly: false, special: 'below-root' };
  if (segs[0] === '') segs = segs.slice(1); // leading slash: anchored at the root
  else if (segs.length === 1 || (segs.length === 2 && segs[1] === '')) {
    // A lone name (or name/) matches at any depth, as if written **/name.
    if (segs[0] !== '**') segs = ['**', ...segs];
  }
  if (segs.length === 0) return undefined;
  if (segs.length > 1 && segs[segs.length - 1] === '') segs[segs.length - 1] = '**';
  if (segs.length === 1 && segs[0] === '**') return { include, segments: [], dirOnly: false, special: 'all' };
  let dirOnly = false;
  if (segs.length > 1 && segs[segs.length - 1] === '**') {
    dirOnly = true;
    segs = segs.slice(0, -1);
  }
  const segments: Segment[] = segs.map((seg) => (seg === '**' ? { kind: 'globstar' } : { kind: 'glob', pattern: compilePattern(seg) }));
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
  if (p.special === 'all') return true;
  if (p.special === 'below-root') return parts.length > 1;
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
