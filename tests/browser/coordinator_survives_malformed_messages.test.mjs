// A page that posts malformed messages to the coordinator's port gets typed
// refusals, and the coordinator goes on serving every other tab: sessions
// keep working, new tabs join, and a failover still completes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echo, oneLeader, openTab, openTabs, uniqueApp, useBrowser } from './harness.mjs';

const env = useBrowser();

/**
 * Two served tabs of a fresh app in `context`, and a same-origin page (at `path`) that is not a
 * client: `{ app, pages, deployment, vandal }`. Every tab has a session, so the coordinator
 * accepted the leader's claim.
 */
async function servedTabsAndVandal(context, prefix, path = '/pkg/tabworker.d.ts') {
  const app = uniqueApp(prefix);
  const pages = await openTabs(context, env.server.url, app, 2);
  await oneLeader(pages);
  await Promise.all(pages.map((p) => echo(p)));
  const deployment = await pages[0].evaluate(() => window.client.deployment);
  const vandal = await context.newPage();
  await vandal.goto(`${env.server.url}${path}`);
  return { app, pages, deployment, vandal };
}

/** The tabs of `app` are still served, and a new one still joins and is served. */
async function stillServed(context, app, pages) {
  await Promise.all(pages.map((p) => echo(p)));
  const late = await openTab(context, env.server.url, app);
  assert.ok(await echo(late));
}

