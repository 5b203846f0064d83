// A keyed handle asks for its session just as the tab that hosts the coordinator crashes: its
// `request-port` dies in the coordinator's queue. The handle's session is asked again of the
// next coordinator, as a fresh attempt, and the backend it follows (hosted by a leader that lives
// on) serves it — long before the open's own deadline, which is all a lost request had before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crash, oneLeader, openTab, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

const API = '/tests/browser/fixtures/api-backend.js';
const COORDINATOR = '/tests/browser/fixtures/holdable-coordinator.js';
// The open's deadline: a session whose request was lost waits for it, and then fails.
const OPEN_TIMEOUT_MS = 20_000;
const BOUND_MS = 5_000;

test('a keyed handle whose request-port dies with the coordinator host is served by the next coordinator', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('keyed-open-coordinator-death');
    const options = { backends: { api: API }, coordinator: COORDINATOR, connectTimeoutMs: OPEN_TIMEOUT_MS };
    // A page that starts the app's coordinator and is no tab of it: its crash takes the
    // coordinator, and no leader, no backend and no session with it.
    const host = await context.newPage();
    await host.goto(`${env.server.url}/pkg/tabworker.d.ts`);
    const workerName = await host.evaluate(
      async ({ app, coordinator }) => {
        const { default: init, Client } = await import('/pkg/tabworker.js');
        await init();
        const name = `tabworker:${new Client({ coordinator, backend: '/none.js', name: app }).deployment}`;
        window.coordinator = new SharedWorker(coordinator, { type: 'module', name });
        window.coordinator.port.start();
        return name;
      },
      { app, coordinator: COORDINATOR },
    );
    const leader = await openTab(context, env.server.url, app, options);
    const follower = await openTab(context, env.server.url, app, options);
    assert.equal(await oneLeader([leader, follower]), 0);
    const coordinatorBefore = await follower.evaluate(() => window.client.coordinatorId);

    // The follower reaches a keyed backend, which the leader hosts.
    const response = await follower.evaluate(async () => {
      const response = await window.client.connect({ key: 'room', spawn: { tag: 'api' } });
      await window.client.ready(response.backend_id);
      return response;
    });

    // The coordinator is held busy; the follower's handle asks for its session meanwhile.
    await follower.evaluate(async (workerName) => {
      const hold = new BroadcastChannel(`hold:${workerName}`);
      const held = new Promise((resolve) => (hold.onmessage = ({ data }) => data === 'held' && resolve()));
      hold.postMessage({ ms: 60_000 });
      await held;
    }, workerName);
    // The follower's requests for a session with the keyed backend, as they crossed to a coordinator.
    const asks = () =>
      follower.evaluate(
        (backendId) =>
          window.wire.filter(
            (w) => w.arrow === '→' && w.peer === 'coordinator' && w.json.includes('"request-port"') && w.json.includes(backendId),
          ).length,
        response.backend_id,
      );
    const asksBefore = await asks();
    await follower.evaluate(
      ({ response, timeoutMs }) => {
        window.room = window.client.backend(response);
        window.answer = window.settle(window.room.request('worker', undefined, { timeoutMs }));
      },
      { response, timeoutMs: OPEN_TIMEOUT_MS },
    );
    await waitUntil(async () => (await asks()) > asksBefore, {
      what: 'the handle to ask the busy coordinator for its session',
    });

    // The page that hosts the coordinator crashes: the request goes with it.
    await crash(context, host);
    const crashedAt = Date.now();
    // The request's own timeout bounds this wait.
    const outcome = await follower.evaluate(() => window.answer);
    const servedIn = Date.now() - crashedAt;
    assert.ok(outcome.value, `the request was answered, not ${JSON.stringify(outcome.error)}`);
    assert.ok(servedIn < BOUND_MS, `served ${servedIn} ms after the crash, within ${BOUND_MS} ms`);
    // By the backend the leader still hosts, through a new coordinator.
    assert.equal(await follower.evaluate(() => window.room.backendId), response.backend_id);
    const worker = await follower.evaluate(() => window.room.request('worker'));
    assert.equal(worker, outcome.value, 'the same worker answers again');
    assert.notEqual(await follower.evaluate(() => window.client.coordinatorId), coordinatorBefore, 'a new coordinator');
    assert.equal(await leader.evaluate(() => window.client.role), 'leader', 'the leader lived on');
    assert.equal(await asks(), asksBefore + 2, 'asked once of the dead coordinator and once of the next');
    for (const page of [leader, follower]) assert.deepEqual(page.errors, [], 'no page error');
    console.log(`the keyed handle was served ${servedIn} ms after the coordinator's host crashed`);
  } finally {
    await context.close();
  }
});
