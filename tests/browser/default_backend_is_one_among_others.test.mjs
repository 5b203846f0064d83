// The default backend of `initialize()` is one backend among the others: it
// has a backend id every tab knows (`client.backendId`, each session's
// `backendId`), a status history every tab can follow, the key
// `tabworker:default` that `connect` reaches, and `terminate` ends it — after
// which the leader starts another and every tab reconnects on its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  connect,
  connectOk,
  echo,
  oneLeader,
  openTabs,
  statusLog,
  uniqueApp,
  useBrowser,
  waitForStatus,
  waitUntil,
  watch,
} from './harness.mjs';

const env = useBrowser();

const STARTUP = ['scheduled', 'loading', 'starting', 'waiting', 'ready'];
const DEFAULT_KEY = 'tabworker:default';

/** `n` tabs of a fresh app (default backend: the echo backend), once one leads and all are connected. */
async function tabs(prefix, n) {
  const context = await env.browser.newContext();
  try {
    const pages = await openTabs(context, env.server.url, uniqueApp(prefix), n);
    const leaderIndex = await oneLeader(pages);
    await Promise.all(pages.map((p) => p.evaluate(() => window.client.connected())));
    return { context, pages, leaderIndex };
  } catch (error) {
    await context.close();
    throw error;
  }
}

/** Every tab's `client.backendId` once they all agree on one; that id. */
function agreedBackendId(pages, { not, timeout = 5000 } = {}) {
  return waitUntil(
    async () => {
      const ids = await Promise.all(pages.map((p) => p.evaluate(() => window.client.backendId)));
      return ids[0] && ids[0] !== not && ids.every((id) => id === ids[0]) ? ids[0] : null;
    },
    { timeout, what: `every tab to know one default backend id${not ? ` other than ${not}` : ''}` },
  );
}

/** Opens `url` with `client.open` in `page`, sends one echo on it and returns the answer. */
function echoOverOpen(page, url, value) {
  return page.evaluate(
    async ([url, value]) => {
      const session = await window.client.open(url);
      const answer = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo over the opened session')), 3000);
        session.port.addEventListener('message', ({ data }) => {
          clearTimeout(timer);
          resolve(data);
        }, { once: true });
      });
      session.port.start();
      session.port.postMessage({ op: 'echo', value });
      const data = await answer;
      await session.close();
      return { backendId: session.backendId, data };
    },
    [url, value],
  );
}

test('every tab knows the default backend by id, follows its statuses and reaches it by its key', async () => {
  const { context, pages, leaderIndex } = await tabs('default-id', 3);
  try {
    const follower = pages[(leaderIndex + 1) % 3];
    const id = await agreedBackendId(pages);
    const session = await follower.evaluate(() => window.client.session.backendId);
    assert.equal(session, id, "the session's backendId is the default backend's");
    const leaderEvent = await follower.evaluate(() => window.events.filter((e) => e.type === 'leader').at(-1).detail);
    assert.equal(leaderEvent.backendId, id, 'the leader event names it');

    await watch(follower, id, 'default');
    const log = await waitForStatus(follower, 'default', 'ready');
    assert.deepEqual(log.map((s) => s.status), STARTUP, 'a follower sees its whole startup, in order');
    assert.equal((await follower.evaluate((id) => window.client.status(id), id)).status, 'ready');

    // `connect` with the default key reaches it (never a second one), with a token to open it by.
    const byKey = await connectOk(follower, { key: DEFAULT_KEY });
    assert.equal(byKey.backend_id, id);
    assert.equal(byKey.spawned, false);
    assert.equal(byKey.status, 'ready');
    const withSpawn = await connectOk(pages[leaderIndex], { key: DEFAULT_KEY, spawn: true });
    assert.equal(withSpawn.backend_id, id, 'spawn: true still reaches the live default backend');
    assert.equal(withSpawn.spawned, false);
    const tagged = await connect(follower, { key: DEFAULT_KEY, spawn: { tag: 'other' } });
    assert.equal(tagged.error?.code, 'unknown-tag', JSON.stringify(tagged));

    // A session opened by its url is served by the same worker as the default session.
    const viaSession = await echo(follower, 'default path');
    const viaOpen = await echoOverOpen(follower, byKey.url, 'opened by url');
    assert.equal(viaOpen.backendId, id);
    assert.equal(viaOpen.data.value, 'opened by url');
    assert.equal(viaOpen.data.workerId, viaSession.workerId, 'one worker serves both');
  } finally {
    await context.close();
  }
});

