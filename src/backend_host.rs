//! The backend worker's side of the handshake, as a pure state machine.
//!
//! The worker says `listening` as soon as its script runs; on `init` it takes
//! its liveness lock ([`LockNames::liveness`]) and says `ready` once the lock
//! is held. Each `start-session` opens a session for one connect attempt and
//! waits on the attempt's session lock ([`LockNames::session`]), which the
//! requesting tab holds: when the lock is granted, the tab is gone or moved
//! on, and the session closes.
//!
//! Ports: [`BackendOutput::OpenSession`] asks the browser layer for a new
//! channel — one end goes to the app's handler, the other travels with the
//! [`BackendToLeader::Session`] that follows it.

use std::collections::{BTreeMap, VecDeque};

use crate::ids::{AppName, ClientId, SessionId};
use crate::lock_names::{LockMode, LockNames};
use crate::protocol::{BackendToLeader, DecodeError, LeaderToBackend, PortRequest};

/// What the backend host asks the browser layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendOutput {
    /// Post to the leader tab (a `session` takes the channel end of the
    /// `OpenSession` before it).
    ToLeader(BackendToLeader),
    /// Create a channel and hand one end, with the request, to the app.
    OpenSession(PortRequest),
    /// The session's tab is gone or moved on: tell the app, close the port.
    CloseSession(PortRequest),
    /// Request the Web Lock `lock` and call [`BackendHost::lock_granted`]
    /// once it is granted.
    Acquire {
        /// The lock's name.
        lock: String,
        /// How.
        mode: LockMode,
    },
    /// Release the Web Lock `lock`.
    Release {
        /// The lock's name.
        lock: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// `listening` said; waiting for `init`.
    Listening,
    /// `init` received; taking the liveness lock.
    Starting { leader: ClientId },
    /// `ready` said.
    Ready { leader: ClientId },
}

/// A backend worker's state.
#[derive(Debug)]
pub struct BackendHost {
    worker_id: String,
    names: Option<LockNames>,
    stage: Stage,
    /// Open sessions, by the lock that ends each.
    sessions: BTreeMap<String, PortRequest>,
    ignored: u64,
    outputs: VecDeque<BackendOutput>,
}

