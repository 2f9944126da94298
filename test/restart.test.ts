/** Restart under load, short version (3 SIGKILL rounds of `cairn up`); 20 in test/restart.soak.test.ts. */
import { test } from 'node:test';
import { restartRounds } from './helpers/restart.ts';

test('cairn up killed with SIGKILL under write load, 3 rounds: acknowledged entries survive at their index, seen heads are consistent, start-window connections answered', { timeout: 240_000 }, async (t) => {
  await restartRounds(3, t);
});
