// `client.connect(request)` reaches the session backend of a key: every tab
// that asks for one key gets the same backend, the first one spawns it, and
// what the request asks for (tag, env, mount, user, auth) reaches the backend
// — `user` and `auth` from the connecting tab only. The refusals each have
// their stable code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  connect,
  connectOk,
  keyedTabs,
  openSession,
  statusLog,
  talk,
  useBrowser,
  waitForStatus,
  watch,
} from './harness.mjs';

const env = useBrowser();

test('a follower and the leader connect to one key: one backend, spawned once, a token each', async () => {
  const { context, leader, followers } = await keyedTabs(env, 'one-key', 2);
  try {
    const [follower] = followers;
    const first = await connectOk(follower, { key: 'room', spawn: true });
    const second = await connectOk(leader, { key: 'room', spawn: true });
    assert.equal(first.spawned, true, 'the first connect spawned the backend');
    assert.equal(second.spawned, false, 'the second connect found it');
    assert.equal(first.backend_id, second.backend_id, 'one backend for the key');
    assert.ok(first.token && second.token, 'each connect has a token');
    assert.notEqual(first.token, second.token, 'each connect has its own token');
    // A connect without spawn reaches the live backend too.
    const third = await connectOk(follower, { key: 'room' });
    assert.equal(third.backend_id, first.backend_id);
    assert.equal(third.spawned, false);

    // Both tabs talk to that one backend, each on its own session.
    await openSession(follower, first.url, 'f');
    await openSession(leader, second.url, 'l');
    const a = await talk(follower, 'f', { op: 'echo', value: 1 });
    const b = await talk(leader, 'l', { op: 'echo', value: 2 });
    assert.equal(a.backendId, first.backend_id);
    assert.equal(b.backendId, first.backend_id);
    assert.equal(a.instance, b.instance, 'one worker');
    assert.equal(a.key, 'room');
    assert.equal(b.sessions, 2, 'the backend sees two sessions');
    assert.equal(a.token, first.token, "the follower's session carries its connect's token");
    assert.equal(b.token, second.token, "the leader's session carries its connect's token");
  } finally {
    await context.close();
  }
});

test('a connect without a key spawns a new backend every time, under a fresh key', async () => {
  const { context, followers } = await keyedTabs(env, 'no-key', 2);
  try {
    const [follower] = followers;
    const one = await connectOk(follower, { spawn: true });
    const two = await connectOk(follower, { spawn: true });
    assert.equal(one.spawned, true);
    assert.equal(two.spawned, true);
    assert.notEqual(one.backend_id, two.backend_id, 'two backends');
    await openSession(follower, one.url, 'one');
    await openSession(follower, two.url, 'two');
    const a = await talk(follower, 'one', { op: 'echo' });
    const b = await talk(follower, 'two', { op: 'echo' });
    assert.equal(a.backendId, one.backend_id);
    assert.equal(b.backendId, two.backend_id);
    assert.ok(typeof a.key === 'string' && a.key.length > 0, `a generated key: ${a.key}`);
    assert.ok(typeof b.key === 'string' && b.key.length > 0, `a generated key: ${b.key}`);
    assert.notEqual(a.key, b.key, 'each under its own key');
    assert.notEqual(a.instance, b.instance, 'each in its own worker');
  } finally {
    await context.close();
  }
});

