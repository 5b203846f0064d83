//! The coordinator as a pure state machine.
//!
//! It runs in the app's SharedWorker and only routes: it answers `hello`,
//! gives each leader that claims the role the next epoch and tells every tab,
//! passes `request-port` to the leader and `provide-port` to the one client
//! that asked. It learns that a tab is gone from the tab's lock
//! ([`LockNames::tab`]), never from a silent port. It has no clock: the
//! caller passes the time.
//!
//! The browser layer numbers each connected `MessagePort` with a [`ConnId`],
//! feeds every decoded frame (or its [`DecodeError`]) to
//! [`Coordinator::handle`] and every granted tab lock to
//! [`Coordinator::tab_gone`], then drains [`Coordinator::poll_output`] until
//! it returns `None`.

use std::collections::{BTreeMap, VecDeque};

use crate::ids::{ClientId, CoordinatorId, Epoch};
use crate::lock_names::LockNames;
use crate::protocol::{
    CoordinatorToTab, DecodeError, LeaderClaim, Leadership, PortGrant, PortRequest, TabToCoordinator, WireMessage,
};
use crate::time::Timestamp;

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
    /// Wait on the Web Lock `lock` (exclusive) and call
    /// [`Coordinator::tab_gone`] for `conn` once it is granted: the tab held
    /// it for its whole life, so the grant means the tab is gone.
    WatchTab {
        /// The connection of the tab.
        conn: ConnId,
        /// The tab's lock.
        lock: String,
    },
    /// Close connection `conn` and stop watching its tab.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// The coordinator's state.
#[derive(Debug)]
pub struct Coordinator {
    id: CoordinatorId,
    names: LockNames,
    /// Connections, with the client each introduced in its `hello`.
    conns: BTreeMap<ConnId, Option<ClientId>>,
    /// The highest leadership announced, and its connection while it is open.
    leadership: Option<(Leadership, Option<ConnId>)>,
    /// `request-port`s that arrived while no leader was connected.
    waiting: Vec<(ConnId, PortRequest)>,
    /// The newest epoch any tab said it knows: no epoch at or below it is
    /// given again (a coordinator may start after another one died).
    floor: Epoch,
    rejected: u64,
    outputs: VecDeque<CoordinatorOutput>,
}

