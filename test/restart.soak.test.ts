/** Restart under load, long version (CAIRN_RESTART_ROUNDS, default 20 SIGKILL rounds of `cairn up`). */
import { test } from 'node:test';
import { restartRounds } from './helpers/restart.ts';

const ROUNDS = Number(process.env.CAIRN_RESTART_ROUNDS ?? 20);

test(`soak: cairn up killed with SIGKILL under write load, ${ROUNDS} rounds: acknowledged entries survive at their index, seen heads are consistent, start-window connections answered`, { timeout: 1_800_000 }, async (t) => {
  await restartRounds(ROUNDS, t);
});
