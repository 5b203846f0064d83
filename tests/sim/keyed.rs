//! Keyed backends in the harness, driven as the browser glue drives them
//! (`src/web/keyed.rs`, `src/web/client.rs`, `src/web/backend.rs`):
//!
//! * **The leader's workers**: `SpawnWorker` starts one worker per backend,
//!   running a [`BackendHost`] whose app code behaves as its tag says
//!   ([`App`]); `ToWorker` posts to it on its own FIFO channel; `KillWorker`
//!   terminates it. Its frames go to [`Tab::from_worker`](tabworker::Tab),
//!   its `error` event (a crash) to `worker_error`. A killed tab's workers die
//!   with it.
//! * **Each tab's app** ([`TabApp`]) keeps what the glue keeps: its connects
//!   until answered, the histories of the backends it watches (it watches
//!   every backend a connect of its own reached, and those it terminates or
//!   asks about), and its keyed sessions. It merges `history` and `status`
//!   as the glue does, and closes its open sessions with a backend once it
//!   sees that backend `terminated`. A granted session's port is the one the
//!   worker's `session` carried; the app then posts `open` with its
//!   connect's token on it ([`Event::Open`]), which the worker must admit.
//! * **Losses**: a connect or an open whose frame was lost (dropped, posted
//!   on a connection that closed, or held by a coordinator that died) may
//!   never be answered — the glue's own timeout ends it. Such requests are
//!   *excused*; every other one must be answered once the run settles.

use std::collections::BTreeMap;

use tabworker::protocol::{ConnectOutcome, CoordinatorToTab, LeaderToBackend, TabToCoordinator, WireMessage};
use tabworker::{
    BackendHost, BackendId, BackendState, BackendStatus, ClientId, ConnectRequest, ConnectResponse, SessionId, TabEvent,
};

use super::world::{Ctx, Event, Port, WorkerCtx};
use super::{MS, Sim};

/// The tags the simulated app has a script for (the client's `backends`).
pub const TAGS: [&str; 4] = ["chat", "mute", "boom", "stuck"];
/// A tag with no script.
pub const UNKNOWN_TAG: &str = "nope";

/// How a backend's app code behaves, by its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// No tag (the default script): `start` and `stop` return at once.
    Plain,
    /// `chat`: declares itself ready a little after `start` (or before it returns).
    DeclaresReady,
    /// `mute`: declares readiness itself and never does: `startup_timeout`.
    NeverReady,
    /// `boom`: `start` throws: `failed`.
    Throws,
    /// `stuck`: `stop` never returns: hard-terminated after the grace period.
    NeverStops,
}

impl App {
    /// The behaviour of the script of `tag`.
    pub fn of(tag: Option<&str>) -> App {
        match tag {
            Some("chat") => App::DeclaresReady,
            Some("mute") => App::NeverReady,
            Some("boom") => App::Throws,
            Some("stuck") => App::NeverStops,
            _ => App::Plain,
        }
    }

    fn declares_ready(self) -> bool {
        matches!(self, App::DeclaresReady | App::NeverReady)
    }
}

/// Something a worker's app code finished.
#[derive(Debug)]
pub enum AppAction {
    /// `start` returned (or threw).
    Started(Result<(), String>),
    /// It called `ctx.ready()`.
    DeclareReady,
    /// `stop` returned.
    Stopped,
}

/// A frame on a tab ↔ coordinator channel that was lost.
pub enum Lost<'a> {
    /// From a tab.
    Up(&'a TabToCoordinator),
    /// To a tab.
    Down(&'a CoordinatorToTab),
}

/// A connect waiting for its answer.
#[derive(Debug, Clone)]
pub struct Ask {
    /// When it was made.
    pub at_us: u64,
    /// What was asked.
    pub request: ConnectRequest,
    /// Why it may never be answered (a frame of it was lost), if so.
    pub excused: Option<String>,
}

/// A backend the app watches, as the glue keeps it.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Its states; `None` until the history arrived.
    pub states: Option<Vec<BackendState>>,
    /// The coordinator connection the watch was made on: a coordinator
    /// that died took the watch with it.
    pub conn: Option<u64>,
}

