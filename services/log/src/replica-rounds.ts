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

const LEASE_MS = 1_000;

export interface Cluster {
  replicas: Replica[];
  storeUrl: string;
  dataDir: string;
  extra: string[];
}

/** 3 replicas on a fresh database (the first one creates the shared key and state, then the others start). */
export async function cluster(t: TestContext, extra: string[] = []): Promise<Cluster> {
  const db = await createTestDatabase();
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
