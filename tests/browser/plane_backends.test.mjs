// Beyond one browser: the same SessionBackend API against a real Plane
// cluster that this file starts on 127.0.0.1 (Postgres, controller, drone
// with the project's process executor, proxy), running the example backend
// written once in Rust (www/rust-backend) built as a native executable. The
// test plays the app's server with `tabworker/server`; the tabs get only the
// ConnectResponse.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Plane, PlaneError } from '../../pkg/server.js';
import { root } from '../../scripts/build.mjs';
import { startCluster } from '../../scripts/plane/cluster.mjs';
import { buildReactPage, openReactTab, openTab, openTabs, oneLeader, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();
/** The native example backend, as `scripts/test.sh` builds it. */
const EXECUTABLE = join(root, 'target', 'release', 'counter-backend');
const IMAGE = 'counter-backend';

let cluster;
let plane;
let programs;

before(async () => {
  assert.ok(existsSync(EXECUTABLE), `${EXECUTABLE} is built by scripts/test.sh (cargo build -p counter-backend --release)`);
  programs = mkdtempSync(join(tmpdir(), 'tabworker-programs-'));
  copyFileSync(EXECUTABLE, join(programs, IMAGE));
  cluster = await startCluster({ programs, quiet: true });
  await buildReactPage();
  plane = new Plane({ controller: cluster.controller, image: IMAGE });
});

after(async () => {
  await cluster?.stop();
  if (programs) rmSync(programs, { recursive: true, force: true });
});

const uniqueKey = (name) => `${name}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

/** A tab of a fresh app in its own context. */
async function oneTab(prefix) {
  const context = await env.browser.newContext();
  const page = await openTab(context, env.server.url, uniqueApp(prefix));
  return { context, page };
}

/**
 * `client.backend(response)` in `page`, kept as `window.remote[name]`, its statuses and events
 * logged; resolves once it is ready with `{ backendId, location, statuses }`.
 */
function follow(page, response, name = 'main') {
  return page.evaluate(
    async ({ response, name }) => {
      window.remote ??= {};
      window.remoteLog ??= {};
      const handle = window.client.backend(response);
      const log = { statuses: [], events: [], terminated: null };
      window.remote[name] = handle;
      window.remoteLog[name] = log;
      handle.onStatus((state) => log.statuses.push(state));
      handle.onTerminated((state) => (log.terminated = state));
      for (const event of ['welcome', 'count', 'stopping']) handle.on(event, (payload) => log.events.push({ event, payload }));
      await handle.ready();
      return { backendId: handle.backendId, location: handle.location, statuses: log.statuses.map((s) => s.status) };
    },
    { response, name },
  );
}

function remoteLog(page, name = 'main') {
  return page.evaluate((name) => window.remoteLog[name], name);
}

test('the same key twice is one Plane backend: spawned, then joined; another tag is a typed refusal', async () => {
  const key = uniqueKey('doc');
  const first = await plane.connect({ key, spawn: { tag: 'v1' } });
  const second = await plane.connect({ key, spawn: { tag: 'v1' } });
  assert.equal(first.spawned, true);
  assert.equal(second.spawned, false);
  assert.equal(second.backend_id, first.backend_id, 'one backend for the key');
  assert.notEqual(second.token, first.token, 'each connect has its own token');
  // Two tabs, each given one of the responses, reach that one backend.
  const context = await env.browser.newContext();
  try {
    const pages = await openTabs(context, env.server.url, uniqueApp('plane-key'), 2);
    const followed = await Promise.all([follow(pages[0], first), follow(pages[1], second)]);
    assert.deepEqual(followed.map((f) => f.backendId), [first.backend_id, first.backend_id]);
    const infos = await Promise.all(pages.map((p) => p.evaluate(() => window.remote.main.request('info', null))));
    assert.deepEqual(infos.map((i) => i.key), [key, key], 'the backend holds the key (PLANE_KEY)');
  } finally {
    await context.close();
  }
  const refused = await plane.connect({ key, spawn: { tag: 'v2' } }).then(
    () => null,
    (e) => e,
  );
  assert.ok(refused instanceof PlaneError, `a tag mismatch is a PlaneError, not ${refused}`);
  assert.equal(refused.code, 'key-held');
  await plane.terminate(first.backend_id);
});

test('a tab follows a Plane backend to ready and speaks to it through the proxy like an in-browser one', async () => {
  const { context, page } = await oneTab('plane-api');
  try {
    const response = await plane.connect({ key: uniqueKey('counter'), spawn: { executable: { env: { START: '40' } } } });
    const followed = await follow(page, response);
    assert.equal(followed.backendId, response.backend_id);
    assert.equal(followed.location, 'remote');
    assert.equal(followed.statuses.at(-1), 'ready', 'the status stream reached ready');
    const order = ['scheduled', 'loading', 'starting', 'waiting', 'ready'];
    const seen = followed.statuses.map((s) => order.indexOf(s));
    assert.ok(seen.every((i, n) => i >= 0 && (n === 0 || i > seen[n - 1])), `statuses in order: ${followed.statuses}`);

    const talked = await page.evaluate(async () => {
      const counter = window.remote.main;
      counter.send('increment', { by: 2 });
      const read = await counter.request('read', null);
      const info = await counter.request('info', null);
      const failed = await counter.request('fail', null).then(
        () => null,
        (e) => ({ name: e.name, code: e.code, message: e.message }),
      );
      const missing = await counter.request('nope', null).then(
        () => null,
        (e) => e.code,
      );
      const transfer = (() => {
        try {
          counter.send('increment', new ArrayBuffer(8), [new ArrayBuffer(8)]);
          return null;
        } catch (e) {
          return e.code;
        }
      })();
      return { read, info, failed, missing, transfer };
    });
    assert.equal(talked.read, 42, 'the event reached the backend before the request');
    assert.equal(talked.info.runs_on, 'native', 'the Rust example built as a native executable answered');
    assert.equal(talked.info.language, 'rust');
    assert.equal(talked.failed.code, 'handler-error');
    assert.match(talked.failed.message, /asked to fail/);
    assert.equal(talked.missing, 'no-handler');
    assert.equal(talked.transfer, 'invalid-argument', 'nothing is transferred to another machine');
    await waitUntil(async () => (await remoteLog(page)).events.some((e) => e.event === 'count' && e.payload === 42), {
      what: 'the broadcast count',
    });
    const { events } = await remoteLog(page);
    assert.deepEqual(events[0], { event: 'welcome', payload: { count: 40, sessions: 1 } }, 'the session was greeted');
    await plane.terminate(response.backend_id);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test("each tab's user and auth reach the backend verified by Plane's proxy, and no other tab's", async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('plane-users');
    const [alice, bob] = await openTabs(context, env.server.url, app, 2);
    const key = uniqueKey('shared');
    const forAlice = await plane.connect({ key, spawn: true, user: 'alice', auth: { role: 'editor' } });
    const forBob = await plane.connect({ key, spawn: true, user: 'bob', auth: { role: 'viewer' } });
    assert.equal(forBob.backend_id, forAlice.backend_id);
    await follow(alice, forAlice);
    await follow(bob, forBob);
    const whoami = (page) => page.evaluate(() => window.remote.main.request('whoami', null));
    assert.deepEqual(await whoami(alice), { user: 'alice', auth: { role: 'editor' } });
    assert.deepEqual(await whoami(bob), { user: 'bob', auth: { role: 'viewer' } });
    // A tab cannot claim another's identity: the proxy drops x-verified-* headers it did not set.
    await plane.terminate(forAlice.backend_id);
  } finally {
    await context.close();
  }
});

test('a soft terminate ends the remote backend as external, after its stop broadcast', async () => {
  const { context, page } = await oneTab('plane-terminate');
  try {
    const response = await plane.connect({ key: uniqueKey('ending'), spawn: true });
    await follow(page, response);
    await page.evaluate(() => window.remote.main.request('read', null));
    await plane.terminate(response.backend_id);
    const log = await waitUntil(async () => {
      const log = await remoteLog(page);
      return log.terminated ? log : null;
    }, { timeout: 15000, what: 'terminated' });
    assert.equal(log.terminated.termination_reason, 'external');
    const statuses = log.statuses.map((s) => s.status);
    assert.ok(statuses.includes('terminating'), `terminating came first: ${statuses}`);
    assert.deepEqual(log.events.at(-1), { event: 'stopping', payload: 0 }, 'the soft stop ran and broadcast');
    const after = await page.evaluate(() =>
      window.remote.main.request('read', null).then(
        () => null,
        (e) => e.code,
      ),
    );
    assert.equal(after, 'backend-terminated');
    assert.equal(await page.evaluate(() => window.remote.main.isTerminated()), true);
  } finally {
    await context.close();
  }
});

test('a remote backend idle past max_idle_seconds ends as swept', async () => {
  const { context, page } = await oneTab('plane-swept');
  try {
    const response = await plane.connect({ key: uniqueKey('idle'), spawn: { max_idle_seconds: 2 } });
    await follow(page, response, 'first');
    await page.evaluate(() => window.remote.first.destroy());
    assert.equal(await page.evaluate(() => window.remote.first.location), 'remote', 'a destroyed handle still says where its backend ran');
    // The app's server sees the end on Plane's status endpoint; a handle made then is told why.
    await waitUntil(async () => (await (await fetch(response.status_url)).json()).status === 'terminated', {
      timeout: 60000,
      what: 'Plane to sweep the idle backend',
    });
    const state = await page.evaluate(
      (response) =>
        new Promise((resolve) => {
          const late = window.client.backend(response);
          late.onTerminated(resolve);
        }),
      response,
    );
    assert.equal(state.status, 'terminated');
    assert.equal(state.termination_reason, 'swept');
  } finally {
    await context.close();
  }
});

test('closing the leader tab changes nothing for a remote backend', async () => {
  const context = await env.browser.newContext();
  try {
    const pages = await openTabs(context, env.server.url, uniqueApp('plane-leader'), 2);
    const leaderIndex = await oneLeader(pages);
    const [leader, follower] = [pages[leaderIndex], pages[1 - leaderIndex]];
    const key = uniqueKey('kept');
    await follow(leader, await plane.connect({ key, spawn: true }));
    const response = await plane.connect({ key, spawn: true });
    const followed = await follow(follower, response);
    await follower.evaluate(() => window.remote.main.send('increment', { by: 5 }));
    assert.equal(await follower.evaluate(() => window.remote.main.request('read', null)), 5);
    await leader.close();
    await waitUntil(() => follower.evaluate(() => window.client.role === 'leader'), { what: 'the follower to lead' });
    const afterwards = await follower.evaluate(async () => {
      const handle = window.remote.main;
      const read = await handle.request('read', null);
      return { read, backendId: handle.backendId, ready: handle.isReady() };
    });
    assert.deepEqual(afterwards, { read: 5, backendId: followed.backendId, ready: true });
    const log = await remoteLog(follower);
    assert.equal(log.terminated, null);
    const ending = log.statuses.filter((s) => ['terminating', 'hard-terminating', 'terminated'].includes(s.status));
    assert.deepEqual(ending, [], 'the backend went on');
    await plane.terminate(followed.backendId);
  } finally {
    await context.close();
  }
});

test('the React hooks follow a remote backend as they follow one in the browser', async () => {
  const context = await env.browser.newContext();
  try {
    const response = await plane.connect({ key: uniqueKey('react'), spawn: { executable: { env: { START: '7' } } } });
    const page = await openReactTab(context, env.server.url, uniqueApp('plane-react'), { remote: JSON.stringify(response) });
    await page.evaluate(() => window.page.setEvent('count'));
    assert.equal(await page.evaluate(() => window.page.request('read', null)), 7, 'useRequest reached the backend');
    await page.evaluate(() => window.page.send('increment', { by: 3 }));
    await waitUntil(() => page.evaluate(() => window.page.pongs.some((p) => p.event === 'count' && p.payload === 10)), {
      what: 'useEventListener to hear the broadcast',
    });
    await plane.terminate(response.backend_id);
    await waitUntil(() => page.evaluate(() => window.page.statuses.at(-1) === 'terminated'), { timeout: 15000, what: 'the end to render' });
    const log = await page.evaluate(() => ({ ready: window.page.readyLog, statuses: window.page.statuses }));
    assert.deepEqual(log.ready, [false, true, false], 'useReady goes back to false when the remote backend ends');
    assert.equal(log.statuses.at(-1), 'terminated');
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
