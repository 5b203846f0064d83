// A keyed backend's statuses, as every tab sees them: `statusStream` gives
// each state once and in order — `scheduled, loading, starting, waiting,
// ready`, then on a soft `terminate` `terminating, terminated` — replays the
// past to a late subscriber, and `status()` gives the current state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  connectOk,
  keyedTabs,
  statusLog,
  useBrowser,
  waitForStatus,
  waitUntil,
  watch,
} from './harness.mjs';

const env = useBrowser();

const STARTUP = ['scheduled', 'loading', 'starting', 'waiting', 'ready'];

test('the status stream, from a follower: startup, then a soft terminate from another follower', async () => {
  const { context, pages, leaderIndex } = await keyedTabs(env, 'statuses', 3);
  try {
    const leader = pages[leaderIndex];
    const [watcher, terminator] = pages.filter((_, i) => i !== leaderIndex);

    const response = await connectOk(watcher, { key: 'lifecycle', spawn: true });
    const id = response.backend_id;
    await watch(watcher, id, 'live');
    const started = await waitForStatus(watcher, 'live', 'ready');
    assert.deepEqual(started.map((s) => s.status), STARTUP, 'exactly the startup statuses, in order');
    assert.equal(
      (await watcher.evaluate((id) => window.client.status(id), id)).status,
      'ready',
      'status() is the current state',
    );

    const result = await terminator.evaluate((id) => window.client.terminate(id), id);
    assert.equal(result.status, 'terminated', 'terminate() resolves with the terminated state');
    assert.equal(result.termination_reason, 'external');
    assert.equal(result.termination_kind, 'soft');

    const log = await waitForStatus(watcher, 'live', 'terminated');
    assert.deepEqual(log.map((s) => s.status), [...STARTUP, 'terminating', 'terminated']);
    assert.equal(log[5].termination_reason, 'external');
    const last = log[6];
    assert.equal(last.termination_reason, 'external');
    assert.equal(last.termination_kind, 'soft');
    assert.ok(!last.exit_error, `no exit error: ${JSON.stringify(last)}`);
    for (const state of log) assert.ok(!Number.isNaN(Date.parse(state.time)), `a time: ${state.time}`);
    const times = log.map((s) => Date.parse(s.time));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'times do not go back');
    assert.equal(
      (await watcher.evaluate((id) => window.client.status(id), id)).status,
      'terminated',
      'status() follows',
    );

    // Late subscribers — the terminating follower and the leader — get the whole history.
    await watch(terminator, id, 'late');
    await watch(leader, response.status_url, 'late');
    const replays = await Promise.all(
      [terminator, leader].map((page) =>
        waitUntil(async () => {
          const log = await statusLog(page, 'late');
          return log.length >= 7 ? log : null;
        }, { what: 'the replayed history' }),
      ),
    );
    for (const replay of replays) assert.deepEqual(replay, log, 'every tab sees the same states');
    // Nothing more arrives (once each): still seven.
    const again = await statusLog(watcher, 'live');
    assert.equal(again.length, 7, 'each state once');
  } finally {
    await context.close();
  }
});

test('all tabs watching from the start see the same sequence', async () => {
  const { context, pages, leaderIndex } = await keyedTabs(env, 'same-seq', 3);
  try {
    const follower = pages[(leaderIndex + 1) % 3];
    const response = await connectOk(follower, { key: 'shared-view', spawn: true });
    await Promise.all(pages.map((page) => watch(page, response.backend_id, 'all')));
    await Promise.all(pages.map((page) => waitForStatus(page, 'all', 'ready')));
    await pages[leaderIndex].evaluate((id) => window.client.terminate(id), response.backend_id);
    const logs = await Promise.all(pages.map((page) => waitForStatus(page, 'all', 'terminated')));
    assert.deepEqual(logs[0].map((s) => s.status), [...STARTUP, 'terminating', 'terminated']);
    assert.deepEqual(logs[1], logs[0]);
    assert.deepEqual(logs[2], logs[0]);
  } finally {
    await context.close();
  }
});

test('unsubscribing stops the stream', async () => {
  const { context, pages, leaderIndex } = await keyedTabs(env, 'unsub', 2);
  try {
    const follower = pages[1 - leaderIndex];
    const response = await connectOk(follower, { key: 'unsub', spawn: true });
    await watch(follower, response.backend_id, 'stopped');
    await watch(follower, response.backend_id, 'kept');
    await waitForStatus(follower, 'stopped', 'ready');
    await follower.evaluate(() => window.unwatch.stopped());
    await follower.evaluate((id) => window.client.terminate(id), response.backend_id);
    await waitForStatus(follower, 'kept', 'terminated');
    const stopped = await statusLog(follower, 'stopped');
    assert.deepEqual(stopped.map((s) => s.status), STARTUP, 'nothing after the unsubscribe');
  } finally {
    await context.close();
  }
});