/// A session with a keyed backend, from `open_session` until it is closed
/// or refused.
#[derive(Debug, Clone)]
pub struct KeyedSession {
    /// The backend.
    pub backend_id: BackendId,
    /// The token of the connect it opens with.
    pub token: String,
    /// When it was asked for.
    pub at_us: u64,
    /// Its port, once granted.
    pub port: Option<Port>,
    /// Why it may never be answered (a frame of it was lost), if so.
    pub excused: Option<String>,
}

/// What a tab's app knows of keyed backends, and the keyed workers the tab
/// hosts.
#[derive(Debug, Default)]
pub struct TabApp {
    next_request: u64,
    /// Connects not answered yet, by request id.
    pub connects: BTreeMap<u64, Ask>,
    /// Every response its connects got, oldest first.
    pub responses: Vec<ConnectResponse>,
    /// The backends it watches.
    pub histories: BTreeMap<BackendId, Watch>,
    /// Its keyed sessions, asked for or open.
    pub sessions: BTreeMap<SessionId, KeyedSession>,
    /// The workers of the keyed backends this tab hosts, by backend.
    pub workers: BTreeMap<BackendId, usize>,
}

impl TabApp {
    /// Whether the app's watch of `backend_id` is on connection `conn` (the
    /// tab's current one) and has its history.
    pub fn watches_on(&self, backend_id: &BackendId, conn: Option<u64>) -> Option<&[BackendState]> {
        self.histories.get(backend_id).filter(|w| w.conn == conn).and_then(|w| w.states.as_deref())
    }
}

/// The tab of client `client` (the harness names them `tab<n>`).
pub fn tab_of(client: &ClientId) -> Option<usize> {
    client.as_str().strip_prefix("tab")?.parse().ok()
}

impl Sim {
    // ----- what a test does -------------------------------------------------

    /// `client.connect(request)` in tab `ix`: the request id, or `None` if
    /// the tab is gone or not joined (the glue refuses with
    /// `not-initialized`).
    pub fn connect_key(&mut self, ix: usize, request: ConnectRequest) -> Option<u64> {
        if !self.tabs[ix].alive || self.tabs[ix].closed {
            return None;
        }
        self.tabs[ix].app.next_request += 1;
        let id = self.tabs[ix].app.next_request;
        if !self.tabs[ix].tab.connect(id, request.clone()) {
            return None;
        }
        trace!(self, "tab{ix} connects #{id}: {request:?}");
        self.count("connect");
        let ask = Ask { at_us: self.now_us, request, excused: None };
        self.tabs[ix].app.connects.insert(id, ask);
        self.after_tab_input(ix, None);
        Some(id)
    }

    /// `client.open(response.url)` in tab `ix`: the session's attempt, or
    /// `None` if the tab is gone or not joined.
    pub fn open_keyed(&mut self, ix: usize, response: &ConnectResponse) -> Option<SessionId> {
        if !self.tabs[ix].alive || self.tabs[ix].closed || !self.tabs[ix].tab.is_joined() {
            return None;
        }
        let session = self.tabs[ix].tab.open_session(response.backend_id.clone());
        trace!(self, "tab{ix} opens {session} with {}", response.backend_id);
        self.count("open");
        let keyed = KeyedSession {
            backend_id: response.backend_id.clone(),
            token: response.token.clone(),
            at_us: self.now_us,
            port: None,
            excused: None,
        };
        self.tabs[ix].app.sessions.insert(session.clone(), keyed);
        self.after_tab_input(ix, None);
        Some(session)
    }

    /// `session.close()` in tab `ix`.
    pub fn close_keyed(&mut self, ix: usize, session: &SessionId) {
        if !self.tabs[ix].alive || self.tabs[ix].closed {
            return;
        }
        trace!(self, "tab{ix} closes {session}");
        self.tabs[ix].app.sessions.remove(session);
        self.tabs[ix].tab.close_session(session);
        self.after_tab_input(ix, None);
    }

