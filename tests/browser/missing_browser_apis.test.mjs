// A browser without an API tabworker needs, made by removing the API before
// the page loads. Without Web Locks the app learns what is missing from a
// typed error; without SharedWorker each tab runs the app alone
// (`client.mode === 'isolated'`), and a key still has one live backend across
// the tabs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KEYED_OPTIONS,
  connectOk,
  openTabs,
  statusLog,
  uniqueApp,
  useBrowser,
  waitForStatus,
  waitUntil,
  watch,
} from './harness.mjs';

const env = useBrowser();

test('without Web Locks, initialize() rejects with web-locks-unavailable naming navigator.locks', async () => {
  const context = await env.browser.newContext();
  try {
    // As in an insecure context: no navigator.locks at all.
    await context.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
    });
    const page = await context.newPage();
    await page.goto(`${env.server.url}/pkg/tabworker.d.ts`);
    const outcome = await page.evaluate(async (app) => {
      const { default: init, Client, features } = await import('/pkg/tabworker.js');
      await init();
      const client = new Client({ coordinator: '/www/coordinator.js', backend: '/www/backend.js', name: app });
      const error = await client.initialize().then(
        () => null,
        (e) => ({ name: e.name, code: e.code, message: e.message }),
      );
      return { error, webLocks: features().webLocks, workers: typeof SharedWorker };
    }, uniqueApp('no-locks'));
    assert.equal(outcome.webLocks, false, 'features() reports it');
    assert.equal(outcome.workers, 'function', 'only Web Locks are missing');
    assert.deepEqual(outcome.error && { name: outcome.error.name, code: outcome.error.code }, {
      name: 'TabworkerError',
      code: 'web-locks-unavailable',
    });
    assert.match(outcome.error.message, /navigator\.locks/);
  } finally {
    await context.close();
  }
});

test('without SharedWorker, each tab runs the app alone, and a key still has one live backend across the tabs', async () => {
  const context = await env.browser.newContext();
  try {
    await context.addInitScript(() => {
      delete window.SharedWorker;
    });
    const [a, b] = await openTabs(context, env.server.url, uniqueApp('no-shared-worker'), 2, KEYED_OPTIONS);
    // `initialize()` resolves at the welcome; the tab's own leader lock is granted just after.
    const states = await waitUntil(
      async () => {
        const got = await Promise.all([a, b].map((p) => p.evaluate(() => [typeof SharedWorker, window.client.mode, window.client.role])));
        return got.every(([, , role]) => role === 'leader') ? got : null;
      },
      { what: 'each tab to lead itself' },
    ).catch(async () => Promise.all([a, b].map((p) => p.evaluate(() => [typeof SharedWorker, window.client.mode, window.client.role]))));
    assert.deepEqual(states, [['undefined', 'isolated', 'leader'], ['undefined', 'isolated', 'leader']], 'each tab leads itself');
    const defaults = await Promise.all(
      [a, b].map((p) =>
        p.evaluate(async () => {
          const late = new Promise((_, reject) => setTimeout(() => reject(new Error('no session within 5 s')), 5000));
          await Promise.race([window.client.connected(), late]);
          return window.client.backendId;
        }),
      ),
    );
    assert.ok(defaults[0] && defaults[1] && defaults[0] !== defaults[1], `each tab has its own default backend: ${defaults}`);

    // Tab a runs the key's backend; tab b's backend of the key waits for it.
    const first = await connectOk(a, { key: 'doc', spawn: true });
    await watch(a, first.backend_id, 'doc');
    await waitForStatus(a, 'doc', 'ready');
    const second = await connectOk(b, { key: 'doc', spawn: true });
    assert.notEqual(second.backend_id, first.backend_id);
    await watch(b, second.backend_id, 'doc');
    await waitForStatus(b, 'doc', 'starting');
    await waitUntil(
      async () => {
        const { held, pending } = await b.evaluate(() => navigator.locks.query());
        return held.filter((l) => l.name.endsWith(':key:doc')).length === 1 && pending.some((l) => l.name.endsWith(':key:doc'));
      },
      { what: "b's backend to wait for the key's lock a's holds" },
    );
    assert.ok(!(await statusLog(b, 'doc')).some((s) => s.status === 'ready'), 'not ready while the other tab runs the key');

    // Once a's ends, b's runs.
    await a.evaluate((id) => window.client.terminate(id), first.backend_id);
    await waitForStatus(a, 'doc', 'terminated');
    await waitForStatus(b, 'doc', 'ready', { timeout: 10_000 });
  } finally {
    await context.close();
  }
});
