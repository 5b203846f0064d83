// How keyed backends end: swept when idle or too old, hard-terminated when
// they do not become ready in time, killed even in a busy loop (hard at once,
// or soft after the grace period), `exit_error` when `start` throws or an
// error escapes later, and a connect with spawn while one terminates gets a
// successor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  connectOk,
  heldLiveness,
  keyedTabs,
  openSession,
  statusLog,
  talk,
  useBrowser,
  waitForStatus,
  waitUntil,
  watch,
} from './harness.mjs';

const env = useBrowser();

/** Two tabs of a fresh app; `{ context, leader, follower }`. */
const twoTabs = (prefix, options = {}) => keyedTabs(env, prefix, 2, options);

/** Fails unless `condition` stays true for `ms` (a check over a span of time, not a wait). */
async function holdsFor(condition, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    assert.ok(await condition(), what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A backend of `key` in `page`, watched as `key`, with a session named `key`; the connect's response. */
async function spawnAndOpen(page, key, spawn = true) {
  const response = await connectOk(page, { key, spawn });
  await watch(page, response.backend_id, key);
  await waitForStatus(page, key, 'ready');
  await openSession(page, response.url, key);
  assert.equal((await talk(page, key, { op: 'echo' })).backendId, response.backend_id);
  return response;
}

const statuses = (log) => log.map((s) => s.status);

test('max_idle_seconds: 1 — swept within 3 s of the last session closing, not while one is open', async () => {
  const { context, follower } = await twoTabs('idle');
  try {
    await spawnAndOpen(follower, 'idle', { max_idle_seconds: 1 });
    // With the session open, it outlives its idle limit.
    await holdsFor(
      async () => (await statusLog(follower, 'idle')).at(-1).status === 'ready',
      1500,
      'an open session keeps it from being swept',
    );
    const closedAt = Date.now();
    await follower.evaluate(() => window.keyedSessions.get('idle').session.close());
    const log = await waitForStatus(follower, 'idle', 'terminated', { timeout: 5000 });
    const elapsed = Date.now() - closedAt;
    assert.ok(elapsed <= 3000, `swept ${elapsed} ms after the session closed`);
    const last = log.at(-1);
    assert.equal(last.termination_reason, 'swept', JSON.stringify(last));
    assert.ok(statuses(log).includes('terminating'), `a soft termination: ${statuses(log)}`);
    assert.equal(log.find((s) => s.status === 'terminating').termination_reason, 'swept');
  } finally {
    await context.close();
  }
});

test('lifetime_limit_seconds: 1 — swept, even with a session open', async () => {
  const { context, follower } = await twoTabs('lifetime');
  try {
    await spawnAndOpen(follower, 'old', { lifetime_limit_seconds: 1 });
    const log = await waitForStatus(follower, 'old', 'terminated', { timeout: 5000 });
    assert.equal(log.at(-1).termination_reason, 'swept', JSON.stringify(log.at(-1)));
    const ready = Date.parse(log.find((s) => s.status === 'ready').time);
    const scheduled = Date.parse(log[0].time);
    const end = Date.parse(log.at(-1).time);
    assert.ok(end - scheduled >= 900, `lived its second: ${end - scheduled} ms (ready after ${ready - scheduled})`);
    // The session ended with it.
    await waitUntil(() => follower.evaluate(() => window.keyedSessions.get('old').ended), {
      what: 'the session to close',
    });
  } finally {
    await context.close();
  }
});

test('declaresReady: ready only when the backend says so', async () => {
  const { context, follower } = await twoTabs('declared');
  try {
    const response = await connectOk(follower, {
      key: 'slow-to-say',
      spawn: { tag: 'declared', executable: { env: { READY_AFTER_MS: '800' } } },
    });
    await watch(follower, response.backend_id, 'slow');
    const log = await waitForStatus(follower, 'slow', 'ready');
    assert.deepEqual(statuses(log), ['scheduled', 'loading', 'starting', 'waiting', 'ready']);
    const waited = Date.parse(log[4].time) - Date.parse(log[0].time);
    assert.ok(waited >= 700, `ready ${waited} ms after scheduled, not before ctx.ready()`);
  } finally {
    await context.close();
  }
});

test('never ready within startupTimeoutMs — hard-terminating, then terminated with startup_timeout', async () => {
  const { context, follower } = await twoTabs('never-ready', { startupTimeoutMs: 1000 });
  try {
    const response = await connectOk(follower, {
      key: 'mute',
      spawn: { tag: 'declared', executable: { env: { MODE: 'never-ready' } } },
    });
    await watch(follower, response.backend_id, 'mute');
    const readiness = follower.evaluate((url) => window.settle(window.client.ready(url)), response.ready_url);
    const log = await waitForStatus(follower, 'mute', 'terminated', { timeout: 5000 });
    assert.deepEqual(statuses(log).slice(-2), ['hard-terminating', 'terminated'], statuses(log).join());
    assert.ok(!statuses(log).includes('ready'), 'never ready');
    assert.equal(log.at(-2).termination_reason, 'startup_timeout');
    assert.equal(log.at(-1).termination_reason, 'startup_timeout');
    const waited = Date.parse(log.at(-2).time) - Date.parse(log[0].time);
    assert.ok(waited >= 900 && waited < 4000, `timed out after ${waited} ms`);
    const ready = await readiness;
    assert.equal(ready.error?.code, 'backend-terminated', `ready() rejects: ${JSON.stringify(ready)}`);
  } finally {
    await context.close();
  }
});

/** The liveness lock that appeared while `spawn` ran, seen from `page`. */
async function newLivenessLock(page, spawn) {
  // The default backend's worker takes its lock too: wait for it to be up first.
  await page.evaluate(async () => {
    await window.client.connected();
  });
  const before = new Set(await waitUntil(async () => {
    const held = await heldLiveness(page);
    return held.length > 0 ? held : null;
  }, { what: "the default backend worker's liveness lock" }));
  const result = await spawn();
  const fresh = await waitUntil(async () => {
    const now = (await heldLiveness(page)).filter((name) => !before.has(name));
    return now.length === 1 ? now[0] : null;
  }, { what: "the new backend worker's liveness lock" });
  return { result, lock: fresh };
}

test('a backend in a busy loop: terminate(id, { hard: true }) kills the worker', async () => {
  const { context, follower, leader } = await twoTabs('busy-hard');
  try {
    const { result: response, lock } = await newLivenessLock(leader, () => spawnAndOpen(follower, 'busy'));
    // It spins: no more answers.
    await follower.evaluate(() => {
      window.talk('busy', { op: 'spin' }, 60_000).catch(() => {});
    });
    const stuck = await follower.evaluate(() => window.settle(window.talk('busy', { op: 'echo' }, 300)));
    assert.ok(stuck.error, 'the spinning worker no longer answers');
    assert.ok((await heldLiveness(leader)).includes(lock), 'the spinning worker is alive');

    const result = await follower.evaluate((id) => window.client.terminate(id, { hard: true }), response.backend_id);
    assert.equal(result.status, 'terminated');
    assert.equal(result.termination_reason, 'external');
    assert.equal(result.termination_kind, 'hard');
    await waitUntil(async () => !(await heldLiveness(leader)).includes(lock), {
      what: "the worker's liveness lock to be released",
    });
    const log = await waitForStatus(follower, 'busy', 'terminated');
    assert.ok(statuses(log).includes('hard-terminating'), statuses(log).join());
    assert.ok(!statuses(log).includes('terminating'), `hard at once: ${statuses(log)}`);
  } finally {
    await context.close();
  }
});

test('a backend in a busy loop: a soft terminate becomes hard after terminationGraceMs', async () => {
  const { context, follower, leader } = await twoTabs('busy-soft', { terminationGraceMs: 500 });
  try {
    const { result: response, lock } = await newLivenessLock(leader, () => spawnAndOpen(follower, 'busy'));
    await follower.evaluate(() => {
      window.talk('busy', { op: 'spin' }, 60_000).catch(() => {});
    });
    const asked = Date.now();
    const result = await follower.evaluate((id) => window.client.terminate(id), response.backend_id);
    const took = Date.now() - asked;
    assert.equal(result.status, 'terminated');
    assert.equal(result.termination_reason, 'external');
    assert.ok(took >= 400, `it waited the grace period first (${took} ms)`);
    assert.ok(took < 4000, `and not the default one (${took} ms)`);
    await waitUntil(async () => !(await heldLiveness(leader)).includes(lock), {
      what: "the worker's liveness lock to be released",
    });
    const log = await waitForStatus(follower, 'busy', 'terminated');
    const seq = statuses(log);
    assert.ok(seq.indexOf('terminating') >= 0, seq.join());
    assert.ok(seq.indexOf('hard-terminating') > seq.indexOf('terminating'), `soft, then hard: ${seq}`);
    assert.equal(log.at(-1).termination_kind, 'hard', JSON.stringify(log.at(-1)));
  } finally {
    await context.close();
  }
});

test('start throws: terminated with exit_error', async () => {
  const { context, follower } = await twoTabs('throws');
  try {
    const response = await connectOk(follower, {
      key: 'broken',
      spawn: { executable: { env: { MODE: 'throw-at-start' } } },
    });
    await watch(follower, response.backend_id, 'broken');
    const readiness = await follower.evaluate((url) => window.settle(window.client.ready(url)), response.ready_url);
    assert.equal(readiness.error?.code, 'backend-terminated', JSON.stringify(readiness));
    const log = await waitForStatus(follower, 'broken', 'terminated');
    assert.ok(!statuses(log).includes('ready'), statuses(log).join());
    assert.equal(log.at(-1).exit_error, true, JSON.stringify(log.at(-1)));
  } finally {
    await context.close();
  }
});

test('an uncaught error after ready: terminated with exit_error', async () => {
  const { context, follower } = await twoTabs('crash');
  try {
    await spawnAndOpen(follower, 'crashy');
    assert.equal((await talk(follower, 'crashy', { op: 'crash' })).ok, true);
    const log = await waitForStatus(follower, 'crashy', 'terminated');
    assert.equal(log.at(-1).exit_error, true, JSON.stringify(log.at(-1)));
  } finally {
    await context.close();
  }
});

test('a connect with spawn while the key terminates gets a successor', async () => {
  const { context, follower, leader } = await twoTabs('successor');
  try {
    // Its stop takes 2 s, so it stays `terminating` long enough to connect meanwhile.
    const old = await spawnAndOpen(follower, 'relay', { executable: { env: { STOP_MS: '2000' } } });
    const terminated = follower.evaluate((id) => window.client.terminate(id), old.backend_id);
    await waitForStatus(follower, 'relay', 'terminating');
    const next = await connectOk(leader, { key: 'relay', spawn: true });
    assert.equal(next.spawned, true, 'a new backend was spawned');
    assert.notEqual(next.backend_id, old.backend_id);
    await openSession(leader, next.url, 'next');
    const answer = await talk(leader, 'next', { op: 'echo' }, 5000);
    assert.equal(answer.backendId, next.backend_id);
    assert.equal(answer.key, 'relay');
    assert.equal((await terminated).status, 'terminated', 'the old one still ends');
    const oldLog = await statusLog(follower, 'relay');
    assert.ok(
      Date.parse(oldLog.find((s) => s.status === 'terminating').time) <= Date.parse(oldLog.at(-1).time),
      'in order',
    );
  } finally {
    await context.close();
  }
});
