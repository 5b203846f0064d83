// The developer API in real tabs: `client.backend()` gives a SessionBackend
// whose requests are answered by the backend's handlers, whose events go both
// ways, and whose lifecycle (ready, statuses, the end) settles every promise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectOk, keyedTabs, oneLeader, openTabs, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

const API = '/tests/browser/fixtures/api-backend.js';

/** `n` tabs whose default backend is the API backend, once one leads. */
async function apiTabs(prefix, n) {
  const context = await env.browser.newContext();
  try {
    const pages = await openTabs(context, env.server.url, uniqueApp(prefix), n, { backend: API });
    const leaderIndex = await oneLeader(pages);
    return { context, pages, leaderIndex };
  } catch (error) {
    await context.close();
    throw error;
  }
}

test('requests: results, thrown errors, no handler, timeout and abort, many in flight matched whatever the order', async () => {
  const { context, pages } = await apiTabs('api-requests', 1);
  try {
    const outcome = await pages[0].evaluate(async () => {
      const backend = window.client.backend();
      window.api = backend;
      const errorOf = (e) => ({ name: e.name, code: e.code, message: e.message });
      const settle = (p) => p.then((value) => ({ value }), (e) => ({ error: errorOf(e) }));
      // The first answers last: answers are matched to requests, not to the order they come in.
      const inFlight = await Promise.all([
        backend.request('slow', { ms: 80, value: 'first' }),
        backend.request('slow', { ms: 0, value: 'second' }),
        backend.request('add', { a: 2, b: 3 }),
        backend.request('whoami'),
      ]);
      const controller = new AbortController();
      const aborted = settle(backend.request('slow', { ms: 2000, value: 'never' }, { signal: controller.signal }));
      controller.abort();
      return {
        inFlight,
        clientId: window.client.id,
        thrown: await settle(backend.request('boom')),
        missing: await settle(backend.request('nope', 1)),
        timedOut: await settle(backend.request('slow', { ms: 2000, value: 'late' }, { timeoutMs: 50 })),
        aborted: await aborted,
        badName: await settle(backend.request('', 1)),
        badTimeout: await settle(backend.request('add', { a: 1, b: 1 }, { timeoutMs: 'soon' })),
        // A misspelt option is refused, not silently the default.
        misspelt: await settle(backend.request('add', { a: 1, b: 1 }, { timeout: 50 })),
        misspeltConnect: await settle(window.client.connectBackend({ key: 'k' }, { reconect: true })),
        // Two fresh handles share the tab's session; each one's first request is its number 1.
        shared: await (async () => {
          const [one, two] = [window.client.backend(), window.client.backend()];
          return Promise.all([one.request('slow', { ms: 60, value: 'one' }), two.request('slow', { ms: 0, value: 'two' })]);
        })(),
      };
    });
    assert.deepEqual(outcome.inFlight, ['first', 'second', 5, outcome.clientId]);
    assert.equal(outcome.thrown.error.code, 'handler-error');
    assert.equal(outcome.thrown.error.name, 'TabworkerError');
    assert.match(outcome.thrown.error.message, /it broke/, 'the thrown message reaches the caller');
    assert.equal(outcome.missing.error.code, 'no-handler');
    assert.match(outcome.missing.error.message, /nope/);
    assert.equal(outcome.timedOut.error.code, 'timeout');
    assert.equal(outcome.aborted.error.code, 'aborted');
    assert.equal(outcome.badName.error.code, 'invalid-argument');
    assert.equal(outcome.badTimeout.error.code, 'invalid-argument');
    assert.equal(outcome.misspelt.error.code, 'invalid-argument');
    assert.match(outcome.misspelt.error.message, /timeout/);
    assert.equal(outcome.misspeltConnect.error.code, 'invalid-argument');
    assert.match(outcome.misspeltConnect.error.message, /reconect/);
    assert.deepEqual(outcome.shared, ['one', 'two'], 'handles sharing a session never take each other\'s answers');
    const handled = await pages[0].evaluate(() => window.api.request('handled'));
    // first, second, add, whoami, boom, the aborted and the timed-out slow ones, the two shared ones, and this one.
    assert.equal(handled, 10, 'refused requests (no handler) never reach a handler');
  } finally {
    await context.close();
  }
});

