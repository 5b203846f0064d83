// Requests in flight when the leader tab goes — closed or crashed — 50 times
// in a row: each one ends once, as its result or as `backend-lost`, none
// waits past its timeout, and no request is handled twice. Requests made
// once the tab knows its session is gone wait for the successor and are
// answered by it. Every worker says
// on a BroadcastChannel which requests its handlers finished, so the count
// covers the backends that died too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crash, oneLeader, openTabs, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

const RUNS = 50;
const BEFORE = 8; // requests made while the old leader serves
const DURING = 4; // requests made just after it was told to go
const AFTER = 4; // requests made when the follower learns its session ended
const TIMEOUT_MS = 8000;

async function run(index) {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp(`inflight-${index}`);
    const pages = await openTabs(context, env.server.url, app, 2, { backend: '/tests/browser/fixtures/api-backend.js' });
    const leaderIndex = await oneLeader(pages);
    const leader = pages[leaderIndex];
    const follower = pages[1 - leaderIndex];
    await follower.evaluate(
      async ({ before, during, after, timeoutMs }) => {
        window.api = window.client.backend();
        await window.api.ready();
        window.firstWorker = await window.api.request('worker');
        window.handled = [];
        new BroadcastChannel(`tabworker:${new URLSearchParams(location.search).get('app')}:backend:handled`).onmessage = ({
          data,
        }) => window.handled.push(data);
        window.outcomes = [];
        window.settled = 0;
        window.ask = (n) => {
          const ms = Math.floor(Math.random() * 150);
          window.api.request('tagged', { n, ms }, { timeoutMs }).then(
            (value) => (window.outcomes.push({ n, value }), window.settled++),
            (e) => (window.outcomes.push({ n, error: e.code, state: e.state?.status ?? null }), window.settled++),
          );
        };
        for (let n = 1; n <= before; n++) window.ask(n);
        // The handle hears of the end first (its listener came first): these wait for the successor.
        window.client.addEventListener(
          'sessionend',
          () => {
            for (let n = before + during + 1; n <= before + during + after; n++) window.ask(n);
          },
          { once: true },
        );
      },
      { before: BEFORE, during: DURING, after: AFTER, timeoutMs: TIMEOUT_MS },
    );
    // Let some requests be answered, and some be under way, when the leader goes.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 60)));
    const how = index % 2 === 0 ? 'close' : 'crash';
    const going = how === 'close' ? leader.close() : crash(context, leader);
    await follower.evaluate(
      ({ before, during }) => {
        for (let n = before + 1; n <= before + during; n++) window.ask(n);
      },
      { before: BEFORE, during: DURING },
    );
    await going;
    const total = BEFORE + DURING + AFTER;
    const deadline = Date.now() + TIMEOUT_MS + 4000;
    while ((await follower.evaluate(() => window.settled)) < total) {
      assert.ok(Date.now() < deadline, `run ${index} (${how}): a request was still pending past its timeout`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const successor = await follower.evaluate(() => window.api.request('worker', undefined, { timeoutMs: 8000 }));
    // A BroadcastChannel notice may come after the answer it preceded (another channel): wait, bounded,
    // until each answer has its notice. An old worker's last notices may die with it; the successor's cannot.
    const noticed = () =>
      follower.evaluate((successor) => {
        const answered = window.outcomes.filter((o) => o.value !== undefined);
        const has = (o) => window.handled.some((h) => h.n === o.n);
        return { successor: answered.filter((o) => o.value.worker === successor).every(has), all: answered.every(has) };
      }, successor);
    await waitUntil(async () => (await noticed()).successor, { timeout: 3000, what: `run ${index}: the successor's notices` });
    await waitUntil(async () => (await noticed()).all, { timeout: 1000 }).catch(() => {});
    const { outcomes, handled, firstWorker } = await follower.evaluate(() => ({
      outcomes: window.outcomes,
      handled: window.handled,
      firstWorker: window.firstWorker,
    }));
    return { how, outcomes, handled, firstWorker, successor };
  } finally {
    await context.close();
  }
}

test(`requests in flight when the leader tab is closed or crashed, ${RUNS} times: each ends once, none is handled twice`, async () => {
  const totals = { results: 0, lost: 0, successor: 0, lostButHandled: 0, unnoticed: 0 };
  for (let index = 0; index < RUNS; index++) {
    const { how, outcomes, handled, firstWorker, successor } = await run(index);
    const where = `run ${index} (${how})`;
    const ns = outcomes.map((o) => o.n).sort((a, b) => a - b);
    assert.deepEqual(ns, Array.from({ length: BEFORE + DURING + AFTER }, (_, i) => i + 1), `${where}: every request ended, once`);
    for (const outcome of outcomes) {
      assert.ok(
        outcome.value !== undefined || outcome.error === 'backend-lost',
        `${where}: a result or backend-lost, not ${JSON.stringify(outcome)}`,
      );
      if (outcome.value !== undefined) assert.equal(outcome.value.n, outcome.n, `${where}: the answer to its own request`);
    }
    const seen = new Map();
    for (const notice of handled) {
      assert.ok(!seen.has(notice.n), `${where}: request ${notice.n} handled twice (${JSON.stringify(handled)})`);
      seen.set(notice.n, notice.worker);
    }
    const results = outcomes.filter((o) => o.value !== undefined);
    for (const { n, value } of results) {
      if (!seen.has(n) && value.worker === firstWorker) {
        totals.unnoticed += 1; // its notice died with the old worker
        continue;
      }
      assert.equal(seen.get(n), value.worker, `${where}: request ${n} was handled by the worker that answered it`);
    }
    // The successor is alive to be counted: it handled exactly the requests it answered.
    const bySuccessor = results.filter((o) => o.value.worker === successor).length;
    const handledBySuccessor = handled.filter((h) => h.worker === successor).length;
    assert.notEqual(successor, firstWorker, `${where}: a new worker serves`);
    assert.equal(handledBySuccessor, bySuccessor, `${where}: the successor's handled count equals its results`);
    // Those made once the session was known to be gone went to the successor.
    for (const outcome of outcomes.filter((o) => o.n > BEFORE + DURING)) {
      assert.equal(outcome.value?.worker, successor, `${where}: request ${outcome.n} waited for the successor`);
    }
    // A request that got backend-lost was sent to the old worker, never to the successor.
    for (const { n } of outcomes.filter((o) => o.error)) {
      assert.notEqual(seen.get(n), successor, `${where}: lost request ${n} was not handled again`);
    }
    // A lost request the old worker finished: its answer died with the worker. It is why
    // backend-lost requests are never sent again.
    totals.lostButHandled += outcomes.filter((o) => o.error && seen.get(o.n) === firstWorker).length;
    totals.results += results.length;
    totals.lost += outcomes.length - results.length;
    totals.successor += bySuccessor;
  }
  console.log(
    `across ${RUNS} failovers: ${totals.results} results (${totals.successor} from the successor), ${totals.lost} backend-lost (of which the old worker had finished ${totals.lostButHandled}); old-worker notices lost with it: ${totals.unnoticed}`,
  );
  assert.ok(totals.lost > 0, 'some requests were in flight when a leader went (else the test proves nothing)');
  assert.ok(totals.successor > 0, 'some requests went to a successor');
});
