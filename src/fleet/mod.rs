//! The keyed backends a leader tab hosts, as a pure state machine.
//!
//! The leader answers each `connect` with the [`Registry`]'s rules, spawns
//! one dedicated worker per new backend, and moves each backend through its
//! [`Lifecycle`] on real events, reporting every state (the coordinator keeps
//! the history and passes it to the tabs that watch):
//!
//! | state | entered when |
//! | --- | --- |
//! | `scheduled` | the connect was accepted |
//! | `loading` | the worker was created (its script and wasm load) |
//! | `starting` | it said `listening` and was sent `init` (its start code runs) |
//! | `waiting` | it said `started`: its start code returned |
//! | `ready` | it said `ready` (it declared itself ready, or declares nothing) |
//! | `terminating` | a soft termination: `stop` sent, a grace period runs |
//! | `hard-terminating` | `worker.terminate()` |
//! | `terminated` | gone: stopped, terminated, failed, or it threw |
//!
//! Timers, one per backend and kind: the startup limit (not `ready` in time:
//! `hard-terminating`, `startup_timeout`), `lifetime_limit_seconds` since
//! scheduling and `max_idle_seconds` with no open session since it was ready
//! or since its last session closed (both a soft termination, `swept`), and
//! the grace period of a soft termination (then hard).
//!
//! The leader's default backend (the one `initialize()` connects, running
//! the default script) is one of them too, under [`DEFAULT_KEY`]: the tab
//! creates and kills its worker itself ([`Fleet::host_default`]), because
//! the tab's leadership rests on it, and the fleet gives it an id, its
//! states, its sessions by token and its termination like any other.
//!
//! Sessions are asked for by backend id (the seed's `request-port`, which
//! names none, asks for the default backend); a request made before the
//! backend is ready waits for it. The key is released only at `terminated`; a
//! `connect` with `spawn` made while its key's backend is terminating waits
//! for the end and then starts a successor.

use crate::model::map::{Map, Set};

use crate::ConnectResponse;
use crate::model::code::ErrorCode;
use crate::model::connect::{BackendUrl, Mount, SpawnConfig};
use crate::model::ids::{BackendId, ClientId};
use crate::model::lifecycle::Lifecycle;
use crate::model::status::{BackendState, BackendStatus, TerminationKind, TerminationReason};
use crate::model::time::Timestamp;
use crate::protocol::{
    Admission, BackendInit, BackendToLeader, ConnectAnswer, ConnectCall, ConnectOutcome, DecodeError, LeaderToBackend,
    PortRefusal, PortRequest, TerminateCall,
};
mod hosted;
mod registry;

use hosted::{Due, Hosted};
pub use registry::{Backend, ConnectError, DEFAULT_KEY, Decision, MAX_ENDED, MAX_KEY_LEN, Registry};

/// How long a backend may take from `scheduled` to `ready` by default.
pub const DEFAULT_STARTUP_TIMEOUT_MS: u64 = 30_000;
/// How long a soft termination waits for `stopped` by default, before
/// `worker.terminate()`.
pub const DEFAULT_GRACE_MS: u64 = 5_000;
/// The OPFS directory name of `mount: true`.
pub const DEFAULT_MOUNT: &str = "data";

/// The leader's limits on the backends it hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetLimits {
    /// From `scheduled` to `ready`, in ms.
    pub startup_timeout_ms: u64,
    /// From `terminating` to `hard-terminating`, in ms.
    pub grace_ms: u64,
}

impl Default for FleetLimits {
    fn default() -> Self {
        FleetLimits { startup_timeout_ms: DEFAULT_STARTUP_TIMEOUT_MS, grace_ms: DEFAULT_GRACE_MS }
    }
}

/// What the fleet asks the leader tab to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetOutput {
    /// Create the dedicated worker of `backend_id`, running the script of
    /// `tag` (`None`: the default backend script), and call
    /// [`Fleet::worker_error`] if that fails.
    Spawn {
        /// The backend.
        backend_id: BackendId,
        /// Its tag.
        tag: Option<String>,
    },
    /// Post to the worker of `backend_id`.
    ToWorker {
        /// The backend.
        backend_id: BackendId,
        /// The message.
        message: LeaderToBackend,
    },
    /// `terminate()` the worker of `backend_id` and forget it.
    Kill {
        /// The backend.
        backend_id: BackendId,
        /// Whether it is the default backend, the tab's own worker: while
        /// the tab leads, it starts another.
        default: bool,
    },
    /// Report a backend's new state to the coordinator.
    Status {
        /// The backend.
        backend_id: BackendId,
        /// Its key.
        key: String,
        /// Its new state.
        state: BackendState,
    },
    /// Answer a connect.
    Answer(ConnectAnswer),
    /// Hand a session's port (the one that came with the worker's frame) to
    /// the client that asked.
    Grant(PortRequest),
    /// Tell a client its session cannot be opened.
    Refuse(PortRefusal),
}

