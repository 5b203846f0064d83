//! Leader ↔ backend worker messages.

use serde::{Deserialize, Serialize};

use super::{PortRequest, WireMessage};
use crate::ids::ClientId;

/// What the leader tab sends to a backend worker it spawned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LeaderToBackend {
    /// Sent once the worker said `listening`: start the backend.
    Init {
        /// The leader tab's client (the seed's `init (Client1_ID)`).
        leader_id: ClientId,
        /// The app's name, which the worker's lock names are made from.
        app: String,
    },
    /// Open a session for one connect attempt of a client.
    StartSession(PortRequest),
}

impl WireMessage for LeaderToBackend {
    fn kind(&self) -> &'static str {
        match self {
            LeaderToBackend::Init { .. } => "init",
            LeaderToBackend::StartSession(_) => "start-session",
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
    Session(PortRequest),
}

impl WireMessage for BackendToLeader {
    fn kind(&self) -> &'static str {
        match self {
            BackendToLeader::Listening => "listening",
            BackendToLeader::Ready { .. } => "ready",
            BackendToLeader::Session(_) => "session",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, BackendToLeader::Session(_)))
    }
}

#[cfg(test)]
pub(crate) mod examples {
    use super::*;
    use crate::protocol::coordinator::examples::{leadership, request};

    pub(crate) fn to_backend() -> Vec<LeaderToBackend> {
        vec![
            LeaderToBackend::Init { leader_id: leadership().leader_id, app: "app".into() },
            LeaderToBackend::StartSession(request()),
        ]
    }

    pub(crate) fn to_leader() -> Vec<BackendToLeader> {
        vec![
            BackendToLeader::Listening,
            BackendToLeader::Ready { liveness_key: leadership().liveness_key },
            BackendToLeader::Session(request()),
        ]
    }
}
