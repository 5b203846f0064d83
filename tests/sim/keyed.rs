//! Keyed backends in the harness, driven as the browser glue drives them
//! (`src/web/client/`, `src/web/backend.rs`):
//!
//! * **The leader's workers**: `SpawnWorker` starts one worker per backend,
//!   running a [`BackendHost`] whose app code behaves as its tag says
//!   ([`App`]); `ToWorker` posts to it on its own FIFO channel; `KillWorker`
//!   terminates it. Its frames go to [`Tab::from_worker`](tabworker::Tab),
//!   its `error` event (a crash) to `worker_error`. A killed tab's workers die
//!   with it.
//! * **Each tab's app** ([`TabApp`]) keeps what the glue keeps: its calls
//!   (`connect`, `open`) until the tab settles them, the responses its
//!   connects got, the ports of its keyed sessions, and on which coordinator
//!   connection the tab last asked for each backend's history (the tab
//!   itself keeps the histories, merges them and closes the sessions of a
//!   backend that ended). A granted session's port is the one the worker's
//!   `session` carried; the tab's `OpenKeyed` then posts `open` with its
//!   connect's token on it ([`Event::Open`]), which the worker must admit,
//!   and its answer comes back on the port ([`Event::OpenAnswer`]).
//! * **Losses**: a connect or an open whose frame was lost (dropped, posted
//!   on a connection that closed, or held by a coordinator that died) may
//!   only be settled by the tab's deadline (`timeout`). Such calls are
//!   *excused*; any other call the tab refuses with `timeout` is a violation,
//!   and every call is settled once the run settles.

use std::collections::BTreeMap;

use tabworker::protocol::{
    BackendToTab, CoordinatorToTab, LeaderToBackend, TabToBackend, TabToCoordinator, WireMessage,
};
use tabworker::{
    BackendId, BackendState, BackendStatus, CallError, CallId, CallValue, ClientId, ConnectRequest, ConnectResponse,
    ErrorCode, SessionId, TabEvent,
};

