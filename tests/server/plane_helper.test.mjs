// tabworker/server against a fake Plane 0.5.5 controller: a local HTTP server
// that records every request and answers with Plane's own JSON shapes
// (ConnectResponse, ApiError { id, kind, message }, `null` for a terminate).
//
//   node --test tests/server/
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, describe, test } from 'node:test';
import { Plane, PlaneError } from '../../src/server/index.js';

/** Plane 0.5.5's status for each ApiErrorKind (plane/src/controller/{connect,error,drone}.rs). */
const PLANE_ERRORS = {
  FailedToAcquireKey: [500, 'Failed to acquire lock.', 'failed-to-acquire-key'],
  KeyUnheldNoSpawnConfig: [409, 'Lock is unheld but no spawn config was provided.', 'key-unheld-no-spawn'],
  KeyHeldUnhealthy: [500, 'Lock is held but unhealthy.', 'key-held-unhealthy'],
  KeyHeld: [409, 'Lock is held but tag does not match.', 'key-held'],
  NoDroneAvailable: [500, 'No active drone available.', 'no-drone-available'],
  FailedToRemoveKey: [409, 'Failed to remove lock.', 'failed-to-remove-key'],
  DatabaseError: [500, 'Database error', 'failed'],
  NoClusterProvided: [400, 'No cluster provided, and no default cluster for this controller.', 'no-cluster-provided'],
  NotFound: [404, 'Backend does not exist', 'not-found'],
  InvalidClusterName: [400, 'Invalid cluster name', 'invalid-cluster-name'],
  Other: [500, 'Internal error.', 'failed'],
};

const servers = [];
after(() => Promise.all(servers.map((server) => new Promise((done) => {
  server.closeAllConnections();
  server.close(done);
}))));

/**
 * A fake controller: `answer(request, res)` answers each request (or never
 * does); `requests` records { method, path, headers, body } of each.
 */
async function fakePlane(answer = planeLike) {
  const requests = [];
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const request = { method: req.method, path: req.url, headers: req.headers, text, body: text === '' ? undefined : JSON.parse(text) };
    requests.push(request);
    answer(request, res);
  });
  await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
  servers.push(server);
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, requests, plane: (options = {}) => new Plane({ controller: url, image: 'counter-backend', ...options }) };
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const apiError = (kind) => ({ id: 'x7k2m9p4q1w8ze', kind, message: PLANE_ERRORS[kind]?.[1] ?? 'Something new.' });

/** What Plane 0.5.5 answers on its own, roughly: connects succeed, terminates answer null. */
function planeLike(request, res) {
  if (request.path === '/ctrl/connect') {
    const spawned = request.body.spawn_config !== null;
    return send(res, 200, {
      backend_id: 'a1b2c3d4e5f6g7',
      spawned,
      status: spawned ? 'scheduled' : 'ready',
      token: 'tok_AbC-123',
      url: 'http://plane.local:9090/tok_AbC-123/',
      subdomain: null,
      secret_token: 'sec_XyZ',
      status_url: 'http://127.0.0.1:8080/pub/b/a1b2c3d4e5f6g7/status',
      drone: spawned ? 'dr-q1w2e3r4t5y6u7' : null,
    });
  }
  if (/^\/ctrl\/b\/[^/]+\/(soft|hard)-terminate$/.test(request.path)) return send(res, 200, 'null');
  send(res, 404, '');
}

async function rejectsWith(promise, code, check = () => {}) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof PlaneError, `a PlaneError, not ${error}`);
    assert.equal(error.name, 'PlaneError');
    assert.equal(error.code, code, error.message);
    check(error);
    return true;
  });
}

