// tabworker/react in a real React page (tests/browser/react/, built here with
// Vite): the hooks follow a keyed backend — ready goes back to false when it
// ends, sends made before it is ready arrive, a listener's cleanup removes the
// listener it added — and StrictMode's double-mounted effects leave exactly
// one listener and one session.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildReactPage, openReactTab as openPage, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

before(buildReactPage);

function openReactTab(context, app, { strict }) {
  return openPage(context, env.server.url, app, { strict: strict ? '1' : '0' });
}

test('the hooks follow a keyed backend: status, ready (and not ready once it ends), send, request, event listeners', async () => {
  const context = await env.browser.newContext();
  try {
    const page = await openReactTab(context, uniqueApp('react'), { strict: false });
    const answers = await page.evaluate(async () => {
      window.page.send('ping', 'hello');
      const sum = await window.page.request('add', { a: 2, b: 40 });
      return { sum, pongs: window.page.pongs.slice() };
    });
    assert.equal(answers.sum, 42);
    assert.deepEqual(answers.pongs, [{ event: 'pong', payload: 'hello' }], 'the pong came before the answer, once');
    assert.match(await page.textContent('#panel'), /ready: true; status: ready/);
    assert.equal(await page.evaluate(() => window.page.mounts), 1, 'without StrictMode, effects mount once');

    // A listener whose event changes: the cleanup removes the one it added, not a stale one.
    await page.evaluate(() => window.page.setEvent('heard'));
    await waitUntil(() => page.evaluate(async () => (await window.page.request('echo', 0)) === 0));
    await page.evaluate(async () => {
      window.page.send('ping', 'after the switch');
      window.page.send('shout', 'to all');
      await window.page.request('echo', 1);
    });
    const events = await page.evaluate(() => window.page.pongs.slice(1));
    assert.deepEqual(events, [{ event: 'heard', payload: 'to all' }], 'no pong reached the removed listener');

    await page.evaluate((id) => window.page.client.terminate(id), await page.evaluate(() => window.page.response.backend_id));
    await waitUntil(() => page.evaluate(() => window.page.statuses.at(-1) === 'terminated'), { what: 'the end to render' });
    const log = await page.evaluate(() => ({ ready: window.page.readyLog, statuses: window.page.statuses }));
    assert.deepEqual(log.ready, [false, true, false], 'useReady goes back to false when the backend ends');
    assert.deepEqual(log.statuses.slice(-3), ['ready', 'terminating', 'terminated']);
    assert.match(await page.textContent('#panel'), /ready: false; status: terminated/);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('StrictMode: double-mounted effects leave one listener and one session', async () => {
  const context = await env.browser.newContext();
  try {
    const page = await openReactTab(context, uniqueApp('react-strict'), { strict: true });
    // The first mount's handle was destroyed while its session opened: that session is closed
    // once it opens, so the count settles at one.
    await waitUntil(async () => (await page.evaluate(() => window.page.request('sessions', null))) === 1, {
      timeout: 10_000,
      what: 'one session at the backend',
    });
    const seen = await page.evaluate(async () => {
      window.page.send('ping', 'once');
      const sessions = await window.page.request('sessions', null);
      return { sessions, pongs: window.page.pongs.slice(), mounts: window.page.mounts };
    });
    assert.equal(seen.mounts, 2, `StrictMode mounted the effects twice: ${JSON.stringify(seen)}`);
    assert.equal(seen.sessions, 1, `one session at the backend: the first mount's was closed: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.pongs, [{ event: 'pong', payload: 'once' }], `one listener: the pong arrived once: ${JSON.stringify(seen)}`);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
