/**
 * Test support for the replica failover suites (replicas.test.ts, replicas.soak.test.ts) and the
 * process rows of `npm run bench -- log-pg`: real
 * `cairn serve log --store postgres://…` processes on one database, real HTTP writes
 * (hashedrekord entries signed with fresh P-256 keys), and the checks every round ends with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { leafHash, verifyConsistency, verifyInclusion } from '@cairn/shared/merkle';

const CAIRN = fileURLToPath(new URL('../../../client/cli/bin/cairn.js', import.meta.url));
/** Longest a replica may take to start (tsx compiles the sources on a loaded machine). */
const START_TIMEOUT_MS = 60_000;
/** Longest one HTTP request may take in these tests. */
const REQUEST_TIMEOUT_MS = 40_000;

export interface Replica {
  url: string;
  proc: ChildProcess;
  stderr: string[];
}

/** `cairn serve log` on `storeUrl` (an empty string: the default SQLite store in the data dir). */
export async function startReplica(dataDir: string, storeUrl: string, extra: string[] = []): Promise<Replica> {
  const store = storeUrl === '' ? [] : ['--store', storeUrl];
  const proc = spawn(process.execPath, [CAIRN, 'serve', 'log', '--port', '0', '--data-dir', dataDir, ...store, '--log-level', 'warn', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 200) stderr.push(d.toString());
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`replica did not start: ${stderr.join('')}`)), START_TIMEOUT_MS);
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited (${code}) before listening: ${stderr.join('')}`));
    });
  });
  return { url, proc, stderr };
}

export async function stopReplica(r: Replica, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => r.proc.once('exit', () => resolve()));
  r.proc.kill(signal);
  await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 20_000).unref())]);
  if (r.proc.exitCode === null && r.proc.signalCode === null) {
    r.proc.kill('SIGKILL');
    await exited;
  }
}

async function http(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: res.status, body };
}

/** Whether the replica reports holding the sequencer lease (cairn_log_sequencer); undefined when it does not answer. */
export async function isSequencer(r: Replica): Promise<boolean | undefined> {
  try {
    const res = await fetch(`${r.url}/metrics`, { signal: AbortSignal.timeout(2_000) });
    return /^cairn_log_sequencer 1$/m.test(await res.text());
  } catch {
    return undefined;
  }
}

/** Waits (bounded) until one of `replicas` is the sequencer; returns it. */
export async function waitForSequencer(replicas: readonly Replica[], timeoutMs = 30_000): Promise<Replica> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const r of replicas) if ((await isSequencer(r)) === true) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('no replica became the sequencer in time');
}

export function hashedrekord(): unknown {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(32);
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      signature: { content: sign('sha256', data, privateKey).toString('base64'), publicKey: { content: Buffer.from(pem).toString('base64') } },
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } },
    },
  };
}

export interface Acked {
  index: number;
  body: string;
  size: number;
  root: string;
}

export interface WriteOutcome {
  status: number;
  code?: string;
  acked?: Acked;
}

/** POST one entry; 201 answers carry the entry, its index and the checkpoint it was proven against (checked here). */
export async function write(r: Replica): Promise<WriteOutcome> {
  let res: { status: number; body: unknown };
  try {
    res = await http(`${r.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hashedrekord()) });
  } catch {
    return { status: 0 };
  }
  if (res.status !== 201) return { status: res.status, code: (res.body as { code?: string }).code };
  const e = Object.values(res.body as Record<string, { body: string; logIndex: number; verification: { inclusionProof: { treeSize: number; rootHash: string; hashes: string[] } } }>)[0]!;
  const p = e.verification.inclusionProof;
  const ok = verifyInclusion(
    leafHash(Buffer.from(e.body, 'base64')),
    e.logIndex,
    p.treeSize,
    p.hashes.map((h) => Buffer.from(h, 'hex')),
    Buffer.from(p.rootHash, 'hex'),
  );
  assert.ok(ok, 'a 201 answer carries a valid inclusion proof');
  return { status: 201, acked: { index: e.logIndex, body: e.body, size: p.treeSize, root: p.rootHash } };
}

/** Writers on every replica until `stop()`: every answer is 201 or a 503 with a stable code, never a 500. */
export function writers(
  replicas: () => readonly Replica[],
  perReplica = 2,
): { acked: Acked[]; refused: string[]; slowestMs: () => number; stop: () => Promise<void> } {
  const acked: Acked[] = [];
  const refused: string[] = [];
  let slowest = 0;
  let running = true;
  const loops: Promise<void>[] = [];
  for (let w = 0; w < perReplica * 3; w++) {
    loops.push(
      (async () => {
        while (running) {
          const rs = replicas();
          const r = rs[w % rs.length]!;
          const started = Date.now();
          const out = await write(r);
          slowest = Math.max(slowest, Date.now() - started);
          if (out.acked) acked.push(out.acked);
          else {
            assert.ok(out.status === 0 || out.status === 503, `a write answered ${out.status} ${out.code ?? ''}: only 201 or 503 are allowed`);
            refused.push(out.code ?? 'CONNECTION');
            await new Promise((res) => setTimeout(res, 50));
          }
        }
      })(),
    );
  }
  return {
    acked,
    refused,
    slowestMs: () => slowest,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * The round's checks against the final tree (read through `r`): every acknowledged entry is there
 * with its index and body, every checkpoint a client saw is consistent with the final one, and no
 * size was seen with two roots.
 */
export async function checkTree(r: Replica, acked: readonly Acked[]): Promise<{ size: number }> {
  // The replica's view follows the database: wait (bounded) until it covers every acknowledged head.
  const need = Math.max(0, ...acked.map((a) => a.size));
  let info = { treeSize: -1, rootHash: '' };
  const deadline = Date.now() + 20_000;
  while (info.treeSize < need) {
    assert.ok(Date.now() < deadline, `the replica's tree reaches size ${need}`);
    const res = await http(`${r.url}/api/v1/log`);
    if (res.status === 200) info = res.body as { treeSize: number; rootHash: string };
    if (info.treeSize < need) await new Promise((res2) => setTimeout(res2, 100));
  }
  const roots = new Map<number, string>();
  for (const a of acked) {
    const seen = roots.get(a.size);
    assert.ok(seen === undefined || seen === a.root, `size ${a.size} was answered with two roots`);
    roots.set(a.size, a.root);
  }
  const indexes = new Set<number>();
  for (const a of acked) {
    assert.ok(!indexes.has(a.index), `index ${a.index} acknowledged twice`);
    indexes.add(a.index);
    const got = (await http(`${r.url}/api/v1/log/entries?logIndex=${a.index}`)).body as Record<string, { body: string }>;
    assert.equal(Object.values(got)[0]?.body, a.body, `acknowledged entry ${a.index} is in the final tree at its index`);
  }
  const final = Buffer.from(info.rootHash, 'hex');
  for (const [size, root] of roots) {
    if (size === info.treeSize) {
      assert.equal(root, info.rootHash);
      continue;
    }
    const res = await http(`${r.url}/api/v1/log/proof?firstSize=${size}&lastSize=${info.treeSize}`);
    assert.equal(res.status, 200, `consistency proof ${size} -> ${info.treeSize}: ${JSON.stringify(res.body)}`);
    const p = res.body as { hashes: string[] };
    assert.ok(
      verifyConsistency(size, info.treeSize, p.hashes.map((h) => Buffer.from(h, 'hex')), Buffer.from(root, 'hex'), final),
      `checkpoint at ${size} is consistent with the final tree`,
    );
  }
  return { size: info.treeSize };
}