/// The keyed backends of one leader tab.
pub struct Fleet {
    app: String,
    leader_id: ClientId,
    limits: FleetLimits,
    tags: Set<String>,
    registry: Registry,
    hosted: Map<BackendId, Hosted>,
    /// The default backend, while it is hosted.
    default: Option<BackendId>,
    /// Connects waiting for the backend they are behind to end.
    waiting: Vec<(BackendId, ConnectCall)>,
    /// Gives fresh random numbers for ids and tokens.
    entropy: Box<dyn FnMut() -> u128>,
    ignored: u64,
    outputs: std::collections::VecDeque<FleetOutput>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("app", &self.app)
            .field("limits", &self.limits)
            .field("tags", &self.tags)
            .field("hosted", &self.hosted)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// The fleet of leader `leader_id` of app `app`. `entropy` gives fresh
    /// random numbers: backend ids, fresh keys and tokens are made from them,
    /// so in a browser they must come from `crypto`.
    pub fn new(app: impl Into<String>, leader_id: ClientId, entropy: Box<dyn FnMut() -> u128>) -> Self {
        Fleet {
            app: app.into(),
            leader_id,
            limits: FleetLimits::default(),
            tags: Set::new(),
            registry: Registry::new(),
            hosted: Map::new(),
            default: None,
            waiting: Vec::new(),
            entropy,
            ignored: 0,
            outputs: std::collections::VecDeque::new(),
        }
    }

    /// Sets the limits and the tags that have a script (besides the default).
    pub fn configure(&mut self, limits: FleetLimits, tags: impl IntoIterator<Item = String>) {
        self.limits = limits;
        self.tags = tags.into_iter().collect();
    }

    /// Replaces the source of fresh random numbers.
    pub fn set_entropy(&mut self, entropy: Box<dyn FnMut() -> u128>) {
        self.entropy = entropy;
    }

    /// The status of backend `id`, terminated ones included.
    pub fn status(&self, id: &BackendId) -> Option<BackendStatus> {
        self.registry.backend(id).map(|b| b.lifecycle.status())
    }

    /// The states so far of backend `id`, terminated ones included (empty
    /// when unknown).
    pub fn history(&self, id: &BackendId) -> &[BackendState] {
        self.registry.backend(id).map_or(&[], |b| b.lifecycle.history())
    }

    /// The backends hosted now (not terminated).
    pub fn hosted(&self) -> impl Iterator<Item = &BackendId> {
        self.hosted.keys()
    }

    /// The default backend, while it is hosted (not terminated).
    pub fn default_backend(&self) -> Option<&BackendId> {
        self.default.as_ref()
    }

    /// The tab created its own worker, the default backend: it is
    /// `scheduled` and `loading` at once, under [`DEFAULT_KEY`], with no
    /// limits but the tab's own start deadline ([`Fleet::expire_start`]).
    /// Its `listening` is answered with `init` by the fleet, as any other's.
    /// `None` while a default backend is hosted: it must end first.
    pub fn host_default(&mut self, now: Timestamp) -> Option<BackendId> {
        let id = BackendId::new(self.fresh()).unwrap_or_else(|_| unreachable!("a hex number is a valid id"));
        if self.default.is_some() || !self.registry.host_default(now, id.clone()) {
            self.ignored += 1;
            return None;
        }
        let init = BackendInit {
            backend_id: id.clone(),
            key: DEFAULT_KEY.to_owned(),
            env: Default::default(),
            mount: None,
            admitted: Vec::new(),
        };
        self.hosted.insert(id.clone(), Hosted::new(init));
        self.default = Some(id.clone());
        self.report(&id, BackendState::Scheduled { time: now });
        self.advance(&id, BackendState::Loading { time: now });
        Some(id)
    }

    /// The default backend was not ready by the tab's deadline: it is
    /// hard-terminated with `startup_timeout`.
    pub fn expire_start(&mut self, now: Timestamp) {
        if let Some(id) = self.default.clone() {
            self.hard_stop(now, &id, TerminationReason::StartupTimeout);
        }
    }

    /// The open sessions of backend `id`.
    pub fn sessions(&self, id: &BackendId) -> usize {
        self.hosted.get(id).map_or(0, Hosted::session_count)
    }

