// The log's batch WRITER: one worker thread that owns all batch commits of one SQLite file, so
// the synchronous commit (page writes and the fsync of synchronous=FULL) never blocks the event
// loop that serves HTTP. Plain JavaScript on purpose: a worker does not inherit the TypeScript
// loader of the main thread, and this file needs nothing but better-sqlite3.
//
// Protocol (batch-writer.ts is the only client; messages are handled strictly in order):
//   -> {type: 'commit', id, leaves: [[index, hkey, leafHash, data, tsMs]], tiles: [[key, blob]],
//       head: [size, root, tsMs, signaturesJson], extra: [[sql, params]]}
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
  for (const l of m.leaves) putLeaf.run(l[0], l[1], l[2], l[3], l[4]);
  for (const t of m.tiles) putTile.run(t[0], t[1]);
  putHead.run(m.head[0], m.head[1], m.head[2], m.head[3]);
  for (const [sql, params] of m.extra) statement(sql).run(...params);
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
