//! A deterministic harness that runs tabs, the coordinator and backend
//! workers together on virtual time, driving the crate's pure state machines
//! ([`Tab`], [`Coordinator`], [`BackendHost`]) the way the browser layer does.
//!
//! What it models:
//!
//! * **Contexts**: the coordinator, any number of tabs, and backend workers,
//!   each owned by the tab that spawned it. Killing a tab kills its worker
//!   and frees every lock the two held or asked for. Messages to a dead
//!   context are dropped; messages a dead tab or coordinator posted before
//!   it died still arrive. A tab keeps its `Worker` object until it
//!   terminates or replaces it: messages and the `error` event of a worker
//!   it replaced are not delivered. A crashed worker dies and fires `error`
//!   ([`Sim::crash_worker`]); [`Sim::kill_worker`] dies silently.
//! * **The coordinator** holds its liveness lock for its whole life. When it
//!   is killed ([`Sim::kill_coordinator`]), its connections close, and the
//!   next tab that reconnects (`ReconnectCoordinator`) starts a new instance
//!   (`k2`, `k3`, …), as `new SharedWorker` would. A tab's messages on a
//!   connection it left are not delivered.
//! * **Web Locks** like the browser's: per name a set of holders and a FIFO
//!   queue, exclusive and shared modes, a queued request withdrawn by
//!   `Release`. Grants reach their owner as events, after a small delay.
//! * **Channels**: every message travels on a (from, to) channel that
//!   delivers in FIFO order, as a `MessagePort` does, after a latency.
//!   Optional random extra latency reorders messages *across* channels, and
//!   an optional drop probability loses tab ↔ coordinator messages.
//! * **Ports**: a session's `MessagePort` is modelled as a [`Port`] value:
//!   created by the worker's `OpenSession`, carried by the `session` that
//!   follows, by the leader's `provide-port` and the coordinator's, and taken
//!   by the tab's `Connected` event. A port that no output takes is dropped.
//! * **Timers**: after each input to a tab its `poll_timeout()` is armed.
//!
//! Everything is driven by one seeded RNG, so a run is a pure function of its
//! [`Config`]: a failing seed replays exactly, with a trace if asked.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use tabworker::protocol::{
    self, BackendToLeader, CoordinatorToTab, DecodeError, LeaderToBackend, PortRequest, TabToCoordinator, WireMessage,
};
use tabworker::{
    AppName, BackendHost, BackendOutput, ClientId, ConnId, Coordinator, CoordinatorId, CoordinatorOutput, Epoch,
    LockMode, LockNames, Role, SessionId, Tab, TabEvent, TabOutput, Timestamp,
};

/// Virtual time zero, as a wall clock (2026-11-23T10:00:00.000Z).
pub const T0_MS: u64 = 1_795_428_000_000;

/// Microseconds in a millisecond, for readability.
pub const MS: u64 = 1_000;
/// Microseconds in a second.
pub const SEC: u64 = 1_000_000;

// ---------------------------------------------------------------------------
// Randomness

/// xorshift64*: small, fast and good enough to shuffle a simulation.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        // splitmix64 spreads nearby seeds apart and never yields the stuck state 0.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.below(hi - lo + 1) }
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One of `items`, if any.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() { None } else { Some(items[self.below(items.len() as u64) as usize]) }
    }
}

// ---------------------------------------------------------------------------
// Configuration

/// How the simulated browser behaves. All durations are in microseconds of
/// virtual time.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seeds every random choice of the run.
    pub seed: u64,
    /// Tab ↔ coordinator latency.
    pub coordinator_latency_us: u64,
    /// Tab ↔ worker latency, drawn per message from this range.
    pub worker_latency_us: (u64, u64),
    /// From a lock becoming free to the owner hearing of its grant.
    pub lock_latency_us: u64,
    /// From `SpawnBackend` to the worker's `listening` reaching its tab.
    pub spawn_latency_us: u64,
    /// Up to this much random extra latency on every message and grant:
    /// reorders across channels, never within one.
    pub jitter_us: u64,
    /// Probability of losing a tab ↔ coordinator message.
    pub drop_probability: f64,
    /// The message kinds that may be lost (`None`: every kind).
    pub droppable: Option<Vec<&'static str>>,
    /// Single losses: the first tab ↔ coordinator message matching each
    /// entry is lost (then the entry is spent).
    pub lose: Vec<Loss>,
    /// After a graceful close (`destroy`), the page is gone after up to this long.
    pub close_to_kill_us: u64,
    /// Accept, when settled, coordinator connections of tabs that died
    /// before their `hello` arrived (the coordinator never learns of their
    /// death; see [`Sim::silent_connections`]).
    pub allow_silent_connections: bool,
    /// Send every message through `protocol::frame` + JSON + `decode_json`.
    pub round_trip_frames: bool,
    /// Record a human-readable trace of every input and output.
    pub trace: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            coordinator_latency_us: MS,
            worker_latency_us: (100, MS),
            lock_latency_us: 500,
            spawn_latency_us: 30 * MS,
            jitter_us: 0,
            drop_probability: 0.0,
            droppable: None,
            lose: Vec::new(),
            close_to_kill_us: 5 * MS,
            allow_silent_connections: false,
            round_trip_frames: true,
            trace: false,
        }
    }
}

// ---------------------------------------------------------------------------
// Contexts, ports, events

/// A browser context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ctx {
    /// The SharedWorker coordinator.
    Coordinator,
    /// A tab, by index.
    Tab(usize),
    /// A backend worker, by index.
    Worker(usize),
}

impl fmt::Display for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ctx::Coordinator => f.write_str("coord"),
            Ctx::Tab(i) => write!(f, "tab{i}"),
            Ctx::Worker(w) => write!(f, "w{w}"),
        }
    }
}

/// A session's `MessagePort`: the end that travels to the tab. The other end
/// stays with the worker's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The worker that opened the session.
    pub worker: usize,
    /// The client the session was opened for.
    pub client: ClientId,
    /// The connect attempt the session was opened for.
    pub session: SessionId,
}

/// One message to lose: the first of `kind` sent from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loss {
    /// The sender.
    pub from: Ctx,
    /// The receiver.
    pub to: Ctx,
    /// The message's `type`.
    pub kind: &'static str,
}

/// A protocol message that reached a live context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// When, in virtual microseconds.
    pub at_us: u64,
    /// The sender.
    pub from: Ctx,
    /// The receiver.
    pub to: Ctx,
    /// The message's `type`.
    pub kind: &'static str,
}

