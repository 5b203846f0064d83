// An app's name and build become parts of the names tabworker makes: lock names (`:`), the
// deployment (`name@build`), a tab running alone without SharedWorker (`…~client`) and the OPFS
// directory of the app's data (`tabworker/<name>/…`). A name or build that would break one of
// them is refused at `new Client` with `invalid-argument` saying why; and one length rule holds in
// both modes, so that a name that works where SharedWorker exists works where it does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueApp, useBrowser } from './harness.mjs';

const env = useBrowser();

/** In a fresh page of a new context (`noSharedWorker`: as a browser without it), `new Client` with each options' name and build. */
async function construct(cases, { noSharedWorker = false } = {}) {
  const context = await env.browser.newContext();
  try {
    if (noSharedWorker) await context.addInitScript(() => delete window.SharedWorker);
    const page = await context.newPage();
    await page.goto(`${env.server.url}/pkg/tabworker.d.ts`);
    return await page.evaluate(async (cases) => {
      const { default: init, Client } = await import('/pkg/tabworker.js');
      await init();
      return cases.map(({ name, build }) => {
        try {
          const client = new Client({ coordinator: '/www/coordinator.js', backend: '/www/backend.js', name, build });
          return { mode: client.mode, deployment: client.deployment };
        } catch (e) {
          return { error: { name: e.name, code: e.code, message: e.message } };
        }
      });
    }, cases);
  } finally {
    await context.close();
  }
}

test('names and builds holding a separator, or naming no directory, are refused with invalid-argument', async () => {
  const refused = [
    { name: 'notes~a', why: /may not contain `~`/ },
    { name: 'notes/a', why: /may not contain `\/`/ },
    { name: 'notes\\a', why: /may not contain `\\`/ },
    { name: 'notes:a', why: /may not contain `:`/ },
    { name: '..', why: /may not be `.` or `..`/ },
    { name: 'notes', build: 'v~2', why: /build may not contain `~`/ },
    { name: 'notes', build: 'v:2', why: /build may not contain `:`/ },
  ];
  const outcomes = await construct(refused);
  for (const [i, { name, build, why }] of refused.entries()) {
    const { error } = outcomes[i];
    assert.ok(error, `${name} ${build ?? ''}: refused`);
    assert.equal(error.name, 'TabworkerError');
    assert.equal(error.code, 'invalid-argument');
    assert.match(error.message, why, `${name} ${build ?? ''}: says why`);
  }
  const [plain] = await construct([{ name: uniqueApp('a..b'), build: 'v@2/x' }]);
  assert.equal(plain.error, undefined, 'a name with dots inside, a build with @ and / are fine');
});

test('one length rule: the longest name accepted with SharedWorker is accepted without it, and one byte more in neither', async () => {
  // Find the longest name accepted where SharedWorker exists.
  const lengths = Array.from({ length: 80 }, (_, i) => 40 + i);
  const shared = await construct(lengths.map((n) => ({ name: 'n'.repeat(n) })));
  const longest = lengths.filter((_, i) => !shared[i].error).at(-1);
  assert.ok(longest > 40 && longest < lengths.at(-1), `a length limit within the range tried: ${longest}`);
  const over = shared[lengths.indexOf(longest + 1)].error;
  assert.equal(over.code, 'invalid-argument');
  assert.match(over.message, /deployment name of \d+ bytes/);

  const isolated = await construct([{ name: 'n'.repeat(longest) }, { name: 'n'.repeat(longest + 1) }], { noSharedWorker: true });
  assert.equal(isolated[0].error, undefined, `the same name works alone: ${JSON.stringify(isolated[0])}`);
  assert.equal(isolated[0].mode, 'isolated');
  assert.equal(isolated[1].error?.code, 'invalid-argument', 'and one byte more is refused there too');
});