test('events both ways: sends before the session opens arrive in order, broadcasts reach every tab, buffers transfer', async () => {
  const { context, pages } = await apiTabs('api-events', 2);
  try {
    for (const page of pages) {
      await page.evaluate(() => {
        window.api = window.client.backend();
        window.heard = [];
        window.api.on('heard', (payload) => window.heard.push(payload));
      });
    }
    // A client whose handle is made, and sent to, before it even joins.
    const early = await pages[0].evaluate(async () => {
      const { Client } = await import('/pkg/tabworker.js');
      const client = new Client({ coordinator: '/www/coordinator.js', backend: '/tests/browser/fixtures/api-backend.js', name: new URLSearchParams(location.search).get('app') });
      const backend = client.backend();
      const pongs = [];
      backend.on('pong', (payload) => pongs.push(payload));
      for (const n of [1, 2, 3]) backend.send('ping', n);
      await client.initialize();
      const deadline = Date.now() + 5000;
      while (pongs.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await client.destroy();
      return pongs;
    });
    assert.deepEqual(early, [1, 2, 3], 'queued sends are delivered, in order, once the session opens');

    await pages[1].evaluate(() => window.api.send('shout', { from: 'second tab' }));
    for (const page of pages) {
      await waitUntil(() => page.evaluate(() => window.heard.length === 1), { what: 'the broadcast in every tab' });
      assert.deepEqual(await page.evaluate(() => window.heard), [{ from: 'second tab' }]);
    }

    // A listener that removes itself while it runs: it runs once, and the handle goes on.
    const once = await pages[0].evaluate(async () => {
      let calls = 0;
      const off = window.api.on('pong', () => {
        calls += 1;
        off();
      });
      window.api.send('ping', 'a');
      window.api.send('ping', 'b');
      // Answered after both pongs: one port keeps the order.
      await window.api.request('echo', 1);
      return calls;
    });
    assert.equal(once, 1);

    const transfer = await pages[0].evaluate(async () => {
      const buffer = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer;
      const back = new Promise((resolve) => window.api.on('bytes-back', resolve));
      window.api.send('bytes', buffer, [buffer]);
      const detached = buffer.byteLength === 0;
      const returned = await back;
      const size = await window.api.request('size', new ArrayBuffer(16));
      return { detached, returned: [...new Uint8Array(returned)], size };
    });
    assert.equal(transfer.detached, true, 'a transferred buffer leaves the tab');
    assert.deepEqual(transfer.returned, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(transfer.size, 16);
  } finally {
    await context.close();
  }
});

test('a keyed SessionBackend: ready, statuses once in order, requests, then the end settles ready() and refuses what follows', async () => {
  const { context, follower } = await keyedTabs(env, 'api-keyed', 2, {
    backends: { api: API, declared: '/tests/browser/fixtures/keyed-backend-declared.js' },
    startupTimeoutMs: 300,
  });
  try {
    const response = await connectOk(follower, { key: 'api-doc', spawn: { tag: 'api' } });
    const live = await follower.evaluate(async (response) => {
      const backend = window.client.backend(response);
      window.keyedApi = backend;
      window.statuses = [];
      window.ended = [];
      backend.onStatus((state) => window.statuses.push(state.status));
      backend.onTerminated((state) => window.ended.push(state));
      const ready = await backend.ready();
      let readyCalls = 0;
      backend.onReady(() => readyCalls++);
      return {
        ready: ready.status,
        isReady: backend.isReady(),
        status: backend.status()?.status,
        backendId: backend.backendId,
        readyCalls,
        sum: await backend.request('add', { a: 20, b: 22 }),
      };
    }, response);
    assert.deepEqual(
      live,
      { ready: 'ready', isReady: true, status: 'ready', backendId: response.backend_id, readyCalls: 1, sum: 42 },
      'onReady fires at once when ready',
    );

    await follower.evaluate((id) => window.client.terminate(id), response.backend_id);
    await waitUntil(() => follower.evaluate(() => window.ended.length === 1), { what: 'onTerminated' });
    const after = await follower.evaluate(async () => {
      const errorOf = (e) => ({ code: e.code, state: e.state?.status });
      const settle = (p) => p.then((value) => ({ value }), (e) => ({ error: errorOf(e) }));
      let sendError = null;
      try {
        window.keyedApi.send('ping', 1);
      } catch (e) {
        sendError = errorOf(e);
      }
      return {
        statuses: window.statuses,
        isReady: window.keyedApi.isReady(),
        isTerminated: window.keyedApi.isTerminated(),
        request: await settle(window.keyedApi.request('add', { a: 1, b: 1 })),
        sendError,
      };
    });
    assert.deepEqual(after.statuses.slice(-3), ['ready', 'terminating', 'terminated']);
    assert.equal(new Set(after.statuses).size, after.statuses.length, 'each status once');
    assert.equal(after.isReady, false, 'not ready once it ended');
    assert.equal(after.isTerminated, true);
    assert.deepEqual(after.request.error, { code: 'backend-terminated', state: 'terminated' });
    assert.deepEqual(after.sendError, { code: 'backend-terminated', state: 'terminated' });

    // A backend that ends before it is ready: ready() rejects with its final state, never hangs.
    const never = await connectOk(follower, { key: 'never', spawn: { tag: 'declared', executable: { env: { MODE: 'never-ready' } } } });
    const refused = await follower.evaluate(async (response) => {
      const backend = window.client.backend(response);
      return backend.ready().then(
        () => ({ resolved: true }),
        (e) => ({ code: e.code, status: e.state?.status, reason: e.state?.termination_reason }),
      );
    }, never);
    assert.deepEqual(refused, { code: 'backend-terminated', status: 'terminated', reason: 'startup_timeout' });
  } finally {
    await context.close();
  }
});

test('destroy() fails what is pending, and a later subscription is a typed error, not a silent one', async () => {
  const { context, pages } = await apiTabs('api-destroy', 1);
  try {
    const outcome = await pages[0].evaluate(async () => {
      const backend = window.client.backend();
      await backend.ready();
      const pending = backend.request('slow', { ms: 2000, value: 'x' }).then(() => 'resolved', (e) => e.code);
      backend.destroy();
      const codes = [];
      for (const subscribe of [
        () => backend.on('pong', () => {}),
        () => backend.onStatus(() => {}),
        () => backend.onReady(() => {}),
        () => backend.onTerminated(() => {}),
        () => backend.send('ping', 1),
      ]) {
        try {
          subscribe();
          codes.push('none');
        } catch (e) {
          codes.push(e.code);
        }
      }
      const ready = await backend.ready().then(() => 'resolved', (e) => e.code);
      const request = await backend.request('add', { a: 1, b: 1 }).then(() => 'resolved', (e) => e.code);
      // The client's own session goes on: destroy() closed only the handle.
      const again = await window.client.backend().request('add', { a: 1, b: 1 });
      return { pending: await pending, codes, ready, request, again };
    });
    assert.deepEqual(outcome, {
      pending: 'destroyed',
      codes: ['destroyed', 'destroyed', 'destroyed', 'destroyed', 'destroyed'],
      ready: 'destroyed',
      request: 'destroyed',
      again: 2,
    });
  } finally {
    await context.close();
  }
});

test('failover: a request sent before the leader closed fails with backend-lost; one made meanwhile goes to the successor, once', async () => {
  const { context, pages, leaderIndex } = await apiTabs('api-failover', 2);
  try {
    const follower = pages[1 - leaderIndex];
    await follower.evaluate(async () => {
      window.api = window.client.backend();
      await window.api.ready();
      window.firstWorker = await window.api.request('worker');
      window.inFlight = window.api.request('slow', { ms: 10_000, value: 'too late' }).then(
        (value) => ({ value }),
        (e) => ({ code: e.code, state: e.state?.status ?? null }),
      );
      // The request reached the backend before the leader goes.
      await window.api.request('add', { a: 0, b: 0 });
    });
    await pages[leaderIndex].close();
    const lost = await follower.evaluate(() => window.inFlight);
    assert.equal(lost.code, 'backend-lost', JSON.stringify(lost));
    assert.ok(lost.state, `backend-lost carries the backend's last state: ${JSON.stringify(lost)}`);
    const after = await follower.evaluate(async () => {
      // Made while the successor starts (or once it runs): it is answered by the successor.
      const value = await window.api.request('add', { a: 1, b: 2 }, { timeoutMs: 10_000 });
      const worker = await window.api.request('worker');
      const handled = await window.api.request('handled');
      return { value, changed: worker !== window.firstWorker, handled };
    });
    assert.equal(after.value, 3);
    assert.equal(after.changed, true, 'the successor answered');
    assert.equal(after.handled, 3, 'the successor handled add, worker and handled: nothing twice');
  } finally {
    await context.close();
  }
});

test('reconnect: a keyed handle made with { reconnect: true } connects its key again when the leader goes, and sends it what was queued', async () => {
  const { context, pages, leaderIndex } = await keyedTabs(env, 'api-reconnect', 3, { backends: { api: API } });
  try {
    const follower = pages.find((_, i) => i !== leaderIndex);
    const first = await follower.evaluate(async () => {
      const handle = await window.client.connectBackend({ key: 'room', spawn: { tag: 'api' } }, { reconnect: true });
      window.room = handle;
      window.reconnects = [];
      window.pongs = [];
      window.queuedWhileDown = null;
      handle.onReconnect((response) => window.reconnects.push(response.backend_id));
      handle.on('pong', (payload) => window.pongs.push(payload));
      handle.onTerminated(() => {
        // The old backend ended with its tab; the new one is not there yet.
        window.queuedWhileDown = window.reconnects.length === 0;
        handle.send('ping', 'queued while down');
      });
      await handle.ready();
      return { worker: await handle.request('worker'), backendId: handle.backendId };
    });
    await pages[leaderIndex].close();
    await waitUntil(() => follower.evaluate(() => window.pongs.length === 1), { timeout: 10_000, what: 'the queued ping answered by the new backend' });
    const after = await follower.evaluate(async () => ({
      pongs: window.pongs,
      queuedWhileDown: window.queuedWhileDown,
      reconnects: window.reconnects,
      backendId: window.room.backendId,
      worker: await window.room.request('worker'),
      ready: window.room.isReady(),
    }));
    assert.deepEqual(after.pongs, ['queued while down']);
    assert.equal(after.queuedWhileDown, true, 'the event was sent between the two backends');
    assert.equal(after.reconnects.length, 1, 'one reconnect event');
    assert.equal(after.reconnects[0], after.backendId, 'the handle follows the new backend');
    assert.notEqual(after.backendId, first.backendId);
    assert.notEqual(after.worker, first.worker, 'a new worker answers');
    assert.equal(after.ready, true);
  } finally {
    await context.close();
  }
});