/// A session a tab connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// When, in virtual microseconds.
    pub at_us: u64,
    /// The tab.
    pub tab: usize,
    /// Its connect attempt.
    pub session: SessionId,
    /// The epoch the tab was told.
    pub epoch: Epoch,
    /// The worker whose port it took.
    pub worker: usize,
}

#[derive(Debug)]
enum Event {
    /// A tab's connection to the SharedWorker reaches coordinator instance `instance`.
    Connect {
        conn: u64,
        instance: u64,
    },
    ToCoordinator {
        conn: u64,
        instance: u64,
        msg: TabToCoordinator,
        port: Option<Port>,
    },
    ToTab {
        conn: u64,
        msg: CoordinatorToTab,
        port: Option<Port>,
    },
    ToWorker {
        worker: usize,
        msg: LeaderToBackend,
    },
    FromWorker {
        worker: usize,
        tab: usize,
        msg: BackendToLeader,
        port: Option<Port>,
    },
    Granted {
        owner: Ctx,
        lock: String,
        request: u64,
    },
    Timer {
        tab: usize,
        at: Timestamp,
    },
    /// The `error` event of a worker that threw and died.
    WorkerError {
        worker: usize,
        tab: usize,
    },
    /// The page of a tab that was destroyed goes away.
    Kill {
        tab: usize,
    },
}

// ---------------------------------------------------------------------------
// Web Locks

#[derive(Debug, Clone)]
struct LockRequest {
    id: u64,
    owner: Ctx,
    mode: LockMode,
}

#[derive(Debug, Default)]
struct LockState {
    held: Vec<LockRequest>,
    queue: VecDeque<LockRequest>,
}

impl LockState {
    fn remove(&mut self, owner: Ctx) -> bool {
        let before = self.held.len() + self.queue.len();
        self.held.retain(|r| r.owner != owner);
        self.queue.retain(|r| r.owner != owner);
        before != self.held.len() + self.queue.len()
    }

    fn has(&self, owner: Ctx) -> bool {
        self.held.iter().chain(&self.queue).any(|r| r.owner == owner)
    }

    fn is_empty(&self) -> bool {
        self.held.is_empty() && self.queue.is_empty()
    }
}

/// A snapshot of one lock: who holds it and who waits, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockView {
    /// The holders, with their modes.
    pub held: Vec<(Ctx, LockMode)>,
    /// The queue, first first.
    pub queued: Vec<(Ctx, LockMode)>,
}

// ---------------------------------------------------------------------------
// Per-context state

/// A tab and what the harness knows about it.
#[derive(Debug)]
pub struct TabCtx {
    /// The state machine.
    pub tab: Tab,
    /// The page exists.
    pub alive: bool,
    /// `destroy()` was called (the page goes away shortly after).
    pub closed: bool,
    /// Its connection to the coordinator (a new one after a reconnect).
    pub conn: Option<u64>,
    /// Its backend `Worker` object, if it has one (the worker may have died).
    pub worker: Option<usize>,
    /// The port of its open session.
    pub port: Option<Port>,
    /// The timer armed last.
    timer: Option<Timestamp>,
    /// The highest epoch it has known, to check that it never goes back.
    max_epoch: Option<Epoch>,
    /// The highest epoch of a `Connected` event.
    max_connected_epoch: Option<Epoch>,
    /// Every event it told the app.
    pub events: Vec<TabEvent>,
}

/// A backend worker and what the harness knows about it.
#[derive(Debug)]
pub struct WorkerCtx {
    /// The state machine.
    pub host: BackendHost,
    /// Its worker id (the liveness lock is named after it).
    pub id: String,
    /// The tab that spawned it.
    pub owner: usize,
    /// Not terminated.
    pub alive: bool,
    /// When it was spawned.
    pub spawned_at_us: u64,
    /// Sessions it closed (its `CloseSession` outputs).
    pub closed_sessions: Vec<PortRequest>,
}

/// Counters over a run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Backend workers spawned.
    pub spawns: u64,
    /// `SpawnBackend` while the tab's previous worker was still alive.
    pub spawns_over_live_worker: u64,
    /// Messages lost on purpose.
    pub dropped_messages: u64,
    /// Messages that reached a dead context, a closed connection or a
    /// replaced worker.
    pub undeliverable: u64,
    /// Ports that no output took.
    pub dropped_ports: u64,
    /// `Acquire` of a lock the context already held or waited for.
    pub duplicate_acquires: u64,
    /// `ToBackend` from a tab without a worker.
    pub to_missing_worker: u64,
    /// Events processed.
    pub events: u64,
    /// `request-port`s sent by tabs.
    pub port_requests: u64,
}

// ---------------------------------------------------------------------------
// The simulation

macro_rules! trace {
    ($sim:expr, $($arg:tt)*) => {
        if $sim.cfg.trace {
            let line = format!($($arg)*);
            $sim.push_trace(line);
        }
    };
}

/// Tabs, a coordinator and backend workers on virtual time.
pub struct Sim {
    cfg: Config,
    rng: Rng,
    now_us: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    names: LockNames,
    /// The current coordinator instance.
    coordinator: Coordinator,
    coordinator_alive: bool,
    /// How many coordinator instances were started (the current one's number).
    instances: u64,
    /// Every connection ever opened, with its tab.
    conn_tab: BTreeMap<u64, usize>,
    /// Connections the current coordinator has open.
    open_conns: BTreeSet<u64>,
    /// Connections whose `hello` reached the coordinator.
    introduced: BTreeSet<u64>,
    /// The tab lock the coordinator watches for each connection.
    watches: BTreeMap<u64, String>,
    tabs: Vec<TabCtx>,
    workers: Vec<WorkerCtx>,
    locks: BTreeMap<String, LockState>,
    next_lock_request: u64,
    next_conn: u64,
    /// The last delivery time of each channel, to keep channels FIFO.
    channels: BTreeMap<(Ctx, Ctx), u64>,
    delivered: Vec<Delivered>,
    /// Tab → coordinator messages as they were sent (lost ones included).
    sent: Vec<Delivered>,
    connections: Vec<Connection>,
    violations: Vec<String>,
    trace: Vec<String>,
    stats: Stats,
}

