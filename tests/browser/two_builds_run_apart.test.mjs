// After a deploy, tabs of the old and the new build are open at once. Each
// build runs apart (its own coordinator, leader and backends), a coordinator
// refuses a tab of another build with `version-mismatch`, and the one thing
// the builds share, a key's OPFS data, is opened by one backend at a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KEYED_OPTIONS,
  connectOk,
  openSession,
  openTab,
  roles,
  talk,
  uniqueApp,
  useBrowser,
  waitForStatus,
  waitUntil,
  watch,
} from './harness.mjs';

const env = useBrowser();

test('two builds of one app run apart and share a key’s mount one backend at a time', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('builds');
    const old = await openTab(context, env.server.url, app, { ...KEYED_OPTIONS, build: 'v1' });
    const fresh = await openTab(context, env.server.url, app, { ...KEYED_OPTIONS, build: 'v2' });
    const [oldName, freshName] = await Promise.all([old, fresh].map((p) => p.evaluate(() => window.client.deployment)));
    assert.ok(oldName.startsWith(`${app}@`) && oldName.endsWith('+v1'), oldName);
    assert.ok(freshName.endsWith('+v2'), freshName);
    // Each build elects its own leader: neither waits on the other's lock.
    await waitUntil(async () => (await roles([old, fresh])).every((r) => r === 'leader'), {
      what: 'a leader in each build',
    });

    const spawn = { executable: { mount: true } };
    const first = await connectOk(old, { key: 'doc', spawn });
    await openSession(old, first.url, 'old');
    const text = `written-by-v1-${Math.random()}`;
    assert.equal((await talk(old, 'old', { op: 'write', name: 'note.txt', text })).ok, true);

    // The new build gets a backend of its own for the key, which waits for
    // the mount while the old build's backend holds it.
    const second = await connectOk(fresh, { key: 'doc', spawn });
    assert.equal(second.spawned, true);
    assert.notEqual(second.backend_id, first.backend_id);
    await watch(fresh, second.backend_id, 'second');
    const mountLock = `tabworker:${app}:mount:doc/data`;
    const locks = await waitUntil(
      async () => {
        const { held, pending } = await fresh.evaluate(() => navigator.locks.query());
        const waiting = pending.some((l) => l.name === mountLock);
        return held.some((l) => l.name === mountLock) && waiting ? { held, pending } : null;
      },
      { what: 'the new build’s backend waiting for the mount the old one holds' },
    );
    assert.ok(locks.held.filter((l) => l.name === mountLock).length === 1, 'one holder of the mount');
    const before = await fresh.evaluate((id) => window.client.status(id), second.backend_id);
    assert.notEqual(before.status, 'ready', 'not ready while the other build’s backend has the directory');

    // Once the old build's backend ends, the new one opens the directory and
    // reads what the old one wrote.
    await old.evaluate((id) => window.client.terminate(id), first.backend_id);
    await waitForStatus(fresh, 'second', 'ready', { timeout: 10_000 });
    await openSession(fresh, second.url, 'fresh');
    assert.equal((await talk(fresh, 'fresh', { op: 'read', name: 'note.txt' })).text, text);
  } finally {
    await context.close();
  }
});

test('a coordinator refuses a tab of another build with version-mismatch, naming both', async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('mismatch');
    const tab = await openTab(context, env.server.url, app, { build: 'v1' });
    const deployment = await tab.evaluate(() => window.client.deployment);
    const refusal = await tab.evaluate(async (deployment) => {
      // The v1 coordinator, reached by its name, and a hello of another build.
      const worker = new SharedWorker('/www/coordinator.js', { type: 'module', name: `tabworker:${deployment}` });
      const answer = new Promise((resolve) => {
        worker.port.onmessage = ({ data }) => data?.type === 'rejected' && resolve(data);
      });
      worker.port.postMessage({ protocol: 1, type: 'hello', client_id: 'stranger', build: 'tabworker/0.0.1/p1+v0', proof: 's' });
      return answer;
    }, deployment);
    assert.equal(refusal.code, 'version-mismatch');
    assert.ok(refusal.detail.includes('+v1') && refusal.detail.includes('+v0'), refusal.detail);
    // The tab of the coordinator's own build is served on.
    assert.equal(await tab.evaluate(() => window.client.role), 'leader');
  } finally {
    await context.close();
  }
});
