// The first tab leads and hosts the coordinator's SharedWorker (the usual case). When its renderer
// crashes, the coordinator dies with it: the other tabs start a new coordinator and elect a new
// leader. The keyed backends the crashed tab hosted died too, and no tab continues their term: the
// new coordinator and leader must end them as `lost`, so that every `reconnect` handle follows its
// key to one new backend, each request in flight ends once, and no handle says `ready` of a dead
// backend. A reload of that tab takes the same path through its page's unload, and the reloaded
// page joins again and is served by the new backend, as every tab's default backend is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crash, echo, oneLeader, openTab, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

const API = '/tests/browser/fixtures/api-backend.js';
const IN_FLIGHT = 6;
const TIMEOUT_MS = 20_000; // far above the bound below: a request that waits for it has hung
const FAILOVER_BOUND_MS = 5_000;

/** In a follower: a `reconnect` handle on `room`, sampled every few ms, with requests to come. */
async function holdRoom(page) {
  return page.evaluate(async () => {
    const handle = await window.client.connectBackend({ key: 'room', spawn: { tag: 'api' } }, { reconnect: true });
    window.room = handle;
    await handle.ready();
    window.samples = [];
    window.sampler = setInterval(() => {
      const state = handle.status();
      window.samples.push({ at: performance.now(), backendId: handle.backendId, status: state?.status ?? null });
    }, 5);
    window.outcomes = [];
    window.inFlight = (count, timeoutMs) => {
      for (let n = 1; n <= count; n++) {
        handle.request('slow', { ms: 200 + 50 * n, value: n }, { timeoutMs }).then(
          (value) => window.outcomes.push({ n, value }),
          (e) => window.outcomes.push({ n, error: e.code }),
        );
      }
    };
    return { backendId: handle.backendId, worker: await handle.request('worker') };
  });
}

/**
 * The first tab leads and hosts the coordinator; two followers hold `reconnect` handles on one key
 * with requests in flight; `goAway(context, host)` ends the host tab's run. Every handle follows
 * its key to one new backend, within the bound. Returns the pages, the key's new backend and
 * worker, and the coordinator before.
 */
