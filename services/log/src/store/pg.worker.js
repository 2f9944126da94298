// The PostgreSQL BRIDGE worker: owns every connection of one PostgreSQL store (pg-bridge.ts is
// its only client). Plain JavaScript on purpose, like writer.worker.js: a worker does not inherit
// the TypeScript loader of the main thread, and this file needs nothing but `pg`.
//
// Two channels:
//   syncPort (a MessagePort): the main thread's synchronous reads. It posts {id, sql, params},
//     then blocks in Atomics.wait on `flag`; the reply {id, ok, rows | code, message} is posted
//     back and `flag` set, and the main thread takes it with receiveMessageOnPort.
//   parentPort: asynchronous work, answered by id:
//     {id, op: 'query', sql, params}            -> {id, ok, rows}
//     {id, op: 'tx', steps: [{sql, params, expect}]} one transaction; a step with expect 'row'
//                                                  that returns no row rolls it back: {ok: false, code: 'FENCED'}
//     {op: 'listen', channels}                   notifications as {type: 'notify', channel, payload}
//     {id, op: 'close'}
// SQL arrives with $n parameters (pg-bridge.ts translates `?`).
import { parentPort, workerData } from 'node:worker_threads';
import { userInfo } from 'node:os';
import pg from 'pg';

// int8 columns (indexes, sizes, timestamps) are below 2^53: numbers, not strings.
pg.types.setTypeParser(20, (v) => Number(v));

const { url, schema, flag, syncPort, poolSize, queryTimeoutMs } = workerData;
const signal = new Int32Array(flag);
// Like libpq: a URL without a user name connects as PGUSER, else as the operating-system user.
const target = new URL(url);
if (target.username === '') target.username = encodeURIComponent(process.env.PGUSER ?? userInfo().username);
const connection = {
  connectionString: target.toString(),
  connectionTimeoutMillis: 1500,
  query_timeout: queryTimeoutMs,
  options: `-c search_path=${schema}`,
  application_name: 'cairn-log',
};
const pool = new pg.Pool({ ...connection, max: poolSize, idleTimeoutMillis: 30_000 });
// An idle connection that dies (pg_terminate_backend, server restart) is dropped by the pool;
// the next query opens a new one.
pool.on('error', () => {});
// A connection killed while in use reports on its query (and the pool drops it); its 'error'
// event must not take the worker down.
pool.on('connect', (client) => client.on('error', () => {}));

/** Buffers cross postMessage as Uint8Arrays: pg needs Buffers for bytea. */
function param(p) {
  if (p instanceof Uint8Array) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (Array.isArray(p)) return p.map(param);
  return p;
}

function failure(e) {
  return { ok: false, code: typeof e?.code === 'string' ? e.code : 'UNKNOWN', message: e instanceof Error ? e.message : String(e) };
}

syncPort.on('message', async (m) => {
  let reply;
  try {
    const r = await pool.query({ text: m.sql, values: m.params.map(param) });
    reply = { id: m.id, ok: true, rows: r.rows ?? [] };
  } catch (e) {
    reply = { id: m.id, ...failure(e) };
  }
  syncPort.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});

async function tx(steps) {
  const client = await pool.connect();
  let broken;
  try {
    await client.query('BEGIN');
    for (const s of steps) {
      const r = await client.query({ text: s.sql, values: s.params.map(param) });
      if (s.expect === 'row' && r.rowCount === 0) {
        const e = new Error(s.refusal ?? 'a fencing check refused the transaction');
        e.code = 'FENCED';
        throw e;
      }
    }
    await client.query('COMMIT');
  } catch (e) {
    broken = e;
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    // A connection that failed mid-transaction is not reused.
    client.release(broken !== undefined && broken.code !== 'FENCED' && !/^(23|40|42)/.test(String(broken.code)) ? true : undefined);
  }
}

let listener;
let channels = [];
let closing = false;
async function listen() {
  if (closing || channels.length === 0) return;
  const client = new pg.Client(connection);
  client.on('error', () => {});
  client.on('notification', (n) => parentPort.postMessage({ type: 'notify', channel: n.channel, payload: n.payload ?? '' }));
  client.on('end', () => {
    if (listener === client) listener = undefined;
    if (!closing) setTimeout(listen, 500);
  });
  try {
    await client.connect();
    for (const c of channels) await client.query(`LISTEN "${c}"`);
    listener = client;
    parentPort.postMessage({ type: 'listening' });
  } catch {
    await client.end().catch(() => {});
  }
}

parentPort.on('message', async (m) => {
  if (m.op === 'listen') {
    channels = m.channels;
    void listen();
    return;
  }
  if (m.op === 'close') {
    closing = true;
    await listener?.end().catch(() => {});
    await pool.end().catch(() => {});
    parentPort.postMessage({ id: m.id, ok: true });
    return;
  }
  try {
    if (m.op === 'query') {
      const r = await pool.query({ text: m.sql, values: m.params.map(param) });
      parentPort.postMessage({ id: m.id, ok: true, rows: r.rows ?? [] });
    } else if (m.op === 'tx') {
      await tx(m.steps);
      parentPort.postMessage({ id: m.id, ok: true, rows: [] });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, ...failure(e) });
  }
});
parentPort.postMessage({ type: 'ready' });
