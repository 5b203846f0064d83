// tabworker/server: the app's Node server calls a Plane cluster (Plane 0.5.5,
// https://plane.dev) with the seed's types, as `@jamsocket/server`'s spawn()
// calls Jamsocket. It only runs on a server: Plane's /ctrl/* routes have no
// authentication, so a browser must never be given the controller's address.
//
// Nothing is imported: Node >= 20's global fetch (or the one given) does the
// HTTP. Every failure is a PlaneError with a stable `code`; bad input is
// refused before any request, and what Plane answers is checked field by field
// before it is trusted.

/**
 * Plane's `ApiErrorKind` (plane-common/src/protocol.rs, serialized by name) →
 * this module's code. `DatabaseError` and `Other` are internal errors of the
 * controller: `failed`, like a kind this version does not know.
 */
const KIND_CODES = {
  FailedToAcquireKey: 'failed-to-acquire-key',
  KeyUnheldNoSpawnConfig: 'key-unheld-no-spawn',
  KeyHeldUnhealthy: 'key-held-unhealthy',
  KeyHeld: 'key-held',
  NoDroneAvailable: 'no-drone-available',
  FailedToRemoveKey: 'failed-to-remove-key',
  DatabaseError: 'failed',
  NoClusterProvided: 'no-cluster-provided',
  NotFound: 'not-found',
  InvalidClusterName: 'invalid-cluster-name',
  Other: 'failed',
};

/** Plane's `BackendStatus` as it serializes it: the seed's statuses. */
const STATUSES = ['scheduled', 'loading', 'starting', 'waiting', 'ready', 'terminating', 'hard-terminating', 'terminated'];

/** Plane's names (plane-common/src/names.rs): a-z, 0-9 and '-', at most 45 characters. */
const BACKEND_NAME = /^[a-z0-9-]{1,45}$/;
/** Plane's `ClusterName`: a host name or IPv4 address, and an optional port. */
const CLUSTER_NAME = /^[A-Za-z0-9._-]+(?::(\d{1,5}))?$/;

// The ranges of the Rust types Plane deserializes these numbers into; a number
// outside them (or a fraction) would be refused by Plane's JSON extractor.
const I32_MAX = 2 ** 31 - 1;
const U8_MAX = 255;
const SAFE_MAX = Number.MAX_SAFE_INTEGER;
/** Each seed resource limit → the largest value its Plane type holds. */
const LIMITS = {
  cpu_period: SAFE_MAX, // u64 microseconds (DockerCpuPeriod)
  cpu_period_percent: U8_MAX, // u8
  cpu_time_limit: SAFE_MAX, // u64 seconds (DockerCpuTimeLimit)
  memory_limit_bytes: SAFE_MAX, // i64
  disk_limit_bytes: SAFE_MAX, // i64
};

/**
 * The longest key, in UTF-8 bytes, and what a key may not contain: the rule
 * of the in-browser registry (`MAX_KEY_LEN` and `key_fault` in
 * src/model/connect.rs: at most 256 bytes, no `char::is_control`, which is
 * Unicode's `Cc`, the C0 and C1 controls), kept equal so that a key is valid
 * in both places or in neither.
 */
const MAX_KEY_LEN = 256;
const CONTROL = /\p{Cc}/u;
/**
 * With `mount: true` Plane's Docker runtime binds `<mount base>/<key>`
 * (`base.join(key)`, then the bind spec `"<path>:/plane-data"`): the key must
 * be one path segment that names a directory inside the base. Not `.` or
 * `..`, no `/` (an absolute key replaces the base; `a/../..` climbs out of
 * it; `doc/.` and `./doc` would be other keys on the same directory), no `\`
 * (a separator elsewhere) and no `:` (the bind spec's own separator). At most
 * 255 bytes: a file name's limit (NAME_MAX) on Linux.
 */
const MAX_SEGMENT_LEN = 255;
const NOT_IN_SEGMENT = /[/\\:]/;
/** The longest `user`, in UTF-8 bytes; Plane's proxy hands it to the backend as a header. */
const MAX_USER_LEN = 256;
/** The longest `spawn.tag`, in UTF-8 bytes: it is part of Plane's key, and bounded as a key is. */
const MAX_TAG_LEN = MAX_KEY_LEN;
/**
 * The most text `executable.env` carries, names and values, in UTF-8 bytes: the in-browser bound of
 * a connect's text (`MAX_CONNECT_TEXT`, 64 KiB), so a request cannot make the controller, the drone
 * and every backend process it starts hold an environment of any size.
 */
