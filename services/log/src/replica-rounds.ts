/**
 * The failover scenarios shared by replicas.test.ts (short) and replicas.soak.test.ts (many
 * rounds): 3 `cairn serve log` processes on one PostgreSQL database, writers on all of them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { checkTree, startReplica, stopReplica, waitForSequencer, write, writers, type Acked, type Replica } from './replica-harness.ts';
import { createTestDatabase } from './store/test-stores.ts';
import { createDatabaseOn, startPrivatePostgres } from './store/private-postgres.ts';

const LEASE_MS = 1_000;

export interface Cluster {
  replicas: Replica[];
  storeUrl: string;
  dataDir: string;
  extra: string[];
}

/**
 * 3 replicas on a fresh database (the first one creates the shared key and state, then the others
 * start): by default a database of its own on the shared test server, or `db` when given.
 */
export async function cluster(t: TestContext, extra: string[] = [], db?: { url: string; drop: () => Promise<void> }): Promise<Cluster> {
  db ??= await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-replicas-'));
  const c: Cluster = { replicas: [], storeUrl: db.url, dataDir, extra: ['--set', `store.leaseMs=${LEASE_MS}`, ...extra] };
  t.after(async () => {
    for (const r of c.replicas) {
      const exited = r.proc.exitCode !== null || r.proc.signalCode !== null;
      if (exited || process.env.CAIRN_TEST_VERBOSE) t.diagnostic(`replica ${r.url} (exit ${r.proc.exitCode ?? r.proc.signalCode ?? 'running'}): ${r.stderr.join('').slice(-2000)}`);
    }
    await Promise.all(c.replicas.map((r) => stopReplica(r, 'SIGKILL')));
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  c.replicas.push(await startReplica(dataDir, db.url, c.extra));
  c.replicas.push(...(await Promise.all([startReplica(dataDir, db.url, c.extra), startReplica(dataDir, db.url, c.extra)])));
  return c;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface KillRounds {
  rounds: number;
  acked: number;
  refused: number;
  failoverMs: number[];
  finalSize: number;
}

/** `rounds` times: SIGKILL the sequencer at a random moment under load, measure the takeover, restart it. */
export async function killRounds(t: TestContext, rounds: number): Promise<KillRounds> {
  const c = await cluster(t);
  const load = writers(() => c.replicas.filter((r) => r.proc.exitCode === null && r.proc.signalCode === null));
  const failoverMs: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const before = load.acked.length;
      await until('writes before the kill', () => load.acked.length >= before + 5);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      const seq = await waitForSequencer(c.replicas);
      const killedAt = Date.now();
      await stopReplica(seq, 'SIGKILL');
      const rest = c.replicas.filter((r) => r !== seq);
      await waitForSequencer(rest);
      failoverMs.push(Date.now() - killedAt);
      const after = load.acked.length;
      await until('a write acknowledged after the takeover', () => load.acked.length > after);
      c.replicas[c.replicas.indexOf(seq)] = await startReplica(c.dataDir, c.storeUrl, c.extra);
    }
  } finally {
    await load.stop();
  }
  const { size } = await checkTree(c.replicas[0]!, load.acked);
  return { rounds, acked: load.acked.length, refused: load.refused.length, failoverMs, finalSize: size };
}

/** SIGSTOP the sequencer with writes waiting in its batch until another takes over; after SIGCONT it must not commit. */
export async function pausedLeader(t: TestContext): Promise<{ resumedAnswers: number[] }> {
  // Batches wait 300 ms for more leaves: the paused sequencer holds uncommitted work.
  const c = await cluster(t, ['--set', 'log.batchMaxDelayMs=300']);
  const warm = await write(c.replicas[0]!);
  assert.equal(warm.status, 201);
  const seq = await waitForSequencer(c.replicas);
  const pending = Array.from({ length: 5 }, () => write(seq));
  await new Promise((r) => setTimeout(r, 60));
  seq.proc.kill('SIGSTOP');
  const rest = c.replicas.filter((r) => r !== seq);
  const next = await waitForSequencer(rest);
  const during = await write(next);
  assert.equal(during.status, 201, 'the new sequencer accepts writes while the old one is paused');
  seq.proc.kill('SIGCONT');
  const answers = await Promise.all(pending);
  for (const a of answers) assert.ok(a.status === 201 || a.status === 503, `the resumed sequencer answered ${a.status}`);
  const after = await write(seq);
  assert.ok(after.status === 201 || after.status === 503);
  const acked: Acked[] = [warm, during, after, ...answers].flatMap((a) => (a.acked ? [a.acked] : []));
  await checkTree(next, acked);
  // The database holds exactly one root per size, all on one chain: checked through consistency above;
  // the resumed replica is no longer the sequencer.
  await until('the resumed replica to step down', async () => (await (await fetch(`${seq.url}/metrics`)).text()).includes('cairn_log_sequencer 0'));
  return { resumedAnswers: answers.map((a) => a.status) };
}

/** Connections killed with pg_terminate_backend under load: only 201 and 503, nothing acknowledged is lost. */
export async function terminatedConnections(t: TestContext, times: number): Promise<{ acked: number; refused: string[] }> {
  const c = await cluster(t);
  const load = writers(() => c.replicas);
  const admin = new pg.Client({ connectionString: c.storeUrl });
  await admin.connect();
  try {
    for (let i = 0; i < times; i++) {
      const before = load.acked.length;
      await until('writes between faults', () => load.acked.length >= before + 5);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    }
    const before = load.acked.length;
    await until('recovery: writes acknowledged after the last fault', () => load.acked.length >= before + 5);
  } finally {
    await admin.end().catch(() => undefined);
    await load.stop();
  }
  await checkTree(c.replicas[0]!, load.acked);
  return { acked: load.acked.length, refused: load.refused };
}

export interface RestartRounds {
  acked: number;
  refused: string[];
  /** The slowest answer any writer got (ms): bounded, never a hang. */
  slowestMs: number;
  /** Per restart: how long after the server was back every replica acknowledged a write again (ms). */
  recoveryMs: number[];
}

/**
 * PostgreSQL itself restarted under load, on a private server (initdb in a temporary folder, so
 * the shared test server is not disturbed): `pg_ctl stop -m fast` + start at once, then
 * `-m immediate` (a crash: WAL recovery on start) kept down for longer than the lease. Writers on
 * all 3 replicas see only 201 or 503 (no 500, no connection error, no hang); afterwards every
 * replica acknowledges writes again and every acknowledged entry is in the final tree.
 */
export async function restartedPostgres(t: TestContext): Promise<RestartRounds> {
  const server = await startPrivatePostgres();
  let dropped = false;
  const db = {
    url: await createDatabaseOn(server, 'cairn_restart').catch(async (e: unknown) => {
      await server.destroy();
      throw e;
    }),
    drop: async () => {
      if (!dropped) await server.destroy();
      dropped = true;
    },
  };
  const c = await cluster(t, [], db);
  const load = writers(() => c.replicas);
  const recoveryMs: number[] = [];
  const faults: Array<{ mode: 'fast' | 'immediate'; downMs: number }> = [
    { mode: 'fast', downMs: 0 },
    { mode: 'immediate', downMs: 3 * LEASE_MS },
  ];
  try {
    for (const f of faults) {
      const before = load.acked.length;
      await until('writes before the restart', () => load.acked.length >= before + 10);
      await server.restart(f.mode, f.downMs);
      const backAt = Date.now();
      // Every replica acknowledges a write of its own again (503 while it reconnects).
      await Promise.all(
        c.replicas.map(async (r) => {
          for (;;) {
            const out = await write(r);
            if (out.acked) {
              load.acked.push(out.acked);
              return;
            }
            assert.equal(out.status, 503, `while PostgreSQL comes back a write answered ${out.status} ${out.code ?? ''}`);
            if (Date.now() - backAt > 60_000) throw new Error(`replica ${r.url} did not recover after the restart`);
            await new Promise((res) => setTimeout(res, 100));
          }
        }),
      );
      recoveryMs.push(Date.now() - backAt);
    }
    const before = load.acked.length;
    await until('writes acknowledged after the last restart', () => load.acked.length >= before + 10);
  } finally {
    await load.stop();
  }
  assert.ok(!load.refused.includes('CONNECTION'), 'no write ended without an answer (connection error or timeout): replicas stay up');
  const { size } = await checkTree(c.replicas[0]!, load.acked);
  for (const r of c.replicas.slice(1)) await checkTree(r, load.acked.filter((a) => a.size <= size));
  return { acked: load.acked.length, refused: load.refused, slowestMs: load.slowestMs(), recoveryMs };
}
