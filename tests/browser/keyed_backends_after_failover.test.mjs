// Keyed backends run in the leader tab, each in its own dedicated worker.
// When the leader tab goes, every tab sees each of its backends end with
// `lost`, and the same keys can be connected again on the new leader.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  connectOk,
  heldLiveness,
  keyedTabs,
  oneLeader,
  openSession,
  statusLog,
  talk,
  useBrowser,
  waitForStatus,
  waitUntil,
  watch,
} from './harness.mjs';

const env = useBrowser();

test('closing the leader tab: its backends are lost, and the keys run again on the new leader', async () => {
  const { context, pages, leaderIndex } = await keyedTabs(env, 'keyed-failover', 3);
  try {
    const oldLeader = pages[leaderIndex];
    const followers = pages.filter((_, i) => i !== leaderIndex);
    const keys = ['first-key', 'second-key'];
    const before = {};
    for (const key of keys) {
      before[key] = await connectOk(followers[0], { key, spawn: true });
      for (const page of followers) await watch(page, before[key].backend_id, key);
      await openSession(followers[0], before[key].url, key);
      assert.equal((await talk(followers[0], key, { op: 'echo' })).key, key);
    }

    await oldLeader.close();

    // Every remaining tab sees both backends end with `lost`.
    for (const page of followers) {
      for (const key of keys) {
        const log = await waitForStatus(page, key, 'terminated', { timeout: 10_000 });
        assert.equal(log.at(-1).termination_reason, 'lost', `${key}: ${JSON.stringify(log.at(-1))}`);
      }
    }
    // The session of the old backend ended with it.
    await waitUntil(
      () => followers[0].evaluate((keys) => keys.every((k) => window.keyedSessions.get(k).ended), keys),
      { what: 'the old sessions to end' },
    );

    const newLeaderIndex = await oneLeader(followers, { timeout: 10_000 });
    const newFollower = followers[1 - newLeaderIndex];
    for (const key of keys) {
      const again = await connectOk(newFollower, { key, spawn: true });
      assert.equal(again.spawned, true, `${key}: spawned anew`);
      assert.notEqual(again.backend_id, before[key].backend_id, `${key}: a new backend`);
      await openSession(newFollower, again.url, `${key}-again`);
      const answer = await talk(newFollower, `${key}-again`, { op: 'echo' }, 5000);
      assert.equal(answer.backendId, again.backend_id);
      assert.equal(answer.key, key);
      // The new leader reaches it too.
      const fromLeader = await connectOk(followers[newLeaderIndex], { key });
      assert.equal(fromLeader.backend_id, again.backend_id);
      assert.equal(fromLeader.spawned, false);
    }
    // The old backends' streams stay ended.
    const oldLog = await statusLog(newFollower, keys[0]);
    assert.equal(oldLog.at(-1).status, 'terminated');
  } finally {
    await context.close();
  }
});

test('two keys, two workers at once; terminating one leaves the other answering', async () => {
  const { context, pages, leaderIndex } = await keyedTabs(env, 'two-workers', 2);
  try {
    const leader = pages[leaderIndex];
    const follower = pages[1 - leaderIndex];
    const one = await connectOk(follower, { key: 'one', spawn: true });
    const two = await connectOk(follower, { key: 'two', spawn: true });
    await openSession(follower, one.url, 'one');
    await openSession(follower, two.url, 'two');
    const [a, b] = await Promise.all([
      talk(follower, 'one', { op: 'echo' }),
      talk(follower, 'two', { op: 'echo' }),
    ]);
    assert.notEqual(a.backendId, b.backendId, 'two backends');
    assert.equal(a.backendId, one.backend_id);
    assert.equal(b.backendId, two.backend_id);
    assert.notEqual(a.instance, b.instance, 'two workers');
    // Two threads: while `one` spins for ever, `two` still answers.
    await leader.evaluate(async () => {
      await window.client.connected();
    });
    const livenessBefore = await waitUntil(async () => {
      const held = await heldLiveness(leader);
      return held.length === 3 ? held : null; // the default backend's worker, `one`'s and `two`'s
    }, { what: 'three backend workers alive' });
    await follower.evaluate(() => {
      window.talk('one', { op: 'spin' }, 60_000).catch(() => {});
    });
    const stuck = await follower.evaluate(() => window.settle(window.talk('one', { op: 'echo' }, 300)));
    assert.ok(stuck.error, '`one` is busy');
    assert.equal((await talk(follower, 'two', { op: 'echo', value: 'still' })).value, 'still', '`two` runs on');

    await watch(follower, one.backend_id, 'one');
    const result = await leader.evaluate((id) => window.client.terminate(id, { hard: true }), one.backend_id);
    assert.equal(result.status, 'terminated');
    await waitUntil(
      async () => (await heldLiveness(leader)).length === livenessBefore.length - 1,
      { what: "`one`'s worker to die" },
    );
    await waitUntil(() => follower.evaluate(() => window.keyedSessions.get('one').ended), {
      what: "`one`'s session to end",
    });
    const after = await talk(follower, 'two', { op: 'echo', value: 'after' });
    assert.equal(after.value, 'after');
    assert.equal(after.backendId, two.backend_id);
    assert.equal(
      (await follower.evaluate((id) => window.client.status(id), two.backend_id)).status,
      'ready',
      '`two` is still ready',
    );
    const log = await waitForStatus(follower, 'one', 'terminated');
    assert.equal(log.at(-1).termination_reason, 'external');
    assert.equal(log.at(-1).termination_kind, 'hard');
  } finally {
    await context.close();
  }
});
