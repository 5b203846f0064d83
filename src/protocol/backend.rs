//! Leader ↔ backend worker messages.

use serde::{Deserialize, Serialize};

use super::{Leadership, WireMessage};
use crate::ids::{ClientId, SessionId};

/// What the leader tab sends to a backend worker it spawned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LeaderToBackend {
    /// Sent once the worker said `listening`: start the backend.
    Init(Leadership),
    /// Open a session for a client.
    StartSession {
        /// The client the session is for.
        client_id: ClientId,
        /// The connect attempt the session is for.
        session_id: SessionId,
    },
}

impl WireMessage for LeaderToBackend {
    fn kind(&self) -> &'static str {
        match self {
            LeaderToBackend::Init(_) => "init",
            LeaderToBackend::StartSession { .. } => "start-session",
        }
    }
}

/// What a backend worker sends to the leader tab that spawned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum BackendToLeader {
    /// The worker's script has loaded and it will not miss `init`.
    Listening,
    /// The backend started; it holds the Web Lock `liveness_key` for as long
    /// as it lives.
    Ready {
        /// The name of the worker's liveness lock.
        liveness_key: String,
    },
    /// A session is open; its port travels with this message.
    Session {
        /// The client the session is for.
        client_id: ClientId,
        /// The connect attempt the session is for.
        session_id: SessionId,
    },
}

impl WireMessage for BackendToLeader {
    fn kind(&self) -> &'static str {
        match self {
            BackendToLeader::Listening => "listening",
            BackendToLeader::Ready { .. } => "ready",
            BackendToLeader::Session { .. } => "session",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, BackendToLeader::Session { .. }))
    }
}

#[cfg(test)]
impl LeaderToBackend {
    pub(crate) fn examples(client_id: &ClientId, session_id: &SessionId, leadership: &Leadership) -> Vec<Self> {
        vec![
            LeaderToBackend::Init(leadership.clone()),
            LeaderToBackend::StartSession { client_id: client_id.clone(), session_id: session_id.clone() },
        ]
    }
}

#[cfg(test)]
impl BackendToLeader {
    pub(crate) fn examples(client_id: &ClientId, session_id: &SessionId) -> Vec<Self> {
        vec![
            BackendToLeader::Listening,
            BackendToLeader::Ready { liveness_key: "tabworker/liveness/b1".into() },
            BackendToLeader::Session { client_id: client_id.clone(), session_id: session_id.clone() },
        ]
    }
}