const MAX_ENV_BYTES = 64 * 1024;
/** A portable environment variable name: letters, digits and `_`, not starting with a digit. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Variables that change which code a process loads or runs, rather than what
 * that code does: a request must not choose them (the image is the server's
 * choice, so is the code it runs). Refused whatever their case: some
 * programs read names so (Windows does), and no name worth sending differs
 * from one of these by case only. The dynamic loaders' (every LD_* of glibc
 * and musl, DYLD_* of macOS), glibc's GCONV_PATH (loads iconv modules) and
 * GLIBC_TUNABLES, PATH (which program a name runs), the shells' start-up
 * files (BASH_ENV, ENV), and the usual runtimes' preload and search-path
 * variables (Node, Python, Perl, Ruby, the JVM, OpenSSL's configuration,
 * which may load engines). This cannot be complete for every program an image
 * may run; the list is of what common images read before their own code runs.
 */
const LOADER_PREFIXES = ['LD_', 'DYLD_'];
const LOADER_NAMES = new Set([
  'GCONV_PATH',
  'GLIBC_TUNABLES',
  'PATH',
  'BASH_ENV',
  'ENV',
  'NODE_OPTIONS',
  'NODE_PATH',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'PERL5LIB',
  'PERLLIB',
  'PERL5OPT',
  'RUBYLIB',
  'RUBYOPT',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
  'OPENSSL_CONF',
  'OPENSSL_ENGINES',
  'OPENSSL_MODULES',
]);

const DEFAULT_TIMEOUT_MS = 10_000;
/** How much of an unexpected answer an error message quotes. */
const QUOTE_CHARS = 200;

/**
 * What every function of this module throws or rejects with.
 *
 * `code` is stable (see index.d.ts for the list); `status` is the HTTP status
 * of Plane's answer, if one came; `kind` is Plane's `ApiErrorKind`, if Plane
 * answered with an `ApiError` (an unknown kind keeps its text, with code
 * `failed`); `url` is the URL of the request, if one was made. The message
 * names the route (`POST /ctrl/connect`), never the controller's address:
 * apps forward messages to browsers, which must not learn it.
 */
export class PlaneError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{ status?: number, kind?: string, url?: string, cause?: unknown }} [details]
   */
  constructor(code, message, { status, kind, url, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PlaneError';
    this.code = code;
    this.status = status;
    this.kind = kind;
    this.url = url;
  }
}

function invalid(message) {
  return new PlaneError('invalid-argument', message);
}

/** A value for an error message; never throws (a BigInt, a symbol, an object without prototype). */
function show(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) {
    return `${String(value)}${typeof value === 'bigint' ? 'n' : ''}`;
  }
  return `a ${typeof value}`;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Refuses fields the seed's type does not have, so that a typo is not dropped silently. */
function onlyFields(object, fields, where) {
  for (const name of Object.keys(object)) {
    if (!fields.includes(name)) throw invalid(`${where}.${name} is not a field of the seed's ConnectRequest`);
  }
}

function integer(value, where, max) {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw invalid(`${where} must be an integer from 0 to ${max} (Plane's type for it), not ${show(value)}`);
  }
  return value;
}

function optionalString(value, where) {
  if (value != null && typeof value !== 'string') throw invalid(`${where} must be a string`);
  return value ?? undefined;
}

/**
 * Refuses text that Plane cannot be sent as it is: a lone surrogate (JSON
 * would carry it escaped and Plane's serde refuses it) or a control character.
 */
function plainText(value, where) {
  if (!value.isWellFormed()) throw invalid(`${where} is not well-formed Unicode (a lone surrogate)`);
  if (CONTROL.test(value)) throw invalid(`${where} must not contain control characters`);
}

function utf8Length(value) {
  return Buffer.byteLength(value, 'utf8');
}