impl Sim {
    /// A browser with a coordinator and no tabs, at virtual time zero.
    pub fn new(cfg: Config) -> Sim {
        let names = LockNames::new(AppName::new("app").expect("a valid app name"));
        // A placeholder: `start_coordinator` below starts instance `k1`.
        let coordinator = Coordinator::new(CoordinatorId::new("k0").expect("a valid id"), names.clone());
        let mut sim = Sim {
            rng: Rng::new(cfg.seed),
            cfg,
            now_us: 0,
            seq: 0,
            queue: BTreeMap::new(),
            names,
            coordinator,
            coordinator_alive: false,
            instances: 0,
            conn_tab: BTreeMap::new(),
            open_conns: BTreeSet::new(),
            introduced: BTreeSet::new(),
            watches: BTreeMap::new(),
            tabs: Vec::new(),
            workers: Vec::new(),
            locks: BTreeMap::new(),
            next_lock_request: 0,
            next_conn: 0,
            channels: BTreeMap::new(),
            delivered: Vec::new(),
            sent: Vec::new(),
            connections: Vec::new(),
            violations: Vec::new(),
            trace: Vec::new(),
            stats: Stats::default(),
        };
        sim.start_coordinator();
        sim
    }

    // ----- accessors -------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Virtual time since the start, in microseconds.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Virtual time as the state machines see it.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(T0_MS + self.now_us / MS)
    }

    /// The lock names of the simulated app.
    pub fn names(&self) -> &LockNames {
        &self.names
    }

    /// The current coordinator instance.
    pub fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// Whether the current coordinator instance lives.
    pub fn coordinator_alive(&self) -> bool {
        self.coordinator_alive
    }

    /// How many coordinator instances were started.
    pub fn coordinator_instances(&self) -> u64 {
        self.instances
    }

    /// Tab `ix`'s state machine.
    pub fn tab(&self, ix: usize) -> &Tab {
        &self.tabs[ix].tab
    }

    /// Tab `ix` and what the harness knows about it.
    pub fn tab_ctx(&self, ix: usize) -> &TabCtx {
        &self.tabs[ix]
    }

    /// Worker `w` and what the harness knows about it.
    pub fn worker(&self, w: usize) -> &WorkerCtx {
        &self.workers[w]
    }

    /// How many tabs were ever opened.
    pub fn tab_count(&self) -> usize {
        self.tabs.len()
    }

    /// How many workers were ever spawned.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Tabs whose page exists and that were not destroyed.
    pub fn live_tabs(&self) -> Vec<usize> {
        (0..self.tabs.len()).filter(|&i| self.tabs[i].alive && !self.tabs[i].closed).collect()
    }

    /// Live tabs whose role is [`Role::Leader`].
    pub fn leaders(&self) -> Vec<usize> {
        self.live_tabs().into_iter().filter(|&i| self.tabs[i].tab.role() == Role::Leader).collect()
    }

    /// Workers not terminated.
    pub fn live_workers(&self) -> Vec<usize> {
        (0..self.workers.len()).filter(|&w| self.workers[w].alive).collect()
    }

    /// The worker tab `ix`'s open session talks to, if it is connected.
    pub fn connected_worker(&self, ix: usize) -> Option<usize> {
        self.tabs[ix].tab.session().and(self.tabs[ix].port.as_ref()).map(|p| p.worker)
    }

    /// Whether every live tab (at least one) is connected to a live, ready worker.
    pub fn all_connected(&self) -> bool {
        let live = self.live_tabs();
        !live.is_empty()
            && live.iter().all(|&i| {
                self.tabs[i].tab.is_joined()
                    && self
                        .connected_worker(i)
                        .is_some_and(|w| self.workers[w].alive && self.workers[w].host.is_ready())
            })
    }

    /// Every protocol message delivered so far, in order.
    pub fn delivered(&self) -> &[Delivered] {
        &self.delivered
    }

    /// Every tab → coordinator message when it was sent, lost ones included.
    pub fn sent_to_coordinator(&self) -> &[Delivered] {
        &self.sent
    }

    /// Every session a tab connected to, in order.
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The trace, if [`Config::trace`] is on.
    pub fn trace(&self) -> &[String] {
        &self.trace
    }

    /// The last `n` lines of the trace, joined.
    pub fn trace_tail(&self, n: usize) -> String {
        let start = self.trace.len().saturating_sub(n);
        self.trace[start..].join("\n")
    }

    /// Who holds and who waits for `lock`.
    pub fn lock(&self, lock: &str) -> LockView {
        let Some(state) = self.locks.get(lock) else { return LockView::default() };
        LockView {
            held: state.held.iter().map(|r| (r.owner, r.mode)).collect(),
            queued: state.queue.iter().map(|r| (r.owner, r.mode)).collect(),
        }
    }

    /// Every lock name that someone holds or waits for.
    pub fn lock_names_in_use(&self) -> Vec<String> {
        self.locks.keys().cloned().collect()
    }

    /// Whether no event is pending.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Connections the coordinator keeps open for tabs that are dead and
    /// never said `hello` to it.
    pub fn silent_connections(&self) -> Vec<usize> {
        self.open_conns
            .iter()
            .filter(|c| !self.introduced.contains(c))
            .map(|c| self.conn_tab[c])
            .filter(|&t| !self.tabs[t].alive)
            .collect()
    }

    /// Violations seen while running (checked after every event).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    fn push_trace(&mut self, line: String) {
        let at = self.now_us;
        self.trace.push(format!("{:>6}.{:03}ms {line}", at / MS, at % MS));
    }

    // ----- what a test does ------------------------------------------------

    /// Opens a tab: it connects to the coordinator and starts.
    pub fn open_tab(&mut self) -> usize {
        let ix = self.tabs.len();
        let id = ClientId::new(format!("tab{ix}")).expect("a valid client id");
        self.tabs.push(TabCtx {
            tab: Tab::new(id, self.names.clone()),
            conn: None,
            alive: true,
            closed: false,
            worker: None,
            port: None,
            timer: None,
            max_epoch: None,
            max_connected_epoch: None,
            events: Vec::new(),
        });
        trace!(self, "tab{ix} opened");
        self.connect(ix);
        let now = self.now();
        self.tabs[ix].tab.start(now);
        self.after_tab_input(ix, None);
        ix
    }

    /// Closes tab `ix` gracefully: `destroy()`, then the page goes away.
    pub fn close_tab(&mut self, ix: usize) {
        if !self.tabs[ix].alive || self.tabs[ix].closed {
            return;
        }
        trace!(self, "tab{ix} closed (destroy)");
        self.tabs[ix].closed = true;
        let now = self.now();
        self.tabs[ix].tab.destroy(now);
        self.after_tab_input(ix, None);
        let delay = self.rng.range(0, self.cfg.close_to_kill_us);
        self.schedule(self.now_us + delay, Event::Kill { tab: ix });
    }

    /// Kills tab `ix` (crash, or a close that never ran `destroy`): its
    /// worker dies, its locks are freed, its messages in flight still arrive.
    pub fn kill_tab(&mut self, ix: usize) {
        if !self.tabs[ix].alive {
            return;
        }
        trace!(self, "tab{ix} killed");
        let ctx = &mut self.tabs[ix];
        ctx.alive = false;
        ctx.closed = true;
        ctx.port = None;
        if let Some(w) = ctx.worker.take() {
            self.kill_worker(w);
        }
        self.release_all(Ctx::Tab(ix));
    }

    /// Kills worker `w` (a crash, or `terminate()`): its locks are freed.
    pub fn kill_worker(&mut self, w: usize) {
        if !self.workers[w].alive {
            return;
        }
        trace!(self, "w{w} killed");
        // The tab keeps its `Worker` object until it terminates or replaces it.
        self.workers[w].alive = false;
        self.release_all(Ctx::Worker(w));
    }

    /// Crashes worker `w`: it dies and its tab gets the worker's `error`
    /// event (as `backend_error`).
    pub fn crash_worker(&mut self, w: usize) {
        if !self.workers[w].alive {
            return;
        }
        let tab = self.workers[w].owner;
        self.kill_worker(w);
        let latency = self.worker_latency();
        let at = self.channel_time(Ctx::Worker(w), Ctx::Tab(tab), latency);
        self.schedule(at, Event::WorkerError { worker: w, tab });
    }

    /// Kills the coordinator (its SharedWorker dies): its connections and
    /// locks go with it; tabs learn of it from its liveness lock.
    pub fn kill_coordinator(&mut self) {
        if !self.coordinator_alive {
            return;
        }
        trace!(self, "coordinator k{} killed", self.instances);
        self.coordinator_alive = false;
        self.open_conns.clear();
        self.watches.clear();
        self.release_all(Ctx::Coordinator);
    }

    /// A new coordinator instance, holding its liveness lock.
    fn start_coordinator(&mut self) {
        self.instances += 1;
        let id = CoordinatorId::new(format!("k{}", self.instances)).expect("a valid id");
        trace!(self, "coordinator {id} started");
        let lock = self.names.coordinator_liveness(&id);
        self.coordinator = Coordinator::new(id, self.names.clone());
        self.coordinator_alive = true;
        self.acquire(Ctx::Coordinator, lock, LockMode::Exclusive);
    }

    /// `new SharedWorker(...)` in tab `ix`: a new connection, to a new
    /// coordinator instance if the last one died.
    fn connect(&mut self, ix: usize) {
        if !self.coordinator_alive {
            self.start_coordinator();
        }
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conn_tab.insert(conn, ix);
        self.tabs[ix].conn = Some(conn);
        let at = self.channel_time(Ctx::Tab(ix), Ctx::Coordinator, self.cfg.coordinator_latency_us);
        self.schedule(at, Event::Connect { conn, instance: self.instances });
    }

    /// Processes the next event. Returns `false` if there was none.
    pub fn step(&mut self) -> bool {
        let Some(((at, _), event)) = self.queue.pop_first() else { return false };
        debug_assert!(at >= self.now_us, "time never goes back");
        self.now_us = at;
        self.stats.events += 1;
        self.dispatch(event);
        self.check_always();
        true
    }

    /// Runs every event due within the next `us` microseconds, then moves
    /// the clock to the end of that span.
    pub fn run_for(&mut self, us: u64) {
        let end = self.now_us + us;
        while self.queue.first_key_value().is_some_and(|(&(at, _), _)| at <= end) {
            self.step();
        }
        self.now_us = end;
    }

    /// Runs until `done` holds (checked before each event and after it) or
    /// `max_us` of virtual time have passed. Returns whether `done` holds.
    pub fn run_until(&mut self, max_us: u64, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let deadline = self.now_us + max_us;
        loop {
            if done(self) {
                return true;
            }
            match self.queue.first_key_value() {
                Some((&(at, _), _)) if at <= deadline => {
                    self.step();
                }
                _ => {
                    self.now_us = self.now_us.max(deadline);
                    return done(self);
                }
            }
        }
    }

    /// Runs until no event is pending, or `max_us` have passed. Returns
    /// whether the system went idle.
    pub fn settle(&mut self, max_us: u64) -> bool {
        self.run_until(max_us, Sim::is_idle)
    }

    // ----- plumbing --------------------------------------------------------

    fn schedule(&mut self, at_us: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((at_us, self.seq), event);
    }

    fn jitter(&mut self) -> u64 {
        self.rng.range(0, self.cfg.jitter_us)
    }

    /// When a message sent now on `from → to` arrives: after `latency` and
    /// some jitter, but never before the channel's previous message.
    fn channel_time(&mut self, from: Ctx, to: Ctx, latency: u64) -> u64 {
        let jitter = self.jitter();
        let last = self.channels.get(&(from, to)).copied().unwrap_or(0);
        let at = (self.now_us + latency + jitter).max(last);
        self.channels.insert((from, to), at);
        at
    }

    fn worker_latency(&mut self) -> u64 {
        let (lo, hi) = self.cfg.worker_latency_us;
        self.rng.range(lo, hi)
    }

    /// What arrives of `message`: the value itself, or its frame sent
    /// through JSON and decoded, as the browser layer does.
    fn transport<T: WireMessage + PartialEq + fmt::Debug>(&self, message: T) -> Result<T, DecodeError> {
        if !self.cfg.round_trip_frames {
            return Ok(message);
        }
        let bytes = serde_json::to_vec(&protocol::frame(&message)).expect("a frame serializes");
        let decoded = protocol::decode_json::<T>(&bytes, message.ports());
        assert_eq!(decoded.as_ref(), Ok(&message), "round trip of {}", String::from_utf8_lossy(&bytes));
        decoded
    }

    fn violation(&mut self, what: String) {
        trace!(self, "VIOLATION: {what}");
        let at = self.now_us;
        self.violations.push(format!("at {}.{:03} ms: {what}", at / MS, at % MS));
    }

    fn ctx_alive(&self, ctx: Ctx) -> bool {
        match ctx {
            Ctx::Coordinator => self.coordinator_alive,
            Ctx::Tab(i) => self.tabs[i].alive,
            Ctx::Worker(w) => self.workers[w].alive,
        }
    }

    fn log_delivery(&mut self, from: Ctx, to: Ctx, kind: &'static str) {
        self.delivered.push(Delivered { at_us: self.now_us, from, to, kind });
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Connect { conn, instance } => {
                let tab = self.conn_tab[&conn];
                if !self.coordinator_alive || instance != self.instances {
                    trace!(self, "connection c{conn} of tab{tab} reached a dead coordinator");
                    return;
                }
                trace!(self, "coord <- connection c{conn} from tab{tab}");
                self.open_conns.insert(conn);
                self.coordinator.connect(ConnId(conn));
                self.drain_coordinator(None);
            }
            Event::ToCoordinator { conn, instance, msg, port } => {
                let tab = self.conn_tab[&conn];
                if !self.coordinator_alive || instance != self.instances || !self.open_conns.contains(&conn) {
                    trace!(self, "coord: connection c{conn} of tab{tab} is closed: {} dropped", msg.kind());
                    self.stats.undeliverable += 1;
                    return;
                }
                trace!(self, "coord <- tab{tab}: {msg:?}{}", port_note(&port));
                self.log_delivery(Ctx::Tab(tab), Ctx::Coordinator, msg.kind());
                if matches!(msg, TabToCoordinator::Hello { .. }) {
                    self.introduced.insert(conn);
                }
                let frame = self.transport(msg);
                let now = self.now();
                self.coordinator.handle(now, ConnId(conn), frame);
                self.drain_coordinator(port);
            }
            Event::ToTab { conn, msg, port } => {
                let tab = self.conn_tab[&conn];
                if !self.tabs[tab].alive || self.tabs[tab].conn != Some(conn) {
                    // A dead tab, or one that left this connection for a new coordinator.
                    self.stats.undeliverable += 1;
                    return;
                }
                trace!(self, "tab{tab} <- coord: {msg:?}{}", port_note(&port));
                self.log_delivery(Ctx::Coordinator, Ctx::Tab(tab), msg.kind());
                let frame = self.transport(msg);
                let now = self.now();
                self.tabs[tab].tab.from_coordinator(now, frame);
                self.after_tab_input(tab, port);
            }
            Event::ToWorker { worker, msg } => {
                if !self.workers[worker].alive {
                    self.stats.undeliverable += 1;
                    return;
                }
                let owner = self.workers[worker].owner;
                trace!(self, "w{worker} <- tab{owner}: {msg:?}");
                self.log_delivery(Ctx::Tab(owner), Ctx::Worker(worker), msg.kind());
                let frame = self.transport(msg);
                self.workers[worker].host.from_leader(frame);
                self.drain_worker(worker);
            }
            Event::FromWorker { worker, tab, msg, port } => {
                if !self.tabs[tab].alive || !self.workers[worker].alive || self.tabs[tab].worker != Some(worker) {
                    self.stats.undeliverable += 1;
                    return;
                }
                trace!(self, "tab{tab} <- w{worker}: {msg:?}{}", port_note(&port));
                self.log_delivery(Ctx::Worker(worker), Ctx::Tab(tab), msg.kind());
                let frame = self.transport(msg);
                let now = self.now();
                self.tabs[tab].tab.from_backend(now, frame);
                self.after_tab_input(tab, port);
            }
            Event::Granted { owner, lock, request } => {
                let held = self.locks.get(&lock).is_some_and(|s| s.held.iter().any(|r| r.id == request));
                if !held {
                    // Released (or withdrawn) before the grant was heard of.
                    return;
                }
                if !self.ctx_alive(owner) {
                    let what = format!("{owner} is dead but holds {lock}");
                    self.violation(what);
                    return;
                }
                trace!(self, "{owner} <- granted {lock}");
                self.granted(owner, &lock);
            }
            Event::Timer { tab, at } => {
                if !self.tabs[tab].alive {
                    return;
                }
                if self.tabs[tab].timer == Some(at) {
                    self.tabs[tab].timer = None;
                }
                trace!(self, "tab{tab} <- timer {at}");
                let now = self.now();
                self.tabs[tab].tab.timeout(now);
                self.after_tab_input(tab, None);
            }
            Event::WorkerError { worker, tab } => {
                if !self.tabs[tab].alive || self.tabs[tab].worker != Some(worker) {
                    // The tab terminated or replaced that worker: its listener is gone.
                    trace!(self, "tab{tab}: error event of replaced w{worker} dropped");
                    return;
                }
                trace!(self, "tab{tab} <- error event of w{worker}");
                let now = self.now();
                self.tabs[tab].tab.backend_error(now, format!("w{worker} crashed"));
                self.after_tab_input(tab, None);
            }
            Event::Kill { tab } => self.kill_tab(tab),
        }
    }

    fn granted(&mut self, owner: Ctx, lock: &str) {
        match owner {
            Ctx::Tab(ix) => {
                let now = self.now();
                self.tabs[ix].tab.lock_granted(now, lock);
                self.after_tab_input(ix, None);
            }
            Ctx::Worker(w) => {
                self.workers[w].host.lock_granted(lock);
                self.drain_worker(w);
            }
            Ctx::Coordinator => {
                if *lock == self.names.coordinator_liveness(self.coordinator.id()) {
                    // Held for the coordinator's whole life.
                    return;
                }
                // The tab held its tab lock for its whole life: it is gone.
                let conns: Vec<u64> = self.watches.iter().filter(|(_, l)| *l == lock).map(|(c, _)| *c).collect();
                for conn in conns {
                    let now = self.now();
                    self.coordinator.tab_gone(now, ConnId(conn));
                    self.drain_coordinator(None);
                }
                self.release(Ctx::Coordinator, lock);
            }
        }
    }

    /// The port `message` from `sender` takes from `carried`, if it carries
    /// one; a message that should carry a port but has none is a violation.
    fn carry(&mut self, sender: &str, message: &impl WireMessage, carried: &mut Option<Port>) -> Option<Port> {
        if message.ports() != 1 {
            return None;
        }
        let port = carried.take();
        if port.is_none() {
            self.violation(format!("{sender} sent {} without a port to carry", message.kind()));
        }
        port
    }

    // ----- tabs ------------------------------------------------------------

    /// Drains tab `ix`'s outputs after an input that carried `carried`, then
    /// arms its timer.
    fn after_tab_input(&mut self, ix: usize, mut carried: Option<Port>) {
        while let Some(out) = self.tabs[ix].tab.poll_output() {
            trace!(self, "  tab{ix} -> {out:?}");
            match out {
                // Nothing here connects by key, so no tab hosts a keyed backend.
                TabOutput::SpawnWorker { .. }
                | TabOutput::ToWorker { .. }
                | TabOutput::KillWorker { .. }
                | TabOutput::OpenKeyed { .. }
                | TabOutput::CloseKeyed { .. } => {
                    self.violation(format!("tab{ix} acted on a keyed backend: {out:?}"));
                }
                TabOutput::ToCoordinator(msg) => {
                    let port = self.carry(&format!("tab{ix}"), &msg, &mut carried);
                    if matches!(msg, TabToCoordinator::RequestPort(_)) {
                        self.stats.port_requests += 1;
                    }
                    self.send_to_coordinator(ix, msg, port);
                }
                TabOutput::ToBackend(msg) => match self.tabs[ix].worker {
                    Some(worker) => {
                        let latency = self.worker_latency();
                        let at = self.channel_time(Ctx::Tab(ix), Ctx::Worker(worker), latency);
                        self.schedule(at, Event::ToWorker { worker, msg });
                    }
                    None => self.stats.to_missing_worker += 1,
                },
                TabOutput::ReconnectCoordinator => self.connect(ix),
                TabOutput::SpawnBackend => self.spawn(ix),
                TabOutput::TerminateBackend => {
                    if let Some(w) = self.tabs[ix].worker.take() {
                        self.kill_worker(w);
                    }
                }
                TabOutput::Acquire { lock, mode } => self.acquire(Ctx::Tab(ix), lock, mode),
                TabOutput::Release { lock } => self.release(Ctx::Tab(ix), &lock),
                TabOutput::Event(event) => self.tab_event(ix, event, &mut carried),
            }
        }
        if let Some(port) = carried {
            trace!(self, "  tab{ix}: port of {} dropped", port.session);
            self.stats.dropped_ports += 1;
        }
        // Arm the timer.
        if let Some(at) = self.tabs[ix].tab.poll_timeout() {
            if self.tabs[ix].timer != Some(at) {
                self.tabs[ix].timer = Some(at);
                let at_us = (at.unix_millis().saturating_sub(T0_MS) * MS).max(self.now_us);
                self.schedule(at_us, Event::Timer { tab: ix, at });
            }
        }
        // Epochs never go back.
        if let Some(epoch) = self.tabs[ix].tab.leadership().map(|l| l.epoch) {
            if self.tabs[ix].max_epoch.is_some_and(|max| epoch < max) {
                self.violation(format!("tab{ix}'s known epoch went back to {epoch}"));
            }
            self.tabs[ix].max_epoch = self.tabs[ix].max_epoch.max(Some(epoch));
        }
    }

    fn tab_event(&mut self, ix: usize, event: TabEvent, carried: &mut Option<Port>) {
        match &event {
            TabEvent::Connected { session_id, epoch, .. } => {
                let client = self.tabs[ix].tab.id().clone();
                match carried.take() {
                    None => self.violation(format!("tab{ix} connected {session_id} without a port")),
                    Some(port) if port.session != *session_id || port.client != client => {
                        self.violation(format!("tab{ix} connected {session_id} with the port of {port:?}"));
                    }
                    Some(port) => {
                        let worker = port.worker;
                        self.tabs[ix].port = Some(port);
                        self.connections.push(Connection {
                            at_us: self.now_us,
                            tab: ix,
                            session: session_id.clone(),
                            epoch: *epoch,
                            worker,
                        });
                    }
                }
                if self.tabs[ix].max_connected_epoch.is_some_and(|max| *epoch < max) {
                    self.violation(format!("tab{ix} connected in epoch {epoch}, after a later one"));
                }
                self.tabs[ix].max_connected_epoch = self.tabs[ix].max_connected_epoch.max(Some(*epoch));
            }
            TabEvent::Disconnected { session_id, .. } => {
                if self.tabs[ix].port.as_ref().is_some_and(|p| p.session == *session_id) {
                    self.tabs[ix].port = None;
                } else {
                    self.violation(format!("tab{ix} disconnected {session_id}, which it was not connected to"));
                }
            }
            _ => {}
        }
        self.tabs[ix].events.push(event);
    }

    fn send_to_coordinator(&mut self, ix: usize, msg: TabToCoordinator, port: Option<Port>) {
        self.sent.push(Delivered { at_us: self.now_us, from: Ctx::Tab(ix), to: Ctx::Coordinator, kind: msg.kind() });
        if self.drops(Ctx::Tab(ix), Ctx::Coordinator, msg.kind()) {
            trace!(self, "  LOST tab{ix} -> coord {}", msg.kind());
            self.stats.dropped_messages += 1;
            return;
        }
        let Some(conn) = self.tabs[ix].conn else { return };
        let at = self.channel_time(Ctx::Tab(ix), Ctx::Coordinator, self.cfg.coordinator_latency_us);
        self.schedule(at, Event::ToCoordinator { conn, instance: self.instances, msg, port });
    }

    fn drops(&mut self, from: Ctx, to: Ctx, kind: &'static str) -> bool {
        if let Some(i) = self.cfg.lose.iter().position(|l| *l == Loss { from, to, kind }) {
            self.cfg.lose.remove(i);
            return true;
        }
        self.cfg.drop_probability > 0.0
            && self.cfg.droppable.as_ref().is_none_or(|kinds| kinds.contains(&kind))
            && self.rng.chance(self.cfg.drop_probability)
    }

    fn spawn(&mut self, ix: usize) {
        if let Some(old) = self.tabs[ix].worker.take() {
            if self.workers[old].alive {
                self.stats.spawns_over_live_worker += 1;
            }
            self.kill_worker(old);
        }
        let w = self.workers.len();
        let id = format!("w{w}");
        self.workers.push(WorkerCtx {
            host: BackendHost::new(id.clone(), false),
            id,
            owner: ix,
            alive: true,
            spawned_at_us: self.now_us,
            closed_sessions: Vec::new(),
        });
        self.tabs[ix].worker = Some(w);
        self.stats.spawns += 1;
        trace!(self, "  w{w} spawned by tab{ix}");
        // Loading the worker's script: nothing it says arrives before then.
        let ready_at = self.now_us + self.cfg.spawn_latency_us;
        self.channels.insert((Ctx::Worker(w), Ctx::Tab(ix)), ready_at);
        self.drain_worker(w);
    }

    // ----- workers ---------------------------------------------------------

    fn drain_worker(&mut self, w: usize) {
        let mut opened: Option<Port> = None;
        while let Some(out) = self.workers[w].host.poll_output() {
            trace!(self, "  w{w} -> {out:?}");
            match out {
                BackendOutput::ToLeader(msg) => {
                    let port = self.carry(&format!("w{w}"), &msg, &mut opened);
                    let tab = self.workers[w].owner;
                    let latency = self.worker_latency();
                    let at = self.channel_time(Ctx::Worker(w), Ctx::Tab(tab), latency);
                    self.schedule(at, Event::FromWorker { worker: w, tab, msg, port });
                }
                BackendOutput::OpenSession(request) => {
                    if opened.is_some() {
                        self.violation(format!("w{w} opened a session whose port no message carried"));
                    }
                    opened = Some(Port { worker: w, client: request.client_id, session: request.session_id });
                }
                BackendOutput::CloseSession(request) => self.workers[w].closed_sessions.push(request),
                // The app's start and stop code return at once here.
                BackendOutput::Start(_) => self.workers[w].host.started(Ok(())),
                BackendOutput::Stop => self.workers[w].host.stopped(),
                BackendOutput::Acquire { lock, mode } => self.acquire(Ctx::Worker(w), lock, mode),
                BackendOutput::Release { lock } => self.release(Ctx::Worker(w), &lock),
            }
        }
        if opened.is_some() {
            self.violation(format!("w{w} opened a session whose port no message carried"));
        }
    }

    // ----- the coordinator -------------------------------------------------

    fn drain_coordinator(&mut self, mut carried: Option<Port>) {
        while let Some(out) = self.coordinator.poll_output() {
            trace!(self, "  coord -> {out:?}");
            match out {
                CoordinatorOutput::Send { to, message } => {
                    let conn = to.0;
                    let tab = self.conn_tab[&conn];
                    let port = self.carry("coord", &message, &mut carried);
                    if !self.open_conns.contains(&conn) {
                        self.stats.undeliverable += 1;
                        continue;
                    }
                    if self.drops(Ctx::Coordinator, Ctx::Tab(tab), message.kind()) {
                        trace!(self, "  LOST coord -> tab{tab} {}", message.kind());
                        self.stats.dropped_messages += 1;
                        continue;
                    }
                    let at = self.channel_time(Ctx::Coordinator, Ctx::Tab(tab), self.cfg.coordinator_latency_us);
                    self.schedule(at, Event::ToTab { conn, msg: message, port });
                }
                CoordinatorOutput::WatchTab { conn, lock } => {
                    let previous = self.watches.insert(conn.0, lock.clone());
                    if previous.is_some() {
                        self.violation(format!("coord watches connection {} twice", conn.0));
                    }
                    self.acquire(Ctx::Coordinator, lock, LockMode::Exclusive);
                }
                CoordinatorOutput::Close { conn } => {
                    self.open_conns.remove(&conn.0);
                    if let Some(lock) = self.watches.remove(&conn.0) {
                        self.release(Ctx::Coordinator, &lock);
                    }
                }
            }
        }
        if carried.is_some() {
            self.stats.dropped_ports += 1;
        }
    }

    // ----- Web Locks -------------------------------------------------------

    fn acquire(&mut self, owner: Ctx, lock: String, mode: LockMode) {
        let state = self.locks.entry(lock.clone()).or_default();
        if state.has(owner) {
            // As a browser layer keeping one request per name would: the old one is dropped.
            self.stats.duplicate_acquires += 1;
            state.remove(owner);
        }
        self.next_lock_request += 1;
        let id = self.next_lock_request;
        state.queue.push_back(LockRequest { id, owner, mode });
        self.pump(&lock);
    }

    fn release(&mut self, owner: Ctx, lock: &str) {
        if let Some(state) = self.locks.get_mut(lock) {
            if state.remove(owner) {
                self.pump(lock);
            }
        }
    }

    fn release_all(&mut self, owner: Ctx) {
        let names: Vec<String> = self.locks.iter().filter(|(_, s)| s.has(owner)).map(|(n, _)| n.clone()).collect();
        for name in names {
            self.release(owner, &name);
        }
    }

    /// Grants what can be granted of `lock`, first come first served.
    fn pump(&mut self, lock: &str) {
        let mut granted = Vec::new();
        if let Some(state) = self.locks.get_mut(lock) {
            while let Some(front) = state.queue.front() {
                let free = match front.mode {
                    LockMode::Exclusive => state.held.is_empty(),
                    LockMode::Shared => state.held.iter().all(|r| r.mode == LockMode::Shared),
                };
                if !free {
                    break;
                }
                let request = state.queue.pop_front().expect("the front exists");
                granted.push((request.owner, request.id));
                state.held.push(request);
            }
            if state.is_empty() {
                self.locks.remove(lock);
            }
        }
        for (owner, request) in granted {
            let at = self.now_us + self.cfg.lock_latency_us + self.jitter();
            self.schedule(at, Event::Granted { owner, lock: lock.to_owned(), request });
        }
    }

    // ----- invariants ------------------------------------------------------

    /// What must hold after every event.
    fn check_always(&mut self) {
        let leaders = self.leaders();
        if leaders.len() > 1 {
            self.violation(format!("two leaders at once: {leaders:?}"));
        }
        let ready: Vec<usize> =
            (0..self.workers.len()).filter(|&w| self.workers[w].alive && self.workers[w].host.is_ready()).collect();
        if ready.len() > 1 {
            self.violation(format!("two ready workers at once: {ready:?}"));
        }
    }

    /// Checks, once the system is quiet, everything that must then hold:
    /// one leader leading the coordinator's epoch with one ready worker,
    /// every live tab connected to it, and no lock, session or connection
    /// left over by anything gone. Returns every violation found.
    pub fn check_settled(&self) -> Result<(), Vec<String>> {
        let mut errors = self.violations.clone();
        let mut fail = |e: String| errors.push(e);
        let live = self.live_tabs();
        let workers = self.live_workers();

        // Nothing dead holds or waits for a lock.
        for (name, state) in &self.locks {
            for r in state.held.iter().chain(&state.queue) {
                if !self.ctx_alive(r.owner) {
                    fail(format!("dead {} holds or waits for {name}", r.owner));
                }
            }
        }
        // Workers belong to live tabs, one each.
        for &w in &workers {
            let owner = self.workers[w].owner;
            if !self.tabs[owner].alive || self.tabs[owner].worker != Some(w) {
                fail(format!("w{w} outlived its place with tab{owner}"));
            }
        }
        if !live.is_empty() && !self.coordinator_alive {
            fail("tabs live but no coordinator does".into());
        }
        for &i in &live {
            let conn = self.tabs[i].conn;
            if !conn.is_some_and(|c| self.open_conns.contains(&c) && self.introduced.contains(&c)) {
                fail(format!("tab{i}'s connection {conn:?} is not open and introduced at the coordinator"));
            }
        }
        // A dead coordinator's state is frozen: only a live one must match the tabs.
        if self.coordinator_alive {
            let clients: BTreeSet<String> = self.coordinator.clients().map(ToString::to_string).collect();
            let live_ids: BTreeSet<String> = live.iter().map(|&i| self.tabs[i].tab.id().to_string()).collect();
            if clients != live_ids {
                fail(format!("the coordinator knows {clients:?}, the live tabs are {live_ids:?}"));
            }
            let silent = self.silent_connections();
            if !silent.is_empty() && !self.cfg.allow_silent_connections {
                fail(format!("the coordinator keeps the connections of {silent:?}, which died before their hello"));
            }
            let allowed = if self.cfg.allow_silent_connections { silent.len() } else { 0 };
            if self.coordinator.connections() != live.len() + allowed {
                let (n, l) = (self.coordinator.connections(), live.len());
                fail(format!("the coordinator has {n} connections for {l} live tabs and {allowed} silent ones"));
            }
        }

        if live.is_empty() {
            if !workers.is_empty() {
                fail(format!("no tab lives but workers {workers:?} do"));
            }
            let coordinator_lock = self.names.coordinator_liveness(self.coordinator.id());
            for name in self.locks.keys().filter(|&n| *n != coordinator_lock) {
                fail(format!("no tab lives but {name} is in use: {:?}", self.lock(name)));
            }
            return if errors.is_empty() { Ok(()) } else { Err(errors) };
        }

        let leaders = self.leaders();
        let [leader] = leaders[..] else {
            fail(format!("{} leaders among live tabs {live:?}: {leaders:?}", leaders.len()));
            return Err(errors);
        };
        let Some(epoch) = self.tabs[leader].tab.leading() else {
            fail(format!("leader tab{leader} is not leading"));
            return Err(errors);
        };
        let leader_id = self.tabs[leader].tab.id().clone();
        match self.coordinator.leadership() {
            Some(l) if l.leader_id == leader_id && l.epoch == epoch => {}
            other => fail(format!("tab{leader} leads in epoch {epoch}, the coordinator says {other:?}")),
        }
        let [worker] = workers[..] else {
            fail(format!("{} live workers: {workers:?}", workers.len()));
            return Err(errors);
        };
        let host = &self.workers[worker].host;
        if self.workers[worker].owner != leader || !host.is_ready() || host.leader() != Some(&leader_id) {
            fail(format!("w{worker} is not the ready worker of leader tab{leader}"));
        }

        let mut expected_locks: BTreeMap<String, LockView> = BTreeMap::new();
        expected_locks.insert(
            self.names.coordinator_liveness(self.coordinator.id()),
            LockView {
                held: vec![(Ctx::Coordinator, LockMode::Exclusive)],
                queued: live.iter().map(|&i| (Ctx::Tab(i), LockMode::Shared)).collect(),
            },
        );
        let others: Vec<(Ctx, LockMode)> =
            live.iter().filter(|&&i| i != leader).map(|&i| (Ctx::Tab(i), LockMode::Exclusive)).collect();
        expected_locks.insert(
            self.names.leader(),
            LockView { held: vec![(Ctx::Tab(leader), LockMode::Exclusive)], queued: others },
        );
        expected_locks.insert(
            self.names.liveness(&self.workers[worker].id),
            LockView {
                held: vec![(Ctx::Worker(worker), LockMode::Exclusive)],
                queued: live.iter().map(|&i| (Ctx::Tab(i), LockMode::Shared)).collect(),
            },
        );
        for &i in &live {
            let tab = &self.tabs[i].tab;
            if !tab.is_joined() {
                fail(format!("tab{i} is not joined"));
            }
            if tab.leadership().map(|l| l.epoch) != Some(epoch) {
                fail(format!("tab{i} knows epoch {:?}, the leader leads {epoch}", tab.leadership().map(|l| l.epoch)));
            }
            expected_locks.insert(
                self.names.tab(tab.id()),
                LockView {
                    held: vec![(Ctx::Tab(i), LockMode::Exclusive)],
                    queued: vec![(Ctx::Coordinator, LockMode::Exclusive)],
                },
            );
            let Some((session, session_epoch)) = tab.session() else {
                fail(format!("tab{i} is not connected"));
                continue;
            };
            if session_epoch != epoch {
                fail(format!("tab{i} is connected in epoch {session_epoch}, the leader leads {epoch}"));
            }
            match &self.tabs[i].port {
                Some(port) if port.worker == worker && port.session == *session => {}
                other => fail(format!("tab{i}'s session {session} has port {other:?}, not one of w{worker}")),
            }
            if host.session(session).map(|r| &r.client_id) != Some(tab.id()) {
                fail(format!("w{worker} has no session {session} for tab{i}"));
            }
            expected_locks.insert(
                self.names.session(session),
                LockView {
                    held: vec![(Ctx::Tab(i), LockMode::Exclusive)],
                    queued: vec![(Ctx::Worker(worker), LockMode::Exclusive)],
                },
            );
        }
        if host.sessions().count() != live.len() {
            let open: Vec<String> = host.sessions().map(|r| format!("{}:{}", r.client_id, r.session_id)).collect();
            fail(format!("w{worker} has {} sessions {open:?} for {} live tabs", open.len(), live.len()));
        }
        for name in self.locks.keys() {
            if !expected_locks.contains_key(name) {
                fail(format!("leaked lock {name}: {:?}", self.lock(name)));
            }
        }
        for (name, expected) in &expected_locks {
            let actual = self.lock(name);
            if normalized(&actual) != normalized(expected) {
                fail(format!("lock {name} is {actual:?}, expected {expected:?}"));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Contexts with whether each is exclusive, sorted.
type Members = Vec<(Ctx, bool)>;

/// A lock's holders and queue as sorted lists, ignoring the queue's order.
fn normalized(view: &LockView) -> (Members, Members) {
    let set = |v: &[(Ctx, LockMode)]| {
        let mut v: Members = v.iter().map(|(c, m)| (*c, *m == LockMode::Exclusive)).collect();
        v.sort();
        v
    };
    (set(&view.held), set(&view.queued))
}

fn port_note(port: &Option<Port>) -> String {
    match port {
        Some(p) => format!(" [+port w{}:{}]", p.worker, p.session),
        None => String::new(),
    }
}
