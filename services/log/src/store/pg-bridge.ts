/**
 * The main thread's side of the PostgreSQL store's connections (pg.worker.js owns them).
 *
 * The log engine reads synchronously (proofs, tiles, leaves: see log-store.ts), as it does on
 * better-sqlite3. Here a synchronous read posts the query to the worker and blocks in
 * Atomics.wait until the reply is there, at most SYNC_TIMEOUT_MS; a read the database does not
 * answer in time is STORE_UNAVAILABLE (503), never a hang. While the database is known to be
 * down, reads fail at once (no wait) until a background probe gets an answer again. Writes
 * (batch commits, lease renewals, the append queue) are asynchronous and never block the loop.
 *
 * Parameters are written `?` (both stores' dialect) and translated to `$n` here, once per text.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { LogError } from '../errors.ts';
import { workerReady } from './batch-writer.ts';

/** Longest a synchronous read blocks the event loop. */
export const SYNC_TIMEOUT_MS = 2_000;
/** Longest any statement may run (client side); commits of large batches stay well under it. */
const QUERY_TIMEOUT_MS = 10_000;
/** While the database is down: how often a probe checks whether it is back. */
const PROBE_EVERY_MS = 300;
const POOL_SIZE = 6;
/** PostgreSQL schema names this store accepts (the name goes into search_path). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface TxStep {
  sql: string;
  params: unknown[];
  /** 'row': the step must return at least one row, else the transaction is rolled back (FENCED). */
  expect?: 'row';
  refusal?: string;
}

interface Reply {
  id?: number;
  ok?: boolean;
  rows?: Record<string, unknown>[];
  code?: string;
  message?: string;
  type?: string;
  channel?: string;
  payload?: string;
}

/**
 * Whether an error means "the database cannot be used right now" (503) rather than "this
 * statement is wrong" (a defect: data exceptions, integrity violations, syntax or access rules,
 * SQLSTATE classes 22, 23, 42). Everything else — refused or killed connections, a server
 * shutting down, a database not accepting connections, timeouts, no answer — is unavailability.
 */
function isConnectionFailure(code: string | undefined): boolean {
  return code === undefined || !/^(22|23|42)/.test(code);
}

const placeholders = new Map<string, string>();
/** `?` -> `$1, $2, …` outside quoted literals (our statements are ours: no `?` operators). */
export function pgText(sql: string): string {
  let out = placeholders.get(sql);
  if (out !== undefined) return out;
  let n = 0;
  let quoted = false;
  out = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  if (placeholders.size < 1_000) placeholders.set(sql, out);
  return out;
}

/** Buffers arrive from the worker as Uint8Arrays: bytea columns become Buffers again. */
function toBuffers<T>(rows: Record<string, unknown>[]): T[] {
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      const v = r[k];
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) r[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
  return rows as T[];
}