/** The seed's `key`, with the in-browser registry's rule; with `mount: true`, one safe path segment. */
function checkKey(key, mountsKey) {
  if (typeof key !== 'string' || key === '') throw invalid('request.key must be a non-empty string');
  plainText(key, 'request.key');
  const length = utf8Length(key);
  if (length > MAX_KEY_LEN) throw invalid(`request.key is at most ${MAX_KEY_LEN} bytes (UTF-8), this one is ${length}`);
  if (!mountsKey) return;
  if (key === '.' || key === '..' || NOT_IN_SEGMENT.test(key) || length > MAX_SEGMENT_LEN) {
    throw invalid(
      `request.key ${show(key)} cannot name a directory with executable.mount true: it must be one path segment (not "." or "..", no "/", "\\" or ":", at most ${MAX_SEGMENT_LEN} bytes)`,
    );
  }
}

/** The seed's `user`, which Plane's proxy hands to the backend as a header. */
function user(value) {
  const text = optionalString(value, 'request.user');
  if (text === undefined) return null;
  plainText(text, 'request.user');
  const length = utf8Length(text);
  if (length > MAX_USER_LEN) throw invalid(`request.user is at most ${MAX_USER_LEN} bytes (UTF-8), this one is ${length}`);
  return text;
}

/**
 * The seed's `mount` as Plane's `Mount` (`bool | PathBuf`, untagged): `true`
 * mounts `<drone mount base>/<key>` (so the key must then be one path
 * segment: see checkKey), a string the path `<mount base>/<string>`
 * — shared by every backend that names it, whatever its key. Plane's drone
 * refuses, at spawn time (the backend then fails), a path that is absolute or
 * has `.` or `..` parts, and `''` would mount the whole base: those are refused
 * here, before anything is spawned. (A drone with no mount base ignores the
 * mount with a warning; that cannot be seen from here.)
 */
function mount(value) {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') throw invalid('request.spawn.executable.mount must be a boolean or a string');
  const parts = value.split('/');
  // ':' would end the path in Plane's bind spec "<path>:/plane-data".
  if (value === '' || value.startsWith('/') || CONTROL.test(value) || value.includes(':') || parts.some((p) => p === '.' || p === '..')) {
    throw invalid(
      `request.spawn.executable.mount ${show(value)} cannot be a Plane mount: it must be a relative path under the drone's mount base, without "." or ".." parts, ":" or control characters`,
    );
  }
  return value;
}

function env(value) {
  if (value == null) return {};
  if (!isPlainObject(value)) throw invalid('request.spawn.executable.env must be a plain object of strings');
  for (const [name, text] of Object.entries(value)) {
    // Plane hands the container `NAME=value` lines.
    if (!ENV_NAME.test(name)) {
      throw invalid(`request.spawn.executable.env has an invalid name ${show(name)}: letters, digits and "_", not starting with a digit`);
    }
    const upper = name.toUpperCase();
    if (LOADER_NAMES.has(upper) || LOADER_PREFIXES.some((prefix) => upper.startsWith(prefix))) {
      throw invalid(`request.spawn.executable.env.${name} is refused: it would change which code the backend's process loads`);
    }
    if (typeof text !== 'string') throw invalid(`request.spawn.executable.env.${name} must be a string`);
    // A C string ends at NUL: the process would get another value than the one sent.
    if (text.includes('\0') || !text.isWellFormed()) throw invalid(`request.spawn.executable.env.${name} must not contain NUL or a lone surrogate`);
  }
  const bytes = Object.entries(value).reduce((sum, [name, text]) => sum + utf8Length(name) + utf8Length(text), 0);
  if (bytes > MAX_ENV_BYTES) throw invalid(`request.spawn.executable.env is at most ${MAX_ENV_BYTES} bytes (UTF-8) of names and values, this one is ${bytes}`);
  return { ...value };
}

function resourceLimits(value) {
  if (value == null) return {};
  const where = 'request.spawn.executable.resource_limits';
  if (!isPlainObject(value)) throw invalid(`${where} must be a plain object`);
  onlyFields(value, Object.keys(LIMITS), where);
  const limits = {};
  for (const [name, max] of Object.entries(LIMITS)) {
    if (value[name] != null) limits[name] = integer(value[name], `${where}.${name}`, max);
  }
  return limits;
}

