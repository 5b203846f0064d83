// Plane's external executor for local processes: a Plane 0.5.5 drone started
// with `plane drone --executor-socket PATH` hands every backend to this
// program instead of Docker, and this program runs it as a local process.
//
//   node scripts/plane/executor.mjs --socket PATH --programs DIR --logs DIR
//
// The protocol is Plane's (plane-0.5.5 src/drone/runtime/unix_socket and
// src/typed_unix_socket): this program serves a unix socket and the drone
// connects to it as the client. Each frame is one line of JSON,
// `{ "id": string | null, "message": M }`, where M is a serde externally
// tagged enum (`{ "Variant": payload }`, tuple variants as arrays). A request
// from the drone carries an id and gets exactly one reply with the same id;
// an event carries `id: null`.
//
//   drone → executor                          executor → drone (reply)
//   Prepare(config)                           PrepareResult(Result<(), String>)
//   Spawn(name, config, key?, static_token?)  SpawnResult(Result<{container_id, port}, String>)
//   Terminate(name, hard)                     TerminateResult(Result<bool, String>)
//   WaitForBackend(name, "ip:port")           WaitForBackendResult(Result<(), BackendError>)
//   executor → drone (event): TerminateEvent({ backend_id, exit_code })
//
// (`MetricsMessage` events are optional for the drone and not sent.)
//
// `config` is Plane's DockerExecutorConfig; the Docker-only fields
// (pull_policy, credentials, resource_limits, mount, network_name) are ignored.
// - Prepare checks that `image` is the bare file name (no `/`, no `..`) of an
//   executable file in --programs; anything else is an Err, never a crash.
// - Spawn starts that program in its own process group with the environment
//   PATH, HOME, then `env`, then PORT (a free port on 127.0.0.1),
//   PLANE_BACKEND_ID, PLANE_KEY and the names Plane's Docker runtime sets
//   (SESSION_BACKEND_ID, SESSION_BACKEND_KEY, SESSION_BACKEND_FENCING_TOKEN,
//   SESSION_BACKEND_STATIC_TOKEN); stdout and stderr are appended to
//   <logs>/<backend>.log.
// - WaitForBackend polls a TCP connect to the address the drone gives
//   (its --ip and the port) until it is accepted: Err(StartupTimeout) after
//   30 s, Err(Other) as soon as the process exits.
// - Terminate sends SIGTERM (soft; SIGKILL 30 s later if still running, as
//   `docker stop` does) or SIGKILL (hard) to the process group: Ok(true), or
//   Ok(false) when nothing is running.
// - When a process exits, TerminateEvent carries its exit code, or 128 + N
//   for a death by signal N (what Docker reports, e.g. 137 for SIGKILL).
// - On SIGTERM/SIGINT the executor ends its backends (SIGTERM, SIGKILL after
//   3 s) and exits; on any exit, whatever still runs gets SIGKILL.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './cluster.mjs';

/** How long WaitForBackend waits for the program to accept a TCP connection. */
const STARTUP_TIMEOUT_MS = 30_000;
/** After a soft terminate, SIGKILL follows this late, as `docker stop -t 30` does for Plane's Docker runtime (KILL_AFTER_SOFT_TERMINATE_SECONDS). */
const KILL_AFTER_SOFT_TERMINATE_MS = 30_000;
/** When the executor itself is told to stop, backends get this long after SIGTERM before SIGKILL. */
const SHUTDOWN_GRACE_MS = 3_000;
/** A frame longer than this without a newline is dropped rather than buffered forever. */
const MAX_FRAME_BYTES = 1 << 20;
/** Plane's backend names: lowercase letters, digits and dashes (plane-common names.rs). */
const BACKEND_NAME = /^[a-z0-9-]{1,45}$/;

const { values: args } = parseArgs({
  options: { socket: { type: 'string' }, programs: { type: 'string' }, logs: { type: 'string' } },
});
if (!args.socket || !args.programs || !args.logs) {
  console.error('usage: node scripts/plane/executor.mjs --socket PATH --programs DIR --logs DIR');
  process.exit(2);
}
const programsDir = resolve(args.programs);
const logsDir = resolve(args.logs);
if (!statSync(programsDir, { throwIfNoEntry: false })?.isDirectory()) {
  console.error(`executor: --programs ${programsDir} is not a directory`);
  process.exit(2);
}
mkdirSync(logsDir, { recursive: true });