describe('connect', () => {
  test("translates every field of the seed's request into Plane's", async () => {
    const fake = await fakePlane();
    const plane = fake.plane({ cluster: 'plane.local:9090', pool: 'gpu' });
    await plane.connect({
      key: 'doc-42',
      spawn: {
        tag: 'notes',
        lifetime_limit_seconds: 3600,
        max_idle_seconds: 300,
        executable: {
          mount: 'shared/notes',
          env: { MODE: 'prod', EMPTY: '' },
          resource_limits: { cpu_period: 100000, cpu_period_percent: 50, cpu_time_limit: 10, memory_limit_bytes: 1 << 30, disk_limit_bytes: 2 ** 34 },
        },
      },
      user: 'ada',
      auth: { role: 'editor', nested: { ok: [1, 2] } },
    });
    assert.equal(fake.requests.length, 1);
    const [request] = fake.requests;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/ctrl/connect');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(request.body, {
      key: { name: 'doc-42', namespace: '', tag: 'notes' },
      spawn_config: {
        executable: {
          image: 'counter-backend',
          env: { MODE: 'prod', EMPTY: '' },
          resource_limits: { cpu_period: 100000, cpu_period_percent: 50, cpu_time_limit: 10, memory_limit_bytes: 1 << 30, disk_limit_bytes: 2 ** 34 },
          mount: 'shared/notes',
        },
        lifetime_limit_seconds: 3600,
        max_idle_seconds: 300,
        cluster: 'plane.local:9090',
        pool: 'gpu',
      },
      user: 'ada',
      auth: { role: 'editor', nested: { ok: [1, 2] } },
    });
  });

  test('spawn true, absent and false; no key; mount true', async () => {
    const fake = await fakePlane();
    const plane = fake.plane();
    await plane.connect({ spawn: true });
    await plane.connect({ key: 'k' });
    await plane.connect({ key: 'k', spawn: false });
    await plane.connect({ key: 'k', spawn: { executable: { mount: true } } });
    const bodies = fake.requests.map((r) => r.body);
    const bare = { executable: { image: 'counter-backend', env: {}, resource_limits: {} } };
    assert.deepEqual(bodies[0], { key: null, spawn_config: bare, user: null, auth: {} });
    assert.deepEqual(bodies[1], { key: { name: 'k', namespace: '', tag: '' }, spawn_config: null, user: null, auth: {} });
    assert.deepEqual(bodies[2], bodies[1]);
    assert.deepEqual(bodies[3].spawn_config.executable, { ...bare.executable, mount: true });
  });

  test("answers exactly the seed's ConnectResponse, ready_url being the status_url", async () => {
    const fake = await fakePlane();
    const response = await fake.plane().connect({ key: 'doc-42', spawn: true });
    assert.deepEqual(response, {
      backend_id: 'a1b2c3d4e5f6g7',
      spawned: true,
      status: 'scheduled',
      token: 'tok_AbC-123',
      url: 'http://plane.local:9090/tok_AbC-123/',
      secret_token: 'sec_XyZ',
      status_url: 'http://127.0.0.1:8080/pub/b/a1b2c3d4e5f6g7/status',
      ready_url: 'http://127.0.0.1:8080/pub/b/a1b2c3d4e5f6g7/status',
    });
    assert.deepEqual(Object.keys(response), ['backend_id', 'spawned', 'status', 'token', 'url', 'secret_token', 'status_url', 'ready_url']);
  });

  test('a static token (no secret_token) answers secret_token null', async () => {
    const fake = await fakePlane((request, res) => {
      const { secret_token, ...rest } = { backend_id: 'b1', spawned: false, status: 'ready', token: 's.tok', url: 'u', secret_token: null, status_url: 's', subdomain: null, drone: null };
      void secret_token;
      send(res, 200, rest);
    });
    const response = await fake.plane().connect({ key: 'k' });
    assert.equal(response.secret_token, null);
    assert.equal(response.ready_url, 's');
  });

  for (const [kind, [status, message, code]] of Object.entries(PLANE_ERRORS)) {
    test(`Plane's ${kind} (${status}) is '${code}'`, async () => {
      const fake = await fakePlane((request, res) => send(res, status, apiError(kind)));
      await rejectsWith(fake.plane().connect({ key: 'k', spawn: true }), code, (error) => {
        assert.equal(error.status, status);
        assert.equal(error.kind, kind);
        assert.match(error.message, new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        assert.match(error.message, /x7k2m9p4q1w8ze/);
      });
    });
  }

  test("an unknown kind is 'failed' and keeps its text; so is a kind named like an Object method", async () => {
    for (const kind of ['QuotaExceeded', 'toString', '__proto__']) {
      const fake = await fakePlane((request, res) => send(res, 503, { id: 'i', kind, message: 'new' }));
      await rejectsWith(fake.plane().connect({ key: 'k' }), 'failed', (error) => {
        assert.equal(error.status, 503);
        assert.equal(error.kind, kind);
      });
    }
  });

  test("a non-2xx answer that is no ApiError is 'failed' with its status", async () => {
    // What Plane's JSON extractor answers for a body it cannot deserialize.
    const fake = await fakePlane((request, res) => send(res, 422, 'Failed to deserialize the JSON body into the target type', 'text/plain'));
    await rejectsWith(fake.plane().connect({ key: 'k' }), 'failed', (error) => {
      assert.equal(error.status, 422);
      assert.equal(error.kind, undefined);
      assert.match(error.message, /Failed to deserialize/);
    });
  });

  test("bad input is refused with 'invalid-argument' before any request", async () => {
    const fake = await fakePlane();
    const plane = fake.plane();
    const cycle = {};
    cycle.self = cycle;
    const bad = [
      undefined,
      null,
      'doc-42',
      [],
      { key: '' },
      { key: 42 },
      { spwn: true },
      { spawn: 'yes' },
      { spawn: 1 },
      { spawn: { tag: 3 } },
      { spawn: { lifetime_limit_seconds: -1 } },
      { spawn: { lifetime_limit_seconds: 2 ** 31 } },
      { spawn: { max_idle_seconds: 1.5 } },
      { spawn: { max_idle_seconds: Number.NaN } },
      { spawn: { max_idle_seconds: '60' } },
      { spawn: { max_idle_seconds: 60n } },
      { spawn: { max_idle_seconds: Object.create(null) } },
      { spawn: { max_idle_seconds: Symbol('s') } },
      { spawn: { image: 'other' } },
      { spawn: { executable: 'x' } },
      { spawn: { executable: { image: 'other' } } },
      { spawn: { executable: { env: { A: 1 } } } },
      { spawn: { executable: { env: { 'A=B': 'c' } } } },
      { spawn: { executable: { env: ['x'] } } },
      { spawn: { executable: { resource_limits: { cpu_period_percent: 300 } } } },
      { spawn: { executable: { resource_limits: { memory_limit_bytes: '1' } } } },
      { spawn: { executable: { resource_limits: { gpu_count: 1 } } } },
      { spawn: { executable: { mount: '' } } },
      { spawn: { executable: { mount: '/etc' } } },
      { spawn: { executable: { mount: '../other-key' } } },
      { spawn: { executable: { mount: 'a/./b' } } },
      { spawn: { executable: { mount: 1 } } },
      { user: 5 },
      { auth: [] },
      { auth: 'role=admin' },
      { auth: new Map() },
      { auth: cycle },
      { auth: { big: 1n } },
    ];
    for (const request of bad) {
      await rejectsWith(plane.connect(request), 'invalid-argument');
    }
    assert.equal(fake.requests.length, 0);
  });

  test("a 2xx answer that is not a ConnectResponse is 'malformed'", async () => {
    const good = { backend_id: 'b1', spawned: true, status: 'scheduled', token: 't', url: 'u', secret_token: 's', status_url: 'su' };
    const answers = [
      ['<html>hello</html>', 'text/html'],
      [''],
      ['null'],
      ['[]'],
      [{ ...good, backend_id: undefined }],
      [{ ...good, backend_id: 'Not A Name' }],
      [{ ...good, spawned: 'yes' }],
      [{ ...good, status: 'sleeping' }],
      [{ ...good, status: 'hard_terminating' }],
      [{ ...good, token: 3 }],
      [{ ...good, url: '' }],
      [{ ...good, secret_token: 7 }],
      [{ ...good, status_url: null }],
    ];
    for (const [body, type] of answers) {
      const fake = await fakePlane((request, res) => send(res, 200, body, type));
      await rejectsWith(fake.plane().connect({ key: 'k' }), 'malformed', (error) => assert.equal(error.status, 200));
    }
  });

  test("a controller that never answers is 'timeout' within timeoutMs", async () => {
    const fake = await fakePlane(() => {}); // holds every request
    const started = performance.now();
    await rejectsWith(fake.plane({ timeoutMs: 150 }).connect({ key: 'k' }), 'timeout', (error) => assert.equal(error.status, undefined));
    const took = performance.now() - started;
    assert.ok(took >= 140 && took < 2000, `took ${took} ms`);
    assert.equal(fake.requests.length, 1);
  });

  test('a fetch that ignores its signal is still bounded by timeoutMs', async () => {
    const plane = new Plane({ controller: 'http://127.0.0.1:1', image: 'i', timeoutMs: 100, fetch: () => new Promise(() => {}) });
    await rejectsWith(plane.connect({ key: 'k' }), 'timeout');
  });

  test("a headers-then-silence answer is 'timeout' too (the whole body is awaited)", async () => {
    const fake = await fakePlane((request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"backend_id":');
    });
    await rejectsWith(fake.plane({ timeoutMs: 150 }).connect({ key: 'k' }), 'timeout');
  });

  test("a fetch that does not resolve to a Response is 'malformed', one that throws 'unreachable'", async () => {
    await rejectsWith(new Plane({ controller: 'http://h', image: 'i', fetch: async () => 42 }).connect({}), 'malformed');
    const fetch = () => {
      throw new TypeError('boom');
    };
    await rejectsWith(new Plane({ controller: 'http://h', image: 'i', fetch }).connect({}), 'unreachable');
    const odd = async () => {
      throw Object.create(null);
    };
    await rejectsWith(new Plane({ controller: 'http://h', image: 'i', fetch: odd }).connect({}), 'unreachable');
  });
});