/** The seed's `spawn` object as Plane's `SpawnConfig`. */
function spawnConfig(spawn, { image, cluster, pool }) {
  onlyFields(spawn, ['tag', 'lifetime_limit_seconds', 'max_idle_seconds', 'executable'], 'request.spawn');
  const executable = spawn.executable ?? {};
  if (!isPlainObject(executable)) throw invalid('request.spawn.executable must be a plain object');
  onlyFields(executable, ['mount', 'env', 'resource_limits'], 'request.spawn.executable');
  // Plane's DockerExecutorConfig; the image is the server's choice, never the request's.
  const docker = { image, env: env(executable.env), resource_limits: resourceLimits(executable.resource_limits) };
  if (executable.mount != null) docker.mount = mount(executable.mount);
  const config = { executable: docker };
  for (const name of ['lifetime_limit_seconds', 'max_idle_seconds']) {
    if (spawn[name] != null) config[name] = integer(spawn[name], `request.spawn.${name}`, I32_MAX);
  }
  if (cluster !== undefined) config.cluster = cluster;
  if (pool !== undefined) config.pool = pool;
  return config;
}

/** The seed's ConnectRequest as the body of Plane's POST /ctrl/connect; throws invalid-argument. */
function planeConnectRequest(request, options) {
  if (!isPlainObject(request)) throw invalid("the request must be a plain object (the seed's ConnectRequest)");
  onlyFields(request, ['key', 'spawn', 'user', 'auth'], 'request');
  const { key, spawn, auth } = request;
  if (spawn != null && typeof spawn !== 'boolean' && !isPlainObject(spawn)) {
    throw invalid('request.spawn must be true, false or a plain object');
  }
  if (auth != null && !isPlainObject(auth)) throw invalid('request.auth must be a plain object');
  const spec = spawn === true ? {} : spawn || null;
  const tag = optionalString(spec?.tag, 'request.spawn.tag') ?? '';
  plainText(tag, 'request.spawn.tag');
  if (utf8Length(tag) > MAX_TAG_LEN) throw invalid(`request.spawn.tag is at most ${MAX_TAG_LEN} bytes (UTF-8), this one is ${utf8Length(tag)}`);
  const spawn_config = spec === null ? null : spawnConfig(spec, options);
  const mountsKey = spawn_config?.executable.mount === true;
  // Without a key, Plane makes a random one (a Plane name), so `mount: true` is then a new directory.
  if (key != null) checkKey(key, mountsKey);
  const body = {
    // Without a key Plane makes a random one (whose tag is ''): a tag then guards nothing.
    key: key == null ? null : { name: key, namespace: '', tag },
    // No spawn config: Plane only connects to a live backend of the key (else key-unheld-no-spawn).
    spawn_config,
    user: user(request.user),
    auth: auth ?? {},
  };
  try {
    return JSON.stringify(body);
  } catch (error) {
    // A cycle or a BigInt in auth.
    throw new PlaneError('invalid-argument', `request.auth cannot be sent as JSON: ${error.message}`, { cause: error });
  }
}

/** Plane's ConnectResponse (already parsed) as the seed's; throws malformed naming the first bad field. */
function seedConnectResponse(body, status, url) {
  const bad = (what) => new PlaneError('malformed', `Plane's connect answer is not a ConnectResponse: ${what}`, { status, url });
  if (!isPlainObject(body)) throw bad('not a JSON object');
  const text = (name) => {
    if (typeof body[name] !== 'string' || body[name] === '') throw bad(`${name} is not a non-empty string`);
    return body[name];
  };
  const backend_id = text('backend_id');
  if (!BACKEND_NAME.test(backend_id)) throw bad(`backend_id "${backend_id}" is not a Plane name`);
  if (typeof body.spawned !== 'boolean') throw bad('spawned is not a boolean');
  if (!STATUSES.includes(body.status)) throw bad(`status ${show(body.status)} is not a BackendStatus`);
  const secret = body.secret_token;
  if (secret != null && typeof secret !== 'string') throw bad('secret_token is neither a string nor null');
  const status_url = text('status_url');
  // Exactly the seed's fields; Plane's `subdomain` and `drone` are left out.
  return {
    backend_id,
    spawned: body.spawned,
    status: body.status,
    token: text('token'),
    url: text('url'),
    secret_token: secret ?? null,
    status_url,
    // Plane has no ready URL: its status_url answers the current status, so
    // one waits for `ready` there (or at its status-stream sibling).
    ready_url: status_url,
  };
}

