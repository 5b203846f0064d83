// The seeded random walk of walk.mjs, short: three seeds of 50 steps each in
// the test command. `node scripts/walk.mjs` runs the long one; a failing walk
// names its seed, and `--seed` replays it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBrowser } from './harness.mjs';
import { runWalk } from './walk.mjs';

const env = useBrowser();
const SEEDS = [1, 2, 3];
const STEPS = 50;

for (const seed of SEEDS) {
  test(`random walk, seed ${seed}, ${STEPS} steps: one leader, every tab served, one worker per key, nothing handled twice or left behind`, async (t) => {
    const { stats } = await runWalk({ browser: env.browser, baseUrl: env.server.url, seed, steps: STEPS });
    t.diagnostic(JSON.stringify(stats));
    assert.equal(stats.steps, STEPS);
    assert.ok(stats.handled > 0, 'requests were handled');
  });
}
