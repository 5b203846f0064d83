// Two tabs of one browser context load the built package, reach the same
// SharedWorker coordinator, and exactly one of them holds the app's leader
// Web Lock; when that tab closes, the other one gets it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTab, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

const role = (page) => page.evaluate(() => window.client.role);
const lockState = (page, name) =>
  page.evaluate(async (name) => {
    const { held, pending } = await navigator.locks.query();
    return { held: held.filter((l) => l.name === name).length, pending: pending.filter((l) => l.name === name).length };
  }, name);

test('two tabs share one coordinator and exactly one holds the leader lock until it closes', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('two-tabs');
    const a = await openTab(context, env.server.url, app);
    const b = await openTab(context, env.server.url, app);
    const lock = `tabworker:${await a.evaluate(() => window.client.deployment)}:leader`;

    const ids = await Promise.all([a, b].map((p) => p.evaluate(() => window.client.id)));
    assert.notEqual(ids[0], ids[1], 'each tab has its own client id');
    const coordinators = await Promise.all([a, b].map((p) => p.evaluate(() => window.client.coordinatorId)));
    assert.ok(coordinators[0], 'the first tab was welcomed by a coordinator');
    assert.equal(coordinators[0], coordinators[1], 'both tabs reached the same SharedWorker');

    await waitUntil(async () => (await lockState(a, lock)).held === 1 && (await lockState(a, lock)).pending === 1, {
      what: 'one holder and one waiter of the leader lock',
    });
    const leader = await waitUntil(async () => {
      const roles = [await role(a), await role(b)];
      return roles.includes('leader') ? roles : null;
    }, { what: 'a leader' });
    assert.deepEqual([...leader].sort(), ['follower', 'leader'], 'exactly one tab leads');

    const [first, second] = leader[0] === 'leader' ? [a, b] : [b, a];
    await first.close();
    await second.waitForFunction(() => window.client.role === 'leader', null, { timeout: 5000 });
    assert.deepEqual(await lockState(second, lock), { held: 1, pending: 0 });
    assert.deepEqual(second.errors, [], 'no uncaught errors in the remaining tab');
  } finally {
    await context.close();
  }
});

test('two apps on one origin do not meet', async () => {
  const context = await env.browser.newContext();
  try {
    const a = await openTab(context, env.server.url, uniqueApp('app-a'));
    const b = await openTab(context, env.server.url, uniqueApp('app-b'));
    const [ka, kb] = await Promise.all([a, b].map((p) => p.evaluate(() => window.client.coordinatorId)));
    assert.notEqual(ka, kb, 'each app has its own coordinator');
    await waitUntil(async () => (await role(a)) === 'leader' && (await role(b)) === 'leader', {
      what: 'both tabs to lead their own app',
    });
  } finally {
    await context.close();
  }
});
