//! The coordinator as a pure state machine.
//!
//! It runs in the app's SharedWorker and only routes: it answers `hello`,
//! remembers who leads (the highest epoch announced), passes `request-port`
//! to the leader and `provide-port` to the one client that asked. The browser
//! layer numbers each connected `MessagePort` with a [`ConnId`], feeds every
//! decoded frame (or its [`DecodeError`]) to [`Coordinator::handle`], then
//! drains [`Coordinator::poll_output`] until it returns `None`.

use std::collections::{BTreeMap, VecDeque};

use crate::ids::{ClientId, CoordinatorId, SessionId};
use crate::protocol::{CoordinatorToTab, DecodeError, Leadership, TabToCoordinator, WireMessage};

/// One connection (one `MessagePort`) to the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// What the coordinator asks the browser layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinatorOutput {
    /// Post `message` on connection `to`. When the message carries a port
    /// ([`WireMessage::ports`]), it is the port that arrived with the frame
    /// being handled; it is transferred, never copied.
    Send {
        /// The connection.
        to: ConnId,
        /// The message.
        message: CoordinatorToTab,
    },
    /// Close connection `conn`: its tab said goodbye.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// The coordinator's state.
#[derive(Debug)]
pub struct Coordinator {
    id: CoordinatorId,
    /// Connections, with the client each introduced in its `hello`.
    conns: BTreeMap<ConnId, Option<ClientId>>,
    /// The highest leadership announced, and its connection while it is open.
    leadership: Option<(Leadership, Option<ConnId>)>,
    /// `request-port`s that arrived while no leader was connected.
    waiting: Vec<(ConnId, ClientId, SessionId)>,
    rejected: u64,
    outputs: VecDeque<CoordinatorOutput>,
}

impl Coordinator {
    /// A coordinator with no connections.
    pub fn new(id: CoordinatorId) -> Self {
        Coordinator {
            id,
            conns: BTreeMap::new(),
            leadership: None,
            waiting: Vec::new(),
            rejected: 0,
            outputs: VecDeque::new(),
        }
    }

    /// This coordinator's id.
    pub fn id(&self) -> &CoordinatorId {
        &self.id
    }

    /// The highest leadership announced so far.
    pub fn leadership(&self) -> Option<&Leadership> {
        self.leadership.as_ref().map(|(l, _)| l)
    }

    /// How many frames were refused so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// A new connection opened.
    pub fn connect(&mut self, conn: ConnId) {
        self.conns.entry(conn).or_insert(None);
    }

    /// A connection closed (its tab is gone).
    pub fn disconnect(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
        self.waiting.retain(|(c, _, _)| *c != conn);
        if let Some((_, leader_conn)) = &mut self.leadership {
            if *leader_conn == Some(conn) {
                *leader_conn = None;
            }
        }
    }

    /// Handles one frame from `conn`, decoded or refused.
    pub fn handle(&mut self, conn: ConnId, frame: Result<TabToCoordinator, DecodeError>) {
        let message = match frame {
            Ok(message) => message,
            Err(error) => return self.reject(conn, error.code(), error.to_string()),
        };
        let Some(introduced) = self.conns.get_mut(&conn) else {
            // A frame from a connection already closed: nobody to answer.
            return;
        };
        match (message, introduced.is_some()) {
            (TabToCoordinator::Hello { client_id, .. }, _) => {
                *introduced = Some(client_id);
                let tabs = self.conns.values().filter(|c| c.is_some()).count();
                let welcome = CoordinatorToTab::Welcome {
                    coordinator_id: self.id.clone(),
                    leader: self.leadership().cloned(),
                    tabs: u32::try_from(tabs).unwrap_or(u32::MAX),
                };
                self.send(conn, welcome);
            }
            (message, false) => {
                self.reject(conn, "no-hello", format!("`{}` before `hello`", message.kind()));
            }
            (TabToCoordinator::NewLeader(leadership), true) => self.new_leader(conn, leadership),
            (TabToCoordinator::RequestPort { client_id, session_id }, true) => {
                self.request_port(conn, client_id, session_id);
            }
            (TabToCoordinator::ProvidePort { client_id, session_id, epoch }, true) => {
                let current = self.leadership().map(|l| l.epoch);
                if current.is_some_and(|current| epoch < current) {
                    return self.reject(conn, "stale-epoch", format!("port of epoch {epoch} after a newer leader"));
                }
                let target = self.conns.iter().find(|(_, c)| c.as_ref() == Some(&client_id)).map(|(k, _)| *k);
                match target {
                    Some(to) => self.send(to, CoordinatorToTab::ProvidePort { client_id, session_id, epoch }),
                    None => self.reject(conn, "unknown-client", format!("no connected client `{client_id}`")),
                }
            }
            (TabToCoordinator::Goodbye { .. }, true) => {
                self.disconnect(conn);
                self.outputs.push_back(CoordinatorOutput::Close { conn });
            }
        }
    }

