//! The keyed backends, from a tab's side: its connects, watches and
//! sessions with keyed backends (what it hosts while it leads is in
//! [`hosting`](super::hosting)).
//!
//! A session with a keyed backend is one attempt, as the default session
//! is: the tab takes the attempt's session lock, then sends `request-port`
//! naming the backend; the backend waits on that lock and closes the session
//! when it is released ([`Tab::close_session`], or the tab going away).

use super::{Tab, TabEvent};
use crate::model::connect::ConnectRequest;
use crate::model::ids::{BackendId, SessionId};
use crate::model::locks::LockMode;
use crate::model::time::Timestamp;
use crate::protocol::{ConnectCall, CoordinatorToTab, PortGrant, PortRequest, TabToCoordinator, TerminateCall};

/// Where a session with a keyed backend is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyedSession {
    backend_id: BackendId,
    /// Whether its session lock is held and `request-port` sent.
    asked: bool,
    /// Whether its port arrived.
    open: bool,
}

impl Tab {
    /// Asks the leader for a backend. `false` if this tab has not joined.
    /// The request's `user` and `auth` are not sent: the caller keeps them
    /// for the sessions it opens.
    pub fn connect(&mut self, request_id: u64, mut request: ConnectRequest) -> bool {
        if !self.is_joined() {
            return false;
        }
        request.user = None;
        request.auth = None;
        let call = ConnectCall { client_id: self.id.clone(), request_id, request };
        self.send_coordinator(TabToCoordinator::Connect(Box::new(call)));
        true
    }

    /// Asks for the states of backend `backend_id` so far, then each new one
    /// ([`TabEvent::History`], then [`TabEvent::Status`]). `false` if this
    /// tab has not joined.
    pub fn watch(&mut self, backend_id: BackendId) -> bool {
        if !self.is_joined() {
            return false;
        }
        self.send_coordinator(TabToCoordinator::Watch { backend_id });
        true
    }

    /// Asks for backend `backend_id` to be stopped. `false` if this tab has
    /// not joined.
    pub fn terminate_backend(&mut self, backend_id: BackendId, hard: bool) -> bool {
        if !self.is_joined() {
            return false;
        }
        let call = TerminateCall { client_id: self.id.clone(), backend_id, hard };
        self.send_coordinator(TabToCoordinator::Terminate(call));
        true
    }

    /// Starts a session with keyed backend `backend_id`: first its session
    /// lock, then the request. The answer is [`TabEvent::KeyedSession`] or
    /// [`TabEvent::KeyedRefused`] for the returned attempt.
    pub fn open_session(&mut self, backend_id: BackendId) -> SessionId {
        let attempt = self.next_attempt_id();
        self.acquire(self.names.session(&attempt), LockMode::Exclusive);
        self.keyed.insert(attempt.clone(), KeyedSession { backend_id, asked: false, open: false });
        attempt
    }

    /// Ends a session with a keyed backend (asked for or open): its lock is
    /// released, so the backend closes it.
    pub fn close_session(&mut self, session_id: &SessionId) {
        if self.keyed.remove(session_id).is_some() {
            self.release(self.names.session(session_id));
        }
    }

    /// Whether `lock` is the session lock of a keyed session, which is then
    /// asked for.
    pub(super) fn keyed_lock_granted(&mut self, lock: &str) -> bool {
        let names = &self.names;
        let Some((attempt, session)) = self.keyed.iter_mut().find(|(a, _)| names.session(a) == lock) else {
            return false;
        };
        if !session.asked {
            session.asked = true;
            let request = PortRequest {
                client_id: self.id.clone(),
                session_id: attempt.clone(),
                backend_id: Some(session.backend_id.clone()),
            };
            self.send_coordinator(TabToCoordinator::RequestPort(request));
        }
        true
    }

    pub(super) fn close_keyed_sessions(&mut self) {
        for attempt in std::mem::take(&mut self.keyed).into_keys() {
            self.release(self.names.session(&attempt));
        }
    }

