/**
 * Client of the writer worker (`writer.worker.js`): batch commits run on their own thread, so
 * the SQLite commit and its fsync overlap with request handling on the main thread. Commits are
 * applied in the order they were sent; each promise settles when its transaction is durable (or
 * has rolled back). After a failure the worker refuses later commits until `reset()`.
 */
import { Worker } from 'node:worker_threads';
import { LogError } from '../errors.ts';

/**
 * One batch, packed so that posting it to the worker clones a few large values instead of one
 * object per leaf: leaf i has index `indexes[i]`, bytes data[offsets[i]..offsets[i+1]) and hash
 * hashes[32i..32i+32).
 */
export interface WriterBatch {
  indexes: number[];
  hkeys: number[];
  offsets: number[];
  data: Buffer;
  hashes: Buffer;
  timestampMs: number;
  tiles: [number, Buffer][];
  /** [size, root, timestampMs, signatures JSON] */
  head: [number, Buffer, number, string];
  /** Extra statements run inside the same transaction: sql, parameters per row, rows flattened. */
  extra: { sql: string; arity: number; params: unknown[] }[];
}

/**
 * `b` backed by an ArrayBuffer of its own. Posting a view clones its WHOLE backing buffer (an
 * 8 KiB pool slab for small Buffers, a 64 KiB socket buffer for request bodies), so views are
 * copied before they cross to a worker.
 */
export function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

interface Reply {
  id?: number;
  ok?: boolean;
  message?: string;
  type?: string;
}

export class BatchWriter {
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private exited: Error | undefined;
  private closedPromise: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve();
      else p.reject(new LogError('STORE_WRITE_FAILED', `the batch could not be written: ${m.message ?? 'unknown error'}`));
    });
    worker.on('exit', (code) => {
      this.exited = new LogError('STORE_WRITE_FAILED', `the log writer stopped (exit ${code})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  static async open(path: string, cacheKib: number): Promise<BatchWriter> {
    const worker = new Worker(new URL('./writer.worker.js', import.meta.url), {
      workerData: { path, cacheKib },
      // The writer allocates little on its own heap: keep its young generation small (RSS).
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    await workerReady(worker);
    // The engine keeps the process alive while it has work; an idle writer must not.
    worker.unref();
    return new BatchWriter(worker);
  }

  commit(batch: WriterBatch): Promise<void> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // While a commit is outstanding the worker keeps the event loop alive (replies must arrive).
      this.worker.ref();
      this.worker.postMessage({
        type: 'commit',
        id,
        ...batch,
        data: ownBytes(batch.data),
        hashes: ownBytes(batch.hashes),
        tiles: batch.tiles.map(([k, blob]) => [k, ownBytes(blob)]),
        head: [batch.head[0], ownBytes(batch.head[1]), batch.head[2], batch.head[3]],
      });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  /** False once the worker has stopped: nothing can be written any more. */
  get alive(): boolean {
    return this.exited === undefined;
  }

  reset(): void {
    if (!this.exited) this.worker.postMessage({ type: 'reset' });
  }

  close(): Promise<void> {
    this.closedPromise ??= (async () => {
      if (this.exited) return;
      this.worker.ref();
      await new Promise<void>((resolve) => {
        this.worker.on('message', (m: Reply) => {
          if (m.type === 'closed') resolve();
        });
        this.worker.once('exit', () => resolve());
        this.worker.postMessage({ type: 'close' });
      });
      await this.worker.terminate();
    })();
    return this.closedPromise;
  }
}

/** Resolves when a store worker posts `{ type: 'ready' }`; rejects if it fails to start. */
export function workerReady(worker: Worker): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMessage = (m: { type?: unknown }): void => {
      if (m.type !== 'ready') return;
      worker.off('error', reject);
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}