    fn new_leader(&mut self, conn: ConnId, leadership: Leadership) {
        if let Some(current) = self.leadership() {
            if leadership.epoch <= current.epoch {
                let detail = format!("epoch {} is not above the current {}", leadership.epoch, current.epoch);
                return self.reject(conn, "stale-epoch", detail);
            }
        }
        self.leadership = Some((leadership.clone(), Some(conn)));
        let introduced: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.is_some()).map(|(k, _)| *k).collect();
        for to in introduced {
            self.send(to, CoordinatorToTab::NewLeader(leadership.clone()));
        }
        for (from, client_id, session_id) in std::mem::take(&mut self.waiting) {
            self.request_port(from, client_id, session_id);
        }
    }

    fn request_port(&mut self, from: ConnId, client_id: ClientId, session_id: SessionId) {
        match self.leadership.as_ref().and_then(|(_, conn)| *conn) {
            Some(leader) => self.send(leader, CoordinatorToTab::RequestPort { client_id, session_id }),
            None => self.waiting.push((from, client_id, session_id)),
        }
    }

    fn reject(&mut self, conn: ConnId, code: &str, detail: String) {
        self.rejected += 1;
        if self.conns.contains_key(&conn) {
            self.send(conn, CoordinatorToTab::Rejected { code: code.into(), detail });
        }
    }

    fn send(&mut self, to: ConnId, message: CoordinatorToTab) {
        self.outputs.push_back(CoordinatorOutput::Send { to, message });
    }

    /// The next thing to do, if any. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<CoordinatorOutput> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Epoch;
    use crate::protocol::BUILD;

    fn client(n: u32) -> ClientId {
        ClientId::new(format!("c{n}")).unwrap()
    }

    fn drain(k: &mut Coordinator) -> Vec<(ConnId, CoordinatorToTab)> {
        std::iter::from_fn(|| k.poll_output())
            .filter_map(|out| match out {
                CoordinatorOutput::Send { to, message } => Some((to, message)),
                CoordinatorOutput::Close { .. } => None,
            })
            .collect()
    }

    fn hello(k: &mut Coordinator, n: u32) {
        k.connect(ConnId(n.into()));
        k.handle(ConnId(n.into()), Ok(TabToCoordinator::Hello { client_id: client(n), build: BUILD.into() }));
    }

    fn lead(n: u32, epoch: u64) -> TabToCoordinator {
        TabToCoordinator::NewLeader(Leadership { leader_id: client(n), epoch: Epoch::new(epoch).unwrap() })
    }

    #[test]
    fn hello_is_welcomed_with_the_coordinator_id_and_tab_count() {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap());
        hello(&mut k, 1);
        hello(&mut k, 2);
        let out = drain(&mut k);
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[1], (ConnId(2), CoordinatorToTab::Welcome { tabs: 2, leader: None, coordinator_id })
            if coordinator_id.as_str() == "k"));
    }

    #[test]
    fn request_port_waits_for_a_leader_then_reaches_only_the_leader() {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap());
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        let session_id = SessionId::new("s").unwrap();
        k.handle(ConnId(2), Ok(TabToCoordinator::RequestPort { client_id: client(2), session_id: session_id.clone() }));
        assert!(drain(&mut k).is_empty(), "no leader yet: the request waits");
        k.handle(ConnId(1), Ok(lead(1, 1)));
        let out = drain(&mut k);
        assert_eq!(out.iter().filter(|(_, m)| matches!(m, CoordinatorToTab::NewLeader(_))).count(), 2);
        assert!(out.contains(&(ConnId(1), CoordinatorToTab::RequestPort { client_id: client(2), session_id })));
    }

    #[test]
    fn provide_port_goes_to_the_requesting_client_only() {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap());
        for n in 1..=3 {
            hello(&mut k, n);
        }
        k.handle(ConnId(1), Ok(lead(1, 1)));
        drain(&mut k);
        let session_id = SessionId::new("s").unwrap();
        let epoch = Epoch::new(1).unwrap();
        k.handle(
            ConnId(1),
            Ok(TabToCoordinator::ProvidePort { client_id: client(3), session_id: session_id.clone(), epoch }),
        );
        assert_eq!(
            drain(&mut k),
            vec![(ConnId(3), CoordinatorToTab::ProvidePort { client_id: client(3), session_id, epoch })]
        );
    }

    #[test]
    fn stale_epochs_and_frames_before_hello_are_rejected_and_counted() {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap());
        hello(&mut k, 1);
        hello(&mut k, 2);
        k.handle(ConnId(1), Ok(lead(1, 5)));
        drain(&mut k);
        k.handle(ConnId(2), Ok(lead(2, 5)));
        k.connect(ConnId(9));
        k.handle(ConnId(9), Ok(lead(9, 6)));
        k.handle(ConnId(2), Err(DecodeError::Malformed { detail: "x".into() }));
        let codes: Vec<String> = drain(&mut k)
            .into_iter()
            .filter_map(|(_, m)| match m {
                CoordinatorToTab::Rejected { code, .. } => Some(code),
                _ => None,
            })
            .collect();
        assert_eq!(codes, ["stale-epoch", "no-hello", "malformed"]);
        assert_eq!(k.rejected(), 3);
        assert_eq!(k.leadership().unwrap().epoch.get(), 5);
    }

    #[test]
    fn goodbye_closes_the_connection() {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap());
        hello(&mut k, 1);
        drain(&mut k);
        k.handle(ConnId(1), Ok(TabToCoordinator::Goodbye { client_id: client(1) }));
        assert_eq!(k.poll_output(), Some(CoordinatorOutput::Close { conn: ConnId(1) }));
        assert_eq!(k.connections(), 0);
    }

    #[test]
    fn a_closed_leader_stops_receiving_requests_until_the_next_one() {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap());
        hello(&mut k, 1);
        hello(&mut k, 2);
        k.handle(ConnId(1), Ok(lead(1, 1)));
        k.disconnect(ConnId(1));
        drain(&mut k);
        let session_id = SessionId::new("s").unwrap();
        k.handle(ConnId(2), Ok(TabToCoordinator::RequestPort { client_id: client(2), session_id: session_id.clone() }));
        assert!(drain(&mut k).is_empty());
        k.handle(ConnId(2), Ok(lead(2, 2)));
        assert!(
            drain(&mut k).contains(&(ConnId(2), CoordinatorToTab::RequestPort { client_id: client(2), session_id }))
        );
    }
}