/** The in-browser registry's key bound, read from its source so that the two cannot drift apart. */
const REGISTRY_MAX_KEY_LEN = Number(
  /pub const MAX_KEY_LEN: usize = (\d+);/.exec(readFileSync(new URL('../../src/model/connect.rs', import.meta.url), 'utf8'))[1],
);

/** Each request is refused with 'invalid-argument' and none reaches the controller. */
async function allRefused(requests) {
  const fake = await fakePlane();
  const plane = fake.plane();
  for (const request of requests) {
    await rejectsWith(plane.connect(request), 'invalid-argument', (error) => assert.equal(error.url, undefined));
  }
  assert.equal(fake.requests.length, 0, `sent: ${JSON.stringify(fake.requests.map((r) => r.body))}`);
}

/** Each request is sent; resolves with the bodies the controller received. */
async function allSent(requests) {
  const fake = await fakePlane();
  const plane = fake.plane();
  for (const request of requests) await plane.connect(request);
  assert.equal(fake.requests.length, requests.length);
  return fake.requests.map((r) => r.body);
}

describe('what a request may carry', () => {
  const mountKey = (key) => ({ key, spawn: { executable: { mount: true } } });

  test('with mount true, a key that is not one safe path segment is refused: it would choose a host directory', async () => {
    const longSegment = 'k'.repeat(256); // a valid key, but longer than a file name may be
    await allRefused(['/', '../../etc', 'a/../../x', 'doc/.', './doc', 'doc/', '.', '..', 'a\\b', 'a:/etc', longSegment].map(mountKey));
    // Without mount the same keys name nothing on disk, and are sent as they are.
    const bodies = await allSent(['doc/', 'a:b', longSegment].map((key) => ({ key, spawn: true })));
    assert.deepEqual(bodies.map((body) => body.key.name), ['doc/', 'a:b', longSegment]);
    // One segment is fine, whatever its letters.
    const mounted = await allSent(['doc-42', '.notes', 'é'.repeat(127), 'k'.repeat(255)].map(mountKey));
    assert.ok(mounted.every((body) => body.spawn_config.executable.mount === true));
  });

  test("every key follows the in-browser registry's rule: at most MAX_KEY_LEN bytes, no control character", async () => {
    assert.equal(REGISTRY_MAX_KEY_LEN, 256);
    const tooLong = ['k'.repeat(REGISTRY_MAX_KEY_LEN + 1), 'é'.repeat(REGISTRY_MAX_KEY_LEN / 2 + 1)]; // bytes, not UTF-16 units
    const controls = ['a\nb', 'a\0b', 'a\x7fb', 'a\u0085b', '\t'];
    const requests = [...tooLong, ...controls, '\ud800'].flatMap((key) => [{ key }, { key, spawn: true }]);
    await allRefused(requests);
    const longest = ['k'.repeat(REGISTRY_MAX_KEY_LEN), 'é'.repeat(REGISTRY_MAX_KEY_LEN / 2), 'doc 42 ✓'];
    const bodies = await allSent(longest.map((key) => ({ key })));
    assert.deepEqual(bodies.map((body) => body.key.name), longest);
  });

  test('mount paths with ":" (the bind spec separator) or a control character are refused', async () => {
    await allRefused(['a:b', 'shared:/etc', 'a\nb', 'a\x1bb'].map((mount) => ({ key: 'k', spawn: { executable: { mount } } })));
  });

  test('user is at most 256 bytes, without control characters', async () => {
    await allRefused(['a\nb', 'a\r\nx-verified-username: admin', '\0', 'u'.repeat(257), 'é'.repeat(129), '\udc00'].map((user) => ({ key: 'k', user })));
    const users = ['José', 'u'.repeat(256), 'é'.repeat(128)];
    const bodies = await allSent(users.map((user) => ({ key: 'k', user })));
    assert.deepEqual(bodies.map((body) => body.user), users);
  });

  test('a tag is bounded as a key is, and env carries at most 64 KiB of names and values', async () => {
    await allRefused(
      ['a\nb', '\0', 't'.repeat(257), '\udc00'].map((tag) => ({ key: 'k', spawn: { tag } })).concat([
        { key: 'k', spawn: { executable: { env: { BIG: 'v'.repeat(64 * 1024) } } } },
        { key: 'k', spawn: { executable: { env: Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`N${i}`, 'v'.repeat(32)])) } } },
      ]),
    );
    const bodies = await allSent([
      { key: 'k', spawn: { tag: 't'.repeat(256) } },
      { key: 'k', spawn: { executable: { env: { BIG: 'v'.repeat(64 * 1024 - 3) } } } },
    ]);
    assert.equal(bodies[0].key.tag, 't'.repeat(256));
    assert.equal(bodies[1].spawn_config.executable.env.BIG.length, 64 * 1024 - 3);
  });

  test('env names are portable and never choose which code the process loads', async () => {
    const names = [
      'LD_PRELOAD',
      'LD_LIBRARY_PATH',
      'LD_AUDIT',
      'ld_preload',
      'DYLD_INSERT_LIBRARIES',
      'GCONV_PATH',
      'PATH',
      'BASH_ENV',
      'NODE_OPTIONS',
      'PYTHONPATH',
      'PERL5OPT',
      'RUBYOPT',
      'JAVA_TOOL_OPTIONS',
      'OPENSSL_CONF',
      '',
      '1A',
      'A-B',
      'A B',
      'A.B',
      'É',
      'A\nB',
    ];
    const values = ['a\0b', '\ud800'];
    await allRefused([
      ...names.map((name) => ({ key: 'k', spawn: { executable: { env: { [name]: 'x' } } } })),
      ...values.map((value) => ({ key: 'k', spawn: { executable: { env: { MODE: value } } } })),
    ]);
    const env = { MODE: 'prod', _private: '1', LDAP_URI: 'ldap://x', NODE_ENV: 'production', PATHS: 'a\nb', A1: 'é' };
    const [body] = await allSent([{ key: 'k', spawn: { executable: { env } } }]);
    assert.deepEqual(body.spawn_config.executable.env, env);
  });
});

