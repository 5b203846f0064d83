//! Every session of a tab: the default session, kept open with the
//! leader's default backend (its rules in [`default_session`](super::default_session)),
//! and the sessions the app opened with keyed backends (`open(url)`). Each
//! is one connect attempt, numbered from one counter, under its own session
//! lock, asked for with `request-port`; their lock grants, their ports,
//! their ends and their renewal after the coordinator died go through
//! [`Sessions`], so that every rule about a session is kept once.
//!
//! A keyed session: the tab takes the attempt's session lock, then asks for
//! a port (`request-port` naming the backend); when the port arrives it
//! posts `open` on it — the connect's token and credentials, with the app's
//! end of a new channel — and the backend's answer settles the app's call.
//! The backend waits on that lock and closes the session when it is
//! released.

use super::calls::{CallError, CallId, CallValue, Calls};
use super::default_session::DefaultSession;
use super::outbox::Outbox;
use super::output::TabOutput;
use crate::model::code::ErrorCode;
use crate::model::ids::{BackendId, ClientId, SessionId};
use crate::model::locks::LockId;
use crate::model::map::Map;
use crate::model::time::Timestamp;
use crate::protocol::{BackendToTab, DecodeError, PortGrant, PortRefusal, PortRequest, TabToBackend, TabToCoordinator};

/// Where a session with a keyed backend is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Waiting for its session lock.
    Locking { call: CallId, open: TabToBackend },
    /// Holding its lock while the tab has no coordinator to ask (it died,
    /// and a new one has not welcomed the tab yet).
    Held { call: CallId, open: TabToBackend },
    /// Holding its lock; `request-port` sent.
    Asked { call: CallId, open: TabToBackend },
    /// Its port arrived and `open` was posted on it; the backend's answer
    /// is awaited.
    Opening { call: CallId },
    /// The backend took it; the app holds it.
    Open,
}

/// A session with a keyed backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyedSession {
    backend_id: BackendId,
    stage: Stage,
}

impl KeyedSession {
    /// A session with `backend_id` for the app's `call`, which will post
    /// `open` once its port arrives.
    pub(crate) fn new(backend_id: BackendId, call: CallId, open: TabToBackend) -> Self {
        KeyedSession { backend_id, stage: Stage::Locking { call, open } }
    }

    /// The backend.
    pub(crate) fn backend_id(&self) -> &BackendId {
        &self.backend_id
    }

    /// Its lock was granted: `true` if `request-port` is to go out now (the
    /// first time), which it does only if the tab is `joined`; else it
    /// holds its lock until [`KeyedSession::resume`].
    pub(crate) fn ask(&mut self, joined: bool) -> bool {
        let Stage::Locking { call, open } = &self.stage else { return false };
        let (call, open) = (*call, open.clone());
        self.stage = if joined { Stage::Asked { call, open } } else { Stage::Held { call, open } };
        joined
    }

    /// A coordinator welcomed the tab: `true` if it held its lock without
    /// one, and its `request-port` is to go out now.
    pub(crate) fn resume(&mut self) -> bool {
        let Stage::Held { call, open } = &self.stage else { return false };
        self.stage = Stage::Asked { call: *call, open: open.clone() };
        true
    }

    /// Its `request-port` went with a coordinator that died: `true` if it
    /// was asked for, and goes on from its lock as a fresh attempt.
    fn renew(&mut self) -> bool {
        let Stage::Asked { call, open } = &self.stage else { return false };
        self.stage = Stage::Locking { call: *call, open: open.clone() };
        true
    }

    /// A port for it arrived from `backend_id`: the `open` to post on it,
    /// if it was asked for and has none yet.
    pub(crate) fn grant(&mut self, backend_id: &BackendId) -> Option<TabToBackend> {
        match &self.stage {
            Stage::Asked { call, open } if *backend_id == self.backend_id => {
                let open = open.clone();
                self.stage = Stage::Opening { call: *call };
                Some(open)
            }
            _ => None,
        }
    }

    /// The backend took it: the call that waited for it, if it was opening.
    pub(crate) fn opened(&mut self) -> Option<CallId> {
        let Stage::Opening { call } = self.stage else { return None };
        self.stage = Stage::Open;
        Some(call)
    }

    /// Whether the backend's answer to `open` is awaited.
    pub(crate) fn is_opening(&self) -> bool {
        matches!(self.stage, Stage::Opening { .. })
    }

