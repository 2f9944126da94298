/**
 * Serial numbers unique across restarts (RFC 3161 §2.4.2: "Time-Stamping users MUST be ready to
 * accommodate integers up to 160 bits"; each token's serial must be unique for the TSA).
 *
 * Chosen: a persisted counter handed out in reserved blocks. The file holds a high-water mark:
 * every serial below it may have been issued. On open the mark moves one block ahead (written and
 * fsynced before the first serial of the block is used); serials come from memory until the
 * block is spent, then the next block is reserved the same way. So there is one disk write per
 * BLOCK timestamps (none on the hot path otherwise), a crash or kill -9 skips at most the rest of
 * a block and never repeats a serial, and serials are increasing, which lets an auditor order
 * tokens. Random 20-byte serials would need no state but say nothing about order and rely on
 * the RNG alone. Processes sharing one data dir take disjoint blocks (the mark is re-read under a
 * lock file at every reservation); replicas with data dirs of their own sharing one signing key
 * need distinct `tsa.serialPrefix`es.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { writeAtomic } from '@cairn/shared/io';
import { TsaError } from './errors.ts';

export const DEFAULT_SERIAL_BLOCK = 4096;
const MAX_STATE_BYTES = 4096;
/** The prefix is placed above 64 bits of counter: serials stay far below 160 bits. */
export const MAX_SERIAL_PREFIX = 0xffff_ffff;
const COUNTER_BITS = 64n;

export class SerialCounter {
  private next: bigint;
  private reserved: bigint;

  private constructor(
    private readonly path: string,
    private readonly block: bigint,
    private readonly prefix: bigint,
    start: bigint,
  ) {
    this.next = start;
    this.reserved = start;
  }

  /** Opens (or creates) the state file and reserves the first block. */
  static open(path: string, o: { block?: number; prefix?: number } = {}): SerialCounter {
    const block = BigInt(o.block ?? DEFAULT_SERIAL_BLOCK);
    const prefix = BigInt(o.prefix ?? 0);
    const c = new SerialCounter(path, block, prefix, readMark(path) ?? 1n);
    c.reserve();
    return c;
  }

  /** The next serial; reserves (and persists) a new block first when the current one is spent. */
  take(): bigint {
    if (this.next >= this.reserved) this.reserve();
    const n = this.next++;
    return (this.prefix << COUNTER_BITS) | n;
  }

  /**
   * Reserves the next block above both what this counter handed out and the mark on disk, under
   * a lock file: two processes on one data dir (two `cairn up` replicas sharing it) then take
   * disjoint blocks instead of the same one.
   */
  private reserve(): void {
    withLock(`${this.path}.lock`, () => {
      const onDisk = readMark(this.path) ?? 1n;
      const start = onDisk > this.next ? onDisk : this.next;
      const mark = start + this.block;
      if (mark >= 1n << COUNTER_BITS) throw new TsaError('SERIAL_STATE', 'the serial counter is exhausted');
      // Written and fsynced (file and directory) before any serial of the block is handed out.
      writeAtomic(this.path, JSON.stringify({ reserved: mark.toString() }) + '\n', 0o600);
      this.next = start;
      this.reserved = mark;
    });
  }
}

/** The high-water mark in `path`, or undefined when there is no file yet. */
function readMark(path: string): bigint | undefined {
  if (!existsSync(path)) return undefined;
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > MAX_STATE_BYTES) throw new Error('too large');
    doc = JSON.parse(text);
  } catch (e) {
    throw new TsaError('SERIAL_STATE', `cannot read the serial state ${path}`, { cause: e });
  }
  const v = (doc as { reserved?: unknown } | null)?.reserved;
  if (typeof v !== 'string' || !/^[1-9]\d{0,19}$/.test(v)) throw new TsaError('SERIAL_STATE', `${path} has no valid high-water mark`);
  return BigInt(v);
}

/** A lock file older than this was left by a process that died holding it (a reservation takes milliseconds). */
export const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_MS = 5_000;

/** Runs `fn` holding `lockPath` (created exclusively); waits a bounded time for another holder. */
function withLock<T>(lockPath: string, fn: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      closeSync(openSync(lockPath, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new TsaError('SERIAL_STATE', `cannot lock the serial state: ${(e as Error).message}`, { cause: e });
      try {
        if (Date.now() - statSync(lockPath).mtimeMs > STALE_LOCK_MS) unlinkSync(lockPath);
      } catch {
        // gone meanwhile: retry at once
      }
      if (Date.now() > deadline) throw new TsaError('SERIAL_STATE', `the serial state is locked by another process (${lockPath})`);
      Atomics.wait(pause, 0, 0, 5);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}
