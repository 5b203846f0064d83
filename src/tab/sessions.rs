//! A tab's sessions with keyed backends, each one connect attempt opened by
//! the app's `open(url)`: where its handshake is, and the call that waits
//! for it.
//!
//! The tab takes the attempt's session lock, then asks for a port
//! (`request-port`); when the port arrives it posts `open` on it — the
//! connect's token and credentials, with the app's end of a new channel —
//! and the backend's answer settles the app's call.

use super::calls::CallId;
use crate::model::ids::BackendId;
use crate::protocol::TabToBackend;

/// Where a session with a keyed backend is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Waiting for its session lock.
    Locking { call: CallId, open: TabToBackend },
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

    /// Its lock was granted: `true` if `request-port` is to go out now
    /// (the first time).
    pub(crate) fn ask(&mut self) -> bool {
        let Stage::Locking { call, open } = &self.stage else { return false };
        self.stage = Stage::Asked { call: *call, open: open.clone() };
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
            Stage::Locking { call, .. } | Stage::Asked { call, .. } | Stage::Opening { call } => Some(*call),
            Stage::Open => None,
        }
    }

    /// Whether its port arrived (the browser layer holds its ports).
    pub(crate) fn has_ports(&self) -> bool {
        matches!(self.stage, Stage::Opening { .. } | Stage::Open)
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
        assert!(session.ask());
        assert!(!session.ask(), "asked once");
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