    /// The app's call that waits for it, until it is open.
    pub(crate) fn call(&self) -> Option<CallId> {
        match &self.stage {
            Stage::Locking { call, .. }
            | Stage::Held { call, .. }
            | Stage::Asked { call, .. }
            | Stage::Opening { call } => Some(*call),
            Stage::Open => None,
        }
    }

    /// Whether its port arrived (the browser layer holds its ports).
    pub(crate) fn has_ports(&self) -> bool {
        matches!(self.stage, Stage::Opening { .. } | Stage::Open)
    }
}

/// Every session of a tab: the default one, and the keyed ones by attempt.
#[derive(Debug)]
pub(super) struct Sessions {
    client: ClientId,
    /// The default session, and the attempt numbers of every session.
    pub(super) default: DefaultSession,
    keyed: Map<SessionId, KeyedSession>,
}

impl Sessions {
    /// None yet, for the tab of `client`.
    pub(super) fn new(client: ClientId) -> Self {
        Sessions { default: DefaultSession::new(client.clone()), client, keyed: Map::new() }
    }

    /// The keyed sessions (asked for, opening or open): each with its
    /// backend and, until it is open, the app's call that waits for it.
    pub(super) fn keyed(&self) -> impl Iterator<Item = (&SessionId, &BackendId, Option<CallId>)> {
        self.keyed.iter().map(|(id, session)| (id, session.backend_id(), session.call()))
    }

    /// A session with keyed backend `backend_id`, for the app's `open`:
    /// its call, settled once the backend took `open` (or refused).
    pub(super) fn open(
        &mut self,
        now: Timestamp,
        (backend_id, open): (BackendId, TabToBackend),
        calls: &mut Calls,
        out: &mut Outbox,
    ) -> CallId {
        let session_id = self.default.lock_attempt(out);
        let call = calls.open(now, session_id.clone());
        self.keyed.insert(session_id, KeyedSession::new(backend_id, call, open));
        call
    }

    /// The session lock of `attempt` was granted: a keyed session asks for
    /// its port (once the tab is `joined`); `true` if it is the default
    /// session's, which waits for a live leader from now on.
    pub(super) fn lock_granted(&mut self, attempt: &SessionId, joined: bool, out: &mut Outbox) -> bool {
        let Some(session) = self.keyed.get_mut(attempt) else {
            return self.default.granted(attempt);
        };
        if session.ask(joined) {
            request_port(&self.client, attempt, session, out);
        }
        false
    }

    /// A keyed session's port arrived: `open` is posted on it, if the
    /// session asked for it and has none yet (else the port is not taken,
    /// and the browser layer closes it).
    pub(super) fn granted(&mut self, grant: PortGrant, out: &mut Outbox) {
        let PortGrant { session_id, backend_id, .. } = grant;
        let session = self.keyed.get_mut(&session_id);
        match backend_id.and_then(|backend_id| session?.grant(&backend_id)) {
            Some(message) => out.push(TabOutput::OpenKeyed { session_id, message }),
            None => out.ignore(),
        }
    }

    /// The backend's answer to the `open` posted on session `session_id`'s
    /// port, decoded or refused.
    pub(super) fn open_answered(
        &mut self,
        session_id: &SessionId,
        answer: Result<BackendToTab, DecodeError>,
        calls: &mut Calls,
        out: &mut Outbox,
    ) {
        let Some(session) = self.keyed.get_mut(session_id).filter(|s| s.is_opening()) else {
            return out.ignore();
        };
        let refusal = match answer {
            Ok(BackendToTab::Opened) => {
                let backend_id = session.backend_id().clone();
                if let Some(call) = session.opened() {
                    let session_id = session_id.clone();
                    out.settle(calls, call, Ok(CallValue::Session { session_id, backend_id }));
                }
                return;
            }
            Ok(BackendToTab::Refused { code, detail }) => CallError::new(code, detail),
            Err(e) => CallError::new(e.code(), format!("the backend's answer: {e}")),
        };
        self.end(session_id, refusal, calls, out);
    }

    /// The leader, the coordinator or the tab refused keyed session `refusal.session_id`.
    pub(super) fn refused(&mut self, refusal: PortRefusal, calls: &mut Calls, out: &mut Outbox) {
        self.end(&refusal.session_id, CallError::new(refusal.code, refusal.detail), calls, out);
    }