const log = (text) => console.log(`${new Date().toISOString()} ${text}`);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// ---------------------------------------------------------------------------
// Backends

/**
 * Backends by name: `{ name, child, port, logPath, exited, killTimer, cancelled }`.
 * A backend is in the map from the moment its Spawn is accepted (`child` is
 * null until the process runs) until its process exits; `exited` resolves to
 * the exit code.
 */
const backends = new Map();

/** The program `config.image` names, or an Error saying why it names none. */
function programPath(config) {
  const image = config?.image;
  if (typeof image !== 'string' || image === '' || image.includes('/') || image.includes('..') || image.includes('\0')) {
    throw new Error(`executable.image must be the bare file name of a program in ${programsDir}, not ${JSON.stringify(image)}`);
  }
  const path = join(programsDir, image);
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    accessSync(path, fsConstants.X_OK);
  } catch {
    throw new Error(`no executable program named ${JSON.stringify(image)} in ${programsDir}`);
  }
  return path;
}

/** Docker reports a death by signal N as exit code 128 + N; Plane's Docker runtime passes that on, so this does too. */
const exitCodeOf = (code, signal) => code ?? 128 + (osConstants.signals[signal] ?? 0);

/** The program's environment: PATH and HOME, then `executable.env`, then what Plane gives every backend. */
function backendEnv(name, config, port, key, staticToken) {
  const extra = config.env ?? {};
  if (typeof extra !== 'object' || Array.isArray(extra) || Object.values(extra).some((v) => typeof v !== 'string')) {
    throw new Error('executable.env must map names to strings');
  }
  // HOST: the address to listen on; a process here is reached on loopback only. PLANE_BACKEND_ID
  // after `env`, so that no `executable.env` replaces it: tabworker's native host requires it and
  // takes only handshakes whose x-verified-backend (set by Plane's proxy) names it.
  const env = { ...extra, PORT: String(port), HOST: '127.0.0.1', PLANE_BACKEND_ID: name };
  for (const inherited of ['PATH', 'HOME']) if (!(inherited in env) && process.env[inherited]) env[inherited] = process.env[inherited];
  // The names Plane's Docker runtime sets (drone/runtime/docker/commands.rs), for programs written against it.
  env.SESSION_BACKEND_ID = name;
  if (typeof key?.key?.name === 'string') {
    env.PLANE_KEY = env.SESSION_BACKEND_KEY = key.key.name;
    env.SESSION_BACKEND_FENCING_TOKEN = String(key.token);
  }
  if (typeof staticToken === 'string') env.SESSION_BACKEND_STATIC_TOKEN = staticToken;
  return env;
}

async function spawnBackend(name, config, key, staticToken) {
  if (typeof name !== 'string' || !BACKEND_NAME.test(name)) throw new Error(`invalid backend name ${JSON.stringify(name)}`);
  const program = programPath(config);
  if (backends.has(name)) throw new Error(`backend ${name} already exists`);
  const backend = { name, child: null, port: null, logPath: join(logsDir, `${name}.log`), exited: null, killTimer: null, cancelled: false };
  backends.set(name, backend);
  try {
    backend.port = await freePort();
    const env = backendEnv(name, config, backend.port, key, staticToken);
    const out = openSync(backend.logPath, 'a');
    let child;
    try {
      // Its own process group (detached), so that signals reach whatever the program starts too.
      child = spawn(program, [], { env, stdio: ['ignore', out, out], detached: true });
    } finally {
      // spawn() has handed the descriptor to the child by the time it returns.
      closeSync(out);
    }
    await new Promise((started, failed) => {
      child.once('spawn', started);
      child.once('error', failed);
    }).catch((error) => {
      throw new Error(`could not start ${program}: ${error.message}`);
    });
    backend.child = child;
  } catch (error) {
    backends.delete(name);
    throw error;
  }
  const { child } = backend;
  child.on('error', (error) => log(`${name}: ${error.message}`));
  backend.exited = new Promise((done) =>
    child.once('exit', (code, signal) => {
      const exitCode = exitCodeOf(code, signal);
      clearTimeout(backend.killTimer);
      backends.delete(name);
      log(`${name}: exited with ${signal ?? `code ${code}`} (exit_code ${exitCode})`);
      sendEvent({ TerminateEvent: { backend_id: name, exit_code: exitCode } });
      done(exitCode);
    }),
  );
  log(`${name}: started ${program} as pid ${child.pid} on port ${backend.port}, log ${backend.logPath}`);
  if (backend.cancelled) {
    log(`${name}: terminated while starting, SIGKILL`);
    signalBackend(backend, 'SIGKILL');
  }
  return { container_id: String(child.pid), port: backend.port };
}

