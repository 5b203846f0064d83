//! The backend worker's side of the handshake, as a pure state machine.
//!
//! The worker says `listening` as soon as its script runs; on `init` it asks
//! at once for its liveness lock ([`LockNames::liveness`]), its leader's
//! hosted lock (shared) and, for a keyed backend, its key's lock (stolen
//! from a stale holder), and once it holds them all (and its mount's lock
//! after its key's, if it has a mount) runs the app's start code
//! ([`BackendOutput::Start`]). When the start code returns it says
//! `started`, and `ready` once it is ready: at once, or — for a backend that
//! declares readiness itself — when the app calls
//! [`BackendHost::declare_ready`]. Start code that throws ends it with
//! `failed`.
//!
//! Each `start-session` opens a session for one connect attempt and waits on
//! the attempt's session lock ([`LockNames::session`]), which the requesting
//! tab holds: when the lock is granted, the tab is gone or moved on, the
//! session closes and the leader hears `session-closed`. `stop` asks the app
//! to stop ([`BackendOutput::Stop`]); it says `stopped` when the app is done.
//!
//! A keyed backend (one whose `init` carries a [`BackendInit`]) is told of the
//! tokens of every connect that reached it (`admit`); a session is opened
//! with one of them ([`BackendHost::admits`]). A connect's capabilities end
//! with the tab that made it: the backend waits on that tab's lock
//! ([`LockNames::tab`]) and, once it is granted (the tab is gone), forgets
//! every token and secret of that tab. Of one tab's connects, the latest
//! [`MAX_ADMITTED_PER_TAB`] are kept.
//!
//! Ports: [`BackendOutput::OpenSession`] asks the browser layer for a new
//! channel — one end goes to the app's handler, the other travels with the
//! [`BackendToLeader::Session`] that follows it.

use std::collections::VecDeque;

use crate::model::map::Map;

use crate::model::code::ErrorCode;
use crate::model::ids::{AppName, ClientId, SessionId};
use crate::model::locks::{LockCommand, LockId, LockMode, LockNames};
use crate::protocol::{
    Admission, BackendInit, BackendToLeader, BackendToTab, DecodeError, LeaderToBackend, MAX_ADMITTED_PER_TAB,
    PortRequest, TabToBackend,
};

/// What the backend host asks the browser layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendOutput {
    /// Post to the leader tab (a `session` takes the channel end of the
    /// `OpenSession` before it).
    ToLeader(BackendToLeader),
    /// Run the app's start code with what it is given (`None`: the default
    /// backend), then call [`BackendHost::started`].
    Start(Option<BackendInit>),
    /// Run the app's stop code, then call [`BackendHost::stopped`].
    Stop,
    /// Create a channel and hand one end, with the request, to the app.
    OpenSession(PortRequest),
    /// The session's tab is gone or moved on: tell the app, close the port.
    CloseSession(PortRequest),
    /// Ask for or let go of a Web Lock: a lock granted is told to
    /// [`BackendHost::lock_granted`], a lock lost to [`BackendHost::lock_lost`].
    Lock(LockCommand),
    /// End this worker at once (`close()`): a newer backend of its key took
    /// the key's lock, so this one is stale.
    Exit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// `listening` said; waiting for `init`.
    Listening,
    /// `init` received; taking, all at once, the locks still `awaiting`:
    /// its liveness lock, its leader tab's hosted lock (shared) and its
    /// key's lock (from a stale holder if there is one).
    Locking {
        /// The locks not granted yet.
        awaiting: Vec<LockId>,
    },
    /// A backend with an OPFS mount: taking the mount's lock, which another
    /// backend of the key (of this deployment or another, or a predecessor
    /// still dying) may hold. The startup limit bounds the wait.
    Mounting,
    /// The app's start code runs; `declared`: the app said it is ready
    /// already (it may, from its start code).
    Starting {
        /// Whether the app declared itself ready.
        declared: bool,
    },
    /// `started` said; waiting for the app to declare itself ready.
    Started,
    /// `ready` said.
    Ready,
    /// `stop` received; the app's stop code runs.
    Stopping,
    /// The start code threw, or the app stopped.
    Finished,
    /// A newer backend of its key, or a tab that took its leader's lead
    /// over, took one of its locks: stale, it ended itself.
    Lost,
}

/// What `init` gave a worker: known from then on.
#[derive(Debug)]
struct Given {
    /// The lock names of the app.
    names: LockNames,
    /// The leader tab that started the worker.
    leader: ClientId,
    /// What a keyed backend was given (none: the default backend).
    init: Option<BackendInit>,
}

