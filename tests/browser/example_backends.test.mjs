// The two example backends — www/counter-backend.js (JavaScript) and
// www/rust-backend (Rust, with RustBackend) — started by tag like any keyed
// backend and spoken to through the same API, behave the same: start with
// env, declare ready, greet each session, handle events and requests, fail a
// request with handler-error, and broadcast on a soft stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyedTabs, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

const EXAMPLES = {
  'counter-js': { script: '/www/counter-backend.js', language: 'javascript' },
  'counter-rust': { script: '/www/rust-backend/worker.js', language: 'rust' },
};

for (const [tag, { script, language }] of Object.entries(EXAMPLES)) {
  test(`the ${language} example backend, by tag ${tag}: env, ready, sessions, events, requests, soft stop`, async () => {
    const { context, follower, pages } = await keyedTabs(env, tag, 2, { backends: { [tag]: script } });
    try {
      const other = pages.find((p) => p !== follower);
      const request = { key: `counter-${language}`, spawn: { tag, executable: { env: { START: '40' }, mount: true } } };
      const first = await follower.evaluate(async (request) => {
        const counter = await window.client.connectBackend(request);
        window.counter = counter;
        window.seen = [];
        for (const event of ['welcome', 'count', 'stopping']) counter.on(event, (payload) => window.seen.push({ event, payload }));
        await counter.ready();
        const info = await counter.request('info', null);
        const read = await counter.request('read', null);
        const failed = await counter.request('fail', null).then(
          () => null,
          (e) => ({ code: e.code, message: e.message }),
        );
        const missing = await counter.request('nope', null).then(
          () => null,
          (e) => e.code,
        );
        return { info, read, failed, missing, clientId: window.client.id, response: counter.backendId };
      }, request);
      assert.equal(first.read, 40, 'the count starts at env.START');
      assert.deepEqual(first.info, { key: request.key, mounted: true, client: first.clientId, language, runs_on: 'browser' });
      assert.equal(first.failed.code, 'handler-error');
      assert.match(first.failed.message, /asked to fail/);
      assert.equal(first.missing, 'no-handler');

      // A second tab's session: both get the broadcast of an increment.
      await other.evaluate(async ({ key, tag }) => {
        window.counter = await window.client.connectBackend({ key, spawn: { tag } });
        window.seen = [];
        window.counter.on('count', (payload) => window.seen.push({ event: 'count', payload }));
        await window.counter.ready();
        await window.counter.request('read', null);
      }, { key: request.key, tag });
      await follower.evaluate(() => window.counter.send('increment', { by: 2 }));
      for (const page of [follower, other]) {
        await waitUntil(() => page.evaluate(() => window.seen.some((s) => s.event === 'count' && s.payload === 42)), {
          what: 'the broadcast count in every tab',
        });
      }
      assert.equal(await other.evaluate(() => window.counter.request('read', null)), 42);

      await follower.evaluate((id) => window.client.terminate(id), first.response);
      await waitUntil(() => follower.evaluate(() => window.counter.isTerminated()), { what: 'the end' });
      const seen = await follower.evaluate(() => window.seen);
      assert.deepEqual(seen[0], { event: 'welcome', payload: { count: 40, sessions: 1 } }, 'each session is greeted');
      assert.deepEqual(seen.at(-1), { event: 'stopping', payload: 42 }, 'the soft stop ran and broadcast');
    } finally {
      await context.close();
    }
  });
}