    /// How many frames were refused or out of place so far.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// The next thing to do, if any. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<FleetOutput> {
        self.outputs.pop_front()
    }

    /// The earliest instant at which [`Fleet::timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.hosted.values().filter_map(Hosted::deadline).min()
    }

    /// A connect from any tab.
    pub fn connect(&mut self, now: Timestamp, call: ConnectCall) {
        let (fresh_key, fresh_id) = (self.fresh(), self.fresh());
        let fresh_id = BackendId::new(fresh_id).unwrap_or_else(|_| unreachable!("a hex number is a valid id"));
        let tags = &self.tags;
        let decision = self.registry.connect(now, &call.request, |tag| tags.contains(tag), || fresh_key, || fresh_id);
        match decision {
            Err(error) => {
                let outcome = ConnectOutcome::Refused { code: error.code(), detail: error.to_string() };
                self.answer(&call, outcome);
            }
            Ok(Decision::Live { backend_id, status }) => self.respond(&call, backend_id, false, status),
            Ok(Decision::Spawned { backend_id, key }) => self.spawn(now, &call, backend_id, key),
            Ok(Decision::Wait { behind }) => self.waiting.push((behind, call)),
        }
    }

    fn spawn(&mut self, now: Timestamp, call: &ConnectCall, backend_id: BackendId, key: String) {
        // `Spawned` means the registry holds it.
        let config: SpawnConfig = self.registry.backend(&backend_id).map(|b| b.config.clone()).unwrap_or_default();
        let executable = config.executable.clone().unwrap_or_default();
        let mount = match executable.mount {
            Some(Mount::Enabled(true)) => Some(DEFAULT_MOUNT.to_owned()),
            Some(Mount::Named(name)) => Some(name),
            Some(Mount::Enabled(false)) | None => None,
        };
        let init = BackendInit {
            backend_id: backend_id.clone(),
            key: key.clone(),
            env: executable.env.unwrap_or_default(),
            mount,
            admitted: Vec::new(),
        };
        let seconds = |s: Option<u32>| s.map(|s| u64::from(s) * 1_000);
        let (lifetime, idle) = (seconds(config.lifetime_limit_seconds), seconds(config.max_idle_seconds));
        let hosted = Hosted::limited(init, now, self.limits.startup_timeout_ms, lifetime, idle);
        self.hosted.insert(backend_id.clone(), hosted);
        self.report(&backend_id, BackendState::Scheduled { time: now });
        self.respond(call, backend_id.clone(), true, BackendStatus::Scheduled);
        self.outputs.push_back(FleetOutput::Spawn { backend_id: backend_id.clone(), tag: config.tag });
        self.advance(&backend_id, BackendState::Loading { time: now });
    }

    /// Answers `call` with backend `backend_id` and fresh capabilities.
    fn respond(&mut self, call: &ConnectCall, backend_id: BackendId, spawned: bool, status: BackendStatus) {
        let client_id = call.client_id.clone();
        let admission = Admission { token: self.fresh(), secret_token: self.fresh(), client_id };
        let response = ConnectResponse {
            backend_id: backend_id.clone(),
            spawned,
            status,
            token: admission.token.clone(),
            url: BackendUrl::session(&self.app, &backend_id, &admission.token),
            secret_token: Some(admission.secret_token.clone()),
            status_url: BackendUrl::status(&self.app, &backend_id),
            ready_url: BackendUrl::ready(&self.app, &backend_id),
        };
        if let Some(hosted) = self.hosted.get_mut(&backend_id) {
            match &mut hosted.init {
                Some(init) => init.admit(admission),
                None => {
                    let message = LeaderToBackend::Admit(admission);
                    self.post_worker(&backend_id, message);
                }
            }
        }
        self.answer(call, ConnectOutcome::Response(response));
    }

    fn answer(&mut self, call: &ConnectCall, outcome: ConnectOutcome) {
        let answer = ConnectAnswer { client_id: call.client_id.clone(), request_id: call.request_id, outcome };
        self.outputs.push_back(FleetOutput::Answer(answer));
    }

    /// A frame from the worker of `id`, decoded or refused.
    pub fn from_worker(&mut self, now: Timestamp, id: &BackendId, frame: Result<BackendToLeader, DecodeError>) {
        let (Ok(message), Some(status)) = (frame, self.live_status(id)) else {
            self.ignored += 1;
            return;
        };
        match (message, status) {
            (BackendToLeader::Listening, BackendStatus::Loading) => {
                let Some(hosted) = self.hosted.get_mut(id) else { return };
                let init = LeaderToBackend::Init {
                    leader_id: self.leader_id.clone(),
                    app: self.app.clone(),
                    backend: hosted.init.take(),
                };
                self.post_worker(id, init);
                self.advance(id, BackendState::Starting { time: now });
            }
            (BackendToLeader::Listening, BackendStatus::Terminating) => {
                // Stopped before it started: nothing to stop gracefully.
                self.end(now, id, false);
            }
            (BackendToLeader::Started, BackendStatus::Starting) => {
                self.advance(id, BackendState::Waiting { time: now });
            }
            (BackendToLeader::Ready { .. }, BackendStatus::Starting | BackendStatus::Waiting) => self.ready(now, id),
            (BackendToLeader::Failed { .. }, _) => self.end(now, id, true),
            (BackendToLeader::Stopped, BackendStatus::Terminating) => self.end(now, id, false),
            (BackendToLeader::Session(request), _)
                if request.backend_id.as_ref().or(self.default.as_ref()) == Some(id) =>
            {
                let Some(hosted) = self.hosted.get_mut(id) else { return };
                hosted.session_opened(request.session_id.clone());
                self.outputs.push_back(FleetOutput::Grant(request));
            }
            (BackendToLeader::SessionClosed { session_id }, _) => {
                let Some(hosted) = self.hosted.get_mut(id) else { return };
                hosted.session_closed(now, &session_id, status == BackendStatus::Ready);
            }
            _ => self.ignored += 1,
        }
    }

    fn ready(&mut self, now: Timestamp, id: &BackendId) {
        if !self.advance(id, BackendState::Ready { time: now }) {
            return;
        }
        let Some(hosted) = self.hosted.get_mut(id) else { return };
        for request in hosted.ready(now) {
            let message = LeaderToBackend::StartSession(request);
            self.post_worker(id, message);
        }
    }

    /// The worker of `id` failed to load, or threw: it is finished, with
    /// `exit_error`.
    pub fn worker_error(&mut self, now: Timestamp, id: &BackendId) {
        if self.hosted.contains_key(id) {
            self.end(now, id, true);
        }
    }

    /// A tab asks for backend `call.backend_id` to be stopped: reason
    /// `external`. A soft termination already under way may be made hard.
    pub fn terminate(&mut self, now: Timestamp, call: &TerminateCall) {
        match self.live_status(&call.backend_id) {
            None => self.ignored += 1,
            Some(_) if call.hard => self.hard_stop(now, &call.backend_id, TerminationReason::External),
            Some(BackendStatus::Terminating) => self.ignored += 1,
            Some(_) => self.soft_stop(now, &call.backend_id, TerminationReason::External),
        }
    }

    /// A client asks for a session with backend `request.backend_id`, or,
    /// naming none (the seed's `request-port`), with the default backend.
    pub fn request_port(&mut self, request: PortRequest) {
        let Some(id) = request.backend_id.clone().or_else(|| self.default.clone()) else {
            self.ignored += 1;
            return;
        };
        let refuse = |code: ErrorCode, detail: String| PortRefusal {
            client_id: request.client_id.clone(),
            session_id: request.session_id.clone(),
            code,
            detail,
        };
        let refusal = match self.live_status(&id) {
            Some(BackendStatus::Ready) => {
                if let Some(hosted) = self.hosted.get_mut(&id) {
                    hosted.ask(request.clone());
                }
                let message = LeaderToBackend::StartSession(request);
                return self.post_worker(&id, message);
            }
            Some(status) if status < BackendStatus::Ready => {
                if let Some(hosted) = self.hosted.get_mut(&id) {
                    hosted.queue(request);
                }
                return;
            }
            Some(status) => refuse(ErrorCode::BackendTerminated, format!("the backend `{id}` is {status}")),
            None if self.registry.backend(&id).is_some() => {
                refuse(ErrorCode::BackendTerminated, format!("the backend `{id}` is terminated"))
            }
            None => refuse(ErrorCode::UnknownBackend, format!("this leader hosts no backend `{id}`")),
        };
        self.outputs.push_back(FleetOutput::Refuse(refusal));
    }

    /// Time passed; acts on whatever is due.
    pub fn timeout(&mut self, now: Timestamp) {
        let due: Vec<BackendId> = self
            .hosted
            .iter()
            .filter(|(_, h)| h.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            match self.hosted.get(&id).and_then(|h| h.due(now)) {
                // The reason of the soft termination under way is kept.
                Some(Due::Grace) => self.hard_stop(now, &id, TerminationReason::Swept),
                Some(Due::Startup) => self.hard_stop(now, &id, TerminationReason::StartupTimeout),
                Some(Due::Sweep) => self.soft_stop(now, &id, TerminationReason::Swept),
                None => {}
            }
        }
    }

    /// Reports every state so far of every hosted backend again (to a new
    /// coordinator, which knows none of them).
    pub fn replay(&mut self) {
        let ids: Vec<BackendId> = self.hosted.keys().cloned().collect();
        for id in ids {
            let history = self.registry.backend(&id).map(|b| b.lifecycle.history().to_vec()).unwrap_or_default();
            for state in history {
                self.report(&id, state);
            }
        }
    }

    /// This tab no longer leads: every worker is terminated at once. The
    /// coordinator ends their histories (`lost` or `key_expired`).
    pub fn shut_down(&mut self) {
        for id in std::mem::take(&mut self.hosted).into_keys() {
            self.kill(&id);
        }
        self.registry = Registry::new();
        self.default = None;
        self.waiting.clear();
    }

    fn soft_stop(&mut self, now: Timestamp, id: &BackendId, reason: TerminationReason) {
        if !self.transition(id, |l| l.terminate(now, TerminationKind::Soft, reason)) {
            return;
        }
        let grace = self.limits.grace_ms;
        let Some(hosted) = self.hosted.get_mut(id) else { return };
        hosted.stopping(now, grace);
        let listening = hosted.listening();
        self.refuse_queued(id);
        if listening {
            self.post_worker(id, LeaderToBackend::Stop);
        }
    }

    fn hard_stop(&mut self, now: Timestamp, id: &BackendId, reason: TerminationReason) {
        if self.transition(id, |l| l.terminate(now, TerminationKind::Hard, reason)) {
            self.end(now, id, false);
        }
    }

    /// The worker of `id` is finished: `terminated`, the key released, and
    /// the connects waiting behind it asked again.
    fn end(&mut self, now: Timestamp, id: &BackendId, exit_error: bool) {
        self.refuse_queued(id);
        let Some(hosted) = self.hosted.remove(id) else { return };
        // Asked of a worker that is gone: its `session` will not come.
        for request in hosted.unanswered() {
            self.outputs.push_back(FleetOutput::Refuse(PortRefusal {
                client_id: request.client_id,
                session_id: request.session_id,
                code: ErrorCode::BackendTerminated,
                detail: format!("the backend `{id}` ended before it opened the session"),
            }));
        }
        self.kill(id);
        if self.default.as_ref() == Some(id) {
            self.default = None;
        }
        self.transition(id, |l| l.finish(now, exit_error, None));
        self.registry.finish(id);
        let (behind, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.waiting).into_iter().partition(|(b, _)| b == id);
        self.waiting = rest;
        for (_, call) in behind {
            self.connect(now, call);
        }
    }

    fn refuse_queued(&mut self, id: &BackendId) {
        let Some(hosted) = self.hosted.get_mut(id) else { return };
        for request in hosted.take_queued() {
            self.outputs.push_back(FleetOutput::Refuse(PortRefusal {
                client_id: request.client_id,
                session_id: request.session_id,
                code: ErrorCode::BackendTerminated,
                detail: format!("the backend `{id}` is stopping"),
            }));
        }
    }

    /// Moves backend `id` to `state` and reports it; `false` if refused.
    fn advance(&mut self, id: &BackendId, state: BackendState) -> bool {
        self.transition(id, |l| l.apply(state))
    }

    fn transition(
        &mut self,
        id: &BackendId,
        step: impl FnOnce(&mut Lifecycle) -> Result<&BackendState, crate::TransitionError>,
    ) -> bool {
        let Some(lifecycle) = self.registry.lifecycle_mut(id) else { return false };
        let Ok(state) = step(lifecycle).cloned() else {
            self.ignored += 1;
            return false;
        };
        self.report(id, state);
        true
    }

    fn post_worker(&mut self, id: &BackendId, message: LeaderToBackend) {
        self.outputs.push_back(FleetOutput::ToWorker { backend_id: id.clone(), message });
    }

    fn kill(&mut self, id: &BackendId) {
        let default = self.default.as_ref() == Some(id);
        self.outputs.push_back(FleetOutput::Kill { backend_id: id.clone(), default });
    }

    fn report(&mut self, id: &BackendId, state: BackendState) {
        let key = self.registry.backend(id).map(|b| b.key.clone()).unwrap_or_default();
        self.outputs.push_back(FleetOutput::Status { backend_id: id.clone(), key, state });
    }

    /// The status of a backend this fleet hosts (not terminated).
    fn live_status(&self, id: &BackendId) -> Option<BackendStatus> {
        self.hosted.get(id)?;
        self.status(id)
    }

    /// A fresh secret from the fleet's entropy (32 hex digits).
    pub(crate) fn fresh(&mut self) -> String {
        format!("{:032x}", (self.entropy)())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::connect::{ConnectRequest, Executable, Spawn};
    use crate::model::ids::SessionId;

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    fn at(ms: u64) -> Timestamp {
        T0.plus_millis(ms)
    }

    fn fleet() -> Fleet {
        let mut n = 0;
        let mut fleet = Fleet::new(
            "app",
            ClientId::new("leader").unwrap(),
            Box::new(move || {
                n += 1;
                n
            }),
        );
        fleet.configure(FleetLimits { startup_timeout_ms: 1_000, grace_ms: 500 }, ["chat".to_owned()]);
        fleet
    }

    fn call(n: u64, key: Option<&str>, spawn: Option<Spawn>) -> ConnectCall {
        let request = ConnectRequest { key: key.map(str::to_owned), spawn, ..ConnectRequest::default() };
        ConnectCall { client_id: ClientId::new(format!("c{n}")).unwrap(), request_id: n, request }
    }

    fn config(edit: impl FnOnce(&mut SpawnConfig)) -> Option<Spawn> {
        let mut config = SpawnConfig::default();
        edit(&mut config);
        Some(Spawn::Config(config))
    }

    fn drain(fleet: &mut Fleet) -> Vec<FleetOutput> {
        std::iter::from_fn(|| fleet.poll_output()).collect()
    }

    fn statuses(out: &[FleetOutput]) -> Vec<BackendState> {
        out.iter()
            .filter_map(|o| match o {
                FleetOutput::Status { state, .. } => Some(state.clone()),
                _ => None,
            })
            .collect()
    }

    fn names(out: &[FleetOutput]) -> Vec<&'static str> {
        statuses(out).iter().map(|s| s.status().as_str()).collect()
    }

    fn response(out: &[FleetOutput]) -> ConnectResponse {
        out.iter()
            .find_map(|o| match o {
                FleetOutput::Answer(ConnectAnswer { outcome: ConnectOutcome::Response(r), .. }) => Some(r.clone()),
                _ => None,
            })
            .expect("an answer with a response")
    }

    fn refused(out: &[FleetOutput]) -> ErrorCode {
        out.iter()
            .find_map(|o| match o {
                FleetOutput::Answer(ConnectAnswer { outcome: ConnectOutcome::Refused { code, .. }, .. }) => Some(*code),
                _ => None,
            })
            .expect("a refusal")
    }

    fn to_worker(out: &[FleetOutput]) -> Vec<LeaderToBackend> {
        out.iter()
            .filter_map(|o| match o {
                FleetOutput::ToWorker { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    fn killed(out: &[FleetOutput]) -> bool {
        out.iter().any(|o| matches!(o, FleetOutput::Kill { .. }))
    }

    fn worker(fleet: &mut Fleet, ms: u64, id: &BackendId, message: BackendToLeader) -> Vec<FleetOutput> {
        fleet.from_worker(at(ms), id, Ok(message));
        drain(fleet)
    }

    fn ready() -> BackendToLeader {
        BackendToLeader::Ready { liveness_key: "live".into() }
    }

    /// Spawns a backend under `key` and brings it to `ready`.
    fn running(fleet: &mut Fleet, key: &str, spawn: Option<Spawn>) -> BackendId {
        fleet.connect(T0, call(1, Some(key), spawn));
        let id = response(&drain(fleet)).backend_id;
        for message in [BackendToLeader::Listening, BackendToLeader::Started, ready()] {
            worker(fleet, 10, &id, message);
        }
        assert_eq!(fleet.status(&id), Some(BackendStatus::Ready));
        id
    }

    #[test]
    fn a_spawned_backend_goes_through_every_status_on_real_events() {
        let mut fleet = fleet();
        let env = crate::model::map::Map::from([("MODE".to_owned(), "test".to_owned())]);
        let spawn = config(|c| {
            c.tag = Some("chat".into());
            c.executable =
                Some(Executable { env: Some(env.clone()), mount: Some(Mount::Enabled(true)), ..Executable::default() });
        });
        fleet.connect(T0, call(1, Some("room"), spawn));
        let out = drain(&mut fleet);
        assert_eq!(names(&out), ["scheduled", "loading"]);
        let answer = response(&out);
        assert!(answer.spawned);
        assert_eq!(answer.status, BackendStatus::Scheduled);
        let id = answer.backend_id.clone();
        assert_eq!(answer.url, format!("tabworker://app/backends/{id}/sessions/{}", answer.token));
        assert_eq!(answer.status_url, format!("tabworker://app/backends/{id}/status"));
        assert_eq!(answer.ready_url, format!("tabworker://app/backends/{id}/ready"));
        assert!(out.contains(&FleetOutput::Spawn { backend_id: id.clone(), tag: Some("chat".into()) }));

        let out = worker(&mut fleet, 30, &id, BackendToLeader::Listening);
        assert_eq!(names(&out), ["starting"]);
        let sent = to_worker(&out);
        let [LeaderToBackend::Init { backend: Some(init), .. }] = &sent[..] else {
            panic!("init with the backend's start: {out:?}")
        };
        assert_eq!((init.key.as_str(), &init.env, init.mount.as_deref()), ("room", &env, Some(DEFAULT_MOUNT)));
        assert_eq!(init.admitted.iter().map(|a| a.token.as_str()).collect::<Vec<_>>(), [answer.token.as_str()]);
        assert_eq!(init.admitted[0].secret_token, answer.secret_token.clone().unwrap());
        assert_eq!(init.admitted[0].client_id.as_str(), "c1", "the tab that made the connect");

        assert_eq!(names(&worker(&mut fleet, 40, &id, BackendToLeader::Started)), ["waiting"]);
        assert_eq!(names(&worker(&mut fleet, 50, &id, ready())), ["ready"]);
        // Out of order, or repeated: ignored.
        assert_eq!(names(&worker(&mut fleet, 60, &id, BackendToLeader::Listening)), Vec::<&str>::new());
        assert_eq!(fleet.ignored(), 1);
    }

    #[test]
    fn a_live_key_is_reached_again_with_fresh_tokens_the_backend_is_told_of() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", Some(Spawn::Enabled(true)));
        fleet.connect(at(100), call(2, Some("room"), None));
        let out = drain(&mut fleet);
        let again = response(&out);
        assert_eq!((again.backend_id.clone(), again.spawned, again.status), (id, false, BackendStatus::Ready));
        assert_eq!(
            to_worker(&out),
            [LeaderToBackend::Admit(Admission {
                token: again.token.clone(),
                secret_token: again.secret_token.clone().unwrap(),
                client_id: ClientId::new("c2").unwrap(),
            })]
        );
        fleet.connect(at(100), call(3, Some("room"), Some(Spawn::Enabled(true))));
        assert_ne!(response(&drain(&mut fleet)).token, again.token);
        // Refusals come from the registry's rules.
        fleet.connect(at(100), call(4, Some("hall"), None));
        assert_eq!(refused(&drain(&mut fleet)), ErrorCode::KeyNotHeld);
        fleet.connect(at(100), call(5, Some("room"), config(|c| c.tag = Some("chat".into()))));
        assert_eq!(refused(&drain(&mut fleet)), ErrorCode::TagMismatch);
        fleet.connect(at(100), call(6, None, config(|c| c.tag = Some("nope".into()))));
        assert_eq!(refused(&drain(&mut fleet)), ErrorCode::UnknownTag);
    }

    /// `request`, asked for while backend `id` loads, waits; once it is
    /// ready the worker is asked to open it, and its port is granted.
    fn asked_before_ready_then_granted(fleet: &mut Fleet, id: &BackendId, request: &PortRequest) {
        fleet.request_port(request.clone());
        assert_eq!(drain(fleet), [], "before ready it waits");
        worker(fleet, 10, id, BackendToLeader::Listening);
        worker(fleet, 20, id, BackendToLeader::Started);
        let out = worker(fleet, 30, id, ready());
        assert_eq!(to_worker(&out), [LeaderToBackend::StartSession(request.clone())]);
        let out = worker(fleet, 40, id, BackendToLeader::Session(request.clone()));
        assert_eq!(out, [FleetOutput::Grant(request.clone())]);
        assert_eq!(fleet.sessions(id), 1);
    }

    #[test]
    fn sessions_asked_for_before_ready_wait_for_it_and_ports_go_back_to_the_asker() {
        let mut fleet = fleet();
        fleet.connect(T0, call(1, Some("room"), Some(Spawn::Enabled(true))));
        let id = response(&drain(&mut fleet)).backend_id;
        let request = PortRequest {
            client_id: ClientId::new("c2").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            backend_id: Some(id.clone()),
        };
        asked_before_ready_then_granted(&mut fleet, &id, &request);
        // Once ready, a request goes straight to the worker.
        let later = PortRequest { session_id: SessionId::new("s2").unwrap(), ..request };
        fleet.request_port(later.clone());
        assert_eq!(to_worker(&drain(&mut fleet)), [LeaderToBackend::StartSession(later)]);
    }

    #[test]
    fn the_seeds_request_port_naming_no_backend_is_the_default_backends_like_any_other() {
        let mut fleet = fleet();
        let request = PortRequest {
            client_id: ClientId::new("c2").unwrap(),
            session_id: SessionId::new("c2.1").unwrap(),
            backend_id: None,
        };
        fleet.request_port(request.clone());
        assert_eq!((drain(&mut fleet), fleet.ignored()), (vec![], 1), "no default backend hosted: nothing to ask");
        let id = fleet.host_default(T0).expect("the default backend");
        drain(&mut fleet);
        // The request reaches the worker as the tab sent it: the seed's, with no backend named.
        asked_before_ready_then_granted(&mut fleet, &id, &request);
        worker(&mut fleet, 50, &id, BackendToLeader::SessionClosed { session_id: request.session_id.clone() });
        assert_eq!(fleet.sessions(&id), 0);
    }

    #[test]
    fn an_idle_backend_is_swept_softly_and_its_key_released_at_terminated() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", config(|c| c.max_idle_seconds = Some(1)));
        assert_eq!(fleet.poll_timeout(), Some(at(1_010)));
        let session = PortRequest {
            client_id: ClientId::new("c1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            backend_id: Some(id.clone()),
        };
        worker(&mut fleet, 500, &id, BackendToLeader::Session(session.clone()));
        assert_eq!(fleet.poll_timeout(), None, "a backend with a session is not idle");
        fleet.timeout(at(2_000));
        assert_eq!(fleet.status(&id), Some(BackendStatus::Ready));
        worker(&mut fleet, 2_000, &id, BackendToLeader::SessionClosed { session_id: session.session_id });
        assert_eq!(fleet.poll_timeout(), Some(at(3_000)));
        fleet.timeout(at(3_000));
        let out = drain(&mut fleet);
        assert_eq!(
            statuses(&out),
            [BackendState::Terminating { time: at(3_000), termination_reason: TerminationReason::Swept }]
        );
        assert_eq!(to_worker(&out), [LeaderToBackend::Stop]);
        // The key is still held while it stops: a connect without spawn is refused.
        fleet.connect(at(3_100), call(2, Some("room"), None));
        assert_eq!(refused(&drain(&mut fleet)), ErrorCode::KeyNotHeld);
        let out = worker(&mut fleet, 3_200, &id, BackendToLeader::Stopped);
        assert!(killed(&out));
        assert_eq!(
            statuses(&out),
            [BackendState::Terminated {
                time: at(3_200),
                termination_reason: Some(TerminationReason::Swept),
                termination_kind: Some(TerminationKind::Soft),
                exit_error: Some(false),
            }]
        );
        fleet.connect(at(3_300), call(3, Some("room"), Some(Spawn::Enabled(true))));
        let successor = response(&drain(&mut fleet));
        assert!(successor.spawned);
        assert_ne!(successor.backend_id, id);
    }

    #[test]
    fn the_lifetime_limit_sweeps_a_busy_backend_too() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", config(|c| c.lifetime_limit_seconds = Some(2)));
        let session = PortRequest {
            client_id: ClientId::new("c1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            backend_id: Some(id.clone()),
        };
        worker(&mut fleet, 100, &id, BackendToLeader::Session(session));
        fleet.timeout(at(1_999));
        assert_eq!(fleet.status(&id), Some(BackendStatus::Ready));
        fleet.timeout(at(2_000));
        let out = drain(&mut fleet);
        assert_eq!(names(&out), ["terminating"]);
        assert_eq!(statuses(&out)[0].termination_reason(), Some(TerminationReason::Swept));
    }

    #[test]
    fn a_backend_not_ready_within_the_startup_limit_is_hard_terminated() {
        let mut fleet = fleet();
        fleet.connect(T0, call(1, Some("room"), Some(Spawn::Enabled(true))));
        let id = response(&drain(&mut fleet)).backend_id;
        worker(&mut fleet, 10, &id, BackendToLeader::Listening);
        worker(&mut fleet, 20, &id, BackendToLeader::Started);
        assert_eq!(fleet.poll_timeout(), Some(at(1_000)));
        fleet.timeout(at(1_000));
        let out = drain(&mut fleet);
        assert!(killed(&out));
        assert_eq!(
            statuses(&out),
            [
                BackendState::HardTerminating {
                    time: at(1_000),
                    termination_reason: TerminationReason::StartupTimeout
                },
                BackendState::Terminated {
                    time: at(1_000),
                    termination_reason: Some(TerminationReason::StartupTimeout),
                    termination_kind: Some(TerminationKind::Hard),
                    exit_error: Some(false),
                },
            ]
        );
        assert_eq!(fleet.hosted().count(), 0);
        assert_eq!(fleet.poll_timeout(), None);
    }

    #[test]
    fn a_soft_terminate_that_is_not_obeyed_becomes_hard_after_the_grace_period() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", Some(Spawn::Enabled(true)));
        let soft = TerminateCall { client_id: ClientId::new("c2").unwrap(), backend_id: id.clone(), hard: false };
        fleet.terminate(at(100), &soft);
        let out = drain(&mut fleet);
        assert_eq!(names(&out), ["terminating"]);
        assert_eq!(to_worker(&out), [LeaderToBackend::Stop]);
        assert_eq!(fleet.poll_timeout(), Some(at(600)));
        fleet.timeout(at(600));
        let out = drain(&mut fleet);
        assert!(killed(&out));
        assert_eq!(names(&out), ["hard-terminating", "terminated"]);
        assert_eq!(statuses(&out)[1].termination_reason(), Some(TerminationReason::External));
        assert!(matches!(
            statuses(&out)[1],
            BackendState::Terminated { termination_kind: Some(TerminationKind::Hard), .. }
        ));
    }

    #[test]
    fn a_hard_terminate_ends_the_backend_at_once() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", Some(Spawn::Enabled(true)));
        let hard = TerminateCall { client_id: ClientId::new("c2").unwrap(), backend_id: id.clone(), hard: true };
        fleet.terminate(at(100), &hard);
        let out = drain(&mut fleet);
        assert_eq!(names(&out), ["hard-terminating", "terminated"]);
        assert!(killed(&out));
        // Terminating what is gone does nothing.
        fleet.terminate(at(200), &hard);
        assert_eq!(drain(&mut fleet), []);
    }

    #[test]
    fn a_connect_during_terminating_waits_for_the_end_and_starts_a_successor() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", Some(Spawn::Enabled(true)));
        let soft = TerminateCall { client_id: ClientId::new("c2").unwrap(), backend_id: id.clone(), hard: false };
        fleet.terminate(at(100), &soft);
        drain(&mut fleet);
        fleet.connect(at(150), call(7, Some("room"), Some(Spawn::Enabled(true))));
        assert_eq!(drain(&mut fleet), [], "no dying backend is handed out");
        let out = worker(&mut fleet, 200, &id, BackendToLeader::Stopped);
        assert_eq!(names(&out), ["terminated", "scheduled", "loading"]);
        let successor = response(&out);
        assert!(successor.spawned);
        assert_ne!(successor.backend_id, id);
    }

    #[test]
    fn a_backend_that_throws_ends_with_exit_error() {
        let mut fleet = fleet();
        fleet.connect(T0, call(1, Some("room"), Some(Spawn::Enabled(true))));
        let id = response(&drain(&mut fleet)).backend_id;
        worker(&mut fleet, 10, &id, BackendToLeader::Listening);
        let out = worker(&mut fleet, 20, &id, BackendToLeader::Failed { detail: "boom".into() });
        assert!(killed(&out));
        assert!(matches!(
            statuses(&out)[..],
            [BackendState::Terminated { exit_error: Some(true), termination_reason: None, .. }]
        ));

        let id = running(&mut fleet, "hall", Some(Spawn::Enabled(true)));
        fleet.worker_error(at(500), &id);
        let out = drain(&mut fleet);
        assert!(matches!(statuses(&out)[..], [BackendState::Terminated { exit_error: Some(true), .. }]));
    }

    /// Found by the keyed random walks (`tabs_on_virtual_time`): a session
    /// asked of a worker that then ended (here it throws; a hard terminate
    /// alike) was never answered, as its `session` never came back.
    #[test]
    fn a_session_asked_of_a_worker_that_ends_before_answering_is_refused() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", Some(Spawn::Enabled(true)));
        let request = PortRequest {
            client_id: ClientId::new("c2").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            backend_id: Some(id.clone()),
        };
        fleet.request_port(request.clone());
        assert_eq!(to_worker(&drain(&mut fleet)), [LeaderToBackend::StartSession(request.clone())]);
        // One answered, then the worker goes before the next.
        worker(&mut fleet, 20, &id, BackendToLeader::Session(request.clone()));
        let later = PortRequest { session_id: SessionId::new("s2").unwrap(), ..request };
        fleet.request_port(later.clone());
        drain(&mut fleet);
        fleet.worker_error(at(30), &id);
        let refused: Vec<(SessionId, ErrorCode)> = drain(&mut fleet)
            .into_iter()
            .filter_map(|o| match o {
                FleetOutput::Refuse(r) => Some((r.session_id, r.code)),
                _ => None,
            })
            .collect();
        assert_eq!(refused, [(later.session_id, ErrorCode::BackendTerminated)]);
    }

    #[test]
    fn sessions_with_unknown_or_ended_backends_are_refused() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", Some(Spawn::Enabled(true)));
        let hard = TerminateCall { client_id: ClientId::new("c2").unwrap(), backend_id: id.clone(), hard: true };
        fleet.terminate(at(100), &hard);
        drain(&mut fleet);
        let request = |backend: &str| PortRequest {
            client_id: ClientId::new("c1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            backend_id: Some(BackendId::new(backend).unwrap()),
        };
        for (backend, code) in [(id.as_str(), ErrorCode::BackendTerminated), ("nope", ErrorCode::UnknownBackend)] {
            fleet.request_port(request(backend));
            let out = drain(&mut fleet);
            assert!(matches!(&out[..], [FleetOutput::Refuse(r)] if r.code == code), "{out:?}");
        }
    }

    #[test]
    fn garbage_and_frames_of_unknown_workers_are_ignored_and_shut_down_kills_every_worker() {
        let mut fleet = fleet();
        let id = running(&mut fleet, "room", Some(Spawn::Enabled(true)));
        let other = running(&mut fleet, "hall", Some(Spawn::Enabled(true)));
        fleet.from_worker(at(1), &id, Err(DecodeError::NotAFrame { detail: "x".into() }));
        fleet.from_worker(at(1), &BackendId::new("ghost").unwrap(), Ok(BackendToLeader::Stopped));
        assert_eq!(drain(&mut fleet), []);
        assert_eq!(fleet.ignored(), 2);
        fleet.shut_down();
        let out = drain(&mut fleet);
        assert_eq!(out.iter().filter(|o| matches!(o, FleetOutput::Kill { .. })).count(), 2);
        assert!(statuses(&out).is_empty());
        assert_eq!((fleet.status(&id), fleet.status(&other)), (None, None));
    }
}
