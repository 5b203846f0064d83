//! The app's calls that wait for an answer — `initialize`, `connect`,
//! `open`, and the waits on a backend's state (`status`, `ready`,
//! `terminate`) — each by a [`CallId`], with its deadline; and what a
//! connect carried that never leaves the tab (`user`, `auth`), by the token
//! each connect was given.
//!
//! A join, a `connect` or an `open` not answered by its deadline (the
//! configured `connectTimeoutMs` after the call) is refused; a wait on a
//! state has no deadline. Each call is settled once: a call that is no
//! longer pending settles no more.

use crate::model::map::Map;
use std::fmt;

use crate::model::code::ErrorCode;
use crate::model::connect::ConnectResponse;
use crate::model::ids::{BackendId, SessionId};
use crate::model::status::BackendState;
use crate::model::time::Timestamp;

/// How long a join, a `connect` or an `open` waits for its answer unless
/// configured otherwise ([`crate::Tab::set_call_timeout`]).
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 10_000;

/// One call of the app that waits for an answer: its promise in the
/// browser layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(u64);

impl CallId {
    /// The number, which is also the `request_id` of a connect.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call {}", self.0)
    }
}

/// What a call resolves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallValue {
    /// `initialize`: the coordinator welcomed the tab.
    Joined,
    /// `connect`: the leader's answer.
    Connected(Box<ConnectResponse>),
    /// `status`, `ready`, `terminate`: the state that settled it.
    State(BackendState),
    /// `connected`: the default session that is open, as its
    /// [`crate::TabEvent::Connected`] said.
    DefaultSession(SessionId),
    /// `open`: the backend accepted the session, whose ports are those of
    /// its [`crate::TabOutput::OpenKeyed`].
    Session {
        /// The session's connect attempt.
        session_id: SessionId,
        /// The backend.
        backend_id: BackendId,
    },
}

/// Why a call was refused: a stable code and a detail for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct CallError {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// What happened.
    pub detail: String,
}

impl CallError {
    /// A refusal with `code` and `detail`.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        CallError { code, detail: detail.into() }
    }

    /// Why a call is refused once its tab was destroyed.
    pub(crate) fn destroyed() -> Self {
        CallError::new(ErrorCode::NotInitialized, "the client was destroyed")
    }
}

/// What a connect carried that stays in its tab until a session is opened
/// with its token: then it goes to the backend, on the session's own port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: Option<String>,
    pub(crate) auth: Option<crate::model::value::Object>,
}

/// A call whose deadline passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expired {
    /// The join: no `welcome` came.
    Join,
    /// A `connect`.
    Connect,
    /// An `open`, of this session.
    Open(SessionId),
}

#[derive(Debug)]
enum Pending {
    Join {
        deadline: Timestamp,
    },
    Connect {
        deadline: Timestamp,
        credentials: Credentials,
    },
    Open {
        deadline: Timestamp,
        session_id: SessionId,
    },
    /// A wait on a backend's state (what it waits for is a watch's).
    Wait,
}

impl Pending {
    fn deadline(&self) -> Option<Timestamp> {
        match self {
            Pending::Join { deadline } | Pending::Connect { deadline, .. } | Pending::Open { deadline, .. } => {
                Some(*deadline)
            }
            Pending::Wait => None,
        }
    }
}

/// The pending calls of one tab, and the credentials of its connects.
#[derive(Debug)]
pub(crate) struct Calls {
    next: u64,
    timeout_ms: u64,
    pending: Map<CallId, Pending>,
    /// The credentials of each token a connect of this tab was given.
    tokens: Map<String, Credentials>,
}

impl Default for Calls {
    fn default() -> Self {
        Calls { next: 0, timeout_ms: DEFAULT_CALL_TIMEOUT_MS, pending: Map::new(), tokens: Map::new() }
    }
}