/** Sends `signal` to the backend's process group; false when nothing was running. */
function signalBackend(backend, signal) {
  if (!backend.child) return false;
  try {
    process.kill(-backend.child.pid, signal);
    return true;
  } catch (error) {
    if (error.code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Resolves to whether a running process was signalled. Plane's drone then
 * waits for its TerminateEvent; on false it marks the backend terminated
 * itself. A backend still starting has nothing to signal yet: it is killed
 * as soon as it runs.
 */
function terminateBackend(name, hard) {
  const backend = backends.get(name);
  if (!backend) return false;
  if (!backend.child) {
    backend.cancelled = true;
    return false;
  }
  const signal = hard ? 'SIGKILL' : 'SIGTERM';
  log(`${name}: ${hard ? 'hard' : 'soft'} terminate, ${signal}`);
  const sent = signalBackend(backend, signal);
  if (sent && !hard && !backend.killTimer) {
    backend.killTimer = setTimeout(() => {
      log(`${name}: still running ${KILL_AFTER_SOFT_TERMINATE_MS / 1000} s after SIGTERM, SIGKILL`);
      signalBackend(backend, 'SIGKILL');
    }, KILL_AFTER_SOFT_TERMINATE_MS);
  }
  return sent;
}

/** Splits Rust's SocketAddr display form (`1.2.3.4:80`, `[::1]:80`). */
function parseSocketAddr(text) {
  const match = typeof text === 'string' && /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!match) throw new Error(`invalid socket address ${JSON.stringify(text)}`);
  return { host: match[1], port: Number(match[2]) };
}

function accepts(host, port) {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Resolves to a serialized Result<(), BackendError>: Ok once `address` accepts TCP connections. */
async function waitForBackend(name, address) {
  const backend = backends.get(name);
  if (!backend?.child) return { Err: { Other: `backend ${name} is not running (exited already? see ${join(logsDir, `${name}.log`)})` } };
  const { host, port } = parseSocketAddr(address);
  let exitCode = null;
  backend.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (exitCode !== null) {
      return { Err: { Other: `backend ${name} exited (exit_code ${exitCode}) before accepting connections on ${address}; see ${backend.logPath}` } };
    }
    if (await accepts(host, port)) return { Ok: null };
    if (Date.now() > deadline) {
      log(`${name}: nothing accepted connections on ${address} within ${STARTUP_TIMEOUT_MS / 1000} s`);
      return { Err: 'StartupTimeout' };
    }
    await Promise.race([sleep(50), backend.exited]);
  }
}

// ---------------------------------------------------------------------------
// Protocol

/** Open connections from the drone; events go to all of them. */
const connections = new Set();
/** Events raised while no drone was connected, sent to the next one that connects. */
const pendingEvents = [];

const frame = (id, message) => `${JSON.stringify({ id, message })}\n`;

function sendEvent(message) {
  if (connections.size === 0) pendingEvents.push(message);
  for (const connection of connections) connection.write(frame(null, message));
}

/** Serializes Rust's Result<T, String>, turning a thrown Error into Err(message). */
async function result(work) {
  try {
    return { Ok: (await work()) ?? null };
  } catch (error) {
    return { Err: error.message };
  }
}

/** Each request kind: how to check its payload, and the reply it gets. */
const requests = {
  Prepare: {
    reply: 'PrepareResult',
    valid: (config) => typeof config === 'object' && config !== null,
    run: (config) => result(() => void programPath(config)),
    refuse: (message) => ({ Err: message }),
  },
  Spawn: {
    reply: 'SpawnResult',
    valid: (payload) => Array.isArray(payload) && payload.length === 4 && typeof payload[1] === 'object' && payload[1] !== null,
    run: ([name, config, key, token]) => result(() => spawnBackend(name, config, key, token)),
    refuse: (message) => ({ Err: message }),
  },
  Terminate: {
    reply: 'TerminateResult',
    valid: (payload) => Array.isArray(payload) && payload.length === 2 && typeof payload[1] === 'boolean',
    run: ([name, hard]) => result(() => terminateBackend(name, hard)),
    refuse: (message) => ({ Err: message }),
  },
  WaitForBackend: {
    reply: 'WaitForBackendResult',
    valid: (payload) => Array.isArray(payload) && payload.length === 2,
    run: ([name, address]) => waitForBackend(name, address).catch((error) => ({ Err: { Other: error.message } })),
    refuse: (message) => ({ Err: { Other: message } }),
  },
};

async function handleFrame(connection, line) {
  let frameValue;
  try {
    frameValue = JSON.parse(line);
  } catch (error) {
    log(`error: frame is not JSON (${error.message}): ${line.slice(0, 200)}`);
    return;
  }
  const { id, message } = frameValue ?? {};
  const variants = message !== null && typeof message === 'object' ? Object.keys(message) : [];
  const request = variants.length === 1 && Object.hasOwn(requests, variants[0]) ? requests[variants[0]] : undefined;
  if (!request) {
    log(`error: unknown message: ${line.slice(0, 200)}`);
    return;
  }
  if (typeof id !== 'string') {
    // Every message of the protocol is a request; an event from the drone is nothing this executor knows.
    log(`error: ${variants[0]} without a request id ignored`);
    return;
  }
  const payload = message[variants[0]];
  const reply = request.valid(payload)
    ? await request.run(payload)
    : request.refuse(`malformed ${variants[0]} payload: ${JSON.stringify(payload).slice(0, 200)}`);
  if ('Err' in reply) log(`${variants[0]} failed: ${JSON.stringify(reply.Err)}`);
  if (connection.destroyed) {
    log(`error: the drone left before the reply to ${variants[0]} (${id})`);
    return;
  }
  connection.write(frame(id, { [request.reply]: reply }));
}

function serve(connection) {
  connections.add(connection);
  log('drone connected');
  for (const message of pendingEvents.splice(0)) connection.write(frame(null, message));
  let buffered = '';
  connection.setEncoding('utf8');
  connection.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    if (buffered.length > MAX_FRAME_BYTES) {
      log(`error: frame over ${MAX_FRAME_BYTES} bytes without a newline dropped`);
      buffered = '';
    }
    for (const line of lines) {
      if (line.trim()) handleFrame(connection, line).catch((error) => log(`error: handling ${line.slice(0, 200)}: ${error.stack}`));
    }
  });
  connection.on('error', (error) => log(`connection error: ${error.message}`));
  connection.on('close', () => {
    connections.delete(connection);
    log('drone disconnected');
  });
}

// ---------------------------------------------------------------------------
// Lifetime: no backend outlives the executor.

// The executor owns its socket path; a leftover from an earlier run is replaced, as Plane's own server does.
rmSync(args.socket, { force: true });
const server = createServer(serve);
server.on('error', (error) => {
  log(`error: socket ${args.socket}: ${error.message}`);
  process.exit(1);
});
server.listen(args.socket, () => log(`listening on ${args.socket}; programs in ${programsDir}; backend logs in ${logsDir}`));

let shuttingDown = false;
async function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`${signal}: ending ${backends.size} backend(s)`);
  server.close();
  const running = [...backends.values()].filter((backend) => backend.child);
  for (const backend of running) signalBackend(backend, 'SIGTERM');
  await Promise.race([Promise.all(running.map((backend) => backend.exited)), sleep(SHUTDOWN_GRACE_MS)]);
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// Whatever ends this process (shutdown, a crash), what is still running is killed on the way out.
process.on('exit', () => {
  for (const backend of backends.values()) signalBackend(backend, 'SIGKILL');
  rmSync(args.socket, { force: true });
});
