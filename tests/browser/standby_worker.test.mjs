// The warm standby: the follower next in line for the leader lock keeps one
// backend worker loaded (script run, wasm instantiated, backend not started).
// Exactly one follower keeps it; when that tab closes it moves to the next;
// when the leader goes, the new leader adopts it: the backend that serves
// after the failover runs in the worker that was the standby, and a new
// standby appears in the next follower.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echo, oneLeader, openTab, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

/** The tabs among `pages` whose page runs a dedicated worker: with `leader` left out, the standby's. */
function keepers(pages, leader) {
  return pages.filter((page) => page !== leader && page.workers().length > 0);
}

/** Waits until exactly one follower of `pages` keeps a worker, and it alone: that tab and its worker's id. */
async function theStandby(pages, leader) {
  const tab = await waitUntil(
    () => {
      const found = keepers(pages, leader);
      return found.length === 1 && found[0].workers().length === 1 ? found[0] : null;
    },
    { what: 'one follower, alone, to keep one standby worker' },
  );
  const workerId = await waitUntil(() => tab.workers()[0]?.evaluate(() => self.workerId).catch(() => null), {
    what: "the standby's backend to load",
  });
  return { tab, workerId };
}

const started = (page) => page.evaluate(() => window.workersStarted);

test('one follower keeps the standby, it moves when that tab closes, and the next leader adopts it', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('standby');
    // One at a time, so the order in line is the order opened.
    const pages = [];
    for (let i = 0; i < 4; i += 1) pages.push(await openTab(context, env.server.url, app));
    const leader = pages[await oneLeader(pages)];
    const first = await theStandby(pages, leader);
    assert.equal(first.tab, pages[1], 'the oldest follower keeps it');
    // Loaded, not started: no backend announced it.
    assert.ok(!(await started(leader)).includes(first.workerId), 'the standby backend did not start');

    // The standby's tab closes: the next follower in line keeps one.
    await first.tab.close();
    const rest = pages.filter((p) => p !== first.tab);
    const second = await theStandby(rest, leader);
    assert.equal(second.tab, pages[2]);
    assert.notEqual(second.workerId, first.workerId);

    // The leader closes: the standby's tab leads, and its backend runs in the standby worker.
    const { epoch: oldEpoch } = await leader.evaluate(() => ({ epoch: window.client.epoch }));
    await leader.close();
    const left = rest.filter((p) => p !== leader);
    const answers = await Promise.all(
      left.map((page) =>
        waitUntil(
          async () => ((await page.evaluate(() => window.client.epoch)) > oldEpoch ? echo(page).catch(() => null) : null),
          { timeout: 10_000, what: 'a session with the new leader' },
        ),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.workerId),
      left.map(() => second.workerId),
      "every tab is served by the backend in the old standby's worker",
    );
    assert.equal(await second.tab.evaluate(() => window.client.role), 'leader');
    assert.ok((await started(second.tab)).includes(second.workerId), 'its backend started once adopted');
    assert.equal(second.tab.workers().length, 1, 'the new leader started no worker of its own');
    // And the last follower keeps the standby now.
    const third = await theStandby(left, second.tab);
    assert.equal(third.tab, pages[3]);
  } finally {
    await context.close();
  }
});