test('refusals: key-not-held, tag-mismatch, unknown-tag, invalid-key', async () => {
  const { context, followers } = await keyedTabs(env, 'refusals', 2);
  try {
    const [follower] = followers;
    for (const request of [{ key: 'nobody' }, { key: 'nobody', spawn: false }]) {
      const { error } = await connect(follower, request);
      assert.equal(error?.name, 'TabworkerError', JSON.stringify(request));
      assert.equal(error?.code, 'key-not-held', JSON.stringify(request));
    }

    const alpha = await connectOk(follower, { key: 'tagged', spawn: { tag: 'alpha' } });
    assert.equal(alpha.spawned, true);
    const mismatch = await connect(follower, { key: 'tagged', spawn: { tag: 'beta' } });
    assert.equal(mismatch.error?.code, 'tag-mismatch', JSON.stringify(mismatch));
    assert.equal(mismatch.error.name, 'TabworkerError');
    assert.match(mismatch.error.message, /alpha/, 'the message names the live tag');
    assert.match(mismatch.error.message, /beta/, 'the message names the asked tag');
    // The same tag reaches it.
    const same = await connectOk(follower, { key: 'tagged', spawn: { tag: 'alpha' } });
    assert.equal(same.backend_id, alpha.backend_id);
    assert.equal(same.spawned, false);

    const unknown = await connect(follower, { key: 'untagged', spawn: { tag: 'no-such-tag' } });
    assert.equal(unknown.error?.code, 'unknown-tag', JSON.stringify(unknown));
    assert.equal((await connect(follower, { key: 'untagged' })).error?.code, 'key-not-held', 'nothing was spawned');

    for (const key of ['', 'k'.repeat(257), 'line\nbreak']) {
      const { error } = await connect(follower, { key, spawn: true });
      assert.equal(error?.code, 'invalid-key', `key ${JSON.stringify(key)}: ${JSON.stringify(error)}`);
    }
  } finally {
    await context.close();
  }
});

test('a tag runs its own script', async () => {
  const { context, followers } = await keyedTabs(env, 'tags', 2);
  try {
    const [follower] = followers;
    const untagged = await connectOk(follower, { key: 'u', spawn: true });
    const beta = await connectOk(follower, { key: 'b', spawn: { tag: 'beta' } });
    await openSession(follower, untagged.url, 'u');
    await openSession(follower, beta.url, 'b');
    assert.equal((await talk(follower, 'u', { op: 'echo' })).script, 'keyed-backend');
    assert.equal((await talk(follower, 'b', { op: 'echo' })).script, 'keyed-backend-b');
  } finally {
    await context.close();
  }
});

test('every resource_limits field is refused with unsupported-resource-limit, naming it', async () => {
  const { context, followers } = await keyedTabs(env, 'limits', 2);
  try {
    const [follower] = followers;
    // Plausible values, so only the field itself can be the reason for the refusal.
    const limits = {
      cpu_period: 100_000,
      cpu_period_percent: 50,
      cpu_time_limit: 10,
      memory_limit_bytes: 100_000_000,
      disk_limit_bytes: 1_000_000_000,
    };
    for (const [field, value] of Object.entries(limits)) {
      const key = `limited-${field}`;
      const { error } = await connect(follower, {
        key,
        spawn: { executable: { resource_limits: { [field]: value } } },
      });
      assert.equal(error?.name, 'TabworkerError', field);
      assert.equal(error?.code, 'unsupported-resource-limit', `${field}: ${JSON.stringify(error)}`);
      assert.ok(error.message.includes(field), `the message names ${field}: ${error.message}`);
      assert.equal((await connect(follower, { key })).error?.code, 'key-not-held', `${field}: nothing was spawned`);
    }
  } finally {
    await context.close();
  }
});

test('executable.env reaches ctx.env', async () => {
  const { context, followers } = await keyedTabs(env, 'env', 2);
  try {
    const [follower] = followers;
    const vars = { MODE: 'normal', GREETING: `hello-${Math.random()}` };
    const response = await connectOk(follower, { key: 'with-env', spawn: { executable: { env: vars } } });
    await openSession(follower, response.url, 's');
    const answer = await talk(follower, 's', { op: 'echo' });
    assert.deepEqual(answer.env, vars);
  } finally {
    await context.close();
  }
});