    /// A frame from the coordinator about keyed backends.
    pub(super) fn keyed_frame(&mut self, now: Timestamp, message: CoordinatorToTab) {
        let leading = self.hosting().is_some();
        match message {
            CoordinatorToTab::Connect(call) if leading => self.fleet.connect(now, *call),
            CoordinatorToTab::Terminate(call) if leading => self.fleet.terminate(now, &call),
            CoordinatorToTab::RequestPort(request) if leading => self.fleet.request_port(request),
            CoordinatorToTab::ProvidePort(PortGrant {
                client_id, session_id, backend_id: Some(backend_id), ..
            }) if client_id == self.id => {
                match self.keyed.get_mut(&session_id) {
                    Some(session) if session.asked && !session.open && session.backend_id == backend_id => {
                        session.open = true;
                        self.event(TabEvent::KeyedSession { session_id, backend_id });
                    }
                    // A port for a session closed meanwhile: the browser layer closes it.
                    _ => self.ignored += 1,
                }
            }
            CoordinatorToTab::RefusePort(refusal) if refusal.client_id == self.id => {
                if self.keyed.remove(&refusal.session_id).is_some() {
                    self.release(self.names.session(&refusal.session_id));
                    let (session_id, code, detail) = (refusal.session_id, refusal.code, refusal.detail);
                    self.event(TabEvent::KeyedRefused { session_id, code, detail });
                }
            }
            CoordinatorToTab::Connected(answer) if answer.client_id == self.id => {
                self.event(TabEvent::Answered(answer));
            }
            CoordinatorToTab::History { backend_id, states } => self.event(TabEvent::History { backend_id, states }),
            CoordinatorToTab::Status { backend_id, state } => self.event(TabEvent::Status { backend_id, state }),
            // A refusal of one of ours, a frame for another tab or for a leader: nothing to act on.
            _ => self.ignored += 1,
        }
        self.pull_fleet(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::code::ErrorCode;
    use crate::model::connect::Spawn;
    use crate::model::ids::Epoch;
    use crate::model::status::BackendState;
    use crate::protocol::{ConnectOutcome, PortRefusal};
    use crate::tab::TabOutput;
    use crate::tab::tests::{T0, client, drain, names};

    fn sent(out: &[TabOutput]) -> Vec<TabToCoordinator> {
        out.iter()
            .filter_map(|o| match o {
                TabOutput::ToCoordinator(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// A tab that joined with no leader known, its outputs drained.
    fn joined(n: u32) -> Tab {
        let mut tab = crate::tab::tests::joined(n, None);
        drain(&mut tab);
        tab
    }

    fn room(user: bool) -> ConnectRequest {
        ConnectRequest {
            key: Some("room".into()),
            spawn: Some(Spawn::Enabled(true)),
            user: user.then(|| "ada".into()),
            auth: user.then(|| serde_json::json!({"secret": "pw"}).as_object().cloned()).flatten(),
        }
    }

    #[test]
    fn a_connect_leaves_user_and_auth_behind_and_only_its_own_answer_is_an_event() {
        let mut unjoined = Tab::new(client(2), names());
        assert!(!unjoined.connect(1, room(true)));
        let mut tab = joined(2);
        assert!(tab.connect(5, room(true)));
        let [TabToCoordinator::Connect(call)] = &sent(&drain(&mut tab))[..] else { panic!("one connect") };
        assert_eq!((call.request_id, &call.request), (5, &room(false)));
        let text = serde_json::to_string(&crate::protocol::frame(&TabToCoordinator::Connect(call.clone()))).unwrap();
        assert!(!text.contains("ada") && !text.contains("pw"), "{text}");

        let refused = |to: u32| crate::protocol::ConnectAnswer {
            client_id: client(to),
            request_id: 5,
            outcome: ConnectOutcome::Refused { code: ErrorCode::KeyNotHeld, detail: "no".into() },
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Connected(Box::new(refused(3)))));
        assert_eq!(drain(&mut tab), []);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Connected(Box::new(refused(2)))));
        assert_eq!(drain(&mut tab), [TabOutput::Event(TabEvent::Answered(Box::new(refused(2))))]);
    }

    #[test]
    fn a_keyed_session_takes_its_lock_before_asking_and_releases_it_when_closed_or_refused() {
        let mut tab = joined(2);
        let backend_id = BackendId::new("b1").unwrap();
        let session_id = tab.open_session(backend_id.clone());
        let lock = names().session(&session_id);
        assert_eq!(drain(&mut tab), [TabOutput::Acquire { lock: lock.clone(), mode: LockMode::Exclusive }]);
        tab.lock_granted(T0, &lock);
        let request =
            PortRequest { client_id: client(2), session_id: session_id.clone(), backend_id: Some(backend_id.clone()) };
        assert_eq!(sent(&drain(&mut tab)), [TabToCoordinator::RequestPort(request)]);
        let grant = PortGrant {
            client_id: client(2),
            session_id: session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: Some(backend_id.clone()),
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant.clone())));
        assert_eq!(
            drain(&mut tab),
            [TabOutput::Event(TabEvent::KeyedSession {
                session_id: session_id.clone(),
                backend_id: backend_id.clone()
            })]
        );
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        assert_eq!(drain(&mut tab), [], "a second port for one session is not taken");
        tab.close_session(&session_id);
        assert_eq!(drain(&mut tab), [TabOutput::Release { lock }]);

        let refused = tab.open_session(backend_id);
        drain(&mut tab);
        let refusal = PortRefusal {
            client_id: client(2),
            session_id: refused.clone(),
            code: ErrorCode::UnknownBackend,
            detail: "none".into(),
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::RefusePort(refusal)));
        assert_eq!(
            drain(&mut tab),
            [
                TabOutput::Release { lock: names().session(&refused) },
                TabOutput::Event(TabEvent::KeyedRefused {
                    session_id: refused,
                    code: ErrorCode::UnknownBackend,
                    detail: "none".into()
                }),
            ]
        );
    }

    #[test]
    fn histories_and_states_of_watched_backends_are_events() {
        let mut tab = joined(2);
        let backend_id = BackendId::new("b1").unwrap();
        assert!(tab.watch(backend_id.clone()));
        assert_eq!(sent(&drain(&mut tab)), [TabToCoordinator::Watch { backend_id: backend_id.clone() }]);
        let state = BackendState::Ready { time: T0 };
        tab.from_coordinator(
            T0,
            Ok(CoordinatorToTab::History { backend_id: backend_id.clone(), states: vec![state.clone()] }),
        );
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Status { backend_id: backend_id.clone(), state: state.clone() }));
        assert_eq!(
            drain(&mut tab),
            [
                TabOutput::Event(TabEvent::History { backend_id: backend_id.clone(), states: vec![state.clone()] }),
                TabOutput::Event(TabEvent::Status { backend_id: backend_id.clone(), state }),
            ]
        );
        assert!(tab.terminate_backend(backend_id.clone(), true));
        let call = TerminateCall { client_id: client(2), backend_id, hard: true };
        assert_eq!(sent(&drain(&mut tab)), [TabToCoordinator::Terminate(call)]);
    }
}