    /// `client.terminate(backend, { hard })` in tab `ix`: it watches the
    /// backend, then asks for its end.
    pub fn terminate_keyed(&mut self, ix: usize, backend_id: BackendId, hard: bool) {
        if !self.tabs[ix].alive || self.tabs[ix].closed || !self.tabs[ix].tab.is_joined() {
            return;
        }
        trace!(self, "tab{ix} terminates {backend_id} (hard: {hard})");
        self.count(if hard { "terminate:hard" } else { "terminate:soft" });
        self.glue_watch(ix, &backend_id);
        self.tabs[ix].tab.terminate_backend(backend_id, hard);
        self.after_tab_input(ix, None);
    }

    /// `client.status(backend)` in tab `ix`: it watches the backend.
    pub fn watch_keyed(&mut self, ix: usize, backend_id: BackendId) {
        if !self.tabs[ix].alive || self.tabs[ix].closed || !self.tabs[ix].tab.is_joined() {
            return;
        }
        trace!(self, "tab{ix} watches {backend_id}");
        self.glue_watch(ix, &backend_id);
        self.after_tab_input(ix, None);
    }

    /// Keyed backend workers not terminated.
    pub fn live_keyed_workers(&self) -> Vec<usize> {
        (0..self.workers.len()).filter(|&w| self.workers[w].alive && self.workers[w].backend.is_some()).collect()
    }

    /// The backend worker `w` serves: its keyed backend, or the default
    /// backend of its tab's fleet it was spawned for.
    pub fn serves(&self, w: usize) -> Option<&BackendId> {
        self.workers[w].backend.as_ref().or(self.workers[w].default_of.as_ref())
    }

    // ----- the glue ---------------------------------------------------------

    /// The glue's `watch`: asks for the history of `backend_id` once.
    fn glue_watch(&mut self, ix: usize, backend_id: &BackendId) {
        let conn = self.tabs[ix].conn;
        let app = &mut self.tabs[ix].app;
        if !app.histories.contains_key(backend_id) {
            app.histories.insert(backend_id.clone(), Watch { states: None, conn });
            self.tabs[ix].tab.watch(backend_id.clone());
        }
    }

    /// A keyed-backend event of tab `ix`, as the glue handles it.
    pub(super) fn keyed_event(&mut self, ix: usize, event: &TabEvent, carried: &mut Option<Port>) {
        match event {
            TabEvent::Answered(answer) => {
                let Some(ask) = self.tabs[ix].app.connects.remove(&answer.request_id) else {
                    let id = answer.request_id;
                    return self.violation(format!("tab{ix} got an answer to connect #{id}, which waits for none"));
                };
                match &answer.outcome {
                    ConnectOutcome::Response(response) => self.connected(ix, &ask, response),
                    ConnectOutcome::Refused { code, .. } => self.count(&format!("connect:refused:{code}")),
                }
            }
            TabEvent::History { backend_id, states } => {
                let conn = self.tabs[ix].conn;
                let histories = &mut self.tabs[ix].app.histories;
                let known = histories.get(backend_id).and_then(|w| w.states.as_ref()).map_or(0, Vec::len);
                if states.is_empty() {
                    // Unknown: forgotten, so that a later call asks again.
                    histories.remove(backend_id);
                } else if states.len() >= known {
                    let watch = histories.entry(backend_id.clone()).or_insert(Watch { states: None, conn });
                    watch.states = Some(states.clone());
                }
                self.deliver(ix, backend_id);
            }
            TabEvent::Status { backend_id, state } => {
                if let Some(Watch { states: Some(states), .. }) = self.tabs[ix].app.histories.get_mut(backend_id) {
                    if states.last().is_none_or(|last| last.status() < state.status()) {
                        states.push(state.clone());
                    }
                }
                self.deliver(ix, backend_id);
            }
            TabEvent::KeyedSession { session_id, backend_id } => {
                self.session_granted(ix, session_id, backend_id, carried)
            }
            TabEvent::KeyedRefused { session_id, code, .. } => {
                if self.tabs[ix].app.sessions.remove(session_id).is_none() {
                    self.violation(format!("tab{ix}'s session {session_id} was refused, but it asked for none"));
                }
                self.count(&format!("open:refused:{code}"));
            }
            _ => {}
        }
    }

