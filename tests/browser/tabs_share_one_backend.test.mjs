// Several tabs of one app: exactly one leads, and every tab — the leader
// included — has its own session with the leader's one backend worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echo, oneLeader, openTabs, roles, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

test('three tabs: one leader, three sessions with three client ids on one worker', async () => {
  const context = await env.browser.newContext();
  try {
    const pages = await openTabs(context, env.server.url, uniqueApp('three'), 3);
    await oneLeader(pages);
    const answers = await Promise.all(pages.map((p) => echo(p)));
    const ids = await Promise.all(pages.map((p) => p.evaluate(() => window.client.id)));
    assert.deepEqual(answers.map((a) => a.clientId), ids, 'each tab is answered on its own session');
    assert.equal(new Set(answers.map((a) => a.workerId)).size, 1, 'one worker serves them all');
    const stats = await echoStats(pages[0]);
    assert.deepEqual([...stats.open].sort(), [...ids].sort(), 'the handler sees three sessions, one per client');
    assert.deepEqual(await roles(pages).then((r) => r.filter((x) => x === 'leader').length), 1);
  } finally {
    await context.close();
  }
});

test('five tabs opened together, twenty times: one leader each time, all connected', async () => {
  for (let round = 0; round < 20; round++) {
    const context = await env.browser.newContext();
    try {
      const pages = await openTabs(context, env.server.url, uniqueApp(`five-${round}`), 5);
      await oneLeader(pages);
      const answers = await Promise.all(pages.map((p) => echo(p)));
      assert.equal(new Set(answers.map((a) => a.workerId)).size, 1, `round ${round}: one worker`);
      assert.equal(new Set(answers.map((a) => a.clientId)).size, 5, `round ${round}: five sessions`);
      const started = await waitUntil(
        async () => (await Promise.all(pages.map((p) => p.evaluate(() => window.workersStarted)))).flat(),
        { what: 'a worker start' },
      );
      assert.equal(new Set(started).size, 1, `round ${round}: exactly one worker was started`);
    } finally {
      await context.close();
    }
  }
});

function echoStats(page) {
  return page.evaluate(() => window.ask({ op: 'stats' }));
}