test('terminating the default backend ends it as external; the leader starts another and every tab reconnects', async () => {
  const { context, pages, leaderIndex } = await tabs('default-terminate', 3);
  try {
    const [watcher, terminator] = pages.filter((_, i) => i !== leaderIndex);
    const leader = pages[leaderIndex];
    const first = await agreedBackendId(pages);
    const firstWorker = (await echo(watcher)).workerId;
    const epochBefore = await watcher.evaluate(() => window.client.epoch);
    await watch(watcher, first, 'first');
    await waitForStatus(watcher, 'first', 'ready');

    const ended = await terminator.evaluate((id) => window.client.terminate(id), first);
    assert.equal(ended.status, 'terminated');
    assert.equal(ended.termination_reason, 'external');
    assert.equal(ended.termination_kind, 'soft');
    const log = await waitForStatus(watcher, 'first', 'terminated');
    assert.deepEqual(log.map((s) => s.status), [...STARTUP, 'terminating', 'terminated']);

    // A new default backend, in the same leader tab, under a higher epoch; every tab follows.
    const second = await agreedBackendId(pages, { not: first, timeout: 10_000 });
    assert.equal(await oneLeader(pages), leaderIndex, 'the same tab still leads');
    assert.ok((await watcher.evaluate(() => window.client.epoch)) > epochBefore, 'a new term');
    for (const page of pages) {
      const answer = await waitUntil(
        () => page.evaluate(() => window.ask({ op: 'echo', value: 'again' }, 1000).catch(() => null)),
        { timeout: 10_000, what: 'the tab to reconnect to the new default backend' },
      );
      assert.notEqual(answer.workerId, firstWorker, 'served by the new worker');
      assert.equal(await page.evaluate(() => window.client.session.backendId), second);
    }
    await watch(leader, second, 'second');
    const secondLog = await waitForStatus(leader, 'second', 'ready');
    assert.deepEqual(secondLog.map((s) => s.status), STARTUP);
    const reasons = await watcher.evaluate(() =>
      window.events.filter((e) => e.type === 'sessionend').map((e) => e.detail.reason),
    );
    assert.ok(reasons.length >= 1, `the old session ended: ${JSON.stringify(reasons)}`);
  } finally {
    await context.close();
  }
});

test('an uncaught error in the default backend ends it with exit_error, and a new one serves every tab', async () => {
  const { context, pages, leaderIndex } = await tabs('default-throws', 2);
  try {
    const follower = pages[1 - leaderIndex];
    const first = await agreedBackendId(pages);
    await watch(follower, first, 'first');
    await waitForStatus(follower, 'first', 'ready');
    await follower.evaluate(async () => (await window.client.connected()).port.postMessage({ op: 'throw' }));

    const log = await waitForStatus(follower, 'first', 'terminated', { timeout: 10_000 });
    assert.equal(log.at(-1).exit_error, true, JSON.stringify(log.at(-1)));
    const errors = await pages[leaderIndex].evaluate(() => window.events.filter((e) => e.type === 'backenderror'));
    assert.match(errors.at(-1)?.detail.detail ?? '', /thrown on request/);
    const second = await agreedBackendId(pages, { not: first, timeout: 10_000 });
    for (const page of pages) {
      await waitUntil(
        () => page.evaluate((id) => window.client.session?.backendId === id, second),
        { timeout: 10_000, what: 'the tab to reconnect to the new default backend' },
      );
      assert.equal((await echo(page, 'after')).value, 'after');
    }
  } finally {
    await context.close();
  }
});

test('closing the leader tab: every tab sees its default backend end as lost, and the new leader names a new one', async () => {
  const { context, pages, leaderIndex } = await tabs('default-lost', 3);
  try {
    const followers = pages.filter((_, i) => i !== leaderIndex);
    const first = await agreedBackendId(pages);
    for (const page of followers) await watch(page, first, 'first');
    await Promise.all(followers.map((page) => waitForStatus(page, 'first', 'ready')));

    await pages[leaderIndex].close();

    for (const page of followers) {
      const log = await waitForStatus(page, 'first', 'terminated', { timeout: 10_000 });
      assert.equal(log.at(-1).termination_reason, 'lost', JSON.stringify(log.at(-1)));
    }
    const second = await agreedBackendId(followers, { not: first, timeout: 10_000 });
    const newLeader = followers[await oneLeader(followers, { timeout: 10_000 })];
    const byKey = await connectOk(followers[0], { key: DEFAULT_KEY });
    assert.equal(byKey.backend_id, second, "the default key reaches the new leader's default backend");
    await watch(newLeader, second, 'second');
    assert.deepEqual((await waitForStatus(newLeader, 'second', 'ready')).map((s) => s.status), STARTUP);
    assert.equal((await statusLog(followers[0], 'first')).at(-1).status, 'terminated', 'the old one stays ended');
  } finally {
    await context.close();
  }
});