impl Coordinator {
    /// A coordinator for the app of `names`, with no connections.
    pub fn new(id: CoordinatorId, names: LockNames) -> Self {
        Coordinator {
            id,
            names,
            conns: BTreeMap::new(),
            leadership: None,
            waiting: Vec::new(),
            floor: Epoch::ZERO,
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

    /// The clients of the open connections that said `hello`.
    pub fn clients(&self) -> impl Iterator<Item = &ClientId> {
        self.conns.values().flatten()
    }

    /// A new connection opened.
    pub fn connect(&mut self, conn: ConnId) {
        self.conns.entry(conn).or_insert(None);
    }

    /// The tab of `conn` is gone (its tab lock was granted to the
    /// coordinator) at `now`: forget it and close its port.
    pub fn tab_gone(&mut self, _now: Timestamp, conn: ConnId) {
        if self.conns.contains_key(&conn) {
            self.disconnect(conn);
            self.outputs.push_back(CoordinatorOutput::Close { conn });
        }
    }

    fn disconnect(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
        self.waiting.retain(|(c, _)| *c != conn);
        if let Some((_, leader_conn)) = &mut self.leadership {
            if *leader_conn == Some(conn) {
                *leader_conn = None;
            }
        }
    }

    /// Handles one frame from `conn`, decoded or refused, at `now`.
    pub fn handle(&mut self, now: Timestamp, conn: ConnId, frame: Result<TabToCoordinator, DecodeError>) {
        let message = match frame {
            Ok(message) => message,
            Err(error) => return self.reject(conn, error.code(), error.to_string()),
        };
        let Some(introduced) = self.conns.get(&conn) else {
            // A frame from a connection already closed: nobody to answer.
            return;
        };
        match (message, introduced.clone()) {
            (TabToCoordinator::Hello { client_id, epoch, .. }, None) => {
                self.floor = self.floor.max(epoch.unwrap_or(Epoch::ZERO));
                self.hello(now, conn, client_id);
            }
            (TabToCoordinator::Hello { .. }, Some(_)) => {
                self.reject(conn, "duplicate-hello", "`hello` twice on one connection".into());
            }
            // A tab that leaves before its `hello` (destroyed while joining).
            (TabToCoordinator::Goodbye { .. }, None) => self.tab_gone(now, conn),
            (message, None) => {
                self.reject(conn, "no-hello", format!("`{}` before `hello`", message.kind()));
            }
            (message, Some(sender)) if claimed_client(&message).is_some_and(|c| *c != sender) => {
                let claimed = claimed_client(&message).map(ToString::to_string).unwrap_or_default();
                let detail = format!("`{}` speaks for `{claimed}` on `{sender}`'s connection", message.kind());
                self.reject(conn, "wrong-client", detail);
            }
            (TabToCoordinator::NewLeader(claim), Some(_)) => self.new_leader(conn, claim),
            (TabToCoordinator::RequestPort(request), Some(_)) => self.request_port(conn, request),
            (TabToCoordinator::ProvidePort(grant), Some(_)) => self.provide_port(conn, grant),
            (TabToCoordinator::Goodbye { .. }, Some(_)) => self.tab_gone(now, conn),
            (message, Some(_)) => {
                self.reject(conn, "unsupported", format!("`{}` is not routed yet", message.kind()));
            }
        }
    }

    fn hello(&mut self, now: Timestamp, conn: ConnId, client_id: ClientId) {
        // A tab that says hello again on a new connection (it believed this
        // coordinator dead) moves there: the old connection is dropped.
        let old = self.conns.iter().find(|(_, c)| c.as_ref() == Some(&client_id)).map(|(k, _)| *k);
        if let Some(old) = old {
            self.tab_gone(now, old);
        }
        let lock = self.names.tab(&client_id);
        self.conns.insert(conn, Some(client_id));
        let tabs = self.clients().count();
        let welcome = CoordinatorToTab::Welcome {
            coordinator_id: self.id.clone(),
            leader: self.leadership().cloned(),
            tabs: u32::try_from(tabs).unwrap_or(u32::MAX),
        };
        self.send(conn, welcome);
        self.outputs.push_back(CoordinatorOutput::WatchTab { conn, lock });
    }

    fn new_leader(&mut self, conn: ConnId, claim: LeaderClaim) {
        let current = self.leadership().map_or(Epoch::ZERO, |l| l.epoch).max(self.floor);
        let epoch = match claim.epoch {
            // A leader claiming again from this (new) coordinator keeps its
            // term while no tab knows a newer one, so its sessions live on.
            Some(kept) if kept >= current && self.leadership().is_none_or(|l| kept > l.epoch) => kept,
            _ => match current.next() {
                Some(next) => next,
                None => return self.reject(conn, "epochs-exhausted", format!("no epoch after {current}")),
            },
        };
        self.floor = epoch;
        let leadership = Leadership { leader_id: claim.leader_id, epoch, liveness_key: claim.liveness_key };
        self.leadership = Some((leadership.clone(), Some(conn)));
        let introduced: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.is_some()).map(|(k, _)| *k).collect();
        for to in introduced {
            self.send(to, CoordinatorToTab::NewLeader(leadership.clone()));
        }
        for (from, request) in std::mem::take(&mut self.waiting) {
            self.request_port(from, request);
        }
    }

    fn request_port(&mut self, from: ConnId, request: PortRequest) {
        match self.leadership.as_ref().and_then(|(_, conn)| *conn) {
            Some(leader) => self.send(leader, CoordinatorToTab::RequestPort(request)),
            None => self.waiting.push((from, request)),
        }
    }

    fn provide_port(&mut self, from: ConnId, grant: PortGrant) {
        let Some((current, leader_conn)) = &self.leadership else {
            return self.reject(from, "not-leader", "`provide-port` before any leader".into());
        };
        if grant.epoch != current.epoch || *leader_conn != Some(from) {
            let detail = format!("port of epoch {} while epoch {} leads", grant.epoch, current.epoch);
            return self.reject(from, "stale-epoch", detail);
        }
        let target = self.conns.iter().find(|(_, c)| c.as_ref() == Some(&grant.client_id)).map(|(k, _)| *k);
        match target {
            Some(to) => self.send(to, CoordinatorToTab::ProvidePort(grant)),
            None => self.reject(from, "unknown-client", format!("no connected client `{}`", grant.client_id)),
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

/// The client a message speaks for, which must be the connection's own.
fn claimed_client(message: &TabToCoordinator) -> Option<&ClientId> {
    match message {
        TabToCoordinator::Hello { client_id, .. } | TabToCoordinator::Goodbye { client_id } => Some(client_id),
        TabToCoordinator::NewLeader(claim) => Some(&claim.leader_id),
        TabToCoordinator::RequestPort(request) => Some(&request.client_id),
        TabToCoordinator::Connect(call) => Some(&call.client_id),
        TabToCoordinator::Terminate(call) => Some(&call.client_id),
        // A grant, a refusal or an answer names the client it is for, not its sender.
        TabToCoordinator::ProvidePort(_)
        | TabToCoordinator::RefusePort(_)
        | TabToCoordinator::Connected(_)
        | TabToCoordinator::Status(_)
        | TabToCoordinator::Watch { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AppName, SessionId};
    use crate::protocol::BUILD;

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    fn client(n: u32) -> ClientId {
        ClientId::new(format!("c{n}")).unwrap()
    }

    fn coordinator() -> Coordinator {
        Coordinator::new(CoordinatorId::new("k").unwrap(), LockNames::new(AppName::new("app").unwrap()))
    }

    fn drain(k: &mut Coordinator) -> Vec<(ConnId, CoordinatorToTab)> {
        std::iter::from_fn(|| k.poll_output())
            .filter_map(|out| match out {
                CoordinatorOutput::Send { to, message } => Some((to, message)),
                _ => None,
            })
            .collect()
    }

    fn hello(k: &mut Coordinator, n: u32) {
        k.connect(ConnId(n.into()));
        k.handle(
            T0,
            ConnId(n.into()),
            Ok(TabToCoordinator::Hello { client_id: client(n), build: BUILD.into(), epoch: None }),
        );
    }

    fn claim(n: u32) -> TabToCoordinator {
        TabToCoordinator::NewLeader(LeaderClaim {
            leader_id: client(n),
            liveness_key: format!("live-{n}"),
            epoch: None,
        })
    }

    fn request(n: u32, s: &str) -> PortRequest {
        PortRequest { client_id: client(n), session_id: SessionId::new(s).unwrap(), backend_id: None }
    }

    fn grant(n: u32, s: &str, epoch: u64) -> PortGrant {
        PortGrant {
            client_id: client(n),
            session_id: SessionId::new(s).unwrap(),
            epoch: Epoch::new(epoch).unwrap(),
            backend_id: None,
        }
    }

    fn codes(out: Vec<(ConnId, CoordinatorToTab)>) -> Vec<String> {
        out.into_iter()
            .filter_map(|(_, m)| match m {
                CoordinatorToTab::Rejected { code, .. } => Some(code),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hello_is_welcomed_and_the_tab_lock_watched() {
        let mut k = coordinator();
        hello(&mut k, 1);
        k.connect(ConnId(2));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Hello { client_id: client(2), build: BUILD.into(), epoch: None }));
        let out: Vec<CoordinatorOutput> = std::iter::from_fn(|| k.poll_output()).collect();
        assert!(matches!(&out[2], CoordinatorOutput::Send { to: ConnId(2), message: CoordinatorToTab::Welcome {
            tabs: 2, leader: None, coordinator_id } } if coordinator_id.as_str() == "k"));
        assert_eq!(out[3], CoordinatorOutput::WatchTab { conn: ConnId(2), lock: "tabworker:app:tab:c2".into() });
    }

    #[test]
    fn each_claim_gets_the_next_epoch_and_every_tab_hears_of_it() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        k.handle(T0, ConnId(1), Ok(claim(1)));
        let out = drain(&mut k);
        let expected =
            Leadership { leader_id: client(1), epoch: Epoch::new(1).unwrap(), liveness_key: "live-1".into() };
        assert_eq!(
            out,
            vec![
                (ConnId(1), CoordinatorToTab::NewLeader(expected.clone())),
                (ConnId(2), CoordinatorToTab::NewLeader(expected))
            ]
        );
        k.tab_gone(T0, ConnId(1));
        k.handle(T0, ConnId(2), Ok(claim(2)));
        assert_eq!(k.leadership().unwrap().epoch.get(), 2);
        assert_eq!(k.leadership().unwrap().leader_id, client(2));
    }

    #[test]
    fn a_new_coordinator_never_gives_an_epoch_a_tab_already_knows_and_a_leader_keeps_its_term() {
        let mut k = coordinator();
        k.connect(ConnId(2));
        let hi =
            TabToCoordinator::Hello { client_id: client(2), build: BUILD.into(), epoch: Some(Epoch::new(7).unwrap()) };
        k.handle(T0, ConnId(2), Ok(hi));
        hello(&mut k, 1);
        let reclaim = |epoch: u64| {
            TabToCoordinator::NewLeader(LeaderClaim {
                leader_id: client(1),
                liveness_key: "live-1".into(),
                epoch: Some(Epoch::new(epoch).unwrap()),
            })
        };
        k.handle(T0, ConnId(1), Ok(reclaim(7)));
        assert_eq!(k.leadership().unwrap().epoch.get(), 7, "the leader of epoch 7 keeps it");
        k.handle(T0, ConnId(1), Ok(reclaim(7)));
        assert_eq!(k.leadership().unwrap().epoch.get(), 8, "the same term twice is a new term");
        k.handle(T0, ConnId(1), Ok(reclaim(3)));
        assert_eq!(k.leadership().unwrap().epoch.get(), 9, "an old term is never given back");
        let mut fresh = coordinator();
        fresh.connect(ConnId(1));
        let hi =
            TabToCoordinator::Hello { client_id: client(1), build: BUILD.into(), epoch: Some(Epoch::new(4).unwrap()) };
        fresh.handle(T0, ConnId(1), Ok(hi));
        fresh.handle(T0, ConnId(1), Ok(claim(1)));
        assert_eq!(fresh.leadership().unwrap().epoch.get(), 5, "a new claim gets the epoch after the floor");
    }

    #[test]
    fn request_port_waits_for_a_leader_then_reaches_only_the_leader() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(request(2, "s"))));
        assert!(drain(&mut k).is_empty(), "no leader yet: the request waits");
        k.handle(T0, ConnId(1), Ok(claim(1)));
        let out = drain(&mut k);
        assert_eq!(out.iter().filter(|(_, m)| matches!(m, CoordinatorToTab::NewLeader(_))).count(), 2);
        assert_eq!(out.last(), Some(&(ConnId(1), CoordinatorToTab::RequestPort(request(2, "s")))));
    }

    #[test]
    fn provide_port_goes_to_the_requesting_client_only() {
        let mut k = coordinator();
        for n in 1..=3 {
            hello(&mut k, n);
        }
        k.handle(T0, ConnId(1), Ok(claim(1)));
        drain(&mut k);
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(grant(3, "s", 1))));
        assert_eq!(drain(&mut k), vec![(ConnId(3), CoordinatorToTab::ProvidePort(grant(3, "s", 1)))]);
    }