test('user and auth reach the backend from the connecting tab only, never the coordinator or other tabs', async () => {
  const { context, leader, followers } = await keyedTabs(env, 'user-auth', 3);
  try {
    const [asker, other] = followers;
    const user = `ada-${Math.random().toString(36).slice(2)}`;
    const secret = `secret-${Math.random().toString(36).slice(2)}`;
    const auth = { role: 'admin', secret };
    const response = await connectOk(asker, { key: 'private', spawn: true, user, auth });
    await openSession(asker, response.url, 's');
    const mine = await talk(asker, 's', { op: 'echo' });
    assert.equal(mine.user, user, "the connecting tab's user reached the session");
    assert.deepEqual(mine.auth, auth, "the connecting tab's auth reached the session");

    // Another tab's session with the same backend has its own (here: none).
    const theirs = await connectOk(other, { key: 'private' });
    await openSession(other, theirs.url, 's');
    const answer = await talk(other, 's', { op: 'echo' });
    assert.equal(answer.backendId, response.backend_id);
    assert.equal(answer.user, null, "another tab's session does not get the asker's user");
    assert.equal(answer.auth, null, "another tab's session does not get the asker's auth");

    const wire = (page) => page.evaluate(() => window.wire);
    const leaks = (entries) => entries.filter((e) => e.json.includes(user) || e.json.includes(secret));
    const askerWire = await wire(asker);
    assert.ok(leaks(askerWire).length > 0, 'the recording sees them in the asking tab (so the checks below mean something)');
    assert.deepEqual(
      leaks(askerWire.filter((e) => e.peer === 'coordinator')),
      [],
      'the asking tab never sent them to the coordinator',
    );
    assert.deepEqual(leaks(await wire(leader)), [], 'the leader tab never saw them');
    assert.deepEqual(leaks(await wire(other)), [], 'the other follower never saw them');
    for (const page of [leader, other, asker]) {
      assert.deepEqual(
        leaks((await wire(page)).filter((e) => e.peer === 'coordinator')),
        [],
        'no tab sent them to or got them from the coordinator',
      );
    }
  } finally {
    await context.close();
  }
});

test('mount: true — what one backend writes, the next backend of the key reads', async () => {
  const { context, followers } = await keyedTabs(env, 'mount', 2);
  try {
    const [follower] = followers;
    const text = `kept-${Math.random()}`;
    const spawn = { executable: { mount: true } };
    const first = await connectOk(follower, { key: 'disk', spawn });
    await openSession(follower, first.url, 'first');
    const wrote = await talk(follower, 'first', { op: 'write', name: 'note.txt', text });
    assert.equal(wrote.ok, true, JSON.stringify(wrote));
    const terminated = await follower.evaluate((id) => window.client.terminate(id), first.backend_id);
    assert.equal(terminated.status, 'terminated');

    const second = await connectOk(follower, { key: 'disk', spawn });
    assert.equal(second.spawned, true, 'a new backend');
    assert.notEqual(second.backend_id, first.backend_id);
    await openSession(follower, second.url, 'second');
    const read = await talk(follower, 'second', { op: 'read', name: 'note.txt' });
    assert.equal(read.text, text, 'the new backend reads what the old one wrote');

    // Another key's mount is another directory; no mount is no directory.
    const stranger = await connectOk(follower, { key: 'other-disk', spawn });
    await openSession(follower, stranger.url, 'stranger');
    const missing = await talk(follower, 'stranger', { op: 'read', name: 'note.txt' });
    assert.equal(missing.error, 'NotFoundError', `another key does not see the file: ${JSON.stringify(missing)}`);
    const bare = await connectOk(follower, { key: 'no-disk', spawn: true });
    await openSession(follower, bare.url, 'bare');
    assert.equal((await talk(follower, 'bare', { op: 'echo' })).mountName, null, 'no mount: ctx.mount is null');
  } finally {
    await context.close();
  }
});

test("mount: 'name' picks the directory's name", async () => {
  const { context, followers } = await keyedTabs(env, 'mount-name', 2);
  try {
    const [follower] = followers;
    const response = await connectOk(follower, { key: 'named', spawn: { executable: { mount: 'my-data' } } });
    await openSession(follower, response.url, 's');
    const answer = await talk(follower, 's', { op: 'echo' });
    assert.equal(answer.mountName, 'my-data');
  } finally {
    await context.close();
  }
});

