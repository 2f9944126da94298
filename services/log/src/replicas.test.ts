/**
 * Failover of `cairn serve log` replicas on one PostgreSQL database, with real processes (short
 * versions; replicas.soak.test.ts runs many kill rounds). Needs CAIRN_TEST_POSTGRES.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killRounds, pausedLeader, restartedPostgres, terminatedConnections } from './replica-rounds.ts';
import { privatePostgresSkip } from './store/private-postgres.ts';
import { TEST_POSTGRES } from './store/test-stores.ts';

const skip = TEST_POSTGRES ? false : 'CAIRN_TEST_POSTGRES is not set: the PostgreSQL replica tests were skipped';

test('replicas: SIGKILL of the sequencer under load: another takes over, nothing acknowledged is lost, no size has two roots', { skip }, async (t) => {
  const r = await killRounds(t, 1);
  t.diagnostic(`acknowledged ${r.acked}, refused ${r.refused}, failover ${r.failoverMs.join(', ')} ms, final size ${r.finalSize}`);
  assert.ok(r.acked > 0);
});

test('replicas: a sequencer paused (SIGSTOP) until another takes over cannot commit after SIGCONT', { skip }, async (t) => {
  const r = await pausedLeader(t);
  t.diagnostic(`answers of the resumed sequencer to the writes it held: ${r.resumedAnswers.join(', ')}`);
});

test('replicas: connections killed with pg_terminate_backend: replicas recover, clients see 201 or 503, nothing acknowledged is lost', { skip }, async (t) => {
  const r = await terminatedConnections(t, 3);
  t.diagnostic(`acknowledged ${r.acked}, refused ${r.refused.length} (${[...new Set(r.refused)].join(', ')})`);
  assert.ok(r.acked > 0);
});

// On a private server (initdb in a temporary folder): restarting the shared one would disturb every other test.
const skipRestart = skip || privatePostgresSkip();
if (skipRestart && skip === false) console.log(`# ${skipRestart}`);

test('replicas: PostgreSQL restarted under load (pg_ctl stop -m fast / -m immediate, then start): replicas recover, clients see 201 or 503 and no hang, nothing acknowledged is lost', { skip: skipRestart }, async (t) => {
  const r = await restartedPostgres(t);
  t.diagnostic(
    `acknowledged ${r.acked}, refused ${r.refused.length} (${[...new Set(r.refused)].join(', ')}), slowest answer ${r.slowestMs} ms, all replicas writing again ${r.recoveryMs.join(', ')} ms after the server was back`,
  );
  assert.ok(r.acked > 0);
  assert.ok(r.refused.length > 0, 'the restarts were seen by the clients (503s), so the test exercised the fault');
});
