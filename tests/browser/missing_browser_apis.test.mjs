// A browser without an API tabworker needs, made by removing the API before
// the page loads: the app learns what is missing from a typed error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueApp, useBrowser } from './harness.mjs';

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
