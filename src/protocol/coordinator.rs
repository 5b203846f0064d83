//! Tab ↔ coordinator messages.

use serde::{Deserialize, Serialize};

use super::WireMessage;
use crate::ids::{ClientId, CoordinatorId, Epoch, SessionId};

/// Who leads, in which term, and how to learn of its backend's death.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leadership {
    /// The leader tab's client.
    pub leader_id: ClientId,
    /// Its term, given by the coordinator; higher than every leader's before it.
    pub epoch: Epoch,
    /// The Web Lock its backend worker holds for as long as it lives.
    pub liveness_key: String,
}

/// A leader's claim: its backend worker is ready and it leads from now on.
/// The coordinator answers with the [`Leadership`], giving it the next epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderClaim {
    /// The claiming tab's client.
    pub leader_id: ClientId,
    /// The Web Lock its backend worker holds for as long as it lives.
    pub liveness_key: String,
    /// The term the claimant already leads in, when it claims again from a
    /// new coordinator (the old one died); kept if no tab knows a newer one.
    pub epoch: Option<Epoch>,
}

/// A client asks for a session: one connect attempt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRequest {
    /// The requesting client.
    pub client_id: ClientId,
    /// The connect attempt the session is for.
    pub session_id: SessionId,
}

/// A session's port, on its way from the leader to the client that asked;
/// one `MessagePort` travels with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortGrant {
    /// The client the port is for.
    pub client_id: ClientId,
    /// The connect attempt the port is for.
    pub session_id: SessionId,
    /// The term of the leader that made the session.
    pub epoch: Epoch,
}

/// What a tab sends to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TabToCoordinator {
    /// The first message on a new connection (the seed's "Connect"). The tab
    /// holds its tab lock ([`crate::LockNames::tab`]) before sending it, and
    /// says it again to a new coordinator when the old one died.
    Hello {
        /// The tab's client.
        client_id: ClientId,
        /// The sender's build fingerprint ([`super::BUILD`]).
        build: String,
        /// The newest epoch the tab knows of: a coordinator that started
        /// after another one died gives no epoch at or below it again.
        epoch: Option<Epoch>,
    },
    /// The sender's backend worker is ready and the sender leads from now on.
    NewLeader(LeaderClaim),
    /// The sender wants a session with the leader's backend.
    RequestPort(PortRequest),
    /// The leader hands over a session's port.
    ProvidePort(PortGrant),
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
            TabToCoordinator::RequestPort(_) => "request-port",
            TabToCoordinator::ProvidePort(_) => "provide-port",
            TabToCoordinator::Goodbye { .. } => "goodbye",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, TabToCoordinator::ProvidePort(_)))
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
    /// A leader announced itself (to every tab, the leader included).
    NewLeader(Leadership),
    /// To the leader: a client wants a session.
    RequestPort(PortRequest),
    /// To the requesting client only: its session's port.
    ProvidePort(PortGrant),
    /// The tab's last frame was refused.
    Rejected {
        /// A stable code, e.g. `malformed` or `stale-epoch`.
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
            CoordinatorToTab::RequestPort(_) => "request-port",
            CoordinatorToTab::ProvidePort(_) => "provide-port",
            CoordinatorToTab::Rejected { .. } => "rejected",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, CoordinatorToTab::ProvidePort(_)))
    }
}

#[cfg(test)]
pub(crate) mod examples {
    use super::*;

    pub(crate) fn leadership() -> Leadership {
        Leadership {
            leader_id: ClientId::new("c0").unwrap(),
            epoch: Epoch::new(3).unwrap(),
            liveness_key: "tabworker:app:liveness:w1".into(),
        }
    }

    pub(crate) fn request() -> PortRequest {
        PortRequest { client_id: ClientId::new("c1").unwrap(), session_id: SessionId::new("s1").unwrap() }
    }

    pub(crate) fn grant() -> PortGrant {
        PortGrant {
            client_id: ClientId::new("c1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            epoch: leadership().epoch,
        }
    }

    pub(crate) fn to_coordinator() -> Vec<TabToCoordinator> {
        vec![
            TabToCoordinator::Hello {
                client_id: ClientId::new("c1").unwrap(),
                build: super::super::BUILD.into(),
                epoch: Some(leadership().epoch),
            },
            TabToCoordinator::Hello {
                client_id: ClientId::new("c1").unwrap(),
                build: super::super::BUILD.into(),
                epoch: None,
            },
            TabToCoordinator::NewLeader(LeaderClaim {
                leader_id: ClientId::new("c0").unwrap(),
                liveness_key: leadership().liveness_key,
                epoch: None,
            }),
            TabToCoordinator::NewLeader(LeaderClaim {
                leader_id: ClientId::new("c0").unwrap(),
                liveness_key: leadership().liveness_key,
                epoch: Some(leadership().epoch),
            }),
            TabToCoordinator::RequestPort(request()),
            TabToCoordinator::ProvidePort(grant()),
            TabToCoordinator::Goodbye { client_id: ClientId::new("c1").unwrap() },
        ]
    }

    pub(crate) fn to_tab() -> Vec<CoordinatorToTab> {
        vec![
            CoordinatorToTab::Welcome {
                coordinator_id: CoordinatorId::new("k1").unwrap(),
                leader: Some(leadership()),
                tabs: 2,
            },
            CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k1").unwrap(), leader: None, tabs: 1 },
            CoordinatorToTab::NewLeader(leadership()),
            CoordinatorToTab::RequestPort(request()),
            CoordinatorToTab::ProvidePort(grant()),
            CoordinatorToTab::Rejected { code: "malformed".into(), detail: "missing field".into() },
        ]
    }
}
