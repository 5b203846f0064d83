// OPFS across a failover: a backend opens a file of its key's mount for
// synchronous access with `ctx.openSync(name)`. A handle its predecessor
// still holds (a worker that just died releases its handles asynchronously)
// makes the file locked for a moment: `openSync` tries again with a bounded
// backoff, then fails with `mount-busy`, and nothing written is lost. The
// lock is made here by a plain worker holding a handle on the same file, and
// by a backend holding one when its leader tab is closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectOk, keyedTabs, oneLeader, openSession, talk, useBrowser } from './harness.mjs';

const env = useBrowser();

const MOUNTED = { executable: { mount: true } };

/** The mount's directories of `key` in `page`'s app, as `ctx.mount` names them. */
async function mountPath(page, key) {
  const deployment = await page.evaluate(() => window.client.deployment);
  return ['tabworker', deployment.split('@')[0], key, 'data'];
}

/** Starts, in `page`, a worker holding a sync access handle on `name` in `path` for `holdMs`; resolves once it holds it. */
function holdFile(page, path, name, holdMs) {
  return page.evaluate(
    ([path, name, holdMs]) =>
      new Promise((resolve, reject) => {
        const worker = new Worker('/tests/browser/fixtures/opfs-holder.js');
        window.holder = { worker, released: new Promise((r) => worker.addEventListener('message', (e) => e.data === 'released' && r())) };
        worker.addEventListener('message', (e) => e.data === 'held' && resolve());
        worker.addEventListener('error', (e) => reject(new Error(e.message)));
        worker.postMessage({ path, name, holdMs });
      }),
    [path, name, holdMs],
  );
}

test('a file locked by another handle is opened once that handle is released; locked past the budget, mount-busy', async () => {
  const { context, follower } = await keyedTabs(env, 'opfs-locked', 2);
  try {
    const doc = await connectOk(follower, { key: 'doc', spawn: MOUNTED });
    await openSession(follower, doc.url, 'doc');
    assert.deepEqual((await talk(follower, 'doc', { op: 'sync-write', name: 'a.txt', text: 'first' })).ok, true);
    const path = await mountPath(follower, 'doc');

    await holdFile(follower, path, 'a.txt', 600);
    const wrote = await talk(follower, 'doc', { op: 'sync-write', name: 'a.txt', text: 'second' }, 8_000);
    assert.equal(wrote.ok, true, JSON.stringify(wrote));
    assert.ok(wrote.ms >= 400, `it waited for the other handle: ${wrote.ms} ms`);
    assert.equal((await talk(follower, 'doc', { op: 'sync-read', name: 'a.txt' })).text, 'second');

    await holdFile(follower, path, 'a.txt', 6_500);
    const refused = await talk(follower, 'doc', { op: 'sync-write', name: 'a.txt', text: 'third' }, 8_000);
    assert.equal(refused.code, 'mount-busy', JSON.stringify(refused));
    assert.match(refused.message, /a\.txt/);
    await follower.evaluate(() => window.holder.released);
    const read = await talk(follower, 'doc', { op: 'sync-read', name: 'a.txt' });
    assert.equal(read.text, 'second', 'nothing was written while the file was locked, and nothing lost');
  } finally {
    await context.close();
  }
});

test('a backend holding a sync access handle when its leader tab closes: the successor opens the file and reads what was written', async () => {
  const { context, pages, leaderIndex, leader } = await keyedTabs(env, 'opfs-failover', 3);
  try {
    const followers = pages.filter((_, i) => i !== leaderIndex);
    const doc = await connectOk(followers[0], { key: 'doc', spawn: MOUNTED });
    await openSession(followers[0], doc.url, 'doc');
    assert.equal((await talk(followers[0], 'doc', { op: 'sync-write', name: 'a.txt', text: 'kept' })).ok, true);
    assert.equal((await talk(followers[0], 'doc', { op: 'hold', name: 'a.txt' })).ok, true);

    await leader.close();
    await oneLeader(followers, { timeout: 10_000 });
    const again = await connectOk(followers[1], { key: 'doc', spawn: MOUNTED });
    assert.notEqual(again.backend_id, doc.backend_id, 'a successor');
    await openSession(followers[1], again.url, 'doc-again');
    const read = await talk(followers[1], 'doc-again', { op: 'sync-read', name: 'a.txt' }, 8_000);
    assert.equal(read.text, 'kept', JSON.stringify(read));
    const wrote = await talk(followers[1], 'doc-again', { op: 'sync-write', name: 'a.txt', text: 'after' }, 8_000);
    assert.equal(wrote.ok, true, JSON.stringify(wrote));
  } finally {
    await context.close();
  }
});