test('url, status_url and ready_url work with open, statusStream, status and ready', async () => {
  const { context, followers } = await keyedTabs(env, 'urls', 2);
  try {
    const [follower] = followers;
    const response = await connectOk(follower, { key: 'by-url', spawn: true });
    for (const field of ['url', 'status_url', 'ready_url']) {
      assert.equal(typeof response[field], 'string', field);
    }
    const ready = await follower.evaluate((url) => window.settle(window.client.ready(url)), response.ready_url);
    assert.equal(ready.value?.status, 'ready', JSON.stringify(ready));
    const byId = await follower.evaluate((id) => window.client.ready(id), response.backend_id);
    assert.equal(byId.status, 'ready', 'ready() takes the backend id too');

    const status = await follower.evaluate((url) => window.client.status(url), response.status_url);
    assert.equal(status.status, 'ready');
    await watch(follower, response.status_url, 'by-url');
    const log = await waitForStatus(follower, 'by-url', 'ready');
    assert.deepEqual(
      log.map((s) => s.status),
      ['scheduled', 'loading', 'starting', 'waiting', 'ready'],
    );

    const session = await openSession(follower, response.url, 's');
    assert.equal(session.backendId, response.backend_id);
    assert.equal((await talk(follower, 's', { op: 'echo' })).backendId, response.backend_id);

    const unknown = await follower.evaluate(() => window.settle(window.client.status('no-such-backend')));
    assert.equal(unknown.error?.code, 'unknown-backend', JSON.stringify(unknown));

    // Once terminated, the url opens no session.
    await follower.evaluate((id) => window.client.terminate(id), response.backend_id);
    await waitForStatus(follower, 'by-url', 'terminated');
    const late = await follower.evaluate((url) => window.settle(window.client.open(url)), response.url);
    assert.equal(late.error?.code, 'backend-terminated', JSON.stringify(late));
    const tail = (await statusLog(follower, 'by-url')).at(-1);
    assert.equal(tail.status, 'terminated');
  } finally {
    await context.close();
  }
});

test('open refuses a forged token and an unknown backend', async () => {
  const { context, followers } = await keyedTabs(env, 'open-refusals', 2);
  try {
    const [follower] = followers;
    const response = await connectOk(follower, { key: 'guarded', spawn: true });
    await follower.evaluate((url) => window.client.ready(url), response.ready_url);
    assert.ok(response.url.includes(response.token), `the url carries the token: ${response.url}`);
    const forged = response.url.replace(response.token, 'f'.repeat(response.token.length));
    const badToken = await follower.evaluate((url) => window.settle(window.client.open(url)), forged);
    assert.equal(badToken.error?.code, 'bad-token', JSON.stringify(badToken));
    assert.ok(response.url.includes(response.backend_id));
    const elsewhere = response.url.replace(response.backend_id, '0'.repeat(response.backend_id.length));
    const unknown = await follower.evaluate((url) => window.settle(window.client.open(url)), elsewhere);
    assert.equal(unknown.error?.code, 'unknown-backend', JSON.stringify(unknown));
    // The genuine url still opens.
    const session = await openSession(follower, response.url, 's');
    assert.equal(session.backendId, response.backend_id);
  } finally {
    await context.close();
  }
});

test("ctx.isSecretToken knows the secret_token of each connect that reached the backend", async () => {
  const { context, leader, followers } = await keyedTabs(env, 'secrets', 2);
  try {
    const [follower] = followers;
    const first = await connectOk(follower, { key: 'vault', spawn: true });
    const second = await connectOk(leader, { key: 'vault' });
    assert.ok(first.secret_token && second.secret_token, 'each connect has a secret token');
    assert.notEqual(first.secret_token, second.secret_token);
    await openSession(follower, first.url, 's');
    for (const secret of [first.secret_token, second.secret_token]) {
      assert.equal((await talk(follower, 's', { op: 'secret', secret })).isSecret, true, secret);
    }
    for (const secret of [first.token, 'not-a-secret']) {
      assert.equal((await talk(follower, 's', { op: 'secret', secret })).isSecret, false, secret);
    }
  } finally {
    await context.close();
  }
});
