/** Failover soak (`npm run test:soak`): 10 SIGKILL rounds of the sequencer under load. Needs CAIRN_TEST_POSTGRES. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killRounds } from './replica-rounds.ts';
import { TEST_POSTGRES } from './store/test-stores.ts';

const ROUNDS = 10;
const skip = TEST_POSTGRES ? false : 'CAIRN_TEST_POSTGRES is not set: the PostgreSQL failover soak was skipped';

test(`replicas soak: ${ROUNDS} SIGKILL rounds of the sequencer: every acknowledged entry present at its index, checkpoints consistent`, { skip }, async (t) => {
  const r = await killRounds(t, ROUNDS);
  const sorted = [...r.failoverMs].sort((a, b) => a - b);
  const line = `rounds ${r.rounds}, acknowledged ${r.acked}, lost 0 (checked), refused ${r.refused}, failover ms min ${sorted[0]} median ${sorted[Math.floor(sorted.length / 2)]} max ${sorted[sorted.length - 1]}, final size ${r.finalSize}`;
  t.diagnostic(line);
  console.log(`# soak: ${line}`);
  assert.equal(r.failoverMs.length, ROUNDS);
});
