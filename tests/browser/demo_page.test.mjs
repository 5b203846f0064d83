// The demo in www/: shared notes whose state lives in `notes` backends. Three
// tabs edit one document and all show the same text; closing the leader tab
// leaves the other two working with every edit kept, their panels showing the
// new leader and the lost backends replaced. The suite also takes the README's
// screenshots (into docs/ with UPDATE_SCREENSHOTS=1, else into
// tests/browser/artifacts/).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root } from '../../scripts/build.mjs';
import { KEYED_OPTIONS, openTab, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(root, 'docs') : join(root, 'tests', 'browser', 'artifacts');

async function openDemo(context, doc = 'welcome') {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.errors = errors;
  await page.goto(`${env.server.url}/www/?doc=${doc}`);
  await page.waitForFunction(() => !document.getElementById('note').disabled, null, { timeout: 15_000 });
  return page;
}

const text = (page) => page.$eval('#note', (el) => el.value);
const role = (page) => page.$eval('#role', (el) => el.textContent);

test('the demo page loads the package, lists the browser features and follows its backends', async () => {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(error));
    await page.goto(`${env.server.url}/`);
    assert.match(page.url(), /\/www\/$/);
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('loaded'), null, {
      timeout: 10000,
    });
    const features = await page.$$eval('#features tr', (rows) =>
      Object.fromEntries(rows.map((r) => [r.querySelector('th').textContent, r.querySelector('td').textContent])),
    );
    assert.deepEqual(features, {
      sharedWorker: 'yes',
      webLocks: 'yes',
      opfs: 'yes',
      opfsSyncAccess: 'no',
      secureContext: 'yes',
    });
    await page.waitForFunction(() => document.getElementById('role').textContent === 'leader', null, { timeout: 5000 });
    // The default backend and the document's backend, each followed by id.
    await waitUntil(
      () =>
        page.$$eval('#backends tbody tr', (rows) =>
          ['tabworker:default', 'doc:welcome'].every((key) =>
            rows.some((r) => r.dataset.key === key && r.dataset.status === 'ready'),
          ),
        ),
      { what: 'both backends ready in the table' },
    );
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('three tabs edit one document; closing the leader tab loses no edit, and the panels show the new leader', async () => {
  const context = await env.browser.newContext();
  try {
    const pages = [];
    for (let i = 0; i < 3; i++) pages.push(await openDemo(context));
    let expected = '';
    for (const [i, page] of pages.entries()) {
      expected += `line from tab ${i + 1}\n`;
      await page.fill('#note', expected);
      for (const other of pages) {
        await waitUntil(async () => (await text(other)) === expected, { what: `tab ${i + 1}'s edit in every tab` });
      }
    }
    const roles = await Promise.all(pages.map(role));
    const leaderIndex = roles.indexOf('leader');
    assert.equal(roles.filter((r) => r === 'leader').length, 1, `one leader: ${roles}`);
    const leader = pages[leaderIndex];
    const rest = pages.filter((_, i) => i !== leaderIndex);
    const oldLeaderId = await leader.$eval('#client-id', (el) => el.textContent);
    const backendsBefore = await rest[0].$$eval('#backends tbody tr', (rows) => rows.map((r) => r.cells[2].textContent));
    await leader.close();

    // The two left: one leads, every edit is there, and editing goes on.
    await waitUntil(async () => (await Promise.all(rest.map(role))).filter((r) => r === 'leader').length === 1, {
      timeout: 10_000,
      what: 'a new leader',
    });
    for (const page of rest) {
      await waitUntil(
        async () => (await page.$eval('#leader-id', (el) => el.textContent)) !== oldLeaderId,
        { timeout: 10_000, what: 'the panel to show the new leader' },
      );
      assert.equal(await text(page), expected, 'every edit was kept');
    }
    // Each tab's panel: the old backends ended as lost, and new ones serve the same keys.
    for (const page of rest) {
      await waitUntil(
        () =>
          page.$$eval('#backends tbody tr', (rows) =>
            ['tabworker:default', 'doc:welcome'].every(
              (key) =>
                rows.some((r) => r.dataset.key === key && r.dataset.status === 'terminated' && r.dataset.reason === 'lost') &&
                rows.some((r) => r.dataset.key === key && r.dataset.status === 'ready'),
            ),
          ),
        { timeout: 10_000, what: 'lost backends and their successors in the table' },
      );
      const ids = await page.$$eval('#backends tbody tr', (rows) => rows.map((r) => r.cells[2].textContent));
      assert.ok(ids.some((id) => !backendsBefore.includes(id)), 'a new backend id appears');
    }
    expected += 'after the failover\n';
    await rest[0].fill('#note', expected);
    await waitUntil(async () => (await text(rest[1])) === expected, { timeout: 10_000, what: 'an edit after the failover' });

    mkdirSync(SHOTS, { recursive: true });
    await rest[0].screenshot({ path: join(SHOTS, 'demo-after-failover.png'), fullPage: true });
    for (const page of rest) assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('screenshot: two tabs of the demo side by side, editing one document', async () => {
  const context = await env.browser.newContext({ viewport: { width: 1600, height: 900 } });
  try {
    const page = await context.newPage();
    await page.goto(`${env.server.url}/tests/browser/fixtures/side-by-side.html`);
    const [first, second] = page.frames().slice(1);
    for (const frame of [first, second]) {
      await frame.waitForFunction(() => !document.getElementById('note').disabled, null, { timeout: 15_000 });
    }
    await first.fill('#note', 'Typed in the left tab.\n');
    await second.waitForFunction(() => document.getElementById('note').value.startsWith('Typed in the left'), null, {
      timeout: 5000,
    });
    await second.fill('#note', 'Typed in the left tab.\nAnd this line in the right one.\n');
    await first.waitForFunction(() => document.getElementById('note').value.includes('right one'), null, {
      timeout: 5000,
    });
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'demo-two-tabs.png') });
  } finally {
    await context.close();
  }
});

test("the notes backend: an edit sent again on the version it was made on never overwrites another tab's newer one", async () => {
  const context = await env.browser.newContext();
  try {
    const app = uniqueApp('notes-versions');
    const options = { ...KEYED_OPTIONS, backends: { ...KEYED_OPTIONS.backends, notes: '/www/notes-backend.js' } };
    const tabs = [await openTab(context, env.server.url, app, options), await openTab(context, env.server.url, app, options)];
    const edit = (page, text, base) =>
      page.evaluate(async ([text, base]) => {
        window.doc ??= await window.client.connectBackend(
          { key: 'doc:versions', spawn: { tag: 'notes', executable: { mount: true } } },
          { reconnect: true },
        );
        return window.doc.request('edit', { text, base }).then((value) => ({ value }), (e) => ({ error: e.code }));
      }, [text, base]);
    assert.deepEqual(await edit(tabs[0], 'from the first tab', 0), { value: { version: 1 } });
    assert.deepEqual(await edit(tabs[1], 'from the second tab', 1), { value: { version: 2 } }, 'made on version 1');
    // The first tab's edit again, as after backend-lost: made on version 0, it is not applied.
    const again = await edit(tabs[0], 'from the first tab, typed before', 0);
    assert.deepEqual(again, { value: { conflict: { text: 'from the second tab', version: 2 } } });
    const loaded = await tabs[0].evaluate(() => window.doc.request('load'));
    assert.equal(loaded.text, 'from the second tab', 'the acknowledged edit stands');
    assert.equal(loaded.version, 2);
    // The same text again is the edit already applied (its answer was lost): its version, nothing new.
    assert.deepEqual(await edit(tabs[1], 'from the second tab', 1), { value: { version: 2 } });
    assert.deepEqual(await edit(tabs[1], 'no base', undefined), { error: 'handler-error' });
  } finally {
    await context.close();
  }
});
