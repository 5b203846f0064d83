// The demo page in www/ loads the wasm package and shows the browser
// features it found.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBrowser } from './harness.mjs';

const env = useBrowser();

test('the demo page loads the package and lists the browser features', async () => {
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
    await page.waitForFunction(() => document.getElementById('role').textContent === 'leader', null, {
      timeout: 5000,
    });
    // The page follows its default backend's statuses by id.
    await page.waitForFunction(() => document.getElementById('backend-status').textContent === 'ready', null, {
      timeout: 5000,
    });
    const backendId = await page.$eval('#backend-id', (el) => el.textContent);
    assert.match(backendId, /^[0-9a-f]{32}$/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
