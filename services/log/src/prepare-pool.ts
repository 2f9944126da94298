/**
 * Proposed-entry preparation (validation, canonicalization and the signature check) on worker
 * threads, so the event loop that sequences the log and answers HTTP is not the one verifying
 * ECDSA over digests (about 190 µs per P-256 entry). Under light load entries are prepared on the
 * main thread; once more than `startAfterPerSecond` writes arrive in one second the pool starts
 * its workers (in the background; until they are ready, preparation stays inline). Results and
 * errors are identical either way: the same functions run, errors keep their LogError code.
 */
import { Worker } from 'node:worker_threads';
import { LogError, type LogErrorCode } from './errors.ts';
import { ownBytes } from './store/batch-writer.ts';
import { parseJsonBody, prepareProposedEntry, prepareV2Request, type PreparedEntry } from './types/index.ts';

export type PrepareApi = 'v1' | 'v2';

/** How long stopping the pool waits for a starting worker, and then for its termination. */
const STOP_WAIT_MS = 5_000;

export interface PreparePoolOptions {
  /** Worker threads at most; 0 prepares everything on the main thread. */
  workers: number;
  /** Writes per second on the main thread that make the pool start its workers (0: at once). */
  startAfterPerSecond?: number;
  /** Told when a worker fails or stops; preparation then continues on the remaining ones or inline. */
  onWorkerError?: (message: string) => void;
}

interface Reply {
  id: number;
  ok: boolean;
  kind?: string;
  apiVersion?: string;
  body?: Uint8Array;
  indexKeys?: string[];
  attestation?: Uint8Array;
  code?: LogErrorCode;
  message?: string;
  details?: Record<string, unknown>;
  ready?: boolean;
}

interface PoolWorker {
  worker: Worker;
  /** Requests posted (or about to be) and not answered; kept so a lost worker's work is redone inline. */
  pending: Map<number, { api: PrepareApi; input: unknown; resolve: (p: PreparedEntry) => void; reject: (e: unknown) => void }>;
  /** Requests waiting for the next flush: one message per event-loop turn, not per request. */
  outbox: { id: number; api: PrepareApi; input: unknown }[];
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** `input`: a parsed JSON value, or the raw request body bytes (parsed where it is prepared). */
export function prepareInline(api: PrepareApi, input: unknown): PreparedEntry {
  const value = parseJsonBody(input);
  return api === 'v1' ? prepareProposedEntry(value) : prepareV2Request(value);
}

export class PreparePool {
  private readonly workers: PoolWorker[] = [];
  /** Every worker not yet exited, with a promise settled once it is ready or gone. */
  private readonly spawned = new Map<Worker, Promise<void>>();
  private starting = false;
  private closed = false;
  private nextId = 1;
  private windowStart = 0;
  private windowCount = 0;
  private readonly startAfter: number;

  constructor(private readonly options: PreparePoolOptions) {
    this.startAfter = options.startAfterPerSecond ?? 200;
    if (options.workers > 0 && this.startAfter === 0) this.start();
  }

  /** Workers currently serving (for tests and metrics). */
  get size(): number {
    return this.workers.length;
  }

