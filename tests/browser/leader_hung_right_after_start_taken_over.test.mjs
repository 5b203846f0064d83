// A tab that holds the leader lock but has not claimed the lead yet, whose main thread stops, is
// taken over like a silent leader: the tabs that wait on it are served by a follower that steals
// the lock, and the stopped tab, once it wakes, follows. Two states are tried: a holder whose claim
// is in progress (its worker still starting) when it stops right after initialize() resolved,
// before any other tab has its session; and a tab granted the lock while its main thread is
// stopped, which cannot even say it holds it (the leader tab before it closed meanwhile).
//
// (In Chromium a SharedWorker runs in the process of the page that started it, and takes new
// connections through that page's main thread: a tab opened while that page is stopped cannot
// join until it runs again. So the followers here join before the holder stops.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectOk, echo, holdBusy, openTab, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();
const HANG_MS = 12_000;
const SERVED_WITHIN_MS = 3_000;
const SLOW_START = { backend: '/tests/browser/fixtures/slow-start-backend.js' };

/** `connect({ key, spawn: true })` in `page`, failing unless answered within the bound; the time it took. */
async function connectWithinBound(page, key) {
  const asked = Date.now();
  const response = await Promise.race([
    connectOk(page, { key, spawn: true }),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`no answer to connect within ${SERVED_WITHIN_MS} ms`)), SERVED_WITHIN_MS),
    ),
  ]);
  assert.equal(response.spawned, true);
  return Date.now() - asked;
}

/** Once the stopped tab wakes: one leader and one epoch, the woken tab a follower, and every tab served. */
async function wokenFollows(stopped, others) {
  const pages = [stopped, ...others];
  await waitUntil(
    async () => {
      const states = await Promise.all(pages.map((p) => p.evaluate(() => [window.client.role, window.client.epoch])));
      return states.filter(([role]) => role === 'leader').length === 1 && new Set(states.map(([, e]) => e)).size === 1;
    },
    { timeout: HANG_MS + 10_000, what: 'one leader and one epoch once the stopped tab wakes' },
  );
  assert.equal(await stopped.evaluate(() => window.client.role), 'follower', 'the woken tab does not lead');
  for (const page of pages) {
    assert.ok(await waitUntil(() => echo(page).catch(() => null), { timeout: 10_000, what: 'every tab served' }));
  }
}

test('a leader held busy 12 s right after initialize(), its claim in progress, is taken over; a new key is served within 3 s', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('hung-after-start');
    // The first tab takes the lock; its worker takes 5 s to start, so it has not claimed yet.
    const holder = await openTab(context, env.server.url, app, SLOW_START);
    await waitUntil(() => holder.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to hold the lock' });
    const followers = [await openTab(context, env.server.url, app), await openTab(context, env.server.url, app)];
    const sessions = await Promise.all(followers.map((p) => p.evaluate(() => window.client.session?.id ?? null)));
    assert.deepEqual(sessions, [null, null], 'no tab has its session yet');
    await holdBusy(holder, HANG_MS);
    const hungAt = Date.now();

    const servedIn = await connectWithinBound(followers[0], 'fresh');
    const roles = await Promise.all(followers.map((p) => p.evaluate(() => window.client.role)));
    assert.equal(roles.filter((r) => r === 'leader').length, 1, `one follower took over: ${roles}`);
    assert.ok(Date.now() - hungAt < HANG_MS, 'while the first tab is still stopped');
    for (const page of followers) assert.ok(await echo(page));

    await wokenFollows(holder, followers);
    console.log(`holder stopped before its claim: a new key served ${servedIn} ms after the connect`);
  } finally {
    await context.close();
  }
});

test('a tab granted the lock while its main thread is stopped is taken over, found by roll call; a new key is served within 3 s', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('granted-while-stopped');
    const first = await openTab(context, env.server.url, app);
    await waitUntil(() => first.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to lead' });
    // Next in line for the lock, then the tab that will ask.
    const stopped = await openTab(context, env.server.url, app);
    const asker = await openTab(context, env.server.url, app);
    await Promise.all([stopped, asker].map((p) => echo(p)));
    await holdBusy(stopped, HANG_MS);
    const stoppedAt = Date.now();
    // The leader tab closes: the lock goes to the stopped tab, which cannot act on the grant.
    await first.close();

    const servedIn = await connectWithinBound(asker, 'fresh');
    assert.equal(await asker.evaluate(() => window.client.role), 'leader', 'the tab that answered the roll call took over');
    assert.ok(Date.now() - stoppedAt < HANG_MS, 'while the granted tab is still stopped');

    await wokenFollows(stopped, [asker]);
    console.log(`granted while stopped: a new key served ${servedIn} ms after the connect`);
  } finally {
    await context.close();
  }
});
