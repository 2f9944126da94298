/**
 * Recording artifacts as python-in-toto does (runlib.py `record_artifacts_as_dict`): each path is
 * normalised (os.path.normpath), files are hashed, directories are walked (symlinked files and, as
 * in_toto_run does, symlinked directories followed), exclude patterns (gitwildmatch) are applied
 * to the given paths, to every directory (pruning it) and to every file; broken symlinks and
 * missing paths are skipped; `lstripPaths` strips the first matching prefix from recorded names.
 */
import { closeSync, openSync, readSync, readdirSync, realpathSync, statSync, fstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { IntotoError } from './errors.ts';
import { DEFAULT_EXCLUDE_PATTERNS, ExcludeFilter } from './gitwildmatch.ts';
import type { ArtifactMap } from './rules.ts';

/** Ceilings for a walk: the number of files recorded and the directory depth followed. */
export const MAX_RECORDED_ARTIFACTS = 1_000_000;
export const MAX_WALK_DEPTH = 128;
const CHUNK = 1 << 20;

export interface RecordOptions {
  /** Directory the paths are relative to (reference: --base-path); default the process cwd. */
  basePath?: string;
  /** gitwildmatch patterns; replaces the defaults when given (reference: --exclude). */
  excludePatterns?: readonly string[];
  lstripPaths?: readonly string[];
  maxArtifacts?: number;
}

/** os.path.normpath for POSIX relative or absolute paths. */
export function normpath(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  // POSIX keeps exactly two leading slashes; in-toto never records those, so collapse to one.
  return abs ? '/' + s : s || '.';
}

function joinRel(dir: string, name: string): string {
  return normpath(dir === '.' ? name : `${dir}/${name}`);
}

export function hashFile(path: string): string {
  const h = createHash('sha256');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new IntotoError('IO_ERROR', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(Math.min(Math.max(size, 1), CHUNK));
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function statFollow(p: string): 'file' | 'dir' | 'none' {
  try {
    const st = statSync(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'none';
  } catch {
    return 'none';
  }
}

export function recordArtifacts(paths: readonly string[], opts: RecordOptions = {}): ArtifactMap {
  const out: ArtifactMap = {};
  if (paths.length === 0) return out;
  const base = opts.basePath ?? process.cwd();
  const patterns = opts.excludePatterns && opts.excludePatterns.length > 0 ? opts.excludePatterns : DEFAULT_EXCLUDE_PATTERNS;
  const filter = new ExcludeFilter(patterns);
  const max = opts.maxArtifacts ?? MAX_RECORDED_ARTIFACTS;
  const lstrip = opts.lstripPaths ?? [];
  for (let i = 0; i < lstrip.length; i++) {
    for (let j = i + 1; j < lstrip.length; j++) {
      if (lstrip[i]!.startsWith(lstrip[j]!) || lstrip[j]!.startsWith(lstrip[i]!)) {
        throw new IntotoError('PREFIX_CONFLICT', `'${lstrip[i]}' and '${lstrip[j]}' triggered a left substring error`);
      }
    }
  }
  const abs = (rel: string): string => (isAbsolute(rel) ? rel : join(base, rel));
  const add = (rel: string): void => {
    let key = rel;
    if (lstrip.length > 0) {
      for (const prefix of lstrip) {
        if (key.startsWith(prefix)) {
          key = key.slice(prefix.length);
          break;
        }
      }
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new IntotoError('PREFIX_CONFLICT', `prefix selection made the artifact name '${key}' ambiguous`);
    }
    if (Object.keys(out).length >= max && !Object.prototype.hasOwnProperty.call(out, key)) {
      throw new IntotoError('TOO_MANY_ARTIFACTS', `more than ${max} artifacts to record`);
    }
    out[key] = { sha256: hashFile(abs(rel)) };
  };
  const roots = [...new Set(paths.map(normpath))].filter((p) => !filter.excludes(p)).sort();
  for (const root of roots) {
    const kind = statFollow(abs(root));
    if (kind === 'file') add(root);
    else if (kind === 'dir') walk(root, 0, new Set());
    // else: python-in-toto logs "does not exist, skipping" and records nothing
  }
  return out;

  function walk(dir: string, depth: number, seen: Set<string>): void {
    if (depth > MAX_WALK_DEPTH) throw new IntotoError('TOO_MANY_ARTIFACTS', `directory ${dir} nests deeper than ${MAX_WALK_DEPTH}`);
    // Followed symlinked directories could loop: never enter the same real directory twice on a path.
    let real: string;
    try {
      real = realpathSync(abs(dir));
    } catch {
      return;
    }
    if (seen.has(real)) return;
    const onPath = new Set(seen).add(real);
    let names: string[];
    try {
      names = readdirSync(abs(dir)).sort();
    } catch (e) {
      throw new IntotoError('IO_ERROR', `cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const files: string[] = [];
    const dirs: string[] = [];
    for (const name of names) {
      const rel = joinRel(dir, name);
      const k = statFollow(abs(rel));
      if (k === 'dir') dirs.push(rel);
      else if (k === 'file') files.push(rel);
    }
    for (const f of files) if (filter.empty || !filter.excludes(f)) add(f);
    for (const d of dirs) if (filter.empty || !filter.excludes(d)) walk(d, depth + 1, onPath);
  }
}