function quote(text) {
  return text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
}

/**
 * A Plane cluster's controller, called from the app's server.
 *
 * ```js
 * const plane = new Plane({ controller: 'http://127.0.0.1:8080', image: 'counter-backend' });
 * const response = await plane.connect({ key: 'doc-42', spawn: { max_idle_seconds: 300 } });
 * await plane.terminate(response.backend_id); // soft; { hard: true } for a hard one
 * ```
 */
export class Plane {
  #base;
  #image;
  #cluster;
  #pool;
  #fetch;
  #timeoutMs;

  /**
   * @param {{ controller: string, image: string, fetch?: typeof fetch, timeoutMs?: number, cluster?: string, pool?: string }} options
   *   `controller`: the controller's http(s) base URL (its /ctrl routes are
   *   under it); `image`: the Docker image every spawned backend runs;
   *   `timeoutMs`: how long a call waits for Plane's whole answer (10 s);
   *   `cluster` (`host[:port]`) and `pool`: where to spawn, else the
   *   controller's default cluster and the default pool.
   * @throws {PlaneError} `invalid-argument`
   */
  constructor(options) {
    if (!isPlainObject(options)) throw invalid('Plane options must be a plain object');
    onlyFields(options, ['controller', 'image', 'fetch', 'timeoutMs', 'cluster', 'pool'], 'options');
    const { controller, image, fetch = globalThis.fetch, timeoutMs = DEFAULT_TIMEOUT_MS, cluster, pool } = options;
    let url;
    try {
      url = new URL(controller);
    } catch {
      throw invalid(`options.controller must be an http(s) URL, not ${show(controller)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('options.controller must be an http(s) URL');
    // fetch refuses credentials in a URL; a query or fragment would end up in the middle of every path.
    if (url.username || url.password || url.search || url.hash) {
      throw invalid('options.controller must not carry credentials, a query or a fragment');
    }
    if (typeof image !== 'string' || image === '') throw invalid('options.image must be a non-empty string');
    if (typeof fetch !== 'function') throw invalid('options.fetch must be a function (no global fetch: Node >= 20 has one)');
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > I32_MAX) {
      throw invalid('options.timeoutMs must be a number of milliseconds above 0');
    }
    if (cluster !== undefined) {
      const match = typeof cluster === 'string' ? CLUSTER_NAME.exec(cluster) : null;
      if (!match || (match[1] !== undefined && Number(match[1]) > 65535)) {
        throw invalid(`options.cluster must be a Plane cluster name, host[:port], not ${show(cluster)}`);
      }
    }
    if (pool !== undefined && typeof pool !== 'string') throw invalid('options.pool must be a string');
    this.#base = url.href.replace(/\/+$/, '');
    this.#image = image;
    this.#cluster = cluster;
    this.#pool = pool;
    this.#fetch = fetch;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Connects to the live backend of `request.key`, or spawns one (`spawn`),
   * as Plane's POST /ctrl/connect does; resolves with the seed's
   * ConnectResponse. Its `ready_url` is its `status_url` (Plane has no ready
   * URL): a GET there answers the backend's current status as Plane writes it
   * (`{ status, time, termination_reason?, … }`, time in milliseconds).
   *
   * @param {import('./index.d.ts').ConnectRequest} request the seed's ConnectRequest
   * @returns {Promise<import('./index.d.ts').ConnectResponse>}
   * @throws {PlaneError} see index.d.ts for each code
   */
  async connect(request) {
    const body = planeConnectRequest(request, { image: this.#image, cluster: this.#cluster, pool: this.#pool });
    const { status, json, url } = await this.#post('/ctrl/connect', body);
    return seedConnectResponse(json, status, url);
  }

  /**
   * Terminates a backend: softly (Plane's soft-terminate: SIGTERM, then its
   * grace period), or hard with `{ hard: true }`. Resolves once Plane has
   * queued the action; the backend's statuses say when it ended.
   *
   * @param {string} backendId a ConnectResponse's backend_id
   * @param {{ hard?: boolean }} [options]
   * @throws {PlaneError} `not-found` for a backend Plane does not know, and the transport codes
   */
  async terminate(backendId, options = {}) {
    if (typeof backendId !== 'string' || !BACKEND_NAME.test(backendId)) {
      throw invalid(`backendId must be a Plane backend name (a-z, 0-9, "-", at most 45), not ${show(backendId)}`);
    }
    if (!isPlainObject(options)) throw invalid('terminate options must be a plain object');
    onlyFields(options, ['hard'], 'options');
    if (options.hard != null && typeof options.hard !== 'boolean') throw invalid('options.hard must be a boolean');
    const action = options.hard ? 'hard-terminate' : 'soft-terminate';
    // The handler takes no body and answers Json(()): `null`.
    const { status, json, url } = await this.#post(`/ctrl/b/${encodeURIComponent(backendId)}/${action}`);
    if (json !== null) throw new PlaneError('malformed', `Plane's ${action} answer is not null`, { status, url });
  }

  /**
   * POSTs to the controller and parses the answer as JSON; a non-2xx answer
   * becomes its PlaneError here. `json` is undefined for a body that is not JSON.
   * Messages name `route` only; the controller's address is in each error's `url`.
   */
  async #post(path, body) {
    const url = `${this.#base}${path}`;
    const route = `POST ${path}`;
    const abort = new AbortController();
    let timer;
    // Raced as well as aborted, so that a fetch that ignores its signal is still bounded.
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const error = new PlaneError('timeout', `Plane did not answer ${route} within ${this.#timeoutMs} ms`, { url });
        abort.abort(error);
        reject(error);
      }, this.#timeoutMs);
    });
    let response;
    let text;
    try {
      const init = { method: 'POST', headers: { accept: 'application/json' }, signal: abort.signal };
      if (body !== undefined) Object.assign(init, { body, headers: { ...init.headers, 'content-type': 'application/json' } });
      response = await Promise.race([this.#fetch(url, init), timeout]);
      if (typeof response?.status !== 'number' || typeof response.text !== 'function') {
        throw new PlaneError('malformed', `fetch for ${route} did not resolve to a Response`, { url });
      }
      text = await Promise.race([response.text(), timeout]);
      if (typeof text !== 'string') throw new PlaneError('malformed', `the Response for ${route} has no text body`, { status: response.status, url });
    } catch (error) {
      if (error instanceof PlaneError) throw error;
      if (abort.signal.aborted) throw abort.signal.reason;
      // undici's TypeError('fetch failed') has the reason's code (ECONNREFUSED, …) in its cause. Only
      // such a code is quoted: a reason's text may name the controller's host ("getaddrinfo ENOTFOUND
      // plane-controller"); the whole error stays in `cause`.
      const code = [error?.cause?.code, error?.code].find((text) => typeof text === 'string' && /^[A-Z][A-Z0-9_]*$/.test(text));
      const said = code === undefined ? '' : `: ${code}`;
      throw new PlaneError('unreachable', `could not reach Plane for ${route}${said}`, { status: response?.status, url, cause: error });
    } finally {
      clearTimeout(timer);
    }
    const status = response.status;
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status < 200 || status > 299) throw apiError(status, json, text, route, url);
    if (json === undefined) throw new PlaneError('malformed', `Plane answered ${status} with a body that is not JSON: ${quote(text)}`, { status, url });
    return { status, json, url };
  }
}

/** A non-2xx answer as a PlaneError: Plane's ApiError `{ id, kind, message }`, or anything else as `failed`. */
function apiError(status, json, text, route, url) {
  if (isPlainObject(json) && typeof json.kind === 'string') {
    const { kind } = json;
    const code = Object.hasOwn(KIND_CODES, kind) ? KIND_CODES[kind] : 'failed';
    const message = typeof json.message === 'string' ? json.message : '(no message)';
    const id = typeof json.id === 'string' ? `, error id ${json.id}` : '';
    return new PlaneError(code, `Plane refused ${route}: ${message} (${kind}, HTTP ${status}${id})`, { status, kind, url });
  }
  // Not an ApiError: e.g. Plane's JSON extractor refusing the body (text), or a proxy's page.
  return new PlaneError('failed', `Plane answered ${route} with HTTP ${status}: ${quote(text)}`, { status, url });
}