use super::world::{Ctx, Event, Port};
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

    pub fn declares_ready(self) -> bool {
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

/// What a call of the app asked.
#[derive(Debug, Clone)]
pub enum Asked {
    /// `connect(request)`.
    Connect(Box<ConnectRequest>),
    /// `open(url)` of a response of this backend, with its token.
    Open {
        /// The backend.
        backend_id: BackendId,
        /// The response's token.
        token: String,
    },
}

/// A call of the app waiting for the tab to settle it.
#[derive(Debug, Clone)]
pub struct Ask {
    /// When it was made.
    pub at_us: u64,
    /// What was asked.
    pub asked: Asked,
    /// Why it may only be settled by its deadline (a frame of it was lost), if so.
    pub excused: Option<String>,
}

/// A keyed session whose port arrived.
#[derive(Debug, Clone)]
pub struct KeyedSession {
    /// The backend.
    pub backend_id: BackendId,
    /// Its port.
    pub port: Port,
    /// Whether the backend accepted it.
    pub opened: bool,
}

/// What a tab's app knows of keyed backends, and the keyed workers the tab
/// hosts.
#[derive(Debug, Default)]
pub struct TabApp {
    /// Calls not settled yet.
    pub calls: BTreeMap<CallId, Ask>,
    /// How many connects were settled by their deadline with an excuse
    /// (the coordinator may still hold them).
    pub excused_connects: usize,
    /// Every response its connects got, oldest first.
    pub responses: Vec<ConnectResponse>,
    /// On which coordinator connection the tab last asked for each
    /// backend's history: a coordinator that died took the watch with it.
    pub watched_on: BTreeMap<BackendId, Option<u64>>,
    /// Its keyed sessions whose port arrived, until the tab closes them.
    pub sessions: BTreeMap<SessionId, KeyedSession>,
    /// The workers of the keyed backends this tab hosts, by backend.
    pub workers: BTreeMap<BackendId, usize>,
}

/// The tab of client `client` (the harness names them `tab<n>`).
pub fn tab_of(client: &ClientId) -> Option<usize> {
    client.as_str().strip_prefix("tab")?.parse().ok()
}

impl Sim {
    // ----- what a test does -------------------------------------------------

    /// `client.connect(request)` in tab `ix`: its call, or `None` if the
    /// tab is gone.
    pub fn connect_key(&mut self, ix: usize, request: ConnectRequest) -> Option<CallId> {
        if !self.tabs[ix].alive || self.tabs[ix].closed {
            return None;
        }
        let now = self.now();
        let call = self.tabs[ix].tab.connect(now, request.clone());
        trace!(self, "tab{ix} connects ({call}): {request:?}");
        self.count("connect");
        let excused = self.is_frozen(ix).then(|| "made while its tab was frozen".to_owned());
        let ask = Ask { at_us: self.time.now_us(), asked: Asked::Connect(Box::new(request)), excused };
        self.tabs[ix].app.calls.insert(call, ask);
        self.after_tab_input(ix, None);
        Some(call)
    }

    /// `client.open(response.url)` in tab `ix`: its call, or `None` if the
    /// tab is gone.
    pub fn open_keyed(&mut self, ix: usize, response: &ConnectResponse) -> Option<CallId> {
        if !self.tabs[ix].alive || self.tabs[ix].closed {
            return None;
        }
        let now = self.now();
        let call = self.tabs[ix].tab.open(now, &response.url);
        trace!(self, "tab{ix} opens {} ({call})", response.backend_id);
        self.count("open");
        let asked = Asked::Open { backend_id: response.backend_id.clone(), token: response.token.clone() };
        let excused = self.is_frozen(ix).then(|| "made while its tab was frozen".to_owned());
        self.tabs[ix].app.calls.insert(call, Ask { at_us: self.time.now_us(), asked, excused });
        self.after_tab_input(ix, None);
        Some(call)
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

    /// `client.terminate(backend, { hard })` in tab `ix`.
    pub fn terminate_keyed(&mut self, ix: usize, backend_id: BackendId, hard: bool) {
        if !self.tabs[ix].alive || self.tabs[ix].closed {
            return;
        }
        trace!(self, "tab{ix} terminates {backend_id} (hard: {hard})");
        self.count(if hard { "terminate:hard" } else { "terminate:soft" });
        self.tabs[ix].tab.terminate(backend_id.as_str(), hard);
        self.after_tab_input(ix, None);
    }

    /// `client.status(backend)` in tab `ix`: it watches the backend.
    pub fn watch_keyed(&mut self, ix: usize, backend_id: BackendId) {
        if !self.tabs[ix].alive || self.tabs[ix].closed {
            return;
        }
        trace!(self, "tab{ix} asks the status of {backend_id}");
        self.tabs[ix].tab.status(backend_id.as_str());
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

    /// Tab `ix` asked the coordinator for the history of `backend_id`.
    pub(super) fn watch_sent(&mut self, ix: usize, backend_id: &BackendId) {
        let conn = self.tabs[ix].conn;
        self.tabs[ix].app.watched_on.insert(backend_id.clone(), conn);
    }

    /// A keyed-backend event of tab `ix`, as the glue handles it.
    pub(super) fn keyed_event(&mut self, ix: usize, event: &TabEvent) {
        let TabEvent::Settled { call, outcome } = event else { return };
        let Some(ask) = self.tabs[ix].app.calls.remove(call) else {
            // `status` and `terminate` are not followed; a connect or an
            // open settled twice would be.
            if matches!(outcome, Ok(CallValue::Connected(_) | CallValue::Session { .. })) {
                self.violation(format!("tab{ix} settled {call}, which waits for nothing"));
            }
            return;
        };
        if let Err(CallError { code: ErrorCode::Timeout, .. }) = outcome {
            match &ask.excused {
                Some(_) if matches!(ask.asked, Asked::Connect(_)) => self.tabs[ix].app.excused_connects += 1,
                Some(_) => {}
                None => {
                    let at = ask.at_us / MS;
                    self.violation(format!(
                        "tab{ix}'s {call} (at {at} ms: {:?}) timed out, no frame of it lost",
                        ask.asked
                    ));
                }
            }
        }
        match (&ask.asked, outcome) {
            (Asked::Connect(request), Ok(CallValue::Connected(response))) => self.connected(ix, request, response),
            (Asked::Connect(_), Err(error)) => self.count(&format!("connect:refused:{}", error.code)),
            (Asked::Open { backend_id, .. }, Ok(CallValue::Session { session_id, backend_id: opened })) => {
                if opened != backend_id {
                    self.violation(format!("tab{ix} opened {backend_id} and got a session of {opened}"));
                }
                match self.tabs[ix].app.sessions.get_mut(session_id) {
                    Some(session) => session.opened = true,
                    None => self.violation(format!("tab{ix}'s {session_id} opened without its port")),
                }
                self.count("open:opened");
            }
            (Asked::Open { .. }, Err(error)) => self.count(&format!("open:refused:{}", error.code)),
            (asked, outcome) => self.violation(format!("tab{ix} asked {asked:?} and was given {outcome:?}")),
        }
    }

    /// Counts how each backend the coordinator saw end ended, once each.
    pub(super) fn record_ends(&mut self) {
        let ended: Vec<(BackendId, BackendState)> = self
            .coordinator
            .backends()
            .filter(|(_, state)| state.status() == BackendStatus::Terminated)
            .map(|(id, state)| (id.clone(), state.clone()))
            .collect();
        for (id, state) in ended {
            if self.stats.ended.insert(id) {
                let reason = state.termination_reason().map_or("none".to_owned(), |r| format!("{r:?}"));
                let exit_error = matches!(state, BackendState::Terminated { exit_error: Some(true), .. });
                self.count(&format!("end:{reason}{}", if exit_error { ":exit_error" } else { "" }));
            }
        }
    }

    /// A connect of tab `ix` reached a backend.
    fn connected(&mut self, ix: usize, request: &ConnectRequest, response: &ConnectResponse) {
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
        if let Some(key) = &request.key {
            let held = self.coordinator.backend_key(id).map(str::to_owned);
            if self.coordinator_alive && held.as_ref().is_some_and(|held| held != key) {
                self.violation(format!("tab{ix} asked for key {key} and reached {id} of key {held:?}"));
            }
        }
        self.tabs[ix].app.responses.push(response.clone());
    }

    /// Tab `ix` posts `open` on a keyed session's port, which came with the
    /// input (the worker's `session`, carried by the leader and the
    /// coordinator), with a new channel for the app.
    pub(super) fn open_keyed_port(
        &mut self,
        ix: usize,
        session: SessionId,
        message: TabToBackend,
        carried: &mut Option<Port>,
    ) {
        let client = self.tabs[ix].tab.id().clone();
        let Some(port) = carried.take() else {
            return self.violation(format!("tab{ix}'s session {session} was granted without a port"));
        };
        if port.session != session || port.client != client {
            return self.violation(format!("tab{ix}'s session {session} was granted with the port of {port:?}"));
        }
        let Some(backend_id) =
            self.tabs[ix].tab.keyed_sessions().find(|(id, ..)| **id == session).map(|(_, b, _)| b.clone())
        else {
            return self.violation(format!("tab{ix} opens {session}, which it does not have"));
        };
        if self.serves(port.worker) != Some(&backend_id) {
            let serves = self.serves(port.worker).cloned();
            let w = port.worker;
            return self.violation(format!("tab{ix}'s session with {backend_id} has a port of w{w}, of {serves:?}"));
        }
        let TabToBackend::Open { token, .. } = message;
        self.count("open:granted");
        let keyed = KeyedSession { backend_id, port: port.clone(), opened: false };
        self.tabs[ix].app.sessions.insert(session.clone(), keyed);
        let latency = self.worker_latency();
        let at = self.time.now_us() + latency + self.jitter();
        self.schedule(at, Event::Open { worker: port.worker, tab: ix, session, token });
    }

    /// The tab closed a keyed session's ports.
    pub(super) fn close_keyed_ports(&mut self, ix: usize, session: &SessionId) {
        self.tabs[ix].app.sessions.remove(session);
    }

    /// `open` reached the worker of a keyed session: the worker answers on
    /// the session's port; the token must be one of a connect that reached it.
    pub(super) fn open_on_port(&mut self, worker: usize, tab: usize, session: &SessionId, token: &str) {
        let host = &self.workers[worker].host;
        if !self.workers[worker].alive || host.session(session).is_none() {
            return;
        }
        let open = TabToBackend::Open { token: token.to_owned(), user: None, auth: None };
        let answer = match host.open(Ok(open)) {
            Ok(_) => {
                self.count("open:admitted");
                BackendToTab::Opened
            }
            Err(refusal) => {
                self.violation(format!("w{worker} does not admit the token tab{tab} opened {session} with"));
                refusal
            }
        };
        let latency = self.worker_latency();
        let at = self.time.now_us() + latency + self.jitter();
        self.schedule(at, Event::OpenAnswer { tab, session: session.clone(), answer });
    }

    /// The worker's answer to `open` reached tab `ix` on the session's port.
    pub(super) fn open_answered(&mut self, ix: usize, session: &SessionId, answer: BackendToTab) {
        if !self.tabs[ix].alive || !self.tabs[ix].app.sessions.contains_key(session) {
            // The tab closed the port meanwhile.
            return;
        }
        self.tabs[ix].tab.open_answered(session, Ok(answer));
        self.after_tab_input(ix, None);
    }

    /// Whether tab `ix` still has worker `w` (its own, or a keyed one).
    pub(super) fn has_worker(&self, ix: usize, w: usize) -> bool {
        match &self.workers[w].backend {
            None => self.tabs[ix].worker == Some(w) || self.tabs[ix].standby == Some(w),
            Some(backend_id) => self.tabs[ix].app.workers.get(backend_id) == Some(&w),
        }
    }

    // ----- the leader's workers ----------------------------------------------

    pub(super) fn spawn_keyed(&mut self, ix: usize, backend_id: BackendId, tag: Option<String>) {
        if tag.as_deref().is_some_and(|tag| !TAGS.contains(&tag)) {
            self.violation(format!("tab{ix} spawns {backend_id} of tag {tag:?}, which has no script"));
        }
        let app = App::of(tag.as_deref());
        let w = self.new_worker(ix, app, Some(backend_id.clone()), None);
        if let Some(old) = self.tabs[ix].app.workers.insert(backend_id.clone(), w) {
            self.violation(format!("tab{ix} spawns a second worker for {backend_id} (w{old} was its first)"));
        }
        self.stats.keyed_spawns += 1;
        trace!(self, "  w{w} spawned by tab{ix} for {backend_id} ({app:?})");
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
            let at = sim.time.now_us() + sim.rng.range(0, max_ms * MS);
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
                let at = self.time.now_us() + self.rng.range(0, 50 * MS);
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
        let call = match of {
            Of::Connect(_, id) => self.tabs[ix].app.calls.keys().find(|c| c.get() == id).copied(),
            Of::Open(_, session) => {
                self.tabs[ix].tab.keyed_sessions().find(|(id, ..)| *id == session).and_then(|(_, _, call)| call)
            }
        };
        if let Some(ask) = call.and_then(|call| self.tabs[ix].app.calls.get_mut(&call)) {
            ask.excused.get_or_insert(excuse);
        }
    }

    /// Every connect and open in flight is excused (the coordinator that
    /// held or routed them died).
    pub(super) fn excuse_all(&mut self, why: &str) {
        for ctx in &mut self.tabs {
            for ask in ctx.app.calls.values_mut() {
                ask.excused.get_or_insert_with(|| why.to_owned());
            }
        }
    }

    pub(super) fn count(&mut self, outcome: &str) {
        *self.stats.outcomes.entry(outcome.to_owned()).or_default() += 1;
    }
}