/// A backend worker's state.
#[derive(Debug)]
pub struct BackendHost {
    worker_id: String,
    /// Whether the app declares readiness itself.
    declares_ready: bool,
    /// What `init` gave, once it came.
    given: Option<Given>,
    stage: Stage,
    /// The tokens of the connects that reached this backend, with their
    /// secret tokens.
    admitted: Map<String, String>,
    /// The same secret tokens, with their tokens.
    secrets: Map<String, String>,
    /// The tokens of each tab's connects, oldest first; the tab's lock is
    /// awaited while it has an entry.
    tabs: Map<ClientId, VecDeque<String>>,
    /// Open sessions, by attempt; each ends when its session lock is granted.
    sessions: Map<SessionId, PortRequest>,
    ignored: u64,
    outputs: VecDeque<BackendOutput>,
}

impl BackendHost {
    /// A worker whose liveness lock will be named after `worker_id` (unique
    /// per worker); `declares_ready`: the app says when it is ready, else it
    /// is ready when its start code returns. Says `listening` at once.
    pub fn new(worker_id: impl Into<String>, declares_ready: bool) -> Self {
        let mut host = BackendHost {
            worker_id: worker_id.into(),
            declares_ready,
            given: None,
            stage: Stage::Listening,
            admitted: Map::new(),
            secrets: Map::new(),
            tabs: Map::new(),
            sessions: Map::new(),
            ignored: 0,
            outputs: VecDeque::new(),
        };
        host.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Listening));
        host
    }

    /// The leader tab that started this worker, once `init` arrived.
    pub fn leader(&self) -> Option<&ClientId> {
        self.given.as_ref().map(|g| &g.leader)
    }

    /// The app, once `init` arrived.
    pub fn app(&self) -> Option<&AppName> {
        self.given.as_ref().map(|g| g.names.app())
    }

    /// What a keyed backend was given at `init`.
    pub fn init(&self) -> Option<&BackendInit> {
        self.given.as_ref()?.init.as_ref()
    }

    /// Whether this worker took its key's lock and still holds it (it runs,
    /// or ran, the app's code for its key).
    pub fn holds_key(&self) -> bool {
        !matches!(self.stage, Stage::Listening | Stage::Locking { .. } | Stage::Lost)
    }

    /// Whether `ready` was said.
    pub fn is_ready(&self) -> bool {
        self.stage == Stage::Ready
    }

    /// The open sessions.
    pub fn sessions(&self) -> impl Iterator<Item = &PortRequest> {
        self.sessions.values()
    }

    /// Whether `token` is the token of a connect that reached this backend.
    pub fn admits(&self, token: &str) -> bool {
        self.admitted.contains_key(token)
    }

    /// The first frame on a keyed session's port, decoded or refused: the
    /// `open` to serve (with a token of a connect that reached this backend),
    /// or the refusal to answer it with.
    pub fn open(&self, frame: Result<TabToBackend, DecodeError>) -> Result<TabToBackend, BackendToTab> {
        match frame {
            Ok(TabToBackend::Open { token, .. }) if !self.admits(&token) => Err(BackendToTab::Refused {
                code: ErrorCode::BadToken,
                detail: "the token is not one of a connect that reached this backend".into(),
            }),
            Ok(open) => Ok(open),
            Err(error) => Err(BackendToTab::Refused { code: error.code(), detail: error.to_string() }),
        }
    }

    /// Whether `secret` is the secret token of a connect that reached this
    /// backend (and is still kept).
    pub fn knows_secret(&self, secret: &str) -> bool {
        self.secrets.contains_key(secret)
    }

    /// How many connects' capabilities are kept.
    pub fn admitted(&self) -> usize {
        self.admitted.len()
    }

    /// The tabs whose connects' capabilities are kept: their tab locks are
    /// awaited.
    pub fn admitting_tabs(&self) -> impl Iterator<Item = &ClientId> {
        self.tabs.keys()
    }

    /// Keeps the capabilities of a connect, and waits on its tab's lock if
    /// it is the tab's first; drops the oldest of the tab's past
    /// [`MAX_ADMITTED_PER_TAB`].
    fn admit(&mut self, admission: Admission) {
        let Some(Given { names, .. }) = &self.given else { return };
        let Admission { token, secret_token, client_id } = admission;
        if self.admitted.contains_key(&token) {
            return;
        }
        let tokens = match self.tabs.get_mut(&client_id) {
            Some(tokens) => tokens,
            None => {
                let lock = LockId::Tab(client_id.clone());
                let name = names.name(&lock);
                self.outputs.push_back(BackendOutput::Lock(LockCommand::Acquire {
                    lock,
                    name,
                    mode: LockMode::Exclusive,
                }));
                self.tabs.entry(client_id).or_default()
            }
        };
        tokens.push_back(token.clone());
        let dropped = if tokens.len() > MAX_ADMITTED_PER_TAB { tokens.pop_front() } else { None };
        self.secrets.insert(secret_token.clone(), token.clone());
        self.admitted.insert(token, secret_token);
        if let Some(oldest) = dropped {
            self.forget(&oldest);
        }
    }

    /// Forgets the token `token` and its secret.
    fn forget(&mut self, token: &str) {
        if let Some(secret) = self.admitted.remove(token) {
            self.secrets.remove(&secret);
        }
    }

    /// How many frames were refused or out of place so far.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// A frame from the leader tab, decoded or refused.
    pub fn from_leader(&mut self, frame: Result<LeaderToBackend, DecodeError>) {
        let Ok(message) = frame else {
            self.ignored += 1;
            return;
        };
        match (message, &self.stage) {
            (LeaderToBackend::Init { leader_id, app, backend }, Stage::Listening) => {
                let Ok(app) = AppName::new(app) else {
                    self.ignored += 1;
                    return;
                };
                let names = LockNames::new(app);
                let mut locks = vec![
                    (LockId::Liveness(names.liveness(&self.worker_id)), LockMode::Exclusive),
                    (LockId::Hosted(leader_id.clone()), LockMode::Shared),
                ];
                if let Some(backend) = &backend {
                    // Alone in its tab (no SharedWorker), another tab's backend of a key is live:
                    // wait for it. Each tab's default backend is its own.
                    let (name, mode) = match (names.app().is_isolated(), backend.key == crate::fleet::DEFAULT_KEY) {
                        (true, false) => (names.key(&backend.key), LockMode::Exclusive),
                        (true, true) => (names.own_key(&backend.key), LockMode::Steal),
                        (false, _) => (names.key(&backend.key), LockMode::Steal),
                    };
                    locks.push((LockId::Key(name), mode));
                }
                // Asked for together: each is a round trip to the browser's lock manager.
                self.stage = Stage::Locking { awaiting: locks.iter().map(|(lock, _)| lock.clone()).collect() };
                for (lock, mode) in locks {
                    let name = names.name(&lock);
                    self.outputs.push_back(BackendOutput::Lock(LockCommand::Acquire { lock, name, mode }));
                }
                // Kept by their tabs from now on, not in `init`.
                let mut backend = backend;
                let admitted: Vec<Admission> =
                    backend.iter_mut().flat_map(|b| std::mem::take(&mut b.admitted)).collect();
                self.given = Some(Given { names, leader: leader_id, init: backend });
                for admission in admitted {
                    self.admit(admission);
                }
            }
            (LeaderToBackend::Admit(admission), stage) if *stage != Stage::Listening => self.admit(admission),
            (LeaderToBackend::StartSession(request), Stage::Ready) => self.start_session(request),
            (LeaderToBackend::Stop, Stage::Stopping | Stage::Finished | Stage::Lost) => self.ignored += 1,
            (LeaderToBackend::Stop, _) => {
                self.stage = Stage::Stopping;
                self.outputs.push_back(BackendOutput::Stop);
            }
            _ => self.ignored += 1,
        }
    }

    /// The app's start code returned (`Ok`) or threw (`Err`, what it threw).
    pub fn started(&mut self, outcome: Result<(), String>) {
        let Stage::Starting { declared } = self.stage else { return };
        match outcome {
            Ok(()) => {
                self.stage = Stage::Started;
                self.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Started));
                if !self.declares_ready || declared {
                    self.ready();
                }
            }
            Err(detail) => {
                self.stage = Stage::Finished;
                self.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Failed { detail }));
            }
        }
    }

    /// The app declared itself ready (before or after its start code
    /// returned).
    pub fn declare_ready(&mut self) {
        match &mut self.stage {
            Stage::Starting { declared } => *declared = true,
            Stage::Started => self.ready(),
            _ => {}
        }
    }

    /// The app's stop code finished.
    pub fn stopped(&mut self) {
        if self.stage == Stage::Stopping {
            self.stage = Stage::Finished;
            self.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Stopped));
        }
    }

    /// Moves on to `stage`, asking for `lock` (as `mode`).
    fn take(&mut self, stage: Stage, lock: LockId, mode: LockMode) {
        let Some(Given { names, .. }) = &self.given else { return };
        let name = names.name(&lock);
        self.stage = stage;
        self.outputs.push_back(BackendOutput::Lock(LockCommand::Acquire { lock, name, mode }));
    }

    fn start(&mut self) {
        self.stage = Stage::Starting { declared: false };
        self.outputs.push_back(BackendOutput::Start(self.init().cloned()));
    }

    fn ready(&mut self) {
        let Some(Given { names, .. }) = &self.given else { return };
        self.stage = Stage::Ready;
        let liveness_key = names.liveness(&self.worker_id);
        self.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Ready { liveness_key }));
    }

    fn start_session(&mut self, request: PortRequest) {
        let Some(Given { names, .. }) = &self.given else { return };
        let lock = LockId::Session(request.session_id.clone());
        let name = names.name(&lock);
        if self.sessions.contains_key(&request.session_id) {
            // One session per attempt: a repeated request opens nothing.
            self.ignored += 1;
            return;
        }
        self.sessions.insert(request.session_id.clone(), request.clone());
        self.outputs.push_back(BackendOutput::OpenSession(request.clone()));
        self.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Session(request)));
        self.outputs.push_back(BackendOutput::Lock(LockCommand::Acquire { lock, name, mode: LockMode::Exclusive }));
    }

    /// The Web Lock `lock` was granted.
    pub fn lock_granted(&mut self, lock: &LockId) {
        match lock {
            LockId::Liveness(_) | LockId::Hosted(_) | LockId::Key(_) => {
                let Stage::Locking { awaiting } = &mut self.stage else { return };
                awaiting.retain(|l| l != lock);
                if !awaiting.is_empty() {
                    return;
                }
                let mount = self.given.as_ref().and_then(|g| {
                    let init = g.init.as_ref()?;
                    Some(g.names.mount(&init.key, init.mount.as_ref()?))
                });
                match mount {
                    Some(mount) => {
                        let lock = LockId::Mount(mount);
                        self.take(Stage::Mounting, lock, LockMode::Exclusive);
                    }
                    _ => self.start(),
                }
            }
            LockId::Mount(_) if self.stage == Stage::Mounting => self.start(),
            LockId::Tab(client_id) => {
                // The tab is gone: its connects' capabilities end with it.
                for token in self.tabs.remove(client_id).unwrap_or_default() {
                    self.forget(&token);
                }
                self.outputs.push_back(BackendOutput::Lock(LockCommand::Release { lock: lock.clone() }));
            }
            LockId::Session(session_id) => {
                let Some(request) = self.sessions.remove(session_id) else { return };
                let session_id = session_id.clone();
                self.outputs.push_back(BackendOutput::CloseSession(request));
                self.outputs.push_back(BackendOutput::Lock(LockCommand::Release { lock: lock.clone() }));
                self.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::SessionClosed { session_id }));
            }
            // A liveness or mount lock granted again, or a session lock of no open session.
            _ => {}
        }
    }

    /// The Web Lock `lock`, granted, was taken from this worker. Its key's
    /// lock (a newer backend of the key started) or its leader's hosted lock
    /// (another tab took the lead over): its leader was taken over and the
    /// board ended this backend as `key_expired`, so this worker ends at
    /// once, whatever it was doing.
    pub fn lock_lost(&mut self, lock: &LockId) {
        if matches!(lock, LockId::Key(_) | LockId::Hosted(_)) && self.stage != Stage::Lost {
            self.stage = Stage::Lost;
            self.outputs.push_back(BackendOutput::Exit);
        }
    }

    /// The session of `session_id`, if open.
    pub fn session(&self, session_id: &SessionId) -> Option<&PortRequest> {
        self.sessions.get(session_id)
    }

    /// The next thing to do, if any. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<BackendOutput> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Admission;

    fn drain(host: &mut BackendHost) -> Vec<BackendOutput> {
        std::iter::from_fn(|| host.poll_output()).collect()
    }

    fn request(n: u32) -> PortRequest {
        PortRequest {
            client_id: ClientId::new(format!("c{n}")).unwrap(),
            session_id: SessionId::new(format!("s{n}")).unwrap(),
            backend_id: None,
        }
    }

    fn ready_host() -> BackendHost {
        let mut host = BackendHost::new("w1", false);
        host.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app: "app".into(),
            backend: None,
        }));
        host.lock_granted(&LockId::Liveness("tabworker:app:liveness:w1".into()));
        host.lock_granted(&LockId::Hosted(ClientId::new("c0").unwrap()));
        host.started(Ok(()));
        drain(&mut host);
        host
    }

    #[test]
    fn a_backend_with_a_mount_starts_only_once_it_holds_the_mount_lock() {
        let mut host = BackendHost::new("w1", false);
        drain(&mut host);
        let init = BackendInit {
            backend_id: crate::model::ids::BackendId::new("b1").unwrap(),
            key: "doc/1".into(),
            env: Default::default(),
            mount: Some("data".into()),
            admitted: Vec::new(),
        };
        let app = AppName::deployed("app", "v2").unwrap().to_string();
        host.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app,
            backend: Some(init.clone()),
        }));
        drain(&mut host);
        host.lock_granted(&LockId::Liveness("tabworker:app@v2:liveness:w1".into()));
        host.lock_granted(&LockId::Hosted(ClientId::new("c0").unwrap()));
        drain(&mut host);
        host.lock_granted(&LockId::Key("tabworker:app@v2:key:doc%2F1".into()));
        // Named by the app's shared name: every deployment's backend of the key waits on it.
        let name = "tabworker:app:mount:doc%2F1/data".to_owned();
        let mount = LockId::Mount(name.clone());
        let acquire =
            BackendOutput::Lock(LockCommand::Acquire { lock: mount.clone(), name, mode: LockMode::Exclusive });
        assert_eq!(drain(&mut host), [acquire], "no start before the mount is free");
        host.lock_granted(&mount);
        assert_eq!(drain(&mut host), [BackendOutput::Start(Some(init))]);
        host.lock_granted(&mount);
        assert_eq!(drain(&mut host), [], "granted again: nothing more");
    }

    fn init_of(id: &str) -> BackendInit {
        BackendInit {
            backend_id: crate::model::ids::BackendId::new(id).unwrap(),
            key: "room".into(),
            env: Default::default(),
            mount: None,
            admitted: Vec::new(),
        }
    }

    /// Worker `worker` of leader `c0` in `app`, given `init` and granted its
    /// liveness and hosted locks; what it asked for, drained.
    fn keying(worker: &str, app: &str, init: BackendInit) -> (BackendHost, Vec<BackendOutput>) {
        let mut host = BackendHost::new(worker, false);
        let leader_id = ClientId::new("c0").unwrap();
        host.from_leader(Ok(LeaderToBackend::Init { leader_id, app: app.into(), backend: Some(init) }));
        host.lock_granted(&LockId::Liveness(format!("tabworker:{app}:liveness:{worker}")));
        host.lock_granted(&LockId::Hosted(ClientId::new("c0").unwrap()));
        let out = drain(&mut host);
        (host, out)
    }

    #[test]
    fn a_keyed_backend_takes_its_keys_lock_from_any_stale_holder_and_ends_when_it_loses_it() {
        let init = init_of("b1");
        let (mut host, _) = keying("w1", "app", init.clone());
        host.lock_granted(&LockId::Liveness("tabworker:app:liveness:w1".into()));
        host.lock_granted(&LockId::Hosted(ClientId::new("c0").unwrap()));
        assert_eq!(drain(&mut host), [], "no key lock asked twice");
        let name = "tabworker:app:key:room".to_owned();
        let key = LockId::Key(name.clone());
        host.lock_lost(&LockId::Liveness("tabworker:app:liveness:w1".into()));
        assert_eq!(drain(&mut host), [], "only the key's lock ends it");
        host.lock_granted(&key);
        assert_eq!(drain(&mut host), [BackendOutput::Start(Some(init))]);
        host.started(Ok(()));
        drain(&mut host);
        host.lock_lost(&key);
        assert_eq!(drain(&mut host), [BackendOutput::Exit], "stale: it ends at once");
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        host.lock_lost(&key);
        assert_eq!(drain(&mut host), [], "and does nothing more");
    }

    #[test]
    fn a_keyed_backend_of_a_tab_running_alone_waits_for_its_keys_lock() {
        let (_, out) = keying("w1", "app@v1~c0", init_of("b1"));
        let name = "tabworker:app@v1:key:room".to_owned();
        let wait = BackendOutput::Lock(LockCommand::Acquire {
            lock: LockId::Key(name.clone()),
            name,
            mode: LockMode::Exclusive,
        });
        assert_eq!(out.last(), Some(&wait), "another tab's backend of the key is live: it waits");

        // Its default backend is its own.
        let init = BackendInit { key: crate::fleet::DEFAULT_KEY.into(), ..init_of("b2") };
        let (_, out) = keying("w2", "app@v1~c0", init);
        let name = "tabworker:app@v1~c0:key:tabworker%3Adefault".to_owned();
        let steal =
            BackendOutput::Lock(LockCommand::Acquire { lock: LockId::Key(name.clone()), name, mode: LockMode::Steal });
        assert_eq!(out.last(), Some(&steal));
    }

    #[test]
    fn a_keyed_backend_asks_for_its_keys_lock_by_stealing_it() {
        let (_, out) = keying("w1", "app", init_of("b1"));
        let name = "tabworker:app:key:room".to_owned();
        let steal =
            BackendOutput::Lock(LockCommand::Acquire { lock: LockId::Key(name.clone()), name, mode: LockMode::Steal });
        assert_eq!(out.last(), Some(&steal));
    }

    #[test]
    fn listening_then_started_and_ready_once_its_liveness_and_hosted_locks_are_held_and_the_start_code_returned() {
        let mut host = BackendHost::new("w1", false);
        assert_eq!(drain(&mut host), [BackendOutput::ToLeader(BackendToLeader::Listening)]);
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        assert!(drain(&mut host).is_empty(), "no session before init");
        host.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app: "app".into(),
            backend: None,
        }));
        let name = "tabworker:app:liveness:w1".to_owned();
        let lock = LockId::Liveness(name.clone());
        let acquire = BackendOutput::Lock(LockCommand::Acquire {
            lock: lock.clone(),
            name: name.clone(),
            mode: LockMode::Exclusive,
        });
        // And at once its leader's hosted lock, shared with the leader's other workers.
        let hosted = LockId::Hosted(ClientId::new("c0").unwrap());
        let name_of = "tabworker:app:hosted-by:c0".to_owned();
        let share =
            BackendOutput::Lock(LockCommand::Acquire { lock: hosted.clone(), name: name_of, mode: LockMode::Shared });
        assert_eq!(drain(&mut host), [acquire, share]);
        host.lock_granted(&hosted);
        assert_eq!(drain(&mut host), [], "no start before both are held");
        assert!(!host.is_ready());
        host.lock_granted(&lock);
        assert_eq!(drain(&mut host), [BackendOutput::Start(None)]);
        assert!(!host.is_ready());
        host.started(Ok(()));
        assert_eq!(
            drain(&mut host),
            [
                BackendOutput::ToLeader(BackendToLeader::Started),
                BackendOutput::ToLeader(BackendToLeader::Ready { liveness_key: name })
            ]
        );
        assert_eq!(host.leader().map(ClientId::as_str), Some("c0"));
        assert_eq!(host.ignored(), 1);
    }

    #[test]
    fn a_session_opens_once_per_attempt_and_closes_when_its_lock_is_granted() {
        let mut host = ready_host();
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        let name = "tabworker:app:session:s1".to_owned();
        let lock = LockId::Session(request(1).session_id);
        assert_eq!(
            drain(&mut host),
            [
                BackendOutput::OpenSession(request(1)),
                BackendOutput::ToLeader(BackendToLeader::Session(request(1))),
                BackendOutput::Lock(LockCommand::Acquire { lock: lock.clone(), name, mode: LockMode::Exclusive }),
            ]
        );
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        assert!(drain(&mut host).is_empty(), "the same attempt twice opens nothing");
        assert_eq!(host.sessions().count(), 1);
        host.lock_granted(&lock);
        assert_eq!(
            drain(&mut host),
            [
                BackendOutput::CloseSession(request(1)),
                BackendOutput::Lock(LockCommand::Release { lock }),
                BackendOutput::ToLeader(BackendToLeader::SessionClosed { session_id: request(1).session_id }),
            ]
        );
        assert_eq!(host.sessions().count(), 0);
    }

    #[test]
    fn bad_input_changes_nothing() {
        let mut host = ready_host();
        host.from_leader(Err(DecodeError::Malformed { detail: "x".into() }));
        host.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c9").unwrap(),
            app: "other".into(),
            backend: None,
        }));
        host.lock_granted(&LockId::Session(SessionId::new("unknown").unwrap()));
        assert!(drain(&mut host).is_empty());
        assert_eq!(host.leader().map(ClientId::as_str), Some("c0"));
        assert_eq!(host.ignored(), 2);
        let mut fresh = BackendHost::new("w2", false);
        fresh.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app: String::new(),
            backend: None,
        }));
        assert_eq!(drain(&mut fresh), [BackendOutput::ToLeader(BackendToLeader::Listening)]);
        assert_eq!(fresh.ignored(), 1, "an empty app name is refused");
    }

    fn keyed_init() -> LeaderToBackend {
        LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app: "app".into(),
            backend: Some(BackendInit {
                backend_id: crate::model::ids::BackendId::new("b1").unwrap(),
                key: "room".into(),
                env: Default::default(),
                mount: None,
                admitted: vec![admission("t1", "s1", 1)],
            }),
        }
    }

    #[test]
    fn a_backend_that_declares_readiness_is_ready_only_once_it_does() {
        let mut host = BackendHost::new("w1", true);
        host.from_leader(Ok(keyed_init()));
        host.lock_granted(&LockId::Liveness("tabworker:app:liveness:w1".into()));
        host.lock_granted(&LockId::Hosted(ClientId::new("c0").unwrap()));
        host.lock_granted(&LockId::Key("tabworker:app:key:room".into()));
        let out = drain(&mut host);
        assert!(matches!(&out[5..], [BackendOutput::Start(Some(init))] if init.key == "room"), "{out:?}");
        host.started(Ok(()));
        assert_eq!(drain(&mut host), [BackendOutput::ToLeader(BackendToLeader::Started)]);
        assert!(!host.is_ready());
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        assert!(drain(&mut host).is_empty(), "no session before ready");
        host.declare_ready();
        let ready = BackendToLeader::Ready { liveness_key: "tabworker:app:liveness:w1".into() };
        assert_eq!(drain(&mut host), [BackendOutput::ToLeader(ready.clone())]);
        host.declare_ready();
        assert!(drain(&mut host).is_empty(), "ready once");

        // Declared during the start code: ready as soon as it returns.
        let mut early = BackendHost::new("w1", true);
        early.from_leader(Ok(keyed_init()));
        early.lock_granted(&LockId::Liveness("tabworker:app:liveness:w1".into()));
        early.lock_granted(&LockId::Hosted(ClientId::new("c0").unwrap()));
        early.lock_granted(&LockId::Key("tabworker:app:key:room".into()));
        early.declare_ready();
        drain(&mut early);
        early.started(Ok(()));
        assert_eq!(
            drain(&mut early),
            [BackendOutput::ToLeader(BackendToLeader::Started), BackendOutput::ToLeader(ready)]
        );
    }

    #[test]
    fn start_code_that_throws_fails_the_backend() {
        let mut host = BackendHost::new("w1", false);
        host.from_leader(Ok(keyed_init()));
        host.lock_granted(&LockId::Liveness("tabworker:app:liveness:w1".into()));
        host.lock_granted(&LockId::Hosted(ClientId::new("c0").unwrap()));
        host.lock_granted(&LockId::Key("tabworker:app:key:room".into()));
        drain(&mut host);
        host.started(Err("Error: no database".into()));
        assert_eq!(
            drain(&mut host),
            [BackendOutput::ToLeader(BackendToLeader::Failed { detail: "Error: no database".into() })]
        );
        host.declare_ready();
        host.started(Ok(()));
        assert!(drain(&mut host).is_empty(), "nothing after failing");
    }

    #[test]
    fn stop_runs_the_apps_stop_code_once_and_says_stopped() {
        let mut host = ready_host();
        host.from_leader(Ok(LeaderToBackend::Stop));
        assert_eq!(drain(&mut host), [BackendOutput::Stop]);
        host.from_leader(Ok(LeaderToBackend::Stop));
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        assert!(drain(&mut host).is_empty(), "no second stop, no session while stopping");
        host.stopped();
        host.stopped();
        assert_eq!(drain(&mut host), [BackendOutput::ToLeader(BackendToLeader::Stopped)]);
    }

    fn admission(token: &str, secret: &str, tab: u32) -> Admission {
        Admission {
            token: token.into(),
            secret_token: secret.into(),
            client_id: ClientId::new(format!("c{tab}")).unwrap(),
        }
    }

    fn admit(host: &mut BackendHost, token: &str, secret: &str, tab: u32) {
        host.from_leader(Ok(LeaderToBackend::Admit(admission(token, secret, tab))));
    }

    fn tab_lock(tab: u32) -> (LockId, String) {
        (LockId::Tab(ClientId::new(format!("c{tab}")).unwrap()), format!("tabworker:app:tab:c{tab}"))
    }

    #[test]
    fn a_keyed_backend_admits_the_tokens_of_its_connects_only() {
        let mut host = BackendHost::new("w1", false);
        admit(&mut host, "early", "x", 1);
        host.from_leader(Ok(keyed_init()));
        admit(&mut host, "t2", "s2", 2);
        assert!(host.admits("t1") && host.admits("t2"));
        assert!(!host.admits("early"), "an admit before init is out of place");
        assert!(!host.admits("s1"), "a secret token is not a token");
        assert!(host.knows_secret("s2") && !host.knows_secret("t2"));
        assert_eq!(host.init().map(|i| i.admitted.len()), Some(0), "kept by their tabs, not in init");
    }

    #[test]
    fn a_connects_capabilities_end_when_the_tab_that_made_it_is_gone() {
        let mut host = BackendHost::new("w1", false);
        host.from_leader(Ok(keyed_init()));
        let (lock1, name1) = tab_lock(1);
        let out = drain(&mut host);
        let wait =
            BackendOutput::Lock(LockCommand::Acquire { lock: lock1.clone(), name: name1, mode: LockMode::Exclusive });
        assert_eq!(out.last(), Some(&wait), "init's connect, of tab c1: its tab's lock is awaited");
        admit(&mut host, "t1b", "s1b", 1);
        admit(&mut host, "t2", "s2", 2);
        let (lock2, name2) = tab_lock(2);
        let wait2 =
            BackendOutput::Lock(LockCommand::Acquire { lock: lock2.clone(), name: name2, mode: LockMode::Exclusive });
        assert_eq!(drain(&mut host), [wait2], "one wait per tab, not per connect");
        assert_eq!(host.admitted(), 3);

        host.lock_granted(&lock1);
        assert_eq!(drain(&mut host), [BackendOutput::Lock(LockCommand::Release { lock: lock1.clone() })]);
        for (token, secret) in [("t1", "s1"), ("t1b", "s1b")] {
            assert!(!host.admits(token) && !host.knows_secret(secret), "{token} ended with its tab");
        }
        assert!(host.admits("t2") && host.knows_secret("s2"), "another tab's stays");
        assert_eq!(host.admitted(), 1);
        let open = TabToBackend::Open { token: "t1".into(), user: None, auth: None };
        assert!(matches!(host.open(Ok(open)), Err(BackendToTab::Refused { code: ErrorCode::BadToken, .. })));
        host.lock_granted(&lock2);
        assert_eq!(host.admitted(), 0);
    }

    #[test]
    fn of_one_tabs_connects_only_the_latest_are_kept() {
        let mut host = BackendHost::new("w1", false);
        host.from_leader(Ok(keyed_init()));
        for n in 0..100_000 {
            admit(&mut host, &format!("t{n}"), &format!("s{n}"), 1);
        }
        assert_eq!(host.admitted(), MAX_ADMITTED_PER_TAB, "t1 and all but the latest dropped");
        let last = 100_000 - MAX_ADMITTED_PER_TAB;
        assert!(host.admits(&format!("t{last}")) && host.knows_secret(&format!("s{last}")));
        assert!(!host.admits(&format!("t{}", last - 1)) && !host.knows_secret(&format!("s{}", last - 1)));
        assert!(!host.admits("t1") && !host.knows_secret("s1"));
        let waits = drain(&mut host)
            .into_iter()
            .filter(|o| matches!(o, BackendOutput::Lock(LockCommand::Acquire { lock: LockId::Tab(_), .. })));
        assert_eq!(waits.count(), 1);
    }

    #[test]
    fn a_session_opens_only_with_an_admitted_token_and_a_well_formed_open() {
        let mut host = BackendHost::new("w1", false);
        host.from_leader(Ok(keyed_init()));
        let open = |token: &str| TabToBackend::Open { token: token.into(), user: Some("ada".into()), auth: None };
        assert_eq!(host.open(Ok(open("t1"))), Ok(open("t1")));
        let code = |answer: Result<TabToBackend, BackendToTab>| match answer {
            Err(BackendToTab::Refused { code, .. }) => Some(code),
            _ => None,
        };
        assert_eq!(code(host.open(Ok(open("forged")))), Some(ErrorCode::BadToken));
        assert_eq!(code(host.open(Ok(open("s1")))), Some(ErrorCode::BadToken), "a secret token is not a token");
        let garbage = Err(DecodeError::Malformed { detail: "x".into() });
        assert_eq!(code(host.open(garbage)), Some(ErrorCode::Malformed));
    }
}
