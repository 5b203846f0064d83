// When the leader tab goes away — closed, or its renderer crashed — another
// tab takes over with a higher epoch, exactly one new backend worker starts,
// and every remaining tab reconnects and round-trips a message, with no
// reload and no action by the app. A follower that goes away ends its
// session at the backend.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crash, echo, oneLeader, openTabs, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

const state = (page) =>
  page.evaluate(() => ({ epoch: window.client.epoch, started: window.workersStarted, role: window.client.role }));

/** Takes the leader away with `remove` until one tab is left, checking each failover. */
async function failOverUntilOneTabIsLeft(app, remove) {
  const context = await env.browser.newContext();
  try {
    let pages = await openTabs(context, env.server.url, app, 4);
    await oneLeader(pages);
    let previous = await Promise.all(pages.map((p) => echo(p)));
    while (pages.length > 1) {
      const leader = await oneLeader(pages);
      const before = await Promise.all(pages.map(state));
      const oldEpoch = before[leader].epoch;
      const known = new Set(before.flatMap((s) => s.started));
      const gone = pages[leader];
      pages = pages.filter((_, i) => i !== leader);
      await remove(context, gone);

      // Every remaining tab reconnects to the new leader's worker by itself.
      const answers = await Promise.all(
        pages.map((p) =>
          waitUntil(
            async () => {
              const { epoch } = await state(p);
              if (!(epoch > oldEpoch)) return null;
              return echo(p).catch(() => null);
            },
            { timeout: 10_000, what: 'a session with the new leader' },
          ),
        ),
      );
      const newLeader = await oneLeader(pages);
      const after = await Promise.all(pages.map(state));
      const epochs = new Set(after.map((s) => s.epoch));
      assert.equal(epochs.size, 1, 'every tab knows the same leader');
      assert.ok([...epochs][0] > oldEpoch, `epoch rose from ${oldEpoch} to ${[...epochs][0]}`);
      const workers = new Set(answers.map((a) => a.workerId));
      assert.equal(workers.size, 1, 'all tabs talk to one worker');
      assert.ok(!previous.some((a) => workers.has(a.workerId)), 'it is a new worker');
      const started = new Set(after.flatMap((s) => s.started).filter((w) => !known.has(w)));
      assert.deepEqual([...started], [...workers], 'exactly one new worker started, and it is the one serving');
      const ids = await Promise.all(pages.map((p) => p.evaluate(() => window.client.id)));
      assert.deepEqual(answers.map((a) => a.clientId), ids);
      assert.equal(after[newLeader].role, 'leader');
      // The app heard of it: the new leader's role changed, every tab's session ended and reopened.
      const events = await Promise.all(pages.map((p) => p.evaluate(() => window.events.map((e) => e.type))));
      assert.ok(events[newLeader].includes('rolechange'), 'the new leader got a rolechange event');
      for (const types of events) {
        assert.ok(types.lastIndexOf('session') > types.lastIndexOf('sessionend'), `reconnected: ${types}`);
      }
      const roleChange = await pages[newLeader].evaluate(() => window.events.findLast((e) => e.type === 'rolechange'));
      assert.deepEqual(roleChange.detail.role, 'leader');
      previous = answers;
    }
  } finally {
    await context.close();
  }
}

test('closing the leader tab: another takes over, until one tab is left', async () => {
  await failOverUntilOneTabIsLeft(uniqueApp('close'), (_, page) => page.close());
});

test('crashing the leader tab\'s renderer: the same recovery', async () => {
  await failOverUntilOneTabIsLeft(uniqueApp('crash'), crash);
});

test('closing a follower tab ends its session at the backend', async () => {
  const context = await env.browser.newContext();
  try {
    const pages = await openTabs(context, env.server.url, uniqueApp('follower'), 3);
    const leader = await oneLeader(pages);
    await Promise.all(pages.map((p) => echo(p)));
    const follower = pages[(leader + 1) % 3];
    const followerId = await follower.evaluate(() => window.client.id);
    await follower.close();
    const stats = await waitUntil(
      async () => {
        const s = await pages[leader].evaluate(() => window.ask({ op: 'stats' }));
        return s.ended.includes(followerId) ? s : null;
      },
      { what: 'the backend to see the session end' },
    );
    assert.ok(!stats.open.includes(followerId), 'the session is no longer open');
    assert.equal(stats.open.length, 2, 'the other two sessions are untouched');
  } finally {
    await context.close();
  }
});