describe("errors keep the controller's address out of their message", () => {
  /** Asserts that `error.url` is `url` and that its message names no part of the controller's address (but the route, if given). */
  function addressKept(url, route) {
    return (error) => {
      assert.equal(error.url, url);
      const { host, hostname, port, pathname } = new URL(url);
      for (const part of [host, hostname, port, pathname.replace(/\/ctrl\/.*$/, '')].filter((p) => p !== '' && p !== '/')) {
        assert.ok(!error.message.includes(part), `${JSON.stringify(error.message)} names ${part}`);
      }
      if (route !== undefined) assert.ok(error.message.includes(route), error.message);
    };
  }

  test('a refusal, a failure, a malformed answer and a timeout', async () => {
    const cases = [
      [(request, res) => send(res, 409, apiError('KeyHeld')), 'key-held'],
      [(request, res) => send(res, 502, 'Bad Gateway', 'text/plain'), 'failed'],
      [(request, res) => send(res, 200, '<html></html>', 'text/html'), 'malformed'],
      [() => {}, 'timeout'],
    ];
    for (const [answer, code] of cases) {
      const fake = await fakePlane(answer);
      const plane = new Plane({ controller: `${fake.url}/plane-private/`, image: 'i', timeoutMs: 150 });
      const url = `${fake.url}/plane-private/ctrl/connect`;
      // A malformed answer's message says what was wrong with it, not where it came from.
      const route = code === 'malformed' ? undefined : 'POST /ctrl/connect';
      await rejectsWith(plane.connect({ key: 'k' }), code, addressKept(url, route));
    }
    const fake = await fakePlane((request, res) => send(res, 200, { ok: true }));
    const url = `${fake.url}/plane-private/ctrl/b/b1/hard-terminate`;
    await rejectsWith(new Plane({ controller: `${fake.url}/plane-private`, image: 'i' }).terminate('b1', { hard: true }), 'malformed', addressKept(url));
  });

  test("a controller nobody listens on is 'unreachable': the reason's code, never its host", async () => {
    const server = createServer();
    await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
    const { port } = server.address();
    await new Promise((closed) => server.close(closed));
    const refused = new Plane({ controller: `http://127.0.0.1:${port}`, image: 'i' });
    await rejectsWith(refused.connect({ key: 'k' }), 'unreachable', (error) => {
      addressKept(`http://127.0.0.1:${port}/ctrl/connect`, 'POST /ctrl/connect')(error);
      assert.equal(error.status, undefined);
      assert.match(error.message, /ECONNREFUSED/);
    });
    const fetch = async () => {
      const cause = Object.assign(new Error('getaddrinfo ENOTFOUND plane-controller.internal'), { code: 'ENOTFOUND' });
      throw new TypeError('fetch failed', { cause });
    };
    const unknown = new Plane({ controller: 'http://plane-controller.internal:8080', image: 'i', fetch });
    await rejectsWith(unknown.terminate('b1'), 'unreachable', (error) => {
      addressKept('http://plane-controller.internal:8080/ctrl/b/b1/soft-terminate', 'POST /ctrl/b/b1/soft-terminate')(error);
      assert.match(error.message, /ENOTFOUND/);
      assert.match(error.cause.cause.message, /plane-controller\.internal/, 'the whole reason stays in cause');
    });
    const odd = new Plane({ controller: 'http://plane-controller.internal', image: 'i', fetch: async () => 42 });
    await rejectsWith(odd.connect({}), 'malformed', addressKept('http://plane-controller.internal/ctrl/connect', 'POST /ctrl/connect'));
  });
});

