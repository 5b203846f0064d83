// One tab: it becomes the leader, spawns its backend worker, and the seed's
// handshake runs in the seed's order (listening → init → ready → new-leader,
// then request-port → start-session → session → provide-port for its own
// session); a message then round-trips to the backend's handler and back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTab, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();

test('a lone tab leads, runs the handshake in order and talks to its own backend', async () => {
  const context = await env.browser.newContext();
  try {
    const tab = await openTab(context, env.server.url, uniqueApp('one-tab'));
    const answer = await tab.evaluate(() => window.ask({ op: 'echo', value: 'hi' }));
    const id = await tab.evaluate(() => window.client.id);
    assert.deepEqual({ op: answer.op, value: answer.value, clientId: answer.clientId }, { op: 'echo', value: 'hi', clientId: id });
    assert.equal(await tab.evaluate(() => window.client.role), 'leader');
    assert.equal(await tab.evaluate(() => window.client.epoch), 1);
    assert.equal(await tab.evaluate(() => window.client.leaderId), id);

    const trace = await tab.evaluate(() => window.trace);
    const seed = [
      '→coordinator:hello',
      '←coordinator:welcome',
      '←backend:listening',
      '→backend:init',
      '←backend:ready',
      '→coordinator:new-leader',
      '←coordinator:new-leader',
      '→coordinator:request-port',
      '←coordinator:request-port',
      '→backend:start-session',
      '←backend:session',
      '→coordinator:provide-port',
      '←coordinator:provide-port',
    ];
    // Each step of the seed appears, in the seed's order (other frames may interleave).
    let at = -1;
    for (const step of seed) {
      const found = trace.indexOf(step, at + 1);
      assert.ok(found > at, `${step} after step ${at} in ${JSON.stringify(trace)}`);
      at = found;
    }
    const stats = await tab.evaluate(() => window.ask({ op: 'stats' }));
    assert.deepEqual(stats.open, [id], 'the backend holds exactly this tab\'s session');
    assert.equal(await tab.evaluate(() => window.workersStarted.length), 1, 'exactly one worker');
    assert.deepEqual(tab.errors, []);
  } finally {
    await context.close();
  }
});

test('the backend worker holds a liveness lock and each session holds its own lock', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('locks');
    const tab = await openTab(context, env.server.url, app);
    const deployment = await tab.evaluate(() => window.client.deployment);
    assert.ok(deployment.startsWith(`${app}@tabworker/`), deployment);
    const session = await tab.evaluate(() => window.client.connected().then((s) => ({ id: s.id, epoch: s.epoch })));
    const held = await waitUntil(async () => {
      const { held } = await tab.evaluate(() => navigator.locks.query());
      const names = held.map((l) => l.name);
      return names.some((n) => n.startsWith(`tabworker:${deployment}:liveness:`)) ? names : null;
    }, { what: 'the liveness lock' });
    assert.ok(held.includes(`tabworker:${deployment}:session:${session.id}`), `session lock in ${held}`);
    assert.ok(held.includes(`tabworker:${deployment}:leader`));
    assert.ok(held.some((n) => n.startsWith(`tabworker:${deployment}:coordinator:`)), 'the coordinator holds its liveness lock');
  } finally {
    await context.close();
  }
});
