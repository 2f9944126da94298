// The log's batch WRITER: one worker thread that owns all batch commits of one SQLite file, so
// the synchronous commit (page writes and the fsync of synchronous=FULL) never blocks the event
// loop that serves HTTP. Plain JavaScript on purpose: a worker does not inherit the TypeScript
// loader of the main thread, and this file needs nothing but better-sqlite3.
//
// Protocol (batch-writer.ts is the only client; messages are handled strictly in order):
//   -> {type: 'commit', id, indexes, hkeys, offsets, data, hashes, timestampMs, tiles: [[key, blob]],
//       head: [size, root, tsMs, signaturesJson], extra: [{sql, arity, params (rows flattened)}]}
//      (the WriterBatch packing of batch-writer.ts)
//   <- {id, ok: true} | {id, ok: false, message}
//   -> {type: 'reset'}   accept commits again after a failure (the engine has re-read the disk)
//   -> {type: 'close'}   <- {type: 'closed'}
// After a failed commit every later commit is refused until 'reset': a batch sequenced on top of
// a failed one must not be written.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 10000');
db.pragma(`cache_size = -${workerData.cacheKib}`);
const putLeaf = db.prepare('INSERT INTO leaves (idx, hkey, leaf_hash, data, ts_ms) VALUES (?, ?, ?, ?, ?)');
const putTile = db.prepare('INSERT OR REPLACE INTO tiles (key, data) VALUES (?, ?)');
const putHead = db.prepare('INSERT OR REPLACE INTO tree_heads (size, root, ts_ms, signatures) VALUES (?, ?, ?, ?)');
const extraStatements = new Map();
const statement = (sql) => {
  let s = extraStatements.get(sql);
  if (!s) {
    s = db.prepare(sql);
    extraStatements.set(sql, s);
  }
  return s;
};
const commit = db.transaction((m) => {
  const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const hashes = Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength);
  for (let i = 0; i < m.indexes.length; i++) {
    putLeaf.run(m.indexes[i], m.hkeys[i], hashes.subarray(32 * i, 32 * i + 32), data.subarray(m.offsets[i], m.offsets[i + 1]), m.timestampMs);
  }
  for (const t of m.tiles) putTile.run(t[0], t[1]);
  putHead.run(m.head[0], m.head[1], m.head[2], m.head[3]);
  for (const { sql, arity, params } of m.extra) {
    const s = statement(sql);
    for (let i = 0; i < params.length; i += arity) s.run(...params.slice(i, i + arity));
  }
});
let failed = false;

parentPort.on('message', (m) => {
  if (m.type === 'commit') {
    if (failed) {
      parentPort.postMessage({ id: m.id, ok: false, message: 'an earlier batch failed; this one was built on it and is not written' });
      return;
    }
    try {
      commit(m);
      parentPort.postMessage({ id: m.id, ok: true });
    } catch (e) {
      failed = true;
      parentPort.postMessage({ id: m.id, ok: false, message: e instanceof Error ? e.message : String(e) });
    }
  } else if (m.type === 'reset') {
    failed = false;
  } else if (m.type === 'close') {
    db.close();
    parentPort.postMessage({ type: 'closed' });
  }
});
parentPort.postMessage({ type: 'ready' });
