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
 * the RNG alone; several replicas sharing one signing key need distinct `tsa.serialPrefix`es.
 */
import { existsSync, readFileSync } from 'node:fs';
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
    let mark = 1n;
    if (existsSync(path)) {
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
      mark = BigInt(v);
    }
    const c = new SerialCounter(path, block, prefix, mark);
    c.reserve();
    return c;
  }

  /** The next serial; reserves (and persists) a new block first when the current one is spent. */
  take(): bigint {
    if (this.next >= this.reserved) this.reserve();
    const n = this.next++;
    return (this.prefix << COUNTER_BITS) | n;
  }

  private reserve(): void {
    const mark = this.next + this.block;
    if (mark >= 1n << COUNTER_BITS) throw new TsaError('SERIAL_STATE', 'the serial counter is exhausted');
    // Written and fsynced (file and directory) before any serial of the block is handed out.
    writeAtomic(this.path, JSON.stringify({ reserved: mark.toString() }) + '\n', 0o600);
    this.reserved = mark;
  }
}
