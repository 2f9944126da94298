/**
 * The short fuzz run of every HTTP route of `cairn up` (issue 14): ≥ 100 cases per route (see
 * test/helpers/fuzz.ts for what a case is and what is asserted). The long run, ≥ 1,000 per
 * route, is test/http-fuzz.soak.test.ts (`npm run test:soak`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFullStack, type FullStack } from './helpers/full-stack.ts';
import { fuzzAllRoutes } from './helpers/fuzz.ts';

const RUNS = Number(process.env.CAIRN_FUZZ_RUNS ?? 100);
let s: FullStack;
before(async () => {
  s = await startFullStack();
});
after(async () => {
  await s?.stop();
});

test(`every route of cairn up, ${RUNS} random cases each: never a 5xx, never a hang, refusals change nothing`, { timeout: 600_000 }, async (t) => {
  const reports = await fuzzAllRoutes(s, RUNS, t);
  for (const r of reports) assert.ok(r.cases >= RUNS, `${r.route}: ${r.cases} cases`);
  assert.deepEqual(s.logLines.filter((l) => l.includes('unhandled error')), []);
});
