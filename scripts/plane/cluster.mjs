// A complete Plane 0.5.5 cluster on this machine, for tests and benches: a
// throwaway Postgres, Plane's controller, a drone whose backends are local
// processes (./executor.mjs, through `plane drone --executor-socket`), and
// Plane's proxy, all listening on 127.0.0.1 except the proxy (see below).
// Every process it starts is ended by its pid by `stop()`, on a failed start,
// and when this process exits or is told to stop.
//
//   import { startCluster } from './scripts/plane/cluster.mjs';
//   const { controller, proxy, cluster, logs, stop } = await startCluster({ programs });
//
//   node scripts/plane/cluster.mjs --programs DIR [--logs DIR] [--quiet]
//     prints {controller, proxy, cluster, logs} as one JSON line, runs until SIGINT/SIGTERM.
//
// Backends are spawned with `executable: { image: NAME, env }`, NAME being
// the file name of an executable in `programs` (see ./executor.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, closeSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const EXECUTOR = fileURLToPath(new URL('./executor.mjs', import.meta.url));
const PLANE_VERSION = '0.5.5';
/** How long each piece gets to come up. */
const READY_TIMEOUT_MS = 30_000;
const INITDB_TIMEOUT_MS = 60_000;
/** How long a process gets after its stop signal before SIGKILL (the executor itself gives backends 3 s). */
const STOP_GRACE_MS = 5_000;
const POLL_MS = 50;
/** Lines of a piece's log quoted when it fails to start. */
const LOG_TAIL_LINES = 25;

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
/** Whether `promise` settles within `ms` (the timer is cleared either way, so it never keeps the process alive). */
async function within(promise, ms) {
  let timer;
  const expired = new Promise((done) => (timer = setTimeout(done, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// What the cluster runs

function isExecutable(path) {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name)).find(isExecutable);
}

/** Plane's binary, from PATH or where `cargo install` puts it; it must be the version whose protocols executor.mjs speaks. */
function findPlane() {
  const plane = onPath('plane') ?? [join(homedir(), '.cargo', 'bin', 'plane')].find(isExecutable);
  if (!plane) throw new Error(`plane cluster: no \`plane\` on PATH or in ~/.cargo/bin; scripts/setup.sh installs plane ${PLANE_VERSION}`);
  // `plane version` prints "Client version: X" (colored on a terminal).
  const printed = execFileSync(plane, ['version'], { encoding: 'utf8' }).replace(/\x1b\[[0-9;]*m/g, '');
  const version = /Client version:\s*(\S+)/.exec(printed)?.[1];
  if (version !== PLANE_VERSION) throw new Error(`plane cluster: ${plane} is plane ${version ?? '(unknown version)'}, needs ${PLANE_VERSION}; scripts/setup.sh installs it`);
  return plane;
}

/** The directory of Postgres' server binaries (initdb, postgres): Debian's /usr/lib/postgresql/N/bin, else PATH. */
function findPostgresBin() {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  const initdb = versions.map((v) => `/usr/lib/postgresql/${v}/bin/initdb`).find(isExecutable) ?? onPath('initdb');
  if (!initdb) throw new Error('plane cluster: no Postgres (initdb) found; scripts/setup.sh installs Debian\'s postgresql');
  const bin = dirname(realpathSync(initdb));
  if (!isExecutable(join(bin, 'postgres'))) throw new Error(`plane cluster: no postgres next to ${initdb}`);
  return bin;
}

/** Postgres refuses to run as root: as root, it runs as the `postgres` user (created if missing); otherwise as us. */
function postgresOwner() {
  if (process.getuid?.() !== 0) return null;
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** A port nobody listens on at this moment: bind 127.0.0.1:0 and close (the executor's backends use it too). */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function distinctFreePorts(count) {
  const ports = new Set();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const randomSuffix = () => Math.random().toString(36).slice(2, 10);

async function getJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// ---------------------------------------------------------------------------
// The processes of one cluster

/** Clusters not stopped yet, for the process-wide exit and signal handlers. */
const live = new Set();

class Cluster {
  constructor({ tmp, logs, quiet }) {
    this.tmp = tmp;
    this.logs = logs;
    this.quiet = quiet;
    /** Every process started, as `{ name, child, logPath, exit, exited, stopSignal, emergencySignal, stopPhase }`. */
    this.pieces = [];
    this.stopping = null;
    /** The first error of a start, which ends the other starts' waits. */
    this.failedStart = null;
    this.startedAt = Date.now();
  }

  say(text) {
    if (!this.quiet) console.error(`[plane] ${text} (${((Date.now() - this.startedAt) / 1000).toFixed(1)} s)`);
  }

  /**
   * Starts a process, its stdout and stderr appended to <logs>/<logName>.log.
   * `stopSignal` asks it to end; `emergencySignal` is sent when this process
   * is exiting and cannot wait; `stopPhase` orders stop() (lower first).
   */
  launch(name, command, args, { logName = name, stopSignal = 'SIGTERM', emergencySignal = 'SIGKILL', stopPhase, ...options }) {
    if (this.stopping) throw new Error(`plane cluster: not starting ${name}, the cluster is stopping`);
    const logPath = join(this.logs, `${logName}.log`);
    const out = openSync(logPath, 'a');
    let child;
    try {
      // Own process group (detached): a Ctrl-C meant for the test runner does not reach it; stop() ends it.
      child = spawn(command, args, { ...options, stdio: ['ignore', out, out], detached: true });
    } finally {
      closeSync(out);
    }
    // Not keeping this process alive: a runner that never calls stop() still exits, and the exit handler ends the cluster.
    child.unref();
    const piece = { name, child, logPath, exit: null, stopSignal, emergencySignal, stopPhase };
    piece.exited = new Promise((done) => {
      child.once('exit', (code, signal) => done((piece.exit = { code, signal })));
      child.once('error', (error) => done((piece.exit ??= { error })));
    });
    this.pieces.push(piece);
    return piece;
  }

  /** An Error naming the piece, why it failed, and the end of its log. */
  failure(piece, reason) {
    let tail;
    try {
      tail = readFileSync(piece.logPath, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
    } catch (error) {
      tail = `(no log: ${error.message})`;
    }
    return new Error(`plane cluster: ${piece.name} did not start: ${reason}\n--- last lines of ${piece.logPath} ---\n${tail}\n--- all logs: ${this.logs}`);
  }

  /** Polls `check` until it answers true; fails if the piece exits first or `timeoutMs` passes. */
  async waitUntil(piece, what, check, timeoutMs = READY_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.failedStart) throw this.failedStart;
      if (piece.exit) throw this.failure(piece, `it exited (${describeExit(piece.exit)}) before it was ${what}`);
      let problem;
      try {
        if (await check()) return;
      } catch (error) {
        problem = error;
      }
      if (Date.now() >= deadline) throw this.failure(piece, `it was not ${what} after ${timeoutMs / 1000} s${problem ? ` (last check: ${problem.message})` : ''}`);
      await Promise.race([sleep(POLL_MS), piece.exited]);
    }
  }

  /**
   * Like Promise.all for the concurrent starts, but the first failure cuts the
   * other starts' waits short and is the one thrown, and it settles only once
   * every start has, so nothing is still being launched when the cluster stops.
   */
  async settleAll(starts) {
    await Promise.allSettled(starts.map((start) => start.catch((error) => (this.failedStart ??= error))));
    if (this.failedStart) throw this.failedStart;
  }

  signal(piece, signal) {
    try {
      process.kill(piece.child.pid, signal);
    } catch (error) {
      if (error.code !== 'ESRCH') throw error;
    }
  }

  async end(piece) {
    if (piece.exit || !piece.child.pid) return;
    this.signal(piece, piece.stopSignal);
    if (await within(piece.exited, STOP_GRACE_MS)) return;
    this.signal(piece, 'SIGKILL');
    await within(piece.exited, STOP_GRACE_MS);
  }

  /** Ends every process, phase by phase, then removes the temporary directory (all but the logs when `keepLogs`). */
  stop({ keepLogs = false } = {}) {
    this.stopping ??= (async () => {
      try {
        const phases = [...new Set(this.pieces.map((piece) => piece.stopPhase))].sort((a, b) => a - b);
        for (const phase of phases) await Promise.all(this.pieces.filter((piece) => piece.stopPhase === phase).map((piece) => this.end(piece)));
        this.removeTmp(keepLogs);
      } finally {
        live.delete(this);
      }
    })();
    return this.stopping;
  }

  removeTmp(keepLogs) {
    if (keepLogs && dirname(this.logs) === this.tmp) {
      for (const entry of readdirSync(this.tmp)) {
        if (join(this.tmp, entry) !== this.logs) rmSync(join(this.tmp, entry), { recursive: true, force: true });
      }
    } else {
      rmSync(this.tmp, { recursive: true, force: true });
    }
  }

  /** For the 'exit' handler, which cannot wait: each process gets its emergency signal. */
  killNow() {
    for (const piece of this.pieces) if (!piece.exit && piece.child.pid) this.signal(piece, piece.emergencySignal);
    try {
      this.removeTmp(false);
    } catch {
      // A process still writing into it; nothing more can be done while exiting.
    }
  }
}

function describeExit({ code, signal, error }) {
  if (error) return error.message;
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

let handlersInstalled = false;

/** Ends live clusters when this process exits or is told to stop, so a crashing runner leaves no processes behind. */
function installProcessHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) cluster.killNow();
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, async function onSignal() {
      await Promise.allSettled([...live].map((cluster) => cluster.stop()));
      process.off(signal, onSignal);
      // Listening for a signal cancels its default action: die of it now, unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

// ---------------------------------------------------------------------------

/**
 * Starts Postgres, Plane's controller, the process executor, a drone and
 * Plane's proxy, all on 127.0.0.1, and resolves once each is up.
 *
 * @param {object} options
 * @param {string} options.programs directory of the executables backends may run (`executable.image` names one)
 * @param {string} [options.logs] directory for every piece's log, backends' in `backends/<backend id>.log`
 *   (default: `logs` in the cluster's temporary directory, removed by stop(), kept when the start fails)
 * @param {boolean} [options.quiet] no progress lines on stderr
 * @returns {Promise<{controller: string, proxy: string, cluster: string, logs: string, stop: () => Promise<void>}>}
 *   `controller` is its base URL (`http://127.0.0.1:PORT`); `cluster` the cluster name in
 *   backend URLs (`localhost:PORT`, the proxy's port); `proxy` the proxy's base URL
 *   (`http://localhost:PORT`); `stop()` ends every process and removes the temporary directory.
 */
export async function startCluster({ programs, logs, quiet = false } = {}) {
  if (!programs) throw new TypeError('startCluster: `programs` (a directory of executables) is required');
  const programsDir = resolve(programs);
  if (!statSync(programsDir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`plane cluster: programs directory ${programsDir} does not exist`);
  const plane = findPlane();
  const postgresBin = findPostgresBin();
  const owner = postgresOwner();

  const tmp = mkdtempSync(join(tmpdir(), 'tabworker-plane-'));
  const cluster = new Cluster({ tmp, logs: logs ? resolve(logs) : join(tmp, 'logs'), quiet });
  mkdirSync(cluster.logs, { recursive: true });
  live.add(cluster);
  installProcessHandlers();

  try {
    const [postgresPort, controllerPort, proxyPort] = await distinctFreePorts(3);
    const clusterName = `localhost:${proxyPort}`;
    const controllerUrl = `http://127.0.0.1:${controllerPort}`;
    const socket = join(tmp, 'executor.sock');
    // Plane reads RUST_LOG-style filters from the environment; NO_COLOR keeps its logs plain text.
    const planeEnv = { ...process.env, NO_COLOR: '1' };

    const startPostgresAndController = async () => {
      const data = join(tmp, 'pgdata');
      const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
      if (owner) chownSync(tmp, owner.uid, owner.gid);
      const env = { PATH: process.env.PATH, LC_ALL: 'C' };
      const initdb = cluster.launch('Postgres initdb', join(postgresBin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'], { ...as, env, logName: 'postgres', stopPhase: 2 });
      if (!(await within(initdb.exited, INITDB_TIMEOUT_MS))) throw cluster.failure(initdb, `initdb still running after ${INITDB_TIMEOUT_MS / 1000} s`);
      if (initdb.exit.code !== 0) throw cluster.failure(initdb, `initdb failed (${describeExit(initdb.exit)})`);
      // SIGINT is Postgres' fast shutdown (SIGTERM would wait for the controller's connections to close); SIGQUIT its immediate one.
      const postgres = cluster.launch('Postgres', join(postgresBin, 'postgres'), ['-D', data, '-p', String(postgresPort), '-k', tmp, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], { ...as, env, logName: 'postgres', stopSignal: 'SIGINT', emergencySignal: 'SIGQUIT', stopPhase: 2 });
      // Line 8 of postmaster.pid is the server's state; pg_ctl waits for it to read "ready" the same way.
      await cluster.waitUntil(postgres, 'accepting connections', () => readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[7]?.trim() === 'ready');
      cluster.say(`Postgres ready on 127.0.0.1:${postgresPort}`);

      // The controller migrates the database itself before it serves.
      const controller = cluster.launch('the controller', plane, ['controller', '--db', `postgres://postgres@127.0.0.1:${postgresPort}/postgres`, '--host', '127.0.0.1', '--port', String(controllerPort), '--default-cluster', clusterName], { env: planeEnv, logName: 'controller', stopPhase: 1 });
      await cluster.waitUntil(controller, 'serving /ctrl/status', async () => (await getJson(`${controllerUrl}/ctrl/status`)).status === 'ok');
      cluster.say(`controller ready at ${controllerUrl}`);
    };

    const startExecutorAndDrone = async () => {
      // SIGTERM even in an emergency: the executor then ends its backends itself.
      const executor = cluster.launch('the process executor', process.execPath, [EXECUTOR, '--socket', socket, '--programs', programsDir, '--logs', join(cluster.logs, 'backends')], { cwd: tmp, logName: 'executor', emergencySignal: 'SIGTERM', stopPhase: 0 });
      // The drone gives up on its executor if the socket does not accept within 30 s, so the executor comes first.
      await cluster.waitUntil(executor, 'listening on its socket', () => existsSync(socket));
      cluster.say(`executor listening on ${socket}`);

      const name = `dr-tabworker-${randomSuffix()}`;
      // --ip is the address the proxy reaches backends at: the executor's programs listen on 127.0.0.1.
      const drone = cluster.launch('the drone', plane, ['drone', '--name', name, '--controller-url', controllerUrl, '--cluster', clusterName, '--ip', '127.0.0.1', '--db', join(tmp, 'drone.sqlite'), '--executor-socket', socket], { env: planeEnv, logName: 'drone', stopPhase: 0 });
      // The cluster state lists a drone once it has registered and sent its first heartbeat, which is what the scheduler needs.
      await cluster.waitUntil(drone, 'registered with the controller', async () => {
        const state = await getJson(`${controllerUrl}/ctrl/c/${clusterName}/state`);
        return state.drones.some((drone) => drone.ready && Object.values(drone.node.name).includes(name));
      });
      cluster.say(`drone ${name} registered`);
    };

    const startProxy = async () => {
      // Plane 0.5.5's proxy binds 0.0.0.0:PORT (plane-dynamic-proxy server.rs); it has no flag for the address.
      const proxy = cluster.launch('the proxy', plane, ['proxy', '--name', `px-tabworker-${randomSuffix()}`, '--controller-url', controllerUrl, '--cluster', clusterName, '--http-port', String(proxyPort)], { env: planeEnv, logName: 'proxy', stopPhase: 0 });
      // /ready answers 200 once the proxy is connected to the controller.
      await cluster.waitUntil(proxy, 'ready (/ready answering 200)', async () => (await fetch(`http://127.0.0.1:${proxyPort}/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200);
      cluster.say(`proxy ready on port ${proxyPort}`);
    };

    // Plane's drone and proxy wait 1 s (their initial backoff) before they first try the controller,
    // so they start along with Postgres rather than once the controller is up.
    await cluster.settleAll([startPostgresAndController(), startExecutorAndDrone(), startProxy()]);

    return {
      controller: controllerUrl,
      proxy: `http://${clusterName}`,
      cluster: clusterName,
      logs: cluster.logs,
      stop: () => cluster.stop(),
    };
  } catch (error) {
    await cluster.stop({ keepLogs: true });
    throw error;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { programs: { type: 'string' }, logs: { type: 'string' }, quiet: { type: 'boolean', default: false } } });
  if (!values.programs) {
    console.error('usage: node scripts/plane/cluster.mjs --programs DIR [--logs DIR] [--quiet]');
    process.exit(2);
  }
  try {
    const { controller, proxy, cluster, logs } = await startCluster(values);
    console.log(JSON.stringify({ controller, proxy, cluster, logs }));
    // The cluster's processes do not keep this one alive; this does, until SIGINT/SIGTERM ends the cluster and the process.
    setInterval(() => {}, 1 << 30);
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}
