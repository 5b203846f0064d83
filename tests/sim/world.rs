//! The simulated world: its contexts (tabs, workers, the coordinator), the
//! ports that travel between them, the events on the queue, and counters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use tabworker::protocol::{BackendToLeader, CoordinatorToTab, LeaderToBackend, PortRequest, TabToCoordinator};
use tabworker::{BackendHost, BackendId, ClientId, Epoch, SessionId, Tab, TabEvent, Timestamp};

use super::keyed::{App, AppAction, TabApp};

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
pub(super) enum Event {
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
    /// A held lock was stolen from its owner.
    Lost {
        owner: Ctx,
        lock: String,
        request: u64,
    },
    Timer {
        tab: usize,
        at: Timestamp,
    },
    /// The timer of coordinator instance `instance`.
    CoordinatorTimer {
        instance: u64,
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
    /// The app code of a worker finished something it was asked to do.
    App {
        worker: usize,
        action: AppAction,
    },
    /// A tab's app posts `open` with a connect's token on a keyed session's port.
    Open {
        worker: usize,
        tab: usize,
        session: SessionId,
        token: String,
    },
    /// A worker's answer to `open` on a keyed session's port.
    OpenAnswer {
        tab: usize,
        session: SessionId,
        answer: tabworker::protocol::BackendToTab,
    },
}

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
    /// The standby worker it keeps, loaded and not adopted yet.
    pub standby: Option<usize>,
    /// The port of its open session.
    pub port: Option<Port>,
    /// The timer armed last.
    pub(super) timer: Option<Timestamp>,
    /// No lock grant reaches it before this instant (virtual µs).
    pub(super) grants_from_us: u64,
    /// Its main thread runs nothing before this instant (virtual µs): it is
    /// frozen, or busy with a long task. Its workers run on.
    pub(super) frozen_until_us: u64,
    /// Its leader lock was stolen and it has not heard of it yet: it may
    /// still believe it leads.
    pub(super) deposed: bool,
    /// The highest epoch it has known, to check that it never goes back.
    pub(super) max_epoch: Option<Epoch>,
    /// The highest epoch of a `Connected` event.
    pub(super) max_connected_epoch: Option<Epoch>,
    /// Every event it told the app.
    pub events: Vec<TabEvent>,
    /// What its app knows of keyed backends, and the keyed workers it hosts.
    pub app: TabApp,
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
    /// The keyed backend it runs; `None`: it is its tab's own worker, the
    /// default backend.
    pub backend: Option<BackendId>,
    /// For a tab's own worker: the default backend its tab's fleet hosted
    /// for it when it was spawned.
    pub default_of: Option<BackendId>,
    /// How its app code behaves.
    pub app: App,
}

impl WorkerCtx {
    /// Worker number `w`, spawned by tab `owner` at `now_us` to run `app`
    /// for keyed backend `backend` (or, if `None`, as the tab's own worker
    /// for the default backend `default_of`).
    pub fn new(
        w: usize,
        owner: usize,
        now_us: u64,
        app: App,
        backend: Option<BackendId>,
        default_of: Option<BackendId>,
    ) -> Self {
        let id = format!("w{w}");
        WorkerCtx {
            host: BackendHost::new(id.clone(), app.declares_ready()),
            id,
            owner,
            alive: true,
            spawned_at_us: now_us,
            closed_sessions: Vec::new(),
            backend,
            default_of,
            app,
        }
    }
}

/// Counters over a run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Backend workers spawned.
    pub spawns: u64,
    /// Standby workers spawned.
    pub standby_spawns: u64,
    /// Standby workers adopted as a tab's own worker.
    pub adoptions: u64,
    /// `SpawnBackend` while the tab's previous worker was still alive.
    pub spawns_over_live_worker: u64,
    /// Messages lost on purpose.
    pub dropped_messages: u64,
    /// Messages that reached a dead context, a closed connection or a
    /// replaced worker.
    pub undeliverable: u64,
    /// Ports that no output took.
    pub dropped_ports: u64,
    /// Connections the coordinator closed because they never said `hello`.
    pub silent_closed: u64,
    /// `Acquire` of a lock the context already held or waited for.
    pub duplicate_acquires: u64,
    /// Events processed.
    pub events: u64,
    /// `request-port`s sent by tabs.
    pub port_requests: u64,
    /// Keyed backend workers spawned.
    pub keyed_spawns: u64,
    /// What keyed backends went through, by outcome (`connect:spawned`,
    /// `open:refused:backend-terminated`, `end:swept`, …).
    pub outcomes: BTreeMap<String, u64>,
    /// Backends some tab saw terminated.
    pub ended: BTreeSet<BackendId>,
}
