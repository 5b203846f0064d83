//! Tab ↔ coordinator messages.

use serde::{Deserialize, Serialize};

use super::WireMessage;
use crate::ids::{ClientId, CoordinatorId, Epoch, SessionId};

/// Who leads, and in which term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leadership {
    /// The leader tab's client.
    pub leader_id: ClientId,
    /// Its term; higher than every leader's before it.
    pub epoch: Epoch,
}

/// What a tab sends to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TabToCoordinator {
    /// The first message on a new connection (the seed's "Connect").
    Hello {
        /// The tab's client.
        client_id: ClientId,
        /// The sender's build fingerprint ([`super::BUILD`]).
        build: String,
    },
    /// The sender's backend worker is ready and the sender leads from now on.
    NewLeader(Leadership),
    /// The sender wants a session with the leader's backend.
    RequestPort {
        /// The requesting client.
        client_id: ClientId,
        /// The connect attempt the session is for.
        session_id: SessionId,
    },
    /// The leader hands over a session's port; one port travels with it.
    ProvidePort {
        /// The client the port is for.
        client_id: ClientId,
        /// The connect attempt the port is for.
        session_id: SessionId,
        /// The term of the leader that made the session.
        epoch: Epoch,
    },
    /// The sender is leaving (a courtesy: its tab lock is what counts).
    Goodbye {
        /// The leaving client.
        client_id: ClientId,
    },
}

impl WireMessage for TabToCoordinator {
    fn kind(&self) -> &'static str {
        match self {
            TabToCoordinator::Hello { .. } => "hello",
            TabToCoordinator::NewLeader(_) => "new-leader",
            TabToCoordinator::RequestPort { .. } => "request-port",
            TabToCoordinator::ProvidePort { .. } => "provide-port",
            TabToCoordinator::Goodbye { .. } => "goodbye",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, TabToCoordinator::ProvidePort { .. }))
    }
}

/// What the coordinator sends to a tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum CoordinatorToTab {
    /// The answer to `hello`.
    Welcome {
        /// This coordinator instance.
        coordinator_id: CoordinatorId,
        /// The current leader, if one has announced itself.
        leader: Option<Leadership>,
        /// How many tabs are connected, the new one included.
        tabs: u32,
    },
    /// A leader announced itself.
    NewLeader(Leadership),
    /// To the leader: a client wants a session.
    RequestPort {
        /// The requesting client.
        client_id: ClientId,
        /// The connect attempt the session is for.
        session_id: SessionId,
    },
    /// To the requesting client only: its session's port; one port travels
    /// with it.
    ProvidePort {
        /// The client the port is for.
        client_id: ClientId,
        /// The connect attempt the port is for.
        session_id: SessionId,
        /// The term of the leader that made the session.
        epoch: Epoch,
    },
    /// The tab's last frame was refused.
    Rejected {
        /// A stable code, e.g. `malformed` or `protocol-mismatch`.
        code: String,
        /// What was wrong.
        detail: String,
    },
}

impl WireMessage for CoordinatorToTab {
    fn kind(&self) -> &'static str {
        match self {
            CoordinatorToTab::Welcome { .. } => "welcome",
            CoordinatorToTab::NewLeader(_) => "new-leader",
            CoordinatorToTab::RequestPort { .. } => "request-port",
            CoordinatorToTab::ProvidePort { .. } => "provide-port",
            CoordinatorToTab::Rejected { .. } => "rejected",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, CoordinatorToTab::ProvidePort { .. }))
    }
}

#[cfg(test)]
impl TabToCoordinator {
    pub(crate) fn examples(client_id: &ClientId, session_id: &SessionId, leadership: &Leadership) -> Vec<Self> {
        let (client_id, session_id) = (client_id.clone(), session_id.clone());
        vec![
            TabToCoordinator::Hello { client_id: client_id.clone(), build: super::BUILD.into() },
            TabToCoordinator::NewLeader(leadership.clone()),
            TabToCoordinator::RequestPort { client_id: client_id.clone(), session_id: session_id.clone() },
            TabToCoordinator::ProvidePort { client_id: client_id.clone(), session_id, epoch: leadership.epoch },
            TabToCoordinator::Goodbye { client_id },
        ]
    }
}

#[cfg(test)]
impl CoordinatorToTab {
    pub(crate) fn examples(client_id: &ClientId, session_id: &SessionId, leadership: &Leadership) -> Vec<Self> {
        let (client_id, session_id) = (client_id.clone(), session_id.clone());
        vec![
            CoordinatorToTab::Welcome {
                coordinator_id: CoordinatorId::new("k1").unwrap(),
                leader: Some(leadership.clone()),
                tabs: 2,
            },
            CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k1").unwrap(), leader: None, tabs: 1 },
            CoordinatorToTab::NewLeader(leadership.clone()),
            CoordinatorToTab::RequestPort { client_id: client_id.clone(), session_id: session_id.clone() },
            CoordinatorToTab::ProvidePort { client_id, session_id, epoch: leadership.epoch },
            CoordinatorToTab::Rejected { code: "malformed".into(), detail: "missing field".into() },
        ]
    }
}
