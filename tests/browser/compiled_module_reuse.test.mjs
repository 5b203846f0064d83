// The backend wasm is compiled once per tab: the first worker a tab starts
// compiles it and hands the tab its WebAssembly.Module, and every later
// worker of that tab only instantiates it. Each backend here counts the
// compilations in its own worker (fixtures/counting-backend.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneLeader, openTab, uniqueApp, useBrowser } from './harness.mjs';

const env = useBrowser();

const COUNTING = '/tests/browser/fixtures/counting-backend.js';

test('a tab that starts five backends compiles the backend wasm once', async () => {
  const context = await env.browser.newContext();
  try {
    const page = await openTab(context, env.server.url, uniqueApp('compiled-once'), {
      backend: COUNTING,
      backends: { counted: COUNTING },
    });
    await oneLeader([page]);
    const counts = await page.evaluate(async () => {
      const own = window.client.backend();
      await own.ready();
      const handles = [];
      for (const key of ['a', 'b', 'c', 'd']) {
        const handle = await window.client.connectBackend({ key, spawn: { tag: 'counted' } });
        await handle.ready();
        handles.push(handle);
      }
      return Promise.all(
        [own, ...handles].map(async (h) => ({ worker: await h.request('worker'), compiles: await h.request('compiles') })),
      );
    });
    assert.equal(new Set(counts.map((c) => c.worker)).size, 5, 'five backends, each in its own worker');
    assert.equal(counts[0].compiles, 1, 'the first worker compiled the wasm');
    assert.deepEqual(
      counts.slice(1).map((c) => c.compiles),
      [0, 0, 0, 0],
      'every later worker instantiated the module it was handed',
    );
  } finally {
    await context.close();
  }
});
