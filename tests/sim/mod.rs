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
//!   `Release`. Grants reach their owner as events, after a small delay; a
//!   slow tab ([`Sim::open_slow_tab`]) hears of none before a given time.
//! * **Channels**: every message travels on a (from, to) channel that
//!   delivers in FIFO order, as a `MessagePort` does, after a latency.
//!   Optional random extra latency reorders messages *across* channels, and
//!   an optional drop probability loses tab ↔ coordinator messages.
//! * **Ports**: a session's `MessagePort` is modelled as a [`Port`] value:
//!   created by the worker's `OpenSession`, carried by the `session` that
//!   follows, by the leader's `provide-port` and the coordinator's, and taken
//!   by the tab's `Connected` event. A port that no output takes is dropped.
//! * **Timers**: after each input to a tab or to the coordinator, its
//!   `poll_timeout()` is armed. The coordinator's closes a connection that
//!   never said `hello` ([`HELLO_TIMEOUT_MS`](tabworker::HELLO_TIMEOUT_MS)
//!   after it opened): nothing is left open for a tab killed before its
//!   `hello`, or whose `hello` was lost.
//! * **Keyed backends** ([`keyed`]): the leader's `SpawnWorker`, `ToWorker`
//!   and `KillWorker` run one worker per backend, whose app code behaves by
//!   its tag ([`App`]); each tab's app keeps its connects, watches and
//!   sessions as the browser glue does, and a keyed session's port travels
//!   like the default session's.
//!
//! The code is split by concern: the browser's settings ([`config`]), the
//! clock, the events due and the channels' order ([`timeline`]), the
//! contexts and events ([`world`]), each event's delivery ([`dispatch`]),
//! what a tab's page, the coordinator's SharedWorker and the backend
//! workers do with their machines' outputs ([`tab_side`],
//! [`coordinator_side`], [`workers`]), the locks ([`locks`]), the keyed
//! backends ([`keyed`]) and the invariants ([`invariants`]); this file
//! holds the simulation's state, what a test does, and the run loop.
//!
//! Everything is driven by one seeded RNG, so a run is a pure function of its
//! [`Config`]: a failing seed replays exactly, with a trace if asked.
#![allow(dead_code)]

macro_rules! trace {
    ($sim:expr, $($arg:tt)*) => {
        if $sim.cfg.trace {
            let line = format!($($arg)*);
            $sim.push_trace(line);
        }
    };
}

mod config;
mod coordinator_side;
mod dispatch;
mod invariants;
pub mod keyed;
mod locks;
mod rng;
mod tab_side;
mod timeline;
mod workers;
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use tabworker::protocol::{self, DecodeError, WireMessage};
use tabworker::{AppName, ClientId, Coordinator, CoordinatorId, Epoch, LockNames, Role, Tab, Timestamp};

pub use config::Config;
pub use keyed::{App, TabApp};
use locks::LockState;
pub use locks::LockView;
pub use rng::Rng;
use timeline::Timeline;
use world::Event;
pub use world::{Connection, Ctx, Delivered, Loss, Port, Stats, TabCtx, WorkerCtx};

/// Virtual time zero, as a wall clock (2026-11-23T10:00:00.000Z).
pub const T0_MS: u64 = 1_795_428_000_000;

/// Microseconds in a millisecond, for readability.
pub const MS: u64 = 1_000;
/// Microseconds in a second.
pub const SEC: u64 = 1_000_000;

// ---------------------------------------------------------------------------
// The simulation

