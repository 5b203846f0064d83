// initialize() ends with a typed error, with the code of what ended it, when
// the coordinator does not answer, or when it is called a second time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTab, uniqueApp, useBrowser } from './harness.mjs';

const env = useBrowser();

/** In a fresh page: starts a client on the silent coordinator, runs `then` once it said hello. */
async function initializeAgainstSilence(app, timeoutMs, destroyAfterHello) {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    // Any same-origin document will do, and one that loads nothing itself
    // leaves the package's initialisation to this test.
    await page.goto(`${env.server.url}/pkg/tabworker.d.ts`);
    return await page.evaluate(
      async ({ app, timeoutMs, destroyAfterHello }) => {
        const { default: init, Client } = await import('/pkg/tabworker.js');
        await init();
        const heard = new Promise((resolve) => {
          new BroadcastChannel('silent-coordinator').onmessage = (e) => resolve(e.data);
        });
        const client = new Client({
          coordinator: '/tests/browser/fixtures/silent-coordinator.js',
          backend: '/tests/browser/fixtures/echo-backend.js',
          name: app,
          connectTimeoutMs: timeoutMs,
        });
        const outcome = client.initialize().then(
          () => ({ resolved: true }),
          (error) => ({ name: error.name, code: error.code, message: error.message }),
        );
        const first = await heard;
        if (destroyAfterHello) await client.destroy();
        return { first, ...(await outcome) };
      },
      { app, timeoutMs, destroyAfterHello },
    );
  } finally {
    await context.close();
  }
}

test('a coordinator that never answers ends initialize() with coordinator-unavailable', async () => {
  const result = await initializeAgainstSilence(uniqueApp('silent'), 300, false);
  assert.equal(result.first, 'hello');
  assert.equal(result.name, 'TabworkerError');
  assert.equal(result.code, 'coordinator-unavailable');
  assert.match(result.message, /did not answer within 300 ms/);
});

test('destroy() while initialize() waits ends it with not-initialized', async () => {
  const result = await initializeAgainstSilence(uniqueApp('destroyed'), 30000, true);
  assert.equal(result.first, 'hello');
  assert.equal(result.name, 'TabworkerError');
  assert.equal(result.code, 'not-initialized');
});

test('a second initialize() is refused with not-initialized and the client goes on', async () => {
  const context = await env.browser.newContext();
  try {
    const tab = await openTab(context, env.server.url, uniqueApp('twice'));
    const again = await tab.evaluate(() =>
      window.client.initialize().then(
        () => ({ resolved: true }),
        (error) => ({ name: error.name, code: error.code, message: error.message }),
      ),
    );
    assert.deepEqual(again, {
      name: 'TabworkerError',
      code: 'not-initialized',
      message: 'initialize() may be called once per client',
    });
    const answer = await tab.evaluate(() => window.ask({ op: 'echo', value: 'still here' }));
    assert.equal(answer.value, 'still here');
    assert.equal(await tab.evaluate(() => window.client.role), 'leader');
  } finally {
    await context.close();
  }
});

test('connected() waits for a session until destroy() ends it, and is refused at once after', async () => {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${env.server.url}/pkg/tabworker.d.ts`);
    const result = await page.evaluate(async (app) => {
      const { default: init, Client } = await import('/pkg/tabworker.js');
      await init();
      const client = new Client({
        coordinator: '/tests/browser/fixtures/silent-coordinator.js',
        backend: '/tests/browser/fixtures/echo-backend.js',
        name: app,
      });
      const seen = (promise) => promise.then(() => 'resolved', (error) => `${error.name} ${error.code}: ${error.message}`);
      const heard = new Promise((resolve) => {
        new BroadcastChannel('silent-coordinator').onmessage = (e) => resolve(e.data);
      });
      let settledEarly = 'waiting';
      const before = seen(client.connected()).then((outcome) => (settledEarly = outcome));
      client.initialize().catch(() => {});
      await heard;
      const atHello = settledEarly;
      await client.destroy();
      return { settledEarly: atHello, waited: await before, after: await seen(client.connected()) };
    }, uniqueApp('connected'));
    assert.equal(result.settledEarly, 'waiting', 'no session yet: connected() waits');
    assert.equal(result.waited, 'TabworkerError not-initialized: the client was destroyed');
    assert.equal(result.after, 'TabworkerError not-initialized: the client was destroyed');
  } finally {
    await context.close();
  }
});