describe('terminate', () => {
  test('soft by default and hard on request, each on its own path with no body', async () => {
    const fake = await fakePlane();
    const plane = fake.plane();
    assert.equal(await plane.terminate('a1b2c3d4e5f6g7'), undefined);
    assert.equal(await plane.terminate('a1b2c3d4e5f6g7', { hard: false }), undefined);
    assert.equal(await plane.terminate('a1b2c3d4e5f6g7', { hard: true }), undefined);
    assert.deepEqual(fake.requests.map((r) => [r.method, r.path, r.text]), [
      ['POST', '/ctrl/b/a1b2c3d4e5f6g7/soft-terminate', ''],
      ['POST', '/ctrl/b/a1b2c3d4e5f6g7/soft-terminate', ''],
      ['POST', '/ctrl/b/a1b2c3d4e5f6g7/hard-terminate', ''],
    ]);
  });

  test('under a controller URL with a path prefix', async () => {
    const fake = await fakePlane((request, res) => send(res, 200, 'null'));
    await new Plane({ controller: `${fake.url}/plane/`, image: 'i' }).terminate('b1');
    assert.equal(fake.requests[0].path, '/plane/ctrl/b/b1/soft-terminate');
  });

  test("an unknown backend is 'not-found'", async () => {
    const fake = await fakePlane((request, res) => send(res, 404, apiError('NotFound')));
    await rejectsWith(fake.plane().terminate('gone'), 'not-found', (error) => {
      assert.equal(error.status, 404);
      assert.equal(error.kind, 'NotFound');
    });
  });

  test("an answer other than null is 'malformed'", async () => {
    for (const [body, type] of [['<!doctype html><p>app</p>', 'text/html'], [{ ok: true }], ['"terminated"']]) {
      const fake = await fakePlane((request, res) => send(res, 200, body, type));
      await rejectsWith(fake.plane().terminate('b1'), 'malformed', (error) => assert.equal(error.status, 200));
    }
  });

  test("bad ids and options are 'invalid-argument' before any request", async () => {
    const fake = await fakePlane();
    const plane = fake.plane();
    for (const id of [undefined, 5, 5n, Symbol('id'), Object.create(null), '', '..', '../ctrl/connect', 'A1', 'a b', 'a/b', 'x'.repeat(46)]) {
      await rejectsWith(plane.terminate(id), 'invalid-argument');
    }
    for (const options of [null, 'hard', { hard: 'yes' }, { force: true }]) {
      await rejectsWith(plane.terminate('b1', options), 'invalid-argument');
    }
    assert.equal(fake.requests.length, 0);
  });
});

