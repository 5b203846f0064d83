// A leader tab whose main thread stops (frozen by the browser, or wedged in a
// long task; here: a loop that holds it for 12 s) keeps its leader lock. Once
// a follower needs it, the coordinator probes it and, after 1.5 s without an
// answer, tells one follower to take the lock over: new connects are served
// again within 3 s, exactly one takeover happens, the old leader's backends
// end as `key_expired` (their workers lose their locks and close themselves),
// and when it wakes it is a follower with no worker. A main thread busy for less than the threshold is
// left alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectOk, holdBusy, keyedTabs, oneLeader, useBrowser, waitForStatus, waitUntil, watch } from './harness.mjs';

const env = useBrowser();

const epochOf = (page) => page.evaluate(() => window.client.epoch);
const roleOf = (page) => page.evaluate(() => window.client.role);

test('a leader wedged for 12 s is taken over once within 3 s of a connect, and wakes a follower with no worker', async (t) => {
  const { context, leader, followers } = await keyedTabs(env, 'frozen-leader', 3);
  try {
    const [asker, watcher] = followers;
    const before = await connectOk(asker, { key: 'before', spawn: true });
    await watch(watcher, before.backend_id, 'before');
    await waitForStatus(watcher, 'before', 'ready');
    const epoch = await epochOf(asker);
    assert.ok(leader.workers().length >= 2, 'the leader runs its own worker and the backend of `before`');

    await holdBusy(leader, 12_000);
    const frozenAt = Date.now();
    const after = await connectOk(asker, { key: 'after', spawn: true });
    const servedIn = Date.now() - frozenAt;
    t.diagnostic(`a connect to a new key was served ${servedIn} ms after the leader froze`);
    assert.ok(servedIn < 3_000, `a connect to a new key was served ${servedIn} ms after the leader froze`);
    assert.equal(after.spawned, true);

    // One follower leads now, one term later; the old leader's backend ended as `key_expired`.
    const newLeader = followers[await oneLeader(followers)];
    assert.deepEqual(await Promise.all(followers.map(epochOf)), [epoch + 1, epoch + 1]);
    const log = await waitForStatus(watcher, 'before', 'terminated');
    assert.equal(log.at(-1).termination_reason, 'key_expired', JSON.stringify(log.at(-1)));
    // It wakes a follower: no worker, no takeover back.
    await waitUntil(async () => (await roleOf(leader)) === 'follower' && (await epochOf(leader)) === epoch + 1, {
      timeout: 15_000,
      what: 'the woken tab to follow the new leader',
    });
    await waitUntil(() => leader.workers().length === 0, { what: "the woken tab's workers to end" });
    const again = await connectOk(leader, { key: 'before', spawn: true });
    assert.equal(again.spawned, true, 'the key starts again, on demand, under the new leader');
    assert.notEqual(again.backend_id, before.backend_id);
    assert.deepEqual(await Promise.all([leader, ...followers].map(epochOf)), [epoch + 1, epoch + 1, epoch + 1]);
    assert.equal(await roleOf(newLeader), 'leader');
    const leaderEvents = await Promise.all(
      followers.map((p) => p.evaluate(() => window.events.filter((e) => e.type === 'leader').length)),
    );
    assert.deepEqual(leaderEvents, [2, 2], 'each follower heard of exactly one new leader');
  } finally {
    await context.close();
  }
});

test('a leader busy for 1 s, under the threshold, is not taken over', async () => {
  const { context, leader, followers } = await keyedTabs(env, 'busy-leader', 2);
  try {
    const [asker] = followers;
    await connectOk(asker, { key: 'first', spawn: true });
    const epoch = await epochOf(asker);
    assert.equal(typeof epoch, 'number');
    await holdBusy(leader, 1_000);
    const busyAt = Date.now();
    const served = await connectOk(asker, { key: 'during', spawn: true });
    assert.equal(served.spawned, true);
    assert.ok(Date.now() - busyAt >= 900, 'it was answered once the long task ended');
    assert.equal(await epochOf(asker), epoch, 'no new term');
    assert.equal(await roleOf(leader), 'leader');
    assert.equal(await roleOf(asker), 'follower');
  } finally {
    await context.close();
  }
});