impl Calls {
    /// Sets how long a `connect` or an `open` made from now on waits.
    pub(crate) fn set_timeout(&mut self, timeout_ms: u64) {
        self.timeout_ms = timeout_ms;
    }

    /// A call id that was never given before; nothing waits on it yet.
    pub(crate) fn next_id(&mut self) -> CallId {
        self.next += 1;
        CallId(self.next)
    }

    /// The join, started at `now`.
    pub(crate) fn join(&mut self, now: Timestamp) -> CallId {
        let call = self.next_id();
        self.pending.insert(call, Pending::Join { deadline: self.deadline(now) });
        call
    }

    /// Ends the join, if it is pending: the call to settle.
    pub(crate) fn take_join(&mut self) -> Option<CallId> {
        let call = self.pending.iter().find(|(_, p)| matches!(p, Pending::Join { .. })).map(|(c, _)| *c)?;
        self.pending.remove(&call);
        Some(call)
    }

    /// A `connect` made at `now`, with what it carried.
    pub(crate) fn connect(&mut self, now: Timestamp, credentials: Credentials) -> CallId {
        let call = self.next_id();
        self.pending.insert(call, Pending::Connect { deadline: self.deadline(now), credentials });
        call
    }

    /// An `open` made at `now`, of session `session_id`.
    pub(crate) fn open(&mut self, now: Timestamp, session_id: SessionId) -> CallId {
        let call = self.next_id();
        self.pending.insert(call, Pending::Open { deadline: self.deadline(now), session_id });
        call
    }

    /// The `open` of `call` goes on as session `session_id` (its attempt was
    /// renewed); its deadline stays.
    pub(crate) fn moved(&mut self, call: CallId, session_id: SessionId) {
        if let Some(Pending::Open { session_id: old, .. }) = self.pending.get_mut(&call) {
            *old = session_id;
        }
    }

    /// A wait on a backend's state.
    pub(crate) fn wait(&mut self) -> CallId {
        let call = self.next_id();
        self.pending.insert(call, Pending::Wait);
        call
    }

    fn deadline(&self, now: Timestamp) -> Timestamp {
        now.plus_millis(self.timeout_ms)
    }

    /// The leader answered connect `request_id`, giving it `token` if it
    /// reached a backend: the connect's credentials are kept for that token.
    /// `None` if no such connect waits (it timed out, or it is not ours).
    pub(crate) fn answered(&mut self, request_id: u64, token: Option<&str>) -> Option<CallId> {
        let call = CallId(request_id);
        let Some(Pending::Connect { .. }) = self.pending.get(&call) else { return None };
        let Some(Pending::Connect { credentials, .. }) = self.pending.remove(&call) else { return None };
        if let Some(token) = token {
            self.tokens.insert(token.to_owned(), credentials);
        }
        Some(call)
    }

    /// What the connect that was given `token` carried (nothing, if no
    /// connect of this tab was).
    pub(crate) fn credentials(&self, token: &str) -> Credentials {
        self.tokens.get(token).cloned().unwrap_or_default()
    }

    /// Ends `call`, which is settled now: `false` if it was not pending (it
    /// was settled already, or timed out).
    pub(crate) fn finish(&mut self, call: CallId) -> bool {
        self.pending.remove(&call).is_some()
    }

    /// The earliest deadline of a pending call.
    pub(crate) fn poll_timeout(&self) -> Option<Timestamp> {
        self.pending.values().filter_map(Pending::deadline).min()
    }