    #[test]
    fn ports_of_an_old_epoch_or_from_a_non_leader_are_refused() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        k.handle(T0, ConnId(1), Ok(claim(1)));
        k.handle(T0, ConnId(2), Ok(claim(2)));
        drain(&mut k);
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(grant(2, "s", 1))));
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(grant(2, "s", 2))));
        assert_eq!(codes(drain(&mut k)), ["stale-epoch", "stale-epoch"]);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::ProvidePort(grant(1, "s", 2))));
        assert_eq!(drain(&mut k), vec![(ConnId(1), CoordinatorToTab::ProvidePort(grant(1, "s", 2)))]);
    }

    #[test]
    fn bad_frames_are_rejected_and_counted_and_change_nothing() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        k.handle(T0, ConnId(1), Ok(claim(1)));
        drain(&mut k);
        k.connect(ConnId(9));
        k.handle(T0, ConnId(9), Ok(claim(9)));
        k.handle(T0, ConnId(2), Err(DecodeError::Malformed { detail: "x".into() }));
        k.handle(T0, ConnId(2), Ok(claim(1)));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(request(1, "s"))));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Hello { client_id: client(2), build: BUILD.into(), epoch: None }));
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(grant(7, "s", 1))));
        assert_eq!(
            codes(drain(&mut k)),
            ["no-hello", "malformed", "wrong-client", "wrong-client", "duplicate-hello", "unknown-client"]
        );
        assert_eq!(k.rejected(), 6);
        assert_eq!(k.leadership().unwrap().epoch.get(), 1);
        assert_eq!(k.leadership().unwrap().leader_id, client(1));
    }

    #[test]
    fn a_tab_that_says_hello_again_on_a_new_connection_moves_there() {
        let mut k = coordinator();
        hello(&mut k, 1);
        k.handle(T0, ConnId(1), Ok(claim(1)));
        drain(&mut k);
        k.connect(ConnId(5));
        k.handle(T0, ConnId(5), Ok(TabToCoordinator::Hello { client_id: client(1), build: BUILD.into(), epoch: None }));
        let out: Vec<CoordinatorOutput> = std::iter::from_fn(|| k.poll_output()).collect();
        assert_eq!(out[0], CoordinatorOutput::Close { conn: ConnId(1) });
        assert!(matches!(
            &out[1],
            CoordinatorOutput::Send { to: ConnId(5), message: CoordinatorToTab::Welcome { tabs: 1, .. } }
        ));
        assert_eq!(k.connections(), 1);
        k.handle(T0, ConnId(5), Ok(TabToCoordinator::RequestPort(request(1, "s"))));
        assert!(drain(&mut k).is_empty(), "the old connection led; requests wait for the next claim");
    }

    #[test]
    fn a_gone_tab_is_forgotten_and_its_port_closed() {
        let mut k = coordinator();
        hello(&mut k, 1);
        drain(&mut k);
        k.tab_gone(T0, ConnId(1));
        assert_eq!(k.poll_output(), Some(CoordinatorOutput::Close { conn: ConnId(1) }));
        assert_eq!(k.connections(), 0);
        k.tab_gone(T0, ConnId(1));
        assert_eq!(k.poll_output(), None, "a second notice changes nothing");
        hello(&mut k, 2);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Goodbye { client_id: client(2) }));
        assert_eq!(std::iter::from_fn(|| k.poll_output()).last(), Some(CoordinatorOutput::Close { conn: ConnId(2) }));
    }

    #[test]
    fn a_gone_leader_stops_receiving_requests_until_the_next_one() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        k.handle(T0, ConnId(1), Ok(claim(1)));
        k.tab_gone(T0, ConnId(1));
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(request(2, "s"))));
        assert!(drain(&mut k).is_empty());
        k.handle(T0, ConnId(2), Ok(claim(2)));
        assert_eq!(drain(&mut k).last(), Some(&(ConnId(2), CoordinatorToTab::RequestPort(request(2, "s")))));
    }
}
