/**
 * Bounded file I/O, the one home for it: an atomic, durable write and a capped read. Callers name
 * the limit; a file over it is never read whole.
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CairnError } from './errors.ts';

export type IoErrorCode = 'IO_ERROR' | 'FILE_TOO_LARGE' | 'FILE_NOT_FOUND';

export class IoError extends CairnError<IoErrorCode> {}

/**
 * Writes through a temporary file, fsyncs it, renames it over `path` and fsyncs the directory, so
 * a reader sees the old file or the new one (never half of one) and the new one survives a crash
 * once this returns. `mode` applies from creation (0600 for secrets is never briefly wider).
 */
export function writeAtomic(path: string, contents: Uint8Array | string, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: mode & 0o077 ? 0o755 : 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof contents === 'string' ? Buffer.from(contents) : contents;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some filesystems refuse fsync on a directory; the rename is still atomic */
  }
}

/**
 * Reads at most `max` bytes of a file and refuses it when it holds more (the size is checked on the
 * open descriptor and again while reading, so a file that grows meanwhile is refused too).
 */
export function readCappedFile(path: string, max: number, what = path): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new IoError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'IO_ERROR', `cannot read ${what}: ${code ?? String(e)}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new IoError('IO_ERROR', `${what} is not a regular file`);
    if (st.size > max) throw new IoError('FILE_TOO_LARGE', `${what} is larger than ${max} bytes`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, max + 1 - total));
      const r = readSync(fd, chunk, 0, chunk.byteLength, null);
      if (r === 0) break;
      total += r;
      if (total > max) throw new IoError('FILE_TOO_LARGE', `${what} is larger than ${max} bytes`);
      chunks.push(r === chunk.byteLength ? chunk : chunk.subarray(0, r));
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