impl BackendHost {
    /// A worker whose liveness lock will be named after `worker_id` (unique
    /// per worker). Says `listening` at once.
    pub fn new(worker_id: impl Into<String>) -> Self {
        let mut host = BackendHost {
            worker_id: worker_id.into(),
            names: None,
            stage: Stage::Listening,
            sessions: BTreeMap::new(),
            ignored: 0,
            outputs: VecDeque::new(),
        };
        host.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Listening));
        host
    }

    /// The leader tab that started this worker, once `init` arrived.
    pub fn leader(&self) -> Option<&ClientId> {
        match &self.stage {
            Stage::Listening => None,
            Stage::Starting { leader } | Stage::Ready { leader } => Some(leader),
        }
    }

    /// Whether `ready` was said.
    pub fn is_ready(&self) -> bool {
        matches!(self.stage, Stage::Ready { .. })
    }

    /// The open sessions.
    pub fn sessions(&self) -> impl Iterator<Item = &PortRequest> {
        self.sessions.values()
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
            (LeaderToBackend::Init { leader_id, app, .. }, Stage::Listening) => {
                let Ok(app) = AppName::new(app) else {
                    self.ignored += 1;
                    return;
                };
                let names = LockNames::new(app);
                let lock = names.liveness(&self.worker_id);
                self.names = Some(names);
                self.stage = Stage::Starting { leader: leader_id };
                self.outputs.push_back(BackendOutput::Acquire { lock, mode: LockMode::Exclusive });
            }
            (LeaderToBackend::StartSession(request), Stage::Ready { .. }) => self.start_session(request),
            _ => self.ignored += 1,
        }
    }

    fn start_session(&mut self, request: PortRequest) {
        let Some(names) = &self.names else { return };
        let lock = names.session(&request.session_id);
        if self.sessions.contains_key(&lock) {
            // One session per attempt: a repeated request opens nothing.
            self.ignored += 1;
            return;
        }
        self.sessions.insert(lock.clone(), request.clone());
        self.outputs.push_back(BackendOutput::OpenSession(request.clone()));
        self.outputs.push_back(BackendOutput::ToLeader(BackendToLeader::Session(request)));
        self.outputs.push_back(BackendOutput::Acquire { lock, mode: LockMode::Exclusive });
    }

    /// The Web Lock `lock` was granted.
    pub fn lock_granted(&mut self, lock: &str) {
        let liveness = self.names.as_ref().map(|n| n.liveness(&self.worker_id));
        if let Stage::Starting { leader } = &self.stage {
            if liveness.as_deref() == Some(lock) {
                self.stage = Stage::Ready { leader: leader.clone() };
                let ready = BackendToLeader::Ready { liveness_key: lock.to_owned() };
                self.outputs.push_back(BackendOutput::ToLeader(ready));
                return;
            }
        }
        if let Some(request) = self.sessions.remove(lock) {
            self.outputs.push_back(BackendOutput::CloseSession(request));
            self.outputs.push_back(BackendOutput::Release { lock: lock.to_owned() });
        }
    }

    /// The session of `session_id`, if open.
    pub fn session(&self, session_id: &SessionId) -> Option<&PortRequest> {
        self.sessions.values().find(|r| r.session_id == *session_id)
    }

    /// The next thing to do, if any. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<BackendOutput> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut host = BackendHost::new("w1");
        host.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app: "app".into(),
            backend: None,
        }));
        host.lock_granted("tabworker:app:liveness:w1");
        drain(&mut host);
        host
    }

    #[test]
    fn listening_then_ready_only_once_the_liveness_lock_is_held() {
        let mut host = BackendHost::new("w1");
        assert_eq!(drain(&mut host), [BackendOutput::ToLeader(BackendToLeader::Listening)]);
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        assert!(drain(&mut host).is_empty(), "no session before init");
        host.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app: "app".into(),
            backend: None,
        }));
        let lock = "tabworker:app:liveness:w1".to_owned();
        assert_eq!(drain(&mut host), [BackendOutput::Acquire { lock: lock.clone(), mode: LockMode::Exclusive }]);
        assert!(!host.is_ready());
        host.lock_granted(&lock);
        assert_eq!(drain(&mut host), [BackendOutput::ToLeader(BackendToLeader::Ready { liveness_key: lock })]);
        assert_eq!(host.leader().map(ClientId::as_str), Some("c0"));
        assert_eq!(host.ignored(), 1);
    }

    #[test]
    fn a_session_opens_once_per_attempt_and_closes_when_its_lock_is_granted() {
        let mut host = ready_host();
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        let lock = "tabworker:app:session:s1".to_owned();
        assert_eq!(
            drain(&mut host),
            [
                BackendOutput::OpenSession(request(1)),
                BackendOutput::ToLeader(BackendToLeader::Session(request(1))),
                BackendOutput::Acquire { lock: lock.clone(), mode: LockMode::Exclusive },
            ]
        );
        host.from_leader(Ok(LeaderToBackend::StartSession(request(1))));
        assert!(drain(&mut host).is_empty(), "the same attempt twice opens nothing");
        assert_eq!(host.sessions().count(), 1);
        host.lock_granted(&lock);
        assert_eq!(drain(&mut host), [BackendOutput::CloseSession(request(1)), BackendOutput::Release { lock }]);
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
        host.lock_granted("tabworker:app:session:unknown");
        assert!(drain(&mut host).is_empty());
        assert_eq!(host.leader().map(ClientId::as_str), Some("c0"));
        assert_eq!(host.ignored(), 2);
        let mut fresh = BackendHost::new("w2");
        fresh.from_leader(Ok(LeaderToBackend::Init {
            leader_id: ClientId::new("c0").unwrap(),
            app: String::new(),
            backend: None,
        }));
        assert_eq!(drain(&mut fresh), [BackendOutput::ToLeader(BackendToLeader::Listening)]);
        assert_eq!(fresh.ignored(), 1, "an empty app name is refused");
    }
}