test('malformed frames are refused and counted; the other tabs are still served', async () => {
  const context = await env.browser.newContext();
  try {
    // The leader's claim was accepted, so a port of epoch 1 from a tab that does not lead is
    // stale, not early.
    const { app, pages, deployment, vandal } = await servedTabsAndVandal(context, 'garbage', '/www/index.html');
    const refusals = await vandal.evaluate(async (app) => {
      const worker = new SharedWorker('/www/coordinator.js', { type: 'module', name: `tabworker:${app}` });
      const build = app.slice(app.indexOf('@') + 1);
      const codes = [];
      worker.port.onmessage = ({ data }) => data?.type === 'rejected' && codes.push(data.code);
      const deep = {};
      let node = deep;
      for (let i = 0; i < 1000; i++) node = node.next = {};
      const channel = new MessageChannel();
      const frames = [
        'garbage',
        42,
        null,
        [1, 'hello', 'x'],
        { protocol: 99, type: 'hello' },
        { protocol: 1, type: 'no-such-type' },
        { protocol: 1, type: 'request-port', client_id: 'x', session_id: 's' },
        { protocol: 1, type: 'hello', client_id: '', build: 'x' },
        { protocol: 1, type: 'hello', client_id: 'x'.repeat(100000), build: 'x' },
        { protocol: 1, type: 'hello', client_id: 'vandal', build, proof: 'v', epoch: -1 },
        // An epoch no real leader change reaches: it would leave no epoch for the next leader.
        { protocol: 1, type: 'hello', client_id: 'vandal', build, proof: 'v', epoch: Number.MAX_SAFE_INTEGER },
        // Of another build: refused; then of the coordinator's own, twice.
        { protocol: 1, type: 'hello', client_id: 'vandal', build: 'x', proof: 'v' },
        { protocol: 1, type: 'hello', client_id: 'vandal', build, proof: 'v' },
        { protocol: 1, type: 'hello', client_id: 'vandal', build, proof: 'v' },
        { protocol: 1, type: 'request-port', client_id: 'someone-else', session_id: 's' },
        { protocol: 1, type: 'provide-port', client_id: 'vandal', session_id: 's', epoch: 1 },
        { protocol: 1, type: 'new-leader', leader_id: 'someone-else', liveness_key: 'k' },
        { protocol: 1, type: 'new-leader', leader_id: 'vandal', liveness_key: 'k', epoch: Number.MAX_SAFE_INTEGER },
        deep,
      ];
      for (const frame of frames) worker.port.postMessage(frame);
      // A provide-port with a port, from a tab that does not lead.
      worker.port.postMessage({ protocol: 1, type: 'provide-port', client_id: 'vandal', session_id: 's', epoch: 1 }, [
        channel.port2,
      ]);
      const deadline = Date.now() + 3000;
      while (codes.length < 19 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return codes;
    }, deployment);
    for (const code of ['not-a-frame', 'protocol-mismatch', 'malformed', 'no-hello', 'version-mismatch', 'epoch-out-of-range', 'duplicate-hello', 'wrong-client', 'port-count', 'stale-epoch']) {
      assert.ok(refusals.includes(code), `${code} in ${JSON.stringify(refusals)}`);
    }

    // The tabs still talk to their backend, and a new tab still joins.
    await Promise.all(pages.map((p) => echo(p)));
    const late = await openTab(context, env.server.url, app);
    const answer = await echo(late);
    assert.equal(answer.clientId, await late.evaluate(() => window.client.id));

    // And a failover still completes.
    const leader = await oneLeader([...pages, late]);
    const rest = [...pages, late].filter((_, i) => i !== leader);
    await [...pages, late][leader].close();
    await oneLeader(rest, { timeout: 10_000 });
    await Promise.all(rest.map((p) => p.waitForFunction(() => window.client.epoch >= 2, null, { timeout: 10_000 })));
    const answers = await Promise.all(rest.map((p) => p.evaluate(() => window.client.connected().then(() => window.ask({ op: 'echo', value: 1 })))));
    assert.equal(new Set(answers.map((a) => a.workerId)).size, 1);
  } finally {
    await context.close();
  }
});

test("a hello with the leader's client id from another page is refused as client-id-taken, and evicts nobody", async () => {
  const context = await env.browser.newContext();
  try {
    const { app, pages, deployment, vandal } = await servedTabsAndVandal(context, 'impostor', '/www/index.html');
    const leader = pages[await oneLeader(pages)];
    const follower = pages.find((p) => p !== leader);
    const [leaderId, epoch] = await leader.evaluate(() => [window.client.id, window.client.epoch]);
    const backendId = await follower.evaluate(async () => {
      const { backend_id } = await window.client.connect({ key: 'doc', spawn: true });
      await window.client.ready(backend_id);
      return backend_id;
    });
    // Every tab knows the leader's client id; no other page knows its hello's proof.
    const refused = await vandal.evaluate(async ({ app, leaderId }) => {
      const worker = new SharedWorker('/www/coordinator.js', { type: 'module', name: `tabworker:${app}` });
      const build = app.slice(app.indexOf('@') + 1);
      const answer = new Promise((resolve) => (worker.port.onmessage = ({ data }) => resolve(data)));
      worker.port.postMessage({ protocol: 1, type: 'hello', client_id: leaderId, build, proof: 'a guess' });
      const timeout = new Promise((resolve) => setTimeout(() => resolve({ type: 'no answer in 5 s' }), 5000));
      return Promise.race([answer, timeout]);
    }, { app: deployment, leaderId });
    assert.equal(refused.type, 'rejected', JSON.stringify(refused));
    assert.equal(refused.code, 'client-id-taken');

    // The leader keeps its place and its term, its backend lives on, and everyone is served.
    assert.deepEqual(await leader.evaluate(() => [window.client.role, window.client.epoch]), ['leader', epoch]);
    const state = await follower.evaluate((id) => window.client.status(id), backendId);
    assert.equal(state.status, 'ready', `the leader's backend was not ended: ${JSON.stringify(state)}`);
    const again = await follower.evaluate(async () => (await window.client.connect({ key: 'doc' })).backend_id);
    assert.equal(again, backendId, 'the key still reaches it');
    await stillServed(context, app, pages);
  } finally {
    await context.close();
  }
});

test('a 10 MB frame and a flood of 5,000 frames are refused one by one; the other tabs are still served', async () => {
  const context = await env.browser.newContext();
  try {
    const { app, pages, deployment, vandal } = await servedTabsAndVandal(context, 'flood');
    const refusals = await vandal.evaluate(async (app) => {
      const worker = new SharedWorker('/www/coordinator.js', { type: 'module', name: `tabworker:${app}` });
      const codes = {};
      let count = 0;
      worker.port.onmessage = ({ data }) => {
        if (data?.type !== 'rejected') return;
        codes[data.code] = (codes[data.code] ?? 0) + 1;
        count += 1;
      };
      const build = app.slice(app.indexOf('@') + 1);
      worker.port.postMessage({ protocol: 1, type: 'hello', client_id: 'x'.repeat(10 * 1024 * 1024), build, proof: 'v' });
      for (let i = 0; i < 5000; i++) worker.port.postMessage({ protocol: 1, type: 'who-leads' });
      const deadline = Date.now() + 20_000;
      while (count < 5001 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return codes;
    }, deployment);
    assert.deepEqual(refusals, { malformed: 1, 'no-hello': 5000 }, 'each frame refused once, with its code');

    // The others were served all along and still are; a new tab still joins.
    await stillServed(context, app, pages);
  } finally {
    await context.close();
  }
});

test('a page that floods connects after its hello is refused past 64 waiting, and the other tabs are still served', async () => {
  const context = await env.browser.newContext();
  try {
    const { app, pages, deployment, vandal } = await servedTabsAndVandal(context, 'flood-connects');
    const seen = await vandal.evaluate(async (app) => {
      const worker = new SharedWorker('/www/coordinator.js', { type: 'module', name: `tabworker:${app}` });
      const seen = { rejected: {}, connected: 0 };
      worker.port.onmessage = ({ data }) => {
        if (data?.type === 'rejected') seen.rejected[data.code] = (seen.rejected[data.code] ?? 0) + 1;
        if (data?.type === 'connected') seen.connected += 1;
      };
      const build = app.slice(app.indexOf('@') + 1);
      // It holds its tab lock, as a tab does, so the coordinator keeps its connection.
      await new Promise((held) => navigator.locks.request(`tabworker:${app}:tab:vandal`, () => (held(), new Promise(() => {}))));
      worker.port.postMessage({ protocol: 1, type: 'hello', client_id: 'vandal', build, proof: 'v' });
      const request = { key: 'flood', spawn: false };
      for (let i = 0; i < 2000; i++) {
        worker.port.postMessage({ protocol: 1, type: 'connect', client_id: 'vandal', request_id: i, request });
      }
      const deadline = Date.now() + 20_000;
      const total = () => seen.connected + Object.values(seen.rejected).reduce((a, b) => a + b, 0);
      while (total() < 2000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return seen;
    }, deployment);
    const refused = seen.rejected['too-many-pending'] ?? 0;
    assert.ok(refused > 0, `past 64 waiting, connects are refused: ${JSON.stringify(seen)}`);
    assert.equal(refused + seen.connected, 2000, `each connect answered or refused once: ${JSON.stringify(seen)}`);

    // The others were served all along and still are; a new tab still joins.
    await stillServed(context, app, pages);
  } finally {
    await context.close();
  }
});