    /// Ends the calls whose deadline is `now` or before, in the order they
    /// were made.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<(CallId, Expired)> {
        let due: Vec<CallId> =
            self.pending.iter().filter(|(_, p)| p.deadline().is_some_and(|d| d <= now)).map(|(c, _)| *c).collect();
        due.into_iter()
            .filter_map(|call| match self.pending.remove(&call)? {
                Pending::Join { .. } => Some((call, Expired::Join)),
                Pending::Connect { .. } => Some((call, Expired::Connect)),
                Pending::Open { session_id, .. } => Some((call, Expired::Open(session_id))),
                Pending::Wait => None,
            })
            .collect()
    }

    /// Why a `connect` or an `open` timed out.
    pub(crate) fn timeout_error(&self) -> CallError {
        CallError::new(ErrorCode::Timeout, format!("no answer within {} ms", self.timeout_ms))
    }

    /// Why the join timed out: the coordinator is what did not answer.
    pub(crate) fn join_timeout_error(&self) -> CallError {
        let detail = format!("the coordinator did not answer within {} ms", self.timeout_ms);
        CallError::new(ErrorCode::CoordinatorUnavailable, detail)
    }

    /// Forgets everything (the tab was destroyed): the calls that were
    /// pending, in the order they were made.
    pub(crate) fn clear(&mut self) -> Vec<CallId> {
        self.tokens.clear();
        std::mem::take(&mut self.pending).into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    fn ada() -> Credentials {
        Credentials {
            user: Some("ada".into()),
            auth: crate::Value::from(serde_json::json!({"pw": 1})).as_object().cloned(),
        }
    }

    #[test]
    fn a_connect_and_an_open_expire_at_their_deadline_and_not_before() {
        let mut calls = Calls::default();
        calls.set_timeout(500);
        let connect = calls.connect(T0, ada());
        let session = SessionId::new("c1.2").unwrap();
        let open = calls.open(T0.plus_millis(100), session.clone());
        let wait = calls.wait();
        assert_eq!(calls.poll_timeout(), Some(T0.plus_millis(500)));
        assert_eq!(calls.expire(T0.plus_millis(499)), []);
        assert_eq!(calls.expire(T0.plus_millis(500)), [(connect, Expired::Connect)]);
        assert_eq!(calls.poll_timeout(), Some(T0.plus_millis(600)));
        assert_eq!(calls.expire(T0.plus_millis(599)), []);
        assert_eq!(calls.expire(T0.plus_millis(600)), [(open, Expired::Open(session))]);
        assert_eq!(calls.poll_timeout(), None, "a wait has no deadline");
        assert_eq!(calls.expire(T0.plus_millis(1_000_000)), []);
        assert!(calls.finish(wait));
        assert_eq!(calls.timeout_error(), CallError::new(ErrorCode::Timeout, "no answer within 500 ms"));
    }

    #[test]
    fn a_call_settles_once_and_an_answer_after_the_deadline_is_not_taken() {
        let mut calls = Calls::default();
        let late = calls.connect(T0, ada());
        calls.expire(T0.plus_millis(DEFAULT_CALL_TIMEOUT_MS));
        assert_eq!(calls.answered(late.get(), Some("t-late")), None);
        assert_eq!(calls.credentials("t-late"), Credentials::default(), "its credentials are not kept");
        let wait = calls.wait();
        assert!(calls.finish(wait));
        assert!(!calls.finish(wait), "settled once");
        assert_eq!(calls.answered(wait.get(), None), None, "a wait is not a connect");
    }

    #[test]
    fn the_credentials_of_a_connect_are_kept_by_the_token_it_was_given() {
        let mut calls = Calls::default();
        let refused = calls.connect(T0, ada());
        let reached = calls.connect(T0, ada());
        assert_eq!(calls.answered(refused.get(), None), Some(refused));
        assert_eq!(calls.answered(reached.get(), Some("t1")), Some(reached));
        assert_eq!(calls.answered(reached.get(), Some("t2")), None, "answered once");
        assert_eq!(calls.credentials("t1"), ada());
        assert_eq!(calls.credentials("t2"), Credentials::default());
        let open = calls.open(T0, SessionId::new("s").unwrap());
        assert_eq!(calls.clear(), [open]);
        assert_eq!(calls.credentials("t1"), Credentials::default(), "forgotten on destroy");
    }
}