/// Tabs, a coordinator and backend workers on virtual time.
pub struct Sim {
    cfg: Config,
    rng: Rng,
    /// The clock, the events due, and the channels' order.
    time: Timeline,
    names: LockNames,
    /// Every lock asked for by a tab or a worker, by its name (the
    /// harness's locks are by name; the state machines learn of a grant by
    /// its id).
    lock_ids: BTreeMap<String, tabworker::LockId>,
    /// The current coordinator instance.
    coordinator: Coordinator,
    coordinator_alive: bool,
    /// The coordinator's timer armed last.
    coordinator_timer: Option<Timestamp>,
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
    delivered: Vec<Delivered>,
    /// Tab → coordinator messages as they were sent (lost ones included).
    sent: Vec<Delivered>,
    connections: Vec<Connection>,
    /// Connections the coordinator closed: it must never post on them again.
    closed_conns: BTreeSet<u64>,
    /// Which client led each epoch (as its tab said), to check that no
    /// epoch has two leaders.
    epoch_leaders: BTreeMap<Epoch, ClientId>,
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
            time: Timeline::default(),
            names,
            lock_ids: BTreeMap::new(),
            coordinator,
            coordinator_alive: false,
            coordinator_timer: None,
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
            delivered: Vec::new(),
            sent: Vec::new(),
            connections: Vec::new(),
            closed_conns: BTreeSet::new(),
            epoch_leaders: BTreeMap::new(),
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
        self.time.now_us()
    }

    /// Virtual time as the state machines see it.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(T0_MS + self.time.now_us() / MS)
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

    /// Tabs' own workers (their default backends) not terminated.
    pub fn live_workers(&self) -> Vec<usize> {
        (0..self.workers.len())
            .filter(|&w| self.workers[w].alive && self.workers[w].backend.is_none() && !self.is_standby(w))
            .collect()
    }

    /// The standby workers alive, adopted by nobody yet.
    pub fn live_standbys(&self) -> Vec<usize> {
        (0..self.workers.len()).filter(|&w| self.workers[w].alive && self.is_standby(w)).collect()
    }

    /// Whether worker `w` is a standby not adopted yet.
    fn is_standby(&self, w: usize) -> bool {
        self.workers[w].backend.is_none() && self.workers[w].default_of.is_none()
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
        self.time.is_idle()
    }

    /// The tabs of the connections the coordinator keeps open that never
    /// said `hello` to it (their tab died first, or its `hello` was lost, or
    /// it has yet to say it). Each is closed at its deadline, so none is left
    /// once the system is quiet.
    pub fn silent_connections(&self) -> Vec<usize> {
        self.open_conns.iter().filter(|c| !self.introduced.contains(c)).map(|c| self.conn_tab[c]).collect()
    }

    /// Violations seen while running (checked after every event).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    fn push_trace(&mut self, line: String) {
        let at = self.time.now_us();
        self.trace.push(format!("{:>6}.{:03}ms {line}", at / MS, at % MS));
    }

    // ----- what a test does ------------------------------------------------

    /// Opens a tab: it connects to the coordinator and starts.
    pub fn open_tab(&mut self) -> usize {
        self.open_tab_hearing_grants_after(0)
    }

    /// Opens a tab that hears of no lock grant for its first `us` (its page
    /// is frozen, or busy with a long script, right after it created its
    /// SharedWorker): it says `hello` only then.
    pub fn open_slow_tab(&mut self, us: u64) -> usize {
        self.open_tab_hearing_grants_after(self.time.now_us() + us)
    }

    fn open_tab_hearing_grants_after(&mut self, grants_from_us: u64) -> usize {
        let ix = self.tabs.len();
        let id = ClientId::new(format!("tab{ix}")).expect("a valid client id");
        let mut tab = Tab::new(id, self.names.clone());
        // Ids and tokens unique across tabs, as `crypto` makes them in a
        // browser: the tab's number above a counter.
        let mut counter = (ix as u128 + 1) << 64;
        let entropy = Box::new(move || {
            counter += 1;
            counter
        });
        tab.configure_fleet(self.cfg.fleet_limits, keyed::TAGS.map(String::from), entropy);
        self.tabs.push(TabCtx {
            tab,
            conn: None,
            alive: true,
            closed: false,
            worker: None,
            standby: None,
            port: None,
            timer: None,
            grants_from_us,
            frozen_until_us: 0,
            deposed: false,
            max_epoch: None,
            max_connected_epoch: None,
            events: Vec::new(),
            app: TabApp::default(),
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
        self.schedule(self.time.now_us() + delay, Event::Kill { tab: ix });
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
        let keyed: Vec<usize> = std::mem::take(&mut ctx.app.workers).into_values().collect();
        let own = [ctx.worker.take(), ctx.standby.take()];
        for w in own.into_iter().flatten().chain(keyed) {
            self.kill_worker(w);
        }
        self.release_all(Ctx::Tab(ix));
    }

    /// Freezes tab `ix`'s main thread for `us` (a frozen page, or a long
    /// task): every event for it waits until then, in order; its workers
    /// run on.
    pub fn freeze_tab(&mut self, ix: usize, us: u64) {
        trace!(self, "tab{ix} frozen for {} ms", us / MS);
        self.tabs[ix].frozen_until_us = self.time.now_us() + us;
        // Its own calls may outlast their deadlines while it cannot run.
        for ask in self.tabs[ix].app.calls.values_mut() {
            ask.excused.get_or_insert_with(|| "its tab froze".to_owned());
        }
    }

    /// Whether tab `ix`'s main thread is frozen now.
    pub fn is_frozen(&self, ix: usize) -> bool {
        self.tabs[ix].frozen_until_us > self.time.now_us()
    }

    /// The tab whose main thread handles `event`, if a tab's does.
    fn main_thread(&self, event: &Event) -> Option<usize> {
        match event {
            Event::ToTab { conn, .. } => self.conn_tab.get(conn).copied(),
            Event::FromWorker { tab, .. }
            | Event::Timer { tab, .. }
            | Event::WorkerError { tab, .. }
            | Event::OpenAnswer { tab, .. } => Some(*tab),
            Event::Granted { owner: Ctx::Tab(ix), .. } | Event::Lost { owner: Ctx::Tab(ix), .. } => Some(*ix),
            _ => None,
        }
    }

    /// Processes the next event. Returns `false` if there was none.
    pub fn step(&mut self) -> bool {
        let Some(event) = self.time.next() else { return false };
        let at = self.time.now_us();
        if let Some(until) = self.main_thread(&event).map(|ix| self.tabs[ix].frozen_until_us).filter(|&u| u > at) {
            // Its main thread runs nothing until then: the event waits, in order.
            self.schedule(until, event);
            return true;
        }
        self.stats.events += 1;
        self.dispatch(event);
        self.check_always();
        true
    }

    /// Runs every event due within the next `us` microseconds, then moves
    /// the clock to the end of that span.
    pub fn run_for(&mut self, us: u64) {
        let end = self.time.now_us() + us;
        while self.time.next_at().is_some_and(|at| at <= end) {
            self.step();
        }
        self.time.advance_to(end);
    }

    /// Runs until `done` holds (checked before each event and after it) or
    /// `max_us` of virtual time have passed. Returns whether `done` holds.
    pub fn run_until(&mut self, max_us: u64, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let deadline = self.time.now_us() + max_us;
        loop {
            if done(self) {
                return true;
            }
            match self.time.next_at() {
                Some(at) if at <= deadline => {
                    self.step();
                }
                _ => {
                    self.time.advance_to(deadline);
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
        self.time.schedule(at_us, event);
    }

    fn jitter(&mut self) -> u64 {
        self.rng.range(0, self.cfg.jitter_us)
    }

    /// When a message sent now on `from → to` arrives: after `latency` and
    /// some jitter, but never before the channel's previous message.
    fn channel_time(&mut self, from: Ctx, to: Ctx, latency: u64) -> u64 {
        let jitter = self.jitter();
        self.time.channel_time(from, to, latency + jitter)
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
        let bytes = serde_json::Value::from(protocol::frame(&message)).to_string().into_bytes();
        let decoded = protocol::decode_json::<T>(&bytes, message.ports());
        assert_eq!(decoded.as_ref(), Ok(&message), "round trip of {}", String::from_utf8_lossy(&bytes));
        decoded
    }

    fn violation(&mut self, what: String) {
        trace!(self, "VIOLATION: {what}");
        let at = self.time.now_us();
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
        self.delivered.push(Delivered { at_us: self.time.now_us(), from, to, kind });
    }

    // ----- tabs ------------------------------------------------------------

    // ----- workers ---------------------------------------------------------

    // ----- the coordinator -------------------------------------------------
}

fn port_note(port: &Option<Port>) -> String {
    match port {
        Some(p) => format!(" [+port w{}:{}]", p.worker, p.session),
        None => String::new(),
    }
}