  prepare(api: PrepareApi, input: unknown): Promise<PreparedEntry> {
    const w = this.pick();
    if (!w) {
      this.countInline();
      try {
        return Promise.resolve(prepareInline(api, input));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    const id = this.nextId++;
    return new Promise<PreparedEntry>((resolve, reject) => {
      w.pending.set(id, { api, input, resolve, reject });
      if (w.pending.size === 1) w.worker.ref();
      w.outbox.push({ id, api, input: input instanceof Uint8Array ? ownBytes(input) : input });
      if (w.outbox.length === 1) setImmediate(() => this.flush(w));
    });
  }

  /**
   * Posts everything queued for `w` as one message. Waking a thread costs more than cloning a
   * request on a busy two-core machine, so requests that arrive in one turn travel together.
   */
  private flush(w: PoolWorker): void {
    if (w.outbox.length === 0) return;
    const batch = w.outbox.splice(0);
    w.worker.postMessage(batch);
  }

  /** The worker with the fewest outstanding requests. */
  private pick(): PoolWorker | undefined {
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (!best || w.pending.size < best.pending.size) best = w;
    return best;
  }

  private countInline(): void {
    if (this.options.workers === 0 || this.starting || this.closed) return;
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    if (++this.windowCount > this.startAfter) this.start();
  }

  /** Starts the workers in the background; each serves as soon as it is ready. */
  start(): void {
    if (this.starting || this.closed) return;
    this.starting = true;
    for (let i = 0; i < this.options.workers; i++) this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(new URL('./prepare.worker.js', import.meta.url));
    let started!: () => void;
    this.spawned.set(
      worker,
      new Promise<void>((r) => (started = r)),
    );
    worker.once('exit', () => started());
    worker.once('error', () => started());
    const w: PoolWorker = { worker, pending: new Map(), outbox: [] };
    worker.on('message', (msg: Reply | Reply[]) => {
      if (!Array.isArray(msg)) {
        if (msg.ready) {
          started();
          if (!this.closed) {
            this.workers.push(w);
            worker.unref();
          }
        }
        return;
      }
      for (const m of msg) this.settle(w, m);
    });
    worker.on('error', (e) => {
      this.options.onWorkerError?.(`entry-preparation worker failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    worker.on('exit', (code) => {
      this.spawned.delete(worker);
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1);
      const orphans = [...w.pending.values()];
      w.pending.clear();
      if (orphans.length > 0 && !this.closed) this.options.onWorkerError?.(`an entry-preparation worker stopped (exit ${code}); ${orphans.length} requests prepared inline`);
      // Preparation is a pure function of the request: what the worker held is done here instead.
      for (const p of orphans) {
        if (this.closed) {
          p.reject(new LogError('STORE_CLOSED', 'the log is closing'));
          continue;
        }
        try {
          p.resolve(prepareInline(p.api, p.input));
        } catch (e) {
          p.reject(e);
        }
      }
    });
  }

  private settle(w: PoolWorker, m: Reply): void {
      const p = w.pending.get(m.id);
      if (!p) return;
      w.pending.delete(m.id);
      if (w.pending.size === 0) w.worker.unref();
      if (m.ok) {
        // Structured clone turns Buffers into Uint8Arrays: wrap them again (no copy).
        const body = asBuffer(m.body!);
        p.resolve({ kind: m.kind!, apiVersion: m.apiVersion!, body, indexKeys: m.indexKeys!, ...(m.attestation !== undefined ? { attestation: asBuffer(m.attestation) } : {}) });
      } else if (m.code) {
        p.reject(new LogError(m.code, m.message ?? m.code, m.details ? { details: m.details } : {}));
      } else {
        p.reject(new Error(`entry preparation failed in a worker: ${m.message ?? 'unknown error'}`));
      }
  }

  /**
   * Stops every worker now, as a crash would: requests they held are prepared inline, and new
   * ones too until the pool starts again (tests use it to check exactly that).
   */
  async dropWorkers(): Promise<void> {
    this.workers.splice(0);
    this.starting = false;
    await this.stopAll();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.workers.splice(0);
    await this.stopAll();
  }

  /**
   * Terminates every worker. One still starting is first let finish: terminating a worker in the
   * middle of its start can leave terminate() pending forever with nothing keeping the process
   * alive (seen on Node 20 under load). Each wait is bounded by STOP_WAIT_MS.
   */
  private async stopAll(): Promise<void> {
    await Promise.all(
      [...this.spawned].map(async ([worker, started]) => {
        worker.ref();
        let timer: NodeJS.Timeout | undefined;
        const bounded = (p: Promise<unknown>): Promise<unknown> =>
          Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]).finally(() => clearTimeout(timer));
        await bounded(started);
        await bounded(worker.terminate());
      }),
    );
  }
}