    /// A connect of tab `ix` reached a backend.
    fn connected(&mut self, ix: usize, ask: &Ask, response: &ConnectResponse) {
        let id = &response.backend_id;
        self.count(if response.spawned { "connect:spawned" } else { "connect:live" });
        if matches!(
            response.status,
            BackendStatus::Terminating | BackendStatus::HardTerminating | BackendStatus::Terminated
        ) {
            self.violation(format!("tab{ix}'s connect reached {id}, which is {}", response.status));
        }
        // The backend holds the key asked for (the leader reported its
        // `scheduled`, with its key, before it answered).
        if let Some(key) = &ask.request.key {
            let held = self.coordinator.backend_key(id).map(str::to_owned);
            if self.coordinator_alive && held.as_ref().is_some_and(|held| held != key) {
                self.violation(format!("tab{ix} asked for key {key} and reached {id} of key {held:?}"));
            }
        }
        self.tabs[ix].app.responses.push(response.clone());
        self.glue_watch(ix, id);
    }

    /// What the glue does once a watched backend's states changed: a
    /// terminated backend's open sessions are closed.
    fn deliver(&mut self, ix: usize, backend_id: &BackendId) {
        let ended = self.tabs[ix]
            .app
            .histories
            .get(backend_id)
            .and_then(|w| w.states.as_ref())
            .and_then(|s| s.last())
            .filter(|s| s.status() == BackendStatus::Terminated)
            .cloned();
        let Some(ended) = ended else { return };
        if self.stats.ended.insert(backend_id.clone()) {
            let reason = ended.termination_reason().map_or("none".to_owned(), |r| format!("{r:?}"));
            let exit_error = matches!(ended, BackendState::Terminated { exit_error: Some(true), .. });
            self.count(&format!("end:{reason}{}", if exit_error { ":exit_error" } else { "" }));
        }
        let open: Vec<SessionId> = self.tabs[ix]
            .app
            .sessions
            .iter()
            .filter(|(_, s)| s.backend_id == *backend_id && s.port.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        for session in open {
            trace!(self, "  tab{ix}: {backend_id} ended: its session {session} is closed");
            self.tabs[ix].app.sessions.remove(&session);
            self.tabs[ix].tab.close_session(&session);
        }
    }

    /// A keyed session of tab `ix` was granted: it takes the port that came
    /// with the input, and posts `open` with its token on it.
    fn session_granted(&mut self, ix: usize, session: &SessionId, backend_id: &BackendId, carried: &mut Option<Port>) {
        let client = self.tabs[ix].tab.id().clone();
        let Some(port) = carried.take() else {
            return self.violation(format!("tab{ix}'s session {session} was granted without a port"));
        };
        if port.session != *session || port.client != client {
            return self.violation(format!("tab{ix}'s session {session} was granted with the port of {port:?}"));
        }
        if self.serves(port.worker) != Some(backend_id) {
            let serves = self.serves(port.worker).cloned();
            let w = port.worker;
            return self.violation(format!("tab{ix}'s session with {backend_id} has a port of w{w}, of {serves:?}"));
        }
        let Some(keyed) = self.tabs[ix].app.sessions.get_mut(session) else {
            return self.violation(format!("tab{ix} was granted session {session}, which it did not ask for"));
        };
        keyed.port = Some(port.clone());
        let token = keyed.token.clone();
        self.count("open:granted");
        let latency = self.worker_latency();
        let at = self.now_us + latency + self.jitter();
        self.schedule(at, Event::Open { worker: port.worker, tab: ix, session: session.clone(), token });
    }

    /// `open` reached the worker of a keyed session: the token must be one
    /// of a connect that reached it.
    pub(super) fn open_on_port(&mut self, worker: usize, tab: usize, session: &SessionId, token: &str) {
        let host = &self.workers[worker].host;
        if !self.workers[worker].alive || host.session(session).is_none() {
            return;
        }
        if host.admits(token) {
            self.count("open:admitted");
        } else {
            self.violation(format!("w{worker} does not admit the token tab{tab} opened {session} with"));
        }
    }

    /// Whether tab `ix` still has worker `w` (its own, or a keyed one).
    pub(super) fn has_worker(&self, ix: usize, w: usize) -> bool {
        match &self.workers[w].backend {
            None => self.tabs[ix].worker == Some(w),
            Some(backend_id) => self.tabs[ix].app.workers.get(backend_id) == Some(&w),
        }
    }

    // ----- the leader's workers ----------------------------------------------

    pub(super) fn spawn_keyed(&mut self, ix: usize, backend_id: BackendId, tag: Option<String>) {
        if tag.as_deref().is_some_and(|tag| !TAGS.contains(&tag)) {
            self.violation(format!("tab{ix} spawns {backend_id} of tag {tag:?}, which has no script"));
        }
        let app = App::of(tag.as_deref());
        let w = self.workers.len();
        let id = format!("w{w}");
        self.workers.push(WorkerCtx {
            host: BackendHost::new(id.clone(), app.declares_ready()),
            id,
            owner: ix,
            alive: true,
            spawned_at_us: self.now_us,
            closed_sessions: Vec::new(),
            locks: Default::default(),
            backend: Some(backend_id.clone()),
            default_of: None,
            app,
        });
        if let Some(old) = self.tabs[ix].app.workers.insert(backend_id.clone(), w) {
            self.violation(format!("tab{ix} spawns a second worker for {backend_id} (w{old} was its first)"));
        }
        self.stats.keyed_spawns += 1;
        trace!(self, "  w{w} spawned by tab{ix} for {backend_id} ({app:?})");
        let ready_at = self.now_us + self.cfg.spawn_latency_us;
        self.channels.insert((Ctx::Worker(w), Ctx::Tab(ix)), ready_at);
        self.drain_worker(w);
    }

    pub(super) fn post_keyed(&mut self, ix: usize, backend_id: &BackendId, msg: LeaderToBackend) {
        let Some(&worker) = self.tabs[ix].app.workers.get(backend_id) else {
            return self.violation(format!("tab{ix} posts {} to {backend_id}, which has no worker", msg.kind()));
        };
        let latency = self.worker_latency();
        let at = self.channel_time(Ctx::Tab(ix), Ctx::Worker(worker), latency);
        self.schedule(at, Event::ToWorker { worker, msg });
    }

    pub(super) fn kill_keyed(&mut self, ix: usize, backend_id: &BackendId) {
        match self.tabs[ix].app.workers.remove(backend_id) {
            Some(w) => self.kill_worker(w),
            None => self.violation(format!("tab{ix} kills the worker of {backend_id}, which it does not have")),
        }
    }

    /// The app's start code runs, as its tag says.
    pub(super) fn app_start(&mut self, w: usize) {
        let app = self.workers[w].app;
        let after = |sim: &mut Sim, max_ms: u64, action: AppAction| {
            let at = sim.now_us + sim.rng.range(0, max_ms * MS);
            sim.schedule(at, Event::App { worker: w, action });
        };
        match app {
            // At once, as the harness always had it for the tabs' own workers.
            App::Plain | App::NeverStops => self.workers[w].host.started(Ok(())),
            App::DeclaresReady => {
                after(self, 20, AppAction::Started(Ok(())));
                after(self, 40, AppAction::DeclareReady);
            }
            App::NeverReady => after(self, 10, AppAction::Started(Ok(()))),
            App::Throws => after(self, 10, AppAction::Started(Err("boom".into()))),
        }
    }

    /// The app's stop code runs, as its tag says.
    pub(super) fn app_stop(&mut self, w: usize) {
        match self.workers[w].app {
            App::Plain => self.workers[w].host.stopped(),
            App::NeverStops => {}
            App::DeclaresReady | App::NeverReady | App::Throws => {
                let at = self.now_us + self.rng.range(0, 50 * MS);
                self.schedule(at, Event::App { worker: w, action: AppAction::Stopped });
            }
        }
    }

    pub(super) fn app_action(&mut self, w: usize, action: AppAction) {
        if !self.workers[w].alive {
            return;
        }
        trace!(self, "w{w} app: {action:?}");
        match action {
            AppAction::Started(outcome) => self.workers[w].host.started(outcome),
            AppAction::DeclareReady => self.workers[w].host.declare_ready(),
            AppAction::Stopped => self.workers[w].host.stopped(),
        }
        self.drain_worker(w);
    }

    // ----- losses -------------------------------------------------------------

    /// A frame was lost on a tab ↔ coordinator channel: the connect or open
    /// it belongs to is excused from being answered.
    pub(super) fn frame_lost(&mut self, lost: Lost<'_>, why: &str) {
        enum Of<'a> {
            Connect(&'a ClientId, u64),
            Open(&'a ClientId, &'a SessionId),
        }
        let of = match lost {
            Lost::Up(TabToCoordinator::Connect(c)) | Lost::Down(CoordinatorToTab::Connect(c)) => {
                Of::Connect(&c.client_id, c.request_id)
            }
            Lost::Up(TabToCoordinator::Connected(a)) | Lost::Down(CoordinatorToTab::Connected(a)) => {
                Of::Connect(&a.client_id, a.request_id)
            }
            Lost::Up(TabToCoordinator::RequestPort(r)) | Lost::Down(CoordinatorToTab::RequestPort(r))
                if r.backend_id.is_some() =>
            {
                Of::Open(&r.client_id, &r.session_id)
            }
            Lost::Up(TabToCoordinator::ProvidePort(g)) | Lost::Down(CoordinatorToTab::ProvidePort(g))
                if g.backend_id.is_some() =>
            {
                Of::Open(&g.client_id, &g.session_id)
            }
            Lost::Up(TabToCoordinator::RefusePort(r)) | Lost::Down(CoordinatorToTab::RefusePort(r)) => {
                Of::Open(&r.client_id, &r.session_id)
            }
            _ => return,
        };
        let (client, excuse) = match &of {
            Of::Connect(client, id) => (*client, format!("a frame of connect #{id} was {why}")),
            Of::Open(client, session) => (*client, format!("a frame of session {session} was {why}")),
        };
        let Some(ix) = tab_of(client).filter(|&ix| ix < self.tabs.len()) else { return };
        let app = &mut self.tabs[ix].app;
        match of {
            Of::Connect(_, id) => {
                if let Some(ask) = app.connects.get_mut(&id) {
                    ask.excused.get_or_insert(excuse);
                }
            }
            Of::Open(_, session) => {
                if let Some(keyed) = app.sessions.get_mut(session).filter(|s| s.port.is_none()) {
                    keyed.excused.get_or_insert(excuse);
                }
            }
        }
    }

    /// Every connect and open in flight is excused (the coordinator that
    /// held or routed them died).
    pub(super) fn excuse_all(&mut self, why: &str) {
        for ctx in &mut self.tabs {
            for ask in ctx.app.connects.values_mut() {
                ask.excused.get_or_insert_with(|| why.to_owned());
            }
            for keyed in ctx.app.sessions.values_mut().filter(|s| s.port.is_none()) {
                keyed.excused.get_or_insert_with(|| why.to_owned());
            }
        }
    }

    pub(super) fn count(&mut self, outcome: &str) {
        *self.stats.outcomes.entry(outcome.to_owned()).or_default() += 1;
    }
}
