/**
 * `cairn tuf export|import`: a repository directory as a gzip'd POSIX ustar archive, written and
 * read here with node:zlib so no dependency is needed (what import does with it: ./import.ts).
 * `readArchive` checks the whole archive before anything is written: only regular files and
 * directories, only relative paths below the known top-level entries, no `..`, bounded member
 * sizes, member count and total size.
 */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TufError } from '@cairn/shared/tuf';
import { CEREMONY_FILE, MAX_TARGET_BYTES, ONLINE_DIR, PUBLISHED_DIR, STAGED_DIR, readCapped } from './layout.ts';

export const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;
export const MAX_ARCHIVE_MEMBERS = 20_000;
export const MAX_MEMBER_BYTES = MAX_TARGET_BYTES;
const BLOCK = 512;

const TOP_LEVEL = new Set([CEREMONY_FILE, STAGED_DIR, PUBLISHED_DIR, ONLINE_DIR]);
const SEGMENT_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/** A member path we are willing to write: relative, known top level, plain segments only. */
export function isSafeMemberPath(p: string): boolean {
  if (p.length === 0 || p.length > 255 || p.startsWith('/')) return false;
  const segs = p.split('/');
  if (segs.length > 4 || !TOP_LEVEL.has(segs[0]!)) return false;
  return segs.every((s) => SEGMENT_RE.test(s));
}

/** Online private keys, current (online/) or waiting for a staged root (staged/online/). */
function isSecretPath(p: string): boolean {
  return p.startsWith(`${ONLINE_DIR}/`) || p.startsWith(`${STAGED_DIR}/${ONLINE_DIR}/`);
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(path: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    // ustar: split at a slash into prefix (<=155) and name (<=100).
    const cut = path.lastIndexOf('/', path.length - 1);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new TufError('INVALID_ARGUMENT', `path too long for ustar: ${path}`);
  }
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(0, 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

function walk(root: string, rel: string, out: string[], skip: string | undefined): void {
  if (rel === skip) return;
  const abs = join(root, rel);
  const st = lstatSync(abs);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    out.push(rel + '/');
    for (const n of readdirSync(abs).sort()) {
      if (n.includes('.tmp-')) continue;
      walk(root, posix.join(rel, n), out, skip);
    }
  } else if (st.isFile()) out.push(rel);
}

export interface ExportOptions {
  /** Include REPO/online (the online private keys). Off by default: they never need to travel. */
  includeOnlineKeys?: boolean;
}

/** Archives a repository directory (ceremony.json, staged/, repository/; online keys only on request). */
export function exportRepository(dir: string, options: ExportOptions = {}): Buffer {
  if (!existsSync(join(dir, CEREMONY_FILE))) throw new TufError('REPO_NOT_FOUND', `${dir} is not a Cairn TUF repository`);
  const paths: string[] = [];
  for (const top of [CEREMONY_FILE, STAGED_DIR, PUBLISHED_DIR, ...(options.includeOnlineKeys === true ? [ONLINE_DIR] : [])]) {
    if (existsSync(join(dir, top))) walk(dir, top, paths, options.includeOnlineKeys === true ? undefined : `${STAGED_DIR}/${ONLINE_DIR}`);
  }
  const parts: Buffer[] = [];
  let total = 0;
  for (const p of paths) {
    if (p.endsWith('/')) {
      parts.push(header(p, 0, '5', 0o755));
      continue;
    }
    const data = readCapped(join(dir, p), MAX_MEMBER_BYTES);
    total += data.byteLength;
    if (total > MAX_ARCHIVE_BYTES) throw new TufError('ARCHIVE_TOO_LARGE', 'repository is larger than the archive limit');
    parts.push(header(p, data.byteLength, '0', isSecretPath(p) ? 0o600 : 0o644), data);
    const pad = (BLOCK - (data.byteLength % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(parts));
}

function readOctal(b: Buffer, what: string): number {
  const s = b.toString('ascii').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]{1,11}$/.test(s)) throw new TufError('INVALID_ARCHIVE', `bad ${what} field`);
  return parseInt(s, 8);
}

function cString(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

export interface ArchiveMember {
  path: string;
  data: Buffer;
}

/** Parses and checks an archive completely; throws before anything is written. */
export function readArchive(gz: Uint8Array): ArchiveMember[] {
  if (gz.byteLength > MAX_ARCHIVE_BYTES) throw new TufError('ARCHIVE_TOO_LARGE', 'archive is too large');
  let tar: Buffer;
  try {
    tar = gunzipSync(gz, { maxOutputLength: MAX_ARCHIVE_BYTES });
  } catch (e) {
    const tooBig = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new TufError(tooBig ? 'ARCHIVE_TOO_LARGE' : 'INVALID_ARCHIVE', tooBig ? 'archive expands beyond the limit' : 'not a gzip archive');
  }
  const members: ArchiveMember[] = [];
  const seen = new Set<string>();
  let off = 0;
  for (;;) {
    if (off + BLOCK > tar.length) throw new TufError('INVALID_ARCHIVE', 'archive ends without the end-of-archive marker');
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    if (members.length >= MAX_ARCHIVE_MEMBERS) throw new TufError('ARCHIVE_TOO_LARGE', 'too many archive members');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (readOctal(h.subarray(148, 156), 'checksum') !== sum) throw new TufError('INVALID_ARCHIVE', 'header checksum mismatch');
    if (h.subarray(257, 262).toString('ascii') !== 'ustar') throw new TufError('INVALID_ARCHIVE', 'not a ustar archive');
    const name = cString(h.subarray(0, 100));
    const prefix = cString(h.subarray(345, 500));
    const full = prefix ? `${prefix}/${name}` : name;
    const type = String.fromCharCode(h[156]!);
    const size = readOctal(h.subarray(124, 136), 'size');
    off += BLOCK;
    const path = full.endsWith('/') ? full.slice(0, -1) : full;
    if (!isSafeMemberPath(path)) throw new TufError('UNSAFE_PATH', `archive member ${JSON.stringify(full.slice(0, 120))} is outside the repository layout`);
    if (type === '5') {
      if (size !== 0) throw new TufError('INVALID_ARCHIVE', 'directory member with data');
      continue;
    }
    if (type !== '0' && type !== '\0') throw new TufError('UNSAFE_PATH', `archive member ${path} is not a regular file`);
    if (size > MAX_MEMBER_BYTES) throw new TufError('ARCHIVE_TOO_LARGE', `archive member ${path} is larger than ${MAX_MEMBER_BYTES} bytes`);
    if (off + size > tar.length) throw new TufError('INVALID_ARCHIVE', 'archive is truncated');
    if (seen.has(path)) throw new TufError('INVALID_ARCHIVE', `archive member ${path} appears twice`);
    seen.add(path);
    members.push({ path, data: Buffer.from(tar.subarray(off, off + size)) });
    off += size + ((BLOCK - (size % BLOCK)) % BLOCK);
  }
  if (!seen.has(CEREMONY_FILE)) throw new TufError('INVALID_ARCHIVE', `archive holds no ${CEREMONY_FILE}`);
  return members;
}