async function hostGoesAway(context, prefix, goAway) {
  const app = uniqueApp(prefix);
  // The default backend is the fixture's echo backend; the key's, the api backend.
  const options = { backends: { api: API } };
  // The first tab alone: it starts the SharedWorker and takes the leader lock.
  const host = await openTab(context, env.server.url, app, options);
  await waitUntil(() => host.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to lead' });
  const followers = [await openTab(context, env.server.url, app, options), await openTab(context, env.server.url, app, options)];
  assert.equal(await oneLeader([host, ...followers]), 0);
  const oldCoordinator = await host.evaluate(() => window.client.coordinatorId);

  const before = await Promise.all(followers.map(holdRoom));
  assert.equal(before[0].backendId, before[1].backendId, 'one backend of the key before');
  const dead = before[0].backendId;

  await Promise.all(followers.map((page) => page.evaluate((n) => window.inFlight(n, 20_000), IN_FLIGHT)));
  await goAway(context, host);
  const goneAt = Date.now();

  // Both handles reach one new backend of the key within the bound, and it answers.
  const after = await Promise.all(
    followers.map((page) =>
      waitUntil(
        () =>
          page.evaluate(
            (dead) => (window.room.backendId !== dead && window.room.isReady() ? window.room.backendId : null),
            dead,
          ),
        { timeout: FAILOVER_BOUND_MS, what: 'the handle to follow its key to a new backend' },
      ),
    ),
  );
  const followedIn = Date.now() - goneAt;
  assert.equal(after[0], after[1], 'both handles reach the same new backend');
  assert.notEqual(after[0], dead);
  const workers = await Promise.all(followers.map((page) => page.evaluate(() => window.room.request('worker'))));
  assert.equal(workers[0], workers[1], 'one worker answers both');
  assert.notEqual(workers[0], before[0].worker, 'a new worker');

  // Each request in flight ended once, as its result or `backend-lost`, long before its timeout.
  for (const page of followers) {
    const outcomes = await waitUntil(
      () => page.evaluate((n) => (window.outcomes.length >= n ? window.outcomes : null), IN_FLIGHT),
      { timeout: FAILOVER_BOUND_MS, what: 'every request in flight to end' },
    );
    assert.deepEqual(
      outcomes.map((o) => o.n).sort((a, b) => a - b),
      Array.from({ length: IN_FLIGHT }, (_, i) => i + 1),
      'each request ended once',
    );
    for (const outcome of outcomes) {
      assert.ok(
        outcome.error === 'backend-lost' || outcome.value === outcome.n,
        `a result or backend-lost, not ${JSON.stringify(outcome)}`,
      );
    }
    // The dead backend ended as `lost`, seen by the client as by the handle's samples.
    const state = await page.evaluate((dead) => window.client.status(dead), dead);
    assert.equal(state.status, 'terminated');
    assert.equal(state.termination_reason, 'lost');
    const samples = await page.evaluate(() => (clearInterval(window.sampler), window.samples));
    const ofDead = samples.filter((s) => s.backendId === dead);
    const endedAt = ofDead.findIndex((s) => s.status === 'terminated');
    assert.ok(endedAt >= 0, 'the handle said the dead backend terminated before it moved on');
    assert.ok(
      ofDead.slice(endedAt).every((s) => s.status === 'terminated'),
      'once ended, the dead backend is never ready again',
    );
  }
  console.log(`${prefix}: both handles followed the key to one new backend ${followedIn} ms after the host went`);
  return { host, followers, backendId: after[0], worker: workers[0], oldCoordinator };
}

test('the tab hosting the coordinator and leading crashes: every reconnect handle follows its key to one new backend', async () => {
  const context = await env.browser.newContext();
  try {
    const { followers, oldCoordinator } = await hostGoesAway(context, 'coordinator-host-crash', crash);
    // The coordinator died with its tab: the followers joined a new one.
    for (const page of followers) {
      assert.notEqual(await page.evaluate(() => window.client.coordinatorId), oldCoordinator, 'a new coordinator');
    }
  } finally {
    await context.close();
  }
});

test('the tab hosting the coordinator and leading reloads: the handles follow their key, and the reloaded tab is served again', async () => {
  const context = await env.browser.newContext();
  try {
    const reload = async (_, page) => {
      await page.reload();
      await page.evaluate(() => window.ready);
    };
    const { host, followers, backendId, worker } = await hostGoesAway(context, 'coordinator-host-reload', reload);
    const pages = [host, ...followers];
    await oneLeader(pages);
    // The reloaded tab's own reconnect handle reaches the key's new backend, the one the others reached.
    const reloaded = await holdRoom(host);
    assert.deepEqual(reloaded, { backendId, worker }, 'the reloaded tab reaches the same new backend');
    // Every tab's default session reopens on the new leader's one default backend, the reloaded
    // tab's among them. (The fixture's `ask` posts on the session's raw port: a question posted
    // on the port of a session that ended meanwhile gets no answer, and is asked again.)
    const answers = await Promise.all(
      pages.map((page) =>
        waitUntil(() => echo(page, 'after').catch(() => null), {
          timeout: FAILOVER_BOUND_MS,
          what: 'a default session with the new leader',
        }),
      ),
    );
    const ids = await Promise.all(pages.map((page) => page.evaluate(() => window.client.id)));
    assert.deepEqual(answers.map((a) => [a.value, a.clientId]), ids.map((id) => ['after', id]));
    assert.equal(new Set(answers.map((a) => a.workerId)).size, 1, 'one default backend serves every tab');
    for (const page of pages) assert.deepEqual(page.errors, [], 'no page error');
  } finally {
    await context.close();
  }
});