export class PgBridge {
  private readonly pending = new Map<number, { resolve: (rows: Record<string, unknown>[]) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private readonly signal: Int32Array;
  private downSince: number | undefined;
  private probing = false;
  private exited: Error | undefined;
  private notifyHandlers: ((channel: string, payload: string) => void)[] = [];
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly syncPort: MessagePort,
    flag: SharedArrayBuffer,
  ) {
    this.signal = new Int32Array(flag);
    worker.on('message', (m: Reply) => {
      if (m.type === 'notify') {
        for (const h of this.notifyHandlers) h(m.channel!, m.payload ?? '');
        return;
      }
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) {
        this.up();
        p.resolve(m.rows ?? []);
      } else p.reject(this.error(m));
    });
    worker.on('error', () => {
      // Reported through 'exit' below: the store is unavailable, the process stays up (503s).
    });
    worker.on('exit', (code) => {
      this.exited = new LogError('STORE_UNAVAILABLE', `the database bridge stopped (exit ${code})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
    worker.unref();
  }

  static async open(url: string, schema: string): Promise<PgBridge> {
    if (!SCHEMA_NAME.test(schema)) throw new TypeError(`store schema must match ${SCHEMA_NAME.source}`);
    const flag = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./pg.worker.js', import.meta.url), {
      workerData: { url, schema, flag, syncPort: port2, poolSize: POOL_SIZE, queryTimeoutMs: QUERY_TIMEOUT_MS },
      transferList: [port2],
    });
    await workerReady(worker);
    port1.unref();
    return new PgBridge(worker, port1, flag);
  }

  /** True unless the last contact with the database failed (and no probe has succeeded since). */
  get reachable(): boolean {
    return this.downSince === undefined && this.exited === undefined && !this.closed;
  }

  private up(): void {
    this.downSince = undefined;
  }

  private down(): void {
    this.downSince ??= Date.now();
    if (this.probing || this.closed) return;
    this.probing = true;
    const probe = (): void => {
      if (this.closed) return;
      this.query('SELECT 1', []).then(
        () => {
          this.probing = false;
        },
        () => setTimeout(probe, PROBE_EVERY_MS).unref(),
      );
    };
    setTimeout(probe, PROBE_EVERY_MS).unref();
  }

  private error(m: Reply): LogError | Error {
    if (m.code === 'FENCED') return new LogError('NOT_SEQUENCER', m.message ?? 'this replica no longer holds the sequencer lease');
    if (isConnectionFailure(m.code)) {
      this.down();
      return new LogError('STORE_UNAVAILABLE', `the database is unreachable: ${m.message ?? m.code ?? 'no answer'}`);
    }
    const e = new Error(`database error ${m.code}: ${m.message}`);
    (e as Error & { sqlState?: string }).sqlState = m.code;
    return e;
  }

  /** A read that blocks the event loop until the answer is there (at most SYNC_TIMEOUT_MS). */
  querySync<T>(sql: string, params: readonly unknown[]): T[] {
    if (this.closed) throw new LogError('STORE_CLOSED', 'the log store is closed');
    if (this.exited) throw this.exited;
    if (this.downSince !== undefined) throw new LogError('STORE_UNAVAILABLE', 'the database is unreachable');
    const id = this.nextId++;
    Atomics.store(this.signal, 0, 0);
    this.syncPort.postMessage({ id, sql: pgText(sql), params });
    const deadline = Date.now() + SYNC_TIMEOUT_MS;
    for (;;) {
      const got: { message: Reply } | undefined = receiveMessageOnPort(this.syncPort);
      if (got) {
        // A late answer to a read that already timed out is dropped.
        const m = got.message;
        if (m.id !== id) continue;
        if (m.ok) return toBuffers<T>(m.rows ?? []);
        throw this.error(m);
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.signal, 0, 0, left) === 'timed-out') {
        this.down();
        throw new LogError('STORE_UNAVAILABLE', `the database did not answer within ${SYNC_TIMEOUT_MS} ms`);
      }
      Atomics.store(this.signal, 0, 0);
    }
  }

  private post<T>(msg: Record<string, unknown>): Promise<T[]> {
    if (this.closed) return Promise.reject(new LogError('STORE_CLOSED', 'the log store is closed'));
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<Record<string, unknown>[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...msg, id });
    })
      .then((rows) => toBuffers<T>(rows))
      .finally(() => {
        if (this.pending.size === 0) this.worker.unref();
      });
  }

  query<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
    return this.post<T>({ op: 'query', sql: pgText(sql), params });
  }

  /** One transaction; a step with expect 'row' that returns nothing rolls it back with NOT_SEQUENCER. */
  tx(steps: readonly TxStep[]): Promise<void> {
    return this.post({ op: 'tx', steps: steps.map((s) => ({ ...s, sql: pgText(s.sql) })) }).then(() => undefined);
  }

  listen(channels: string[], handler: (channel: string, payload: string) => void): void {
    this.notifyHandlers.push(handler);
    this.worker.postMessage({ op: 'listen', channels });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.exited) {
      await this.post({ op: 'close' }).catch(() => undefined);
      await this.worker.terminate();
    }
    this.closed = true;
    this.syncPort.close();
  }
}
