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
//! contexts and events ([`world`]), the locks ([`locks`]), the keyed
//! backends ([`keyed`]) and the invariants ([`invariants`]); this file runs
//! them.
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
mod invariants;
pub mod keyed;
mod locks;
mod rng;
mod timeline;
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use tabworker::protocol::{self, DecodeError, TabToCoordinator, WireMessage};
use tabworker::{
    AppName, BackendId, BackendOutput, ClientId, ConnId, Coordinator, CoordinatorId, CoordinatorOutput, Epoch,
    LockCommand, LockMode, LockNames, Role, Tab, TabEvent, TabOutput, Timestamp,
};

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
        self.record_ends();
        self.coordinator_alive = false;
        self.excuse_all("the coordinator died");
        self.open_conns.clear();
        self.watches.clear();
        self.release_all(Ctx::Coordinator);
    }

    /// A new coordinator instance, holding its liveness lock.
    fn start_coordinator(&mut self) {
        self.instances += 1;
        let id = CoordinatorId::new(format!("k{}", self.instances)).expect("a valid id");
        trace!(self, "coordinator {id} started");
        // Epochs live only in the contexts that know them: when none that
        // lives knows one, a new coordinator counts from 1 again, and an
        // epoch may then name a second leader (long after the first, whose
        // tab and workers are gone). One leader per epoch holds per era.
        if self.tabs.iter().all(|t| !t.alive || t.max_epoch.is_none()) {
            self.epoch_leaders.clear();
        }
        let lock = self.names.coordinator_liveness(&id);
        self.coordinator = Coordinator::new(id, self.names.clone());
        // A new instance's liveness lock is free (the last holder died with
        // the last instance): it reads its connections at once.
        self.coordinator.liveness_held(self.now());
        self.coordinator_alive = true;
        self.coordinator_timer = None;
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
                let now = self.now();
                self.coordinator.connect(now, ConnId(conn));
                self.drain_coordinator(None);
            }
            Event::ToCoordinator { conn, instance, msg, port } => {
                let tab = self.conn_tab[&conn];
                if !self.coordinator_alive || instance != self.instances || !self.open_conns.contains(&conn) {
                    trace!(self, "coord: connection c{conn} of tab{tab} is closed: {} dropped", msg.kind());
                    self.stats.undeliverable += 1;
                    self.frame_lost(keyed::Lost::Up(&msg), "sent on a closed connection");
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
                    self.frame_lost(keyed::Lost::Down(&msg), "sent on a connection its tab left");
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
                if !self.tabs[tab].alive || !self.workers[worker].alive || !self.has_worker(tab, worker) {
                    self.stats.undeliverable += 1;
                    return;
                }
                trace!(self, "tab{tab} <- w{worker}: {msg:?}{}", port_note(&port));
                self.log_delivery(Ctx::Worker(worker), Ctx::Tab(tab), msg.kind());
                let frame = self.transport(msg);
                let now = self.now();
                if let Some(backend_id) = self.serves(worker).cloned() {
                    self.tabs[tab].tab.from_worker(now, &backend_id, frame);
                } else if self.tabs[tab].standby == Some(worker) {
                    self.tabs[tab].tab.from_standby(frame);
                }
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
            Event::Lost { owner, lock, request } => {
                if !self.ctx_alive(owner) {
                    return;
                }
                trace!(self, "{owner} <- lost {lock} (request {request})");
                let Some(id) = self.lock_ids.get(&lock).cloned() else { return };
                match owner {
                    Ctx::Tab(ix) => {
                        let now = self.now();
                        self.tabs[ix].deposed = false;
                        self.tabs[ix].tab.lock_lost(now, &id);
                        self.after_tab_input(ix, None);
                    }
                    Ctx::Worker(w) => {
                        self.workers[w].host.lock_lost(&id);
                        self.drain_worker(w);
                    }
                    Ctx::Coordinator => {}
                }
            }
            Event::CoordinatorTimer { instance, at } => {
                if !self.coordinator_alive || instance != self.instances {
                    return;
                }
                if self.coordinator_timer == Some(at) {
                    self.coordinator_timer = None;
                }
                trace!(self, "coord <- timer {at}");
                let before = self.coordinator.connections();
                let now = self.now();
                self.coordinator.timeout(now);
                // Only silent connections close on a timer.
                self.stats.silent_closed += before.saturating_sub(self.coordinator.connections()) as u64;
                self.drain_coordinator(None);
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
                if !self.tabs[tab].alive || !self.has_worker(tab, worker) {
                    // The tab terminated or replaced that worker: its listener is gone.
                    trace!(self, "tab{tab}: error event of replaced w{worker} dropped");
                    return;
                }
                trace!(self, "tab{tab} <- error event of w{worker}");
                let now = self.now();
                if let Some(backend_id) = self.serves(worker).cloned() {
                    self.tabs[tab].tab.worker_error(now, &backend_id, format!("w{worker} crashed"));
                } else if self.tabs[tab].standby == Some(worker) {
                    self.tabs[tab].tab.standby_error();
                }
                self.after_tab_input(tab, None);
            }
            Event::Kill { tab } => self.kill_tab(tab),
            Event::App { worker, action } => self.app_action(worker, action),
            Event::Open { worker, tab, session, token } => self.open_on_port(worker, tab, &session, &token),
            Event::OpenAnswer { tab, session, answer } => self.open_answered(tab, &session, answer),
        }
    }

    fn granted(&mut self, owner: Ctx, lock: &str) {
        match owner {
            Ctx::Tab(ix) => {
                let now = self.now();
                if let Some(id) = self.lock_ids.get(lock).cloned() {
                    self.tabs[ix].tab.lock_granted(now, &id);
                }
                self.after_tab_input(ix, None);
            }
            Ctx::Worker(w) => {
                if let Some(id) = self.lock_ids.get(lock).cloned() {
                    self.workers[w].host.lock_granted(&id);
                }
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
                // The tab's own worker (its default backend) and the keyed
                // backends' workers travel the same outputs; the harness
                // keeps the own one apart to check the default path.
                TabOutput::SpawnWorker { backend_id, tag } => {
                    let own = self.tabs[ix].tab.fleet().default_backend() == Some(&backend_id);
                    if own && tag.is_none() {
                        self.spawn(ix, backend_id);
                    } else {
                        self.spawn_keyed(ix, backend_id, tag);
                    }
                }
                TabOutput::SpawnStandby => self.spawn_standby(ix),
                TabOutput::AdoptStandby { backend_id } => self.adopt_standby(ix, backend_id),
                TabOutput::KillStandby => {
                    if let Some(w) = self.tabs[ix].standby.take() {
                        self.kill_worker(w);
                    }
                }
                TabOutput::ToWorker { backend_id, message } if self.own_worker(ix, &backend_id).is_some() => {
                    let worker = self.own_worker(ix, &backend_id).unwrap_or_default();
                    let latency = self.worker_latency();
                    let at = self.channel_time(Ctx::Tab(ix), Ctx::Worker(worker), latency);
                    self.schedule(at, Event::ToWorker { worker, msg: message });
                }
                TabOutput::ToWorker { backend_id, message } => self.post_keyed(ix, &backend_id, message),
                TabOutput::KillWorker { backend_id } if self.own_worker(ix, &backend_id).is_some() => {
                    if let Some(w) = self.tabs[ix].worker.take() {
                        self.kill_worker(w);
                    }
                }
                TabOutput::KillWorker { backend_id } => self.kill_keyed(ix, &backend_id),
                TabOutput::OpenKeyed { session_id, message } => {
                    self.open_keyed_port(ix, session_id, message, &mut carried)
                }
                TabOutput::CloseKeyed { session_id } => self.close_keyed_ports(ix, &session_id),
                TabOutput::ToCoordinator(msg) => {
                    let port = self.carry(&format!("tab{ix}"), &msg, &mut carried);
                    if matches!(msg, TabToCoordinator::RequestPort(_)) {
                        self.stats.port_requests += 1;
                    }
                    if let TabToCoordinator::Watch { backend_id } = &msg {
                        self.watch_sent(ix, backend_id);
                    }
                    self.send_to_coordinator(ix, msg, port);
                }
                TabOutput::ReconnectCoordinator => self.connect(ix),
                TabOutput::Lock(LockCommand::Acquire { lock, name, mode }) => {
                    self.lock_ids.insert(name.clone(), lock);
                    self.acquire(Ctx::Tab(ix), name, mode);
                }
                TabOutput::Lock(LockCommand::Release { lock }) => {
                    let name = self.names.name(&lock);
                    self.release(Ctx::Tab(ix), &name);
                }
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
                let at_us = (at.unix_millis().saturating_sub(T0_MS) * MS).max(self.time.now_us());
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
        // One leader per epoch (per era: see `start_coordinator`).
        if let Some(epoch) = self.tabs[ix].tab.leading() {
            let id = self.tabs[ix].tab.id().clone();
            // An epoch whose leader died unknown to every coordinator since
            // (frozen while its coordinator died, then killed) may come again:
            // nothing of that leader is left to confuse with the new one.
            let alive = |other: &ClientId| keyed::tab_of(other).is_some_and(|t| self.tabs[t].alive);
            match self.epoch_leaders.get(&epoch) {
                Some(other) if *other != id && alive(other) => {
                    self.violation(format!("tab{ix} leads epoch {epoch}, which {other} led"));
                }
                Some(other) if *other == id => {}
                _ => {
                    self.epoch_leaders.insert(epoch, id);
                }
            }
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
                            at_us: self.time.now_us(),
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
            TabEvent::Settled { .. } => self.keyed_event(ix, &event),
            _ => {}
        }
        self.tabs[ix].events.push(event);
    }

    fn send_to_coordinator(&mut self, ix: usize, msg: TabToCoordinator, port: Option<Port>) {
        self.sent.push(Delivered {
            at_us: self.time.now_us(),
            from: Ctx::Tab(ix),
            to: Ctx::Coordinator,
            kind: msg.kind(),
        });
        if self.drops(Ctx::Tab(ix), Ctx::Coordinator, msg.kind()) {
            trace!(self, "  LOST tab{ix} -> coord {}", msg.kind());
            self.stats.dropped_messages += 1;
            self.frame_lost(keyed::Lost::Up(&msg), "dropped");
            return;
        }
        let Some(conn) = self.tabs[ix].conn else {
            self.frame_lost(keyed::Lost::Up(&msg), "sent before any connection");
            return;
        };
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

    /// Tab `ix`'s own worker, if it runs `backend_id`.
    fn own_worker(&self, ix: usize, backend_id: &BackendId) -> Option<usize> {
        self.tabs[ix].worker.filter(|&w| self.workers[w].default_of.as_ref() == Some(backend_id))
    }

    fn spawn(&mut self, ix: usize, backend_id: BackendId) {
        let w = self.new_worker(ix, App::Plain, None, Some(backend_id));
        self.replace_own_worker(ix, w);
        self.stats.spawns += 1;
        trace!(self, "  w{w} spawned by tab{ix}");
        self.drain_worker(w);
    }

    /// Tab `ix` keeps a standby worker: loaded like its own, serving nothing.
    fn spawn_standby(&mut self, ix: usize) {
        if let Some(old) = self.tabs[ix].standby.take() {
            self.violation(format!("tab{ix} spawns a standby over w{old}"));
            self.kill_worker(old);
        }
        let w = self.new_worker(ix, App::Plain, None, None);
        self.tabs[ix].standby = Some(w);
        self.stats.standby_spawns += 1;
        trace!(self, "  w{w} spawned by tab{ix} as its standby");
        self.drain_worker(w);
    }

    /// Tab `ix`'s standby worker becomes its own worker, of `backend_id`.
    fn adopt_standby(&mut self, ix: usize, backend_id: BackendId) {
        let Some(w) = self.tabs[ix].standby.take() else {
            return self.violation(format!("tab{ix} adopts a standby it does not keep"));
        };
        self.workers[w].default_of = Some(backend_id);
        self.replace_own_worker(ix, w);
        self.stats.adoptions += 1;
        trace!(self, "  w{w} adopted by tab{ix}");
    }

    /// A new worker of tab `ix` running `app` (for keyed backend `backend`,
    /// or as the tab's own worker for `default_of`); nothing it says arrives
    /// before its script has loaded.
    pub(super) fn new_worker(
        &mut self,
        ix: usize,
        app: App,
        backend: Option<BackendId>,
        default_of: Option<BackendId>,
    ) -> usize {
        let w = self.workers.len();
        self.workers.push(WorkerCtx::new(w, ix, self.time.now_us(), app, backend, default_of));
        let ready_at = self.time.now_us() + self.cfg.spawn_latency_us;
        self.time.hold_channel(Ctx::Worker(w), Ctx::Tab(ix), ready_at);
        w
    }

    /// Worker `w` is tab `ix`'s own from now on; the one before it is killed.
    fn replace_own_worker(&mut self, ix: usize, w: usize) {
        if let Some(old) = self.tabs[ix].worker.replace(w) {
            if self.workers[old].alive {
                self.stats.spawns_over_live_worker += 1;
            }
            self.kill_worker(old);
        }
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
                // The app's start and stop code, as its tag says.
                BackendOutput::Start(_) => self.app_start(w),
                BackendOutput::Stop => self.app_stop(w),
                BackendOutput::Lock(LockCommand::Acquire { lock, name, mode }) => {
                    self.lock_ids.insert(name.clone(), lock);
                    self.acquire(Ctx::Worker(w), name, mode);
                }
                BackendOutput::Lock(LockCommand::Release { lock }) => {
                    let name = self.names.name(&lock);
                    self.release(Ctx::Worker(w), &name);
                }
                BackendOutput::Exit => {
                    // `close()`: it dies without an `error` event.
                    self.kill_worker(w);
                    break;
                }
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
                    if self.closed_conns.contains(&conn) {
                        // Whatever it keeps for a tab it let go of is left behind.
                        self.violation(format!("coord posts {} on c{conn}, which it closed", message.kind()));
                    }
                    if !self.open_conns.contains(&conn) {
                        self.stats.undeliverable += 1;
                        self.frame_lost(keyed::Lost::Down(&message), "posted on a closed connection");
                        continue;
                    }
                    if self.drops(Ctx::Coordinator, Ctx::Tab(tab), message.kind()) {
                        trace!(self, "  LOST coord -> tab{tab} {}", message.kind());
                        self.stats.dropped_messages += 1;
                        self.frame_lost(keyed::Lost::Down(&message), "dropped");
                        continue;
                    }
                    let at = self.channel_time(Ctx::Coordinator, Ctx::Tab(tab), self.cfg.coordinator_latency_us);
                    self.schedule(at, Event::ToTab { conn, msg: message, port });
                }
                CoordinatorOutput::WatchTab { conn, name, .. } => {
                    let previous = self.watches.insert(conn.0, name.clone());
                    if previous.is_some() {
                        self.violation(format!("coord watches connection {} twice", conn.0));
                    }
                    self.acquire(Ctx::Coordinator, name, LockMode::Exclusive);
                }
                // Its connections are read as the coordinator starts (see `start_coordinator`).
                CoordinatorOutput::Listen { .. } => {}
                CoordinatorOutput::Close { conn } => {
                    self.closed_conns.insert(conn.0);
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
        // Arm the timer.
        if let Some(at) = self.coordinator.poll_timeout() {
            if self.coordinator_timer != Some(at) {
                self.coordinator_timer = Some(at);
                let at_us = (at.unix_millis().saturating_sub(T0_MS) * MS).max(self.time.now_us());
                self.schedule(at_us, Event::CoordinatorTimer { instance: self.instances, at });
            }
        }
    }
}

fn port_note(port: &Option<Port>) -> String {
    match port {
        Some(p) => format!(" [+port w{}:{}]", p.worker, p.session),
        None => String::new(),
    }
}