    /// Ends keyed session `session_id` (asked for or open): its lock is
    /// released, so the backend closes it, and its ports are closed; the
    /// call still waiting for it, if any, is refused with `error`.
    pub(super) fn end(&mut self, session_id: &SessionId, error: CallError, calls: &mut Calls, out: &mut Outbox) {
        let Some(session) = self.keyed.remove(session_id) else { return };
        let_go(session_id, &session, out);
        if let Some(call) = session.call() {
            out.settle(calls, call, Err(error));
        }
    }

    /// Backend `backend_id` terminated: its sessions with ports are ended.
    pub(super) fn backend_ended(&mut self, backend_id: &BackendId, calls: &mut Calls, out: &mut Outbox) {
        let ended: Vec<SessionId> = (self.keyed.iter())
            .filter(|(_, s)| s.backend_id() == backend_id && s.has_ports())
            .map(|(id, _)| id.clone())
            .collect();
        for session_id in ended {
            let detail = format!("the backend `{backend_id}` terminated while the session opened");
            self.end(&session_id, CallError::new(ErrorCode::BackendTerminated, detail), calls, out);
        }
    }

    /// The coordinator died: every request in flight went with it, and is
    /// made again with a fresh attempt (the default session's, and each
    /// keyed session's, whose call goes on waiting); a session already open
    /// is a direct channel to its backend and lives on.
    pub(super) fn coordinator_lost(&mut self, calls: &mut Calls, out: &mut Outbox) {
        self.default.coordinator_lost(out);
        for (old, mut session) in std::mem::take(&mut self.keyed) {
            let attempt = if session.renew() {
                out.release(LockId::Session(old));
                let attempt = self.default.lock_attempt(out);
                if let Some(call) = session.call() {
                    calls.moved(call, attempt.clone());
                }
                attempt
            } else {
                old
            };
            self.keyed.insert(attempt, session);
        }
    }

    /// A coordinator welcomed the tab: the keyed sessions that held their
    /// lock meanwhile ask for their port.
    pub(super) fn welcomed(&mut self, out: &mut Outbox) {
        for (attempt, session) in self.keyed.iter_mut() {
            if session.resume() {
                request_port(&self.client, attempt, session, out);
            }
        }
    }

    /// The tab leaves: every session ends, and none follows.
    pub(super) fn leave(&mut self, out: &mut Outbox) {
        self.default.destroy(out);
        for (attempt, session) in std::mem::take(&mut self.keyed) {
            let_go(&attempt, &session, out);
        }
    }
}

/// Asks the coordinator for the port of keyed session `attempt` of `client`.
fn request_port(client: &ClientId, attempt: &SessionId, session: &KeyedSession, out: &mut Outbox) {
    let (client_id, session_id) = (client.clone(), attempt.clone());
    let backend_id = Some(session.backend_id().clone());
    out.send(TabToCoordinator::RequestPort(PortRequest { client_id, session_id, backend_id }));
}

/// Lets keyed session `attempt` go: its lock is released, so the backend
/// closes it, and its ports, if they arrived, are closed.
fn let_go(attempt: &SessionId, session: &KeyedSession, out: &mut Outbox) {
    out.release(LockId::Session(attempt.clone()));
    if session.has_ports() {
        out.push(TabOutput::CloseKeyed { session_id: attempt.clone() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> TabToBackend {
        TabToBackend::Open { token: "t".into(), user: Some("ada".into()), auth: None }
    }

    #[test]
    fn a_session_asks_once_takes_one_port_of_its_backend_and_opens_once() {
        let b1 = BackendId::new("b1").unwrap();
        let call = super::super::calls::Calls::default().wait();
        let mut session = KeyedSession::new(b1.clone(), call, open());
        assert_eq!(session.grant(&b1), None, "no port before it asked");
        assert_eq!(session.opened(), None);
        assert!(!session.resume(), "no lock held yet");
        assert!(!session.ask(false), "held while the tab has no coordinator");
        assert_eq!(session.grant(&b1), None, "no port before it asked");
        assert!(!session.ask(true), "its lock was granted once");
        assert!(session.resume());
        assert!(!session.resume() && !session.ask(true), "asked once");
        assert!(!session.has_ports());
        assert_eq!(session.grant(&BackendId::new("b2").unwrap()), None, "another backend's port");
        assert_eq!(session.grant(&b1), Some(open()));
        assert_eq!(session.grant(&b1), None, "one port");
        assert!(session.has_ports() && session.is_opening());
        assert_eq!(session.call(), Some(call));
        assert_eq!(session.opened(), Some(call));
        assert_eq!(session.opened(), None);
        assert_eq!(session.call(), None);
        assert!(session.has_ports() && !session.is_opening());
    }
}