test("the constructor refuses bad options with 'invalid-argument'", () => {
  const ok = { controller: 'http://127.0.0.1:8080', image: 'counter-backend' };
  assert.ok(new Plane(ok));
  assert.ok(new Plane({ ...ok, controller: 'https://plane.example/base/', cluster: 'plane.example:443', pool: '', timeoutMs: 1 }));
  const bad = [
    undefined,
    'http://127.0.0.1:8080',
    { ...ok, controller: undefined },
    { ...ok, controller: 'not a url' },
    { ...ok, controller: 8080n },
    { ...ok, controller: Symbol('url') },
    { ...ok, controller: Object.create(null) },
    { ...ok, controller: 'ftp://127.0.0.1' },
    { ...ok, controller: 'http://user:pw@127.0.0.1' },
    { ...ok, controller: 'http://127.0.0.1/?a=1' },
    { ...ok, image: undefined },
    { ...ok, image: '' },
    { ...ok, fetch: 'fetch' },
    { ...ok, timeoutMs: 0 },
    { ...ok, timeoutMs: Number.POSITIVE_INFINITY },
    { ...ok, timeoutMs: '10' },
    { ...ok, cluster: 'a/b' },
    { ...ok, cluster: 'host:99999' },
    { ...ok, cluster: 3 },
    { ...ok, cluster: 3n },
    { ...ok, pool: 1 },
    { ...ok, token: 'secret' },
  ];
  for (const options of bad) {
    assert.throws(() => new Plane(options), (error) => error instanceof PlaneError && error.code === 'invalid-argument');
  }
});
