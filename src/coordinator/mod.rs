//! The coordinator as a pure state machine.
//!
//! It runs in the app's SharedWorker. It routes: it answers `hello`, gives
//! each leader that claims the role the next epoch and tells every tab
//! (a claim sent again by the leader it made is answered with the same
//! epoch, and `who-leads` with the current leadership, to the sender alone),
//! passes `request-port`, `connect` and `terminate` to the leader and
//! `provide-port`, `refuse-port` and `connected` to the one client that
//! asked. A `connect` stays pending until the leader answers it: one that a
//! leader took with it when it died goes to the next leader.
//!
//! Its parts each own their state: the open connections ([`conns`]), the
//! leaders' terms ([`terms`]), the questions waiting for the leader
//! ([`asks`]), the board of the keyed backends ([`board`]), the watchdog of
//! the lock's holder ([`watchdog`]), the standby's line ([`standby`]) and
//! what is to be done ([`outbox`]); this file routes each input to them.
//!
//! It keeps a board of the keyed backends: the leader
//! reports each backend's new state (`status`, of its own epoch only), the
//! coordinator checks it against the [`Lifecycle`](crate::Lifecycle) rules,
//! keeps the history and passes each state to the tabs that `watch` the
//! backend. When the leader's tab is gone its live backends are `terminated`
//! with reason `lost`; when a newer leader claims, those of older epochs are
//! `terminated` with `key_expired` (or `lost`, if their leader is gone too).
//! A `request-port` for a backend the board does not know, or knows
//! terminated, is refused at once. At most 1024 terminated backends are
//! remembered, the ones that terminated first are forgotten first; live
//! backends are never forgotten.
//!
//! It learns that a tab is gone from the tab's lock ([`LockNames::tab`]),
//! never from a silent port. It watches that lock only once the tab said
//! `hello` on its connection, so a connection gets [`HELLO_TIMEOUT_MS`] to
//! say it: one still silent then (its tab died before its `hello`, or said
//! it again on a new connection) is closed. It has no clock: the caller
//! passes the time.
//!
//! The browser layer numbers each connected `MessagePort` with a [`ConnId`]
//! and tells [`Coordinator::connect`], feeds every decoded frame (or its
//! [`DecodeError`]) to [`Coordinator::handle`] and every granted tab lock to
//! [`Coordinator::tab_gone`], then drains [`Coordinator::poll_output`] until
//! it returns `None` and keeps one timer armed to
//! [`Coordinator::poll_timeout`], calling [`Coordinator::timeout`] when it
//! fires.

mod admission;
mod asks;
mod board;
mod conns;
mod outbox;
mod standby;
mod terms;
mod watchdog;

use crate::model::code::ErrorCode;
use crate::model::ids::{BackendId, ClientId, ConnId, CoordinatorId, Epoch, MAX_ID_LEN};
use crate::model::locks::{LockId, LockNames};
use crate::model::status::{BackendState, BackendStatus, TerminationReason};
use crate::model::time::Timestamp;
use crate::protocol::{
    CoordinatorToTab, DecodeError, LeaderClaim, Leadership, MAX_HOSTED, StatusReport, TabToCoordinator, TerminateCall,
    WireMessage,
};
pub use admission::{MAX_EPOCH_LEAP, MAX_PENDING_PER_TAB};
use asks::Asks;
use board::{Board, Watched};
use conns::Conns;
pub use conns::HELLO_TIMEOUT_MS;
pub use outbox::CoordinatorOutput;
use outbox::Outbox;
use standby::Standby;
use terms::{Claimed, Terms};
use watchdog::{Bark, Roll, Watchdog};
pub use watchdog::{MAX_TAKEOVERS, PROBE_MS, SILENT_LEADER_MS, TAKEOVER_TIMEOUT_MS, TAKEOVER_WINDOW_MS};

/// The coordinator's state.
#[derive(Debug)]
pub struct Coordinator {
    id: CoordinatorId,
    names: LockNames,
    /// The open connections, each silent until its `hello`.
    conns: Conns,
    /// Who leads, in which term.
    terms: Terms,
    /// The connects and sessions asked of the leader, not answered yet.
    asks: Asks,
    /// The keyed backends the leaders reported.
    board: Board,
    /// Watches the lock's holder's main thread, and orders a takeover of
    /// one that stopped running.
    watchdog: Watchdog,
    /// Which tabs answered the roll calls lately (while no leader claimed).
    roll: Roll,
    /// The follower told to keep a warm standby worker.
    standby: Standby,
    /// The connections that wait for the liveness lock, until it is held
    /// (`None` once it is).
    unheld: Option<Vec<ConnId>>,
    out: Outbox,
}

impl Coordinator {
    /// A coordinator for the app of `names`, with no connections.
    pub fn new(id: CoordinatorId, names: LockNames) -> Self {
        Coordinator {
            id,
            names,
            conns: Conns::default(),
            terms: Terms::default(),
            asks: Asks::default(),
            board: Board::default(),
            watchdog: Watchdog::default(),
            roll: Roll::default(),
            standby: Standby::default(),
            unheld: Some(Vec::new()),
            out: Outbox::default(),
        }
    }

    /// This coordinator's id.
    pub fn id(&self) -> &CoordinatorId {
        &self.id
    }

    /// The highest leadership announced so far.
    pub fn leadership(&self) -> Option<&Leadership> {
        self.terms.leadership()
    }

    /// How many frames were refused so far.
    pub fn rejected(&self) -> u64 {
        self.out.rejected()
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The clients of the open connections that said `hello`.
    pub fn clients(&self) -> impl Iterator<Item = &ClientId> {
        self.conns.clients()
    }

    /// Every state of backend `id` so far, oldest first, if the board knows
    /// it.
    pub fn history(&self, id: &BackendId) -> Option<&[BackendState]> {
        self.board.get(id).map(|record| record.history())
    }

    /// The backends the board knows (live, or terminated and not yet
    /// forgotten), with their current state.
    pub fn backends(&self) -> impl Iterator<Item = (&BackendId, &BackendState)> {
        self.board.iter().map(|(id, record)| (id, record.state()))
    }

    /// The key of backend `id`, if the board knows it.
    pub fn backend_key(&self, id: &BackendId) -> Option<&str> {
        self.board.get(id).map(|record| record.key.as_str())
    }

    /// How many `connect`s wait for a leader's answer.
    pub fn pending_connects(&self) -> usize {
        self.asks.connects()
    }

    /// A new connection opened at `now`. Once the coordinator holds its
    /// liveness lock it is read ([`CoordinatorOutput::Listen`]), and closed
    /// unless it says `hello` within [`HELLO_TIMEOUT_MS`]; until then it
    /// waits. A connection already open is left as it is.
    pub fn connect(&mut self, now: Timestamp, conn: ConnId) {
        match &mut self.unheld {
            Some(waiting) => waiting.push(conn),
            None => {
                self.conns.open(now, conn);
                self.out.push(CoordinatorOutput::Listen { conn });
            }
        }
    }

    /// The coordinator holds its liveness lock (or the browser refused it:
    /// tabs then cannot see it die, and are served anyway): every waiting
    /// connection is read from now on, in the order it came.
    pub fn liveness_held(&mut self, now: Timestamp) {
        for conn in self.unheld.take().unwrap_or_default() {
            self.connect(now, conn);
        }
    }

    /// The earliest instant at which [`Coordinator::timeout`] must be
    /// called: the first deadline of a connection that has not said `hello`,
    /// or of the watchdog while other tabs are connected.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        // The followers are listed only while the lock's holder owes: not on every message.
        let watchdog = self.watchdog.owes().then(|| self.watchdog.next_deadline(&self.followers())).flatten();
        [self.conns.next_deadline(), watchdog].into_iter().flatten().min()
    }

    /// Time passed: every connection still silent at its deadline is
    /// closed; a silent holder of the lock is probed, or taken over
    /// (the watchdog's rules).
    pub fn timeout(&mut self, now: Timestamp) {
        for conn in self.conns.due(now) {
            self.close(now, conn);
        }
        for bark in self.watchdog.due(now, &self.followers()) {
            match bark {
                Bark::Probe { conn: Some(conn), epoch: Some(epoch) } => {
                    self.out.send(conn, CoordinatorToTab::Probe { epoch });
                }
                Bark::Probe { conn: Some(conn), epoch: None } => self.out.send(conn, CoordinatorToTab::RollCall),
                Bark::Probe { conn: None, .. } => self.roll_call(),
                Bark::TakeOver { conn, epoch, silent_ms } => {
                    self.out.send(conn, CoordinatorToTab::TakeOver { epoch, silent_ms });
                }
            }
        }
        self.place_standby();
    }

    /// The follower told to keep a warm standby worker
    /// (the standby line's rules).
    pub fn standby(&self) -> Option<ConnId> {
        self.standby.tab()
    }

    /// Tells the first follower in line, if it changed, to keep the standby, and
    /// the one before it to stop.
    fn place_standby(&mut self) {
        // No leader connected: it stays where it is, likely on the tab the
        // lock goes to next.
        let Some((_, leader)) = self.terms.leader() else { return };
        let conns = &self.conns;
        for (to, on) in self.standby.place(|tab| conns.contains(tab) && tab != leader) {
            self.out.send(to, CoordinatorToTab::Standby { on });
        }
    }

    /// How many takeovers of a silent leader were ordered in the last
    /// [`TAKEOVER_WINDOW_MS`] before `now`.
    pub fn recent_takeovers(&self, now: Timestamp) -> usize {
        self.watchdog.recent_takeovers(now)
    }

    /// The connections of the tabs that said `hello` and do not hold the
    /// lock, in the order the leader lock goes to them (the standby's
    /// line): a takeover is ordered of the tab with the standby first.
    /// While no tab is known to hold the lock, only those that answered the
    /// roll calls lately: the one that holds it is among the silent.
    fn followers(&self) -> Vec<ConnId> {
        let holder = self.watchdog.holder();
        let unknown = holder.is_none();
        let line = self.standby.line().iter().copied().filter(|c| Some(*c) != holder);
        line.filter(|c| !unknown || self.roll.recent(*c)).collect()
    }

    /// Asks every tab whether it holds the leader lock: a new round.
    fn roll_call(&mut self) {
        self.roll.new_round();
        for to in self.conns.introduced() {
            self.out.send(to, CoordinatorToTab::RollCall);
        }
    }

    /// The tab of `conn` is gone (its tab lock was granted to the
    /// coordinator) at `now`: forget it and close its port. Its `watch`es
    /// and unanswered `connect`s go with it; if it led, its live backends
    /// are `terminated` (`lost`).
    pub fn tab_gone(&mut self, now: Timestamp, conn: ConnId) {
        self.close(now, conn);
        self.place_standby();
    }

    /// Forgets `conn`, if open, and closes its port.
    fn close(&mut self, now: Timestamp, conn: ConnId) {
        if self.conns.contains(conn) {
            self.disconnect(now, conn);
            self.out.push(CoordinatorOutput::Close { conn });
        }
    }

    fn disconnect(&mut self, now: Timestamp, conn: ConnId) {
        self.conns.remove(conn);
        self.standby.left(conn);
        self.roll.forget(conn);
        self.watchdog.gone(conn);
        self.asks.left(conn);
        self.board.unwatch(conn);
        if self.terms.left(conn) {
            // The lock passes to the next tab, which every tab now waits on.
            self.watchdog.unwatch(now);
            self.board.leader_left();
            self.roll_call();
        }
        // The live backends its tab hosted (it led) die with it, and so do
        // the sessions it was asked for.
        let ended = self.board.end_hosted(now, |r| (r.host == conn).then_some(TerminationReason::Lost));
        self.out.tell(ended);
        self.asks.refuse_ports(|leader| leader == conn, &mut self.out);
    }

    /// Handles one frame from `conn`, decoded or refused, at `now`.
    pub fn handle(&mut self, now: Timestamp, conn: ConnId, frame: Result<TabToCoordinator, DecodeError>) {
        let before = self.out.len();
        // A tab that waits on a leader while none claimed: the election owes.
        let waits = matches!(
            &frame,
            Ok(TabToCoordinator::WhoLeads | TabToCoordinator::Connect(_) | TabToCoordinator::RequestPort(_))
        ) && self.conns.get(conn).is_some_and(|c| c.client().is_some());
        self.handle_frame(now, conn, frame);
        if waits && self.terms.leader().is_none() && self.watchdog.demand_election(now) {
            self.roll_call();
        }
        // What the leader was passed to answer: it owes from now on.
        for to in self.out.demanded_since(before) {
            self.watchdog.demand(now, to);
        }
        self.place_standby();
    }

    fn handle_frame(&mut self, now: Timestamp, conn: ConnId, frame: Result<TabToCoordinator, DecodeError>) {
        let message = match frame {
            Ok(message) => message,
            Err(error) => return self.reject(conn, error.code(), error.to_string()),
        };
        let Some(introduced) = self.conns.get(conn) else {
            // A frame from a connection already closed: nobody to answer.
            return;
        };
        self.watchdog.heard(now, conn);
        match (message, introduced.client().cloned()) {
            (TabToCoordinator::Hello { client_id, epoch, build, proof }, None) => {
                self.hello(now, conn, client_id, epoch, &build, proof);
            }
            (TabToCoordinator::Hello { .. }, Some(_)) => {
                self.reject(conn, ErrorCode::DuplicateHello, "`hello` twice on one connection".into());
            }
            // A tab that leaves before its `hello` (destroyed while joining).
            (TabToCoordinator::Goodbye { .. }, None) => self.close(now, conn),
            (message, None) => {
                self.reject(conn, ErrorCode::NoHello, format!("`{}` before `hello`", message.kind()));
            }
            (message, Some(sender)) if message.claimed_client().is_some_and(|c| *c != sender) => {
                let claimed = message.claimed_client().map(ToString::to_string).unwrap_or_default();
                let detail = format!("`{}` speaks for `{claimed}` on `{sender}`'s connection", message.kind());
                self.reject(conn, ErrorCode::WrongClient, detail);
            }
            (TabToCoordinator::NewLeader(claim), Some(_)) => self.new_leader(now, conn, claim),
            (TabToCoordinator::RequestPort(request), Some(_)) => {
                let leader = self.terms.leader().map(|(_, leader)| leader);
                self.asks.request_port(conn, request, leader, &self.board, &mut self.out);
            }
            (TabToCoordinator::ProvidePort(grant), Some(_)) => {
                self.asks.provide_port(conn, grant, &mut self.terms, &self.conns, &mut self.out);
            }
            (TabToCoordinator::RefusePort(refusal), Some(_)) => {
                if self.leading_epoch(conn, "refuse-port").is_some() {
                    self.asks.refuse_port(conn, refusal, &self.conns, &mut self.out);
                }
            }
            (TabToCoordinator::Connect(call), Some(_)) => self.asks.connect(conn, call, &self.terms, &mut self.out),
            (TabToCoordinator::Connected(answer), Some(_)) => {
                if self.leading_epoch(conn, "connected").is_some() {
                    self.asks.connected(answer, &self.conns, &mut self.out);
                }
            }
            (TabToCoordinator::Status(report), Some(_)) => self.status(now, conn, report),
            (TabToCoordinator::Watch { backend_id }, Some(_)) => match self.board.watch(conn, &backend_id) {
                Watched::History(states) => self.out.send(conn, CoordinatorToTab::History { backend_id, states }),
                Watched::Unhosted => self.out.send(conn, CoordinatorToTab::Unhosted { backend_id, time: now }),
            },
            (TabToCoordinator::Terminate(call), Some(_)) => self.terminate(call),
            (TabToCoordinator::WhoLeads, Some(_)) => {
                if let Some(leadership) = self.terms.connected() {
                    self.out.send(conn, CoordinatorToTab::NewLeader(leadership.clone()));
                }
            }
            (TabToCoordinator::Alive { epoch }, Some(_)) => {
                // Only the current leader's; a late one from a leader taken over is refused.
                if self.terms.leader() != Some((epoch, conn)) {
                    let detail = format!("`alive` of epoch {epoch} from a tab that does not lead in it");
                    self.reject(conn, ErrorCode::StaleEpoch, detail);
                }
            }
            (TabToCoordinator::Present { holding }, Some(_)) => {
                // A tab granted the lock says so before it claims.
                if holding && self.terms.leader().is_none() {
                    self.watchdog.holding(now, conn);
                }
                self.roll.answered(conn);
            }
            (TabToCoordinator::Goodbye { .. }, Some(_)) => self.close(now, conn),
        }
    }

    /// A `hello` on `conn`, not said there before: welcomed, unless the tab
    /// is of another build, knows an incredible epoch, or speaks for a
    /// client connected elsewhere without its proof.
    fn hello(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        client_id: ClientId,
        epoch: Option<Epoch>,
        build: &str,
        proof: String,
    ) {
        if let Some(detail) = admission::other_build(self.names.app(), build) {
            return self.reject(conn, ErrorCode::VersionMismatch, detail);
        }
        if let Some(detail) = epoch.and_then(|e| self.terms.incredible(e)) {
            return self.reject(conn, ErrorCode::EpochOutOfRange, detail);
        }
        if proof.is_empty() || proof.len() > MAX_ID_LEN {
            let detail = format!("a hello's proof must be 1 to {MAX_ID_LEN} bytes, not {}", proof.len());
            return self.reject(conn, ErrorCode::Malformed, detail);
        }
        // Another connection holds the client: only the same tab (its proof)
        // may move it here, dropping the old connection (it believed this
        // coordinator dead); nobody else evicts it.
        if let Some(old) = self.conns.of(&client_id) {
            if self.conns.get(old).and_then(|c| c.proof()) != Some(proof.as_str()) {
                let detail = format!("client `{client_id}` is connected, and this hello lacks its proof");
                return self.reject(conn, ErrorCode::ClientIdTaken, detail);
            }
            self.close(now, old);
        }
        self.terms.heard_of(epoch.unwrap_or(Epoch::ZERO));
        let lock = LockId::Tab(client_id.clone());
        let name = self.names.name(&lock);
        self.conns.introduce(conn, client_id, proof);
        self.standby.joined(conn);
        let tabs = self.clients().count();
        let welcome = CoordinatorToTab::Welcome {
            coordinator_id: self.id.clone(),
            leader: self.leadership().cloned(),
            tabs: u32::try_from(tabs).unwrap_or(u32::MAX),
        };
        self.out.send(conn, welcome);
        self.out.push(CoordinatorOutput::WatchTab { conn, lock, name });
    }

    fn new_leader(&mut self, now: Timestamp, conn: ConnId, claim: LeaderClaim) {
        if claim.hosted.len() > MAX_HOSTED {
            let detail = format!("a claim names {} hosted backends, more than {MAX_HOSTED}", claim.hosted.len());
            return self.reject(conn, ErrorCode::Malformed, detail);
        }
        let (leadership, previous) = match self.terms.claim(conn, &claim) {
            Err((code, detail)) => return self.reject(conn, code, detail),
            // The claim again, its answer lost: the same term, to the claimant alone.
            Ok(Claimed::Again(given)) => return self.out.send(conn, CoordinatorToTab::NewLeader(given)),
            Ok(Claimed::New { leadership, previous }) => (leadership, previous),
        };
        let epoch = leadership.epoch;
        self.standby.led(conn, previous);
        self.watchdog.watch(conn, epoch);
        for to in self.conns.introduced() {
            self.out.send(to, CoordinatorToTab::NewLeader(leadership.clone()));
        }
        // A leader that claims again on the same connection (its default
        // backend was replaced) still hosts its other backends: they move
        // to its new term.
        self.board.rehome(conn, epoch);
        // What it hosts and the board does not know yet comes from it; what
        // else a tab awaits, no leader continues.
        let unhosted = self.board.claimed(&claim.hosted);
        self.out.tell_unhosted(now, unhosted);
        // Epochs only grow: every backend of an older leader ends. One whose
        // leader is still connected lost its lease to this one.
        let conns = &self.conns;
        let ended = self.board.end_hosted(now, |r| {
            (r.epoch < epoch)
                .then(|| if conns.contains(r.host) { TerminationReason::KeyExpired } else { TerminationReason::Lost })
        });
        self.out.tell(ended);
        self.asks.new_leader(epoch, conn, &self.board, &mut self.out);
    }

    /// The leader's `status` of a backend, recorded on the board and told to
    /// its watchers, if it is of one of the leader's own terms.
    fn status(&mut self, now: Timestamp, from: ConnId, report: StatusReport) {
        let Some(epoch) = self.leading_epoch(from, "status") else { return };
        // A term it held before it claimed again on this connection: its
        // backends moved to the new term with it (`rehome`).
        if !self.terms.is_own(report.epoch, epoch) {
            let detail = format!("status of epoch {} while epoch {epoch} leads", report.epoch);
            return self.reject(from, ErrorCode::StaleEpoch, detail);
        }
        let StatusReport { backend_id, key, state, .. } = report;
        let ended = state.status() == BackendStatus::Terminated;
        match self.board.report(epoch, from, backend_id.clone(), key, state) {
            Ok(recorded) => self.out.tell(vec![recorded]),
            Err(error) => {
                self.reject(from, error.code(), error.to_string());
                // One it named in its claim ended before it was told here.
                if ended {
                    let watchers = self.board.ended_unreported(&backend_id);
                    self.out.tell_unhosted(now, vec![(backend_id, watchers)]);
                }
            }
        }
    }

    /// Only a live backend of the current leader is worth stopping; for
    /// any other the asking tab learns the outcome from the history it
    /// watches.
    fn terminate(&mut self, call: TerminateCall) {
        let Some((epoch, leader)) = self.terms.leader() else { return };
        if self.board.get(&call.backend_id).is_some_and(|r| !r.is_terminated() && r.epoch == epoch) {
            self.out.send(leader, CoordinatorToTab::Terminate(call));
        }
    }

    /// The current epoch if `from` leads; otherwise the frame, which only
    /// the current leader may send, is refused.
    fn leading_epoch(&mut self, from: ConnId, kind: &str) -> Option<Epoch> {
        match self.terms.leader() {
            Some((epoch, leader)) if leader == from => Some(epoch),
            _ => {
                self.reject(from, ErrorCode::NotLeader, format!("`{kind}` from a tab that does not lead"));
                None
            }
        }
    }

    fn reject(&mut self, conn: ConnId, code: ErrorCode, detail: String) {
        let open = self.conns.contains(conn);
        self.out.reject(conn, open, code, detail);
    }

    /// The next thing to do, if any. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<CoordinatorOutput> {
        self.out.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{AppName, SessionId};
    use crate::protocol::BUILD;
    use crate::protocol::{ConnectAnswer, ConnectCall, PortGrant, PortRefusal, PortRequest};

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    fn client(n: u32) -> ClientId {
        ClientId::new(format!("c{n}")).unwrap()
    }

    /// Tab `n`'s proof: the same in every hello it says.
    fn proof(n: u32) -> String {
        format!("proof-{n}")
    }

    /// A coordinator that holds its liveness lock.
    fn coordinator() -> Coordinator {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap(), LockNames::new(AppName::new("app").unwrap()));
        k.liveness_held(T0);
        k
    }

    /// What was sent, without the standby's moves and the roll calls of an
    /// election (their own tests follow them).
    fn drain(k: &mut Coordinator) -> Vec<(ConnId, CoordinatorToTab)> {
        (sent(k).into_iter())
            .filter(|(_, m)| !matches!(m, CoordinatorToTab::Standby { .. } | CoordinatorToTab::RollCall))
            .collect()
    }

    fn sent(k: &mut Coordinator) -> Vec<(ConnId, CoordinatorToTab)> {
        std::iter::from_fn(|| k.poll_output())
            .filter_map(|out| match out {
                CoordinatorOutput::Send { to, message } => Some((to, message)),
                _ => None,
            })
            .collect()
    }

    fn standby_moves(k: &mut Coordinator) -> Vec<(ConnId, bool)> {
        (sent(k).into_iter())
            .filter_map(|(to, m)| match m {
                CoordinatorToTab::Standby { on } => Some((to, on)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_first_follower_in_line_keeps_the_standby_and_it_moves_when_that_tab_goes_or_leads() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        assert_eq!(standby_moves(&mut k), [], "no standby before a leader");
        k.handle(T0, ConnId(1), Ok(claim(1)));
        hello(&mut k, 3);
        hello(&mut k, 4);
        assert_eq!(standby_moves(&mut k), [(ConnId(2), true)], "one tab, the first in line, told once");
        assert_eq!(k.standby(), Some(ConnId(2)));

        // The standby's tab goes: the next in line keeps it.
        k.tab_gone(T0, ConnId(2));
        assert_eq!(standby_moves(&mut k), [(ConnId(3), true)]);
        // The leader goes: the standby stays where it is, on the tab likely granted the lock next…
        k.tab_gone(T0, ConnId(1));
        assert_eq!(standby_moves(&mut k), []);
        // …which claims the lead, having used it: the next in line keeps one, nobody is told off.
        k.handle(T0, ConnId(3), Ok(claim(3)));
        assert_eq!(standby_moves(&mut k), [(ConnId(4), true)]);
        // Tab 5 takes the lead from tab 3, which lives and queues again behind tab 4: nothing moves.
        hello(&mut k, 5);
        k.handle(T0, ConnId(5), Ok(claim(5)));
        assert_eq!(standby_moves(&mut k), []);
        // Tab 4 goes: tab 3, the old leader, is next in line now.
        k.tab_gone(T0, ConnId(4));
        assert_eq!(standby_moves(&mut k), [(ConnId(3), true)]);
        // The last follower goes: nobody keeps one.
        k.tab_gone(T0, ConnId(3));
        assert_eq!(standby_moves(&mut k), [], "a gone tab is told nothing");
        assert_eq!(k.standby(), None);
    }

    #[test]
    fn a_leader_taken_over_while_its_tab_lives_queues_behind_the_other_followers() {
        let mut k = coordinator();
        for n in 1..=3 {
            hello(&mut k, n);
        }
        k.handle(T0, ConnId(1), Ok(claim(1)));
        assert_eq!(standby_moves(&mut k), [(ConnId(2), true)]);
        // Tab 2 took the lock from tab 1 (frozen): tab 3 is next, not tab 1, the oldest connection.
        k.handle(T0, ConnId(2), Ok(claim(2)));
        assert_eq!(standby_moves(&mut k), [(ConnId(3), true)]);
    }

    fn hello(k: &mut Coordinator, n: u32) {
        k.connect(T0, ConnId(n.into()));
        k.handle(
            T0,
            ConnId(n.into()),
            Ok(TabToCoordinator::Hello { client_id: client(n), build: BUILD.into(), epoch: None, proof: proof(n) }),
        );
    }

    fn claim(n: u32) -> TabToCoordinator {
        TabToCoordinator::NewLeader(LeaderClaim {
            leader_id: client(n),
            liveness_key: format!("live-{n}"),
            epoch: None,
            backend_id: None,
            hosted: vec![],
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

    fn codes(out: Vec<(ConnId, CoordinatorToTab)>) -> Vec<ErrorCode> {
        out.into_iter()
            .filter_map(|(_, m)| match m {
                CoordinatorToTab::Rejected { code, .. } => Some(code),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_epoch_leaping_far_above_every_known_one_is_refused_and_changes_nothing() {
        let mut k = coordinator();
        let far = Epoch::new(MAX_EPOCH_LEAP + 1).unwrap();
        k.connect(T0, ConnId(1));
        k.handle(
            T0,
            ConnId(1),
            Ok(TabToCoordinator::Hello {
                client_id: client(1),
                build: BUILD.into(),
                epoch: Some(far),
                proof: proof(1),
            }),
        );
        assert_eq!(codes(drain(&mut k)), [ErrorCode::EpochOutOfRange]);
        let near = Epoch::new(MAX_EPOCH_LEAP).unwrap();
        k.handle(
            T0,
            ConnId(1),
            Ok(TabToCoordinator::Hello {
                client_id: client(1),
                build: BUILD.into(),
                epoch: Some(near),
                proof: proof(1),
            }),
        );
        assert_eq!(codes(drain(&mut k)), [], "the leap itself is credible");
        let forged = LeaderClaim {
            leader_id: client(1),
            liveness_key: "k".into(),
            epoch: Some(Epoch::new(crate::model::ids::MAX_SAFE_INTEGER).unwrap()),
            backend_id: None,
            hosted: vec![],
        };
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::NewLeader(forged.clone())));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::EpochOutOfRange]);
        assert!(k.leadership().is_none(), "no leader from a forged term");
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::NewLeader(LeaderClaim { epoch: None, ..forged })));
        assert_eq!(k.leadership().map(|l| l.epoch), Epoch::new(MAX_EPOCH_LEAP + 1).ok(), "the next epoch is left");
    }

    #[test]
    fn a_tab_of_another_build_is_refused_as_a_version_mismatch_naming_both() {
        let app = AppName::deployed("app", "build-1").unwrap();
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap(), LockNames::new(app));
        k.liveness_held(T0);
        k.connect(T0, ConnId(1));
        k.handle(
            T0,
            ConnId(1),
            Ok(TabToCoordinator::Hello { client_id: client(1), build: "build-2".into(), epoch: None, proof: proof(1) }),
        );
        let out = drain(&mut k);
        assert_eq!(codes(out.clone()), [ErrorCode::VersionMismatch]);
        let detail = out.iter().find_map(|(_, m)| match m {
            CoordinatorToTab::Rejected { detail, .. } => Some(detail.clone()),
            _ => None,
        });
        assert!(detail.is_some_and(|d| d.contains("`build-1`") && d.contains("`build-2`")));
        assert_eq!(k.clients().count(), 0, "not welcomed: the connection has no client");
        k.handle(
            T0,
            ConnId(1),
            Ok(TabToCoordinator::Hello { client_id: client(1), build: "build-1".into(), epoch: None, proof: proof(1) }),
        );
        assert!(
            drain(&mut k).iter().any(|(_, m)| matches!(m, CoordinatorToTab::Welcome { .. })),
            "its own build is welcomed"
        );
    }

    #[test]
    fn hello_is_welcomed_and_the_tab_lock_watched() {
        let mut k = coordinator();
        hello(&mut k, 1);
        k.connect(T0, ConnId(2));
        k.handle(
            T0,
            ConnId(2),
            Ok(TabToCoordinator::Hello { client_id: client(2), build: BUILD.into(), epoch: None, proof: proof(2) }),
        );
        let out = drain_all(&mut k);
        assert!(matches!(&out[2], CoordinatorOutput::Send { to: ConnId(2), message: CoordinatorToTab::Welcome {
            tabs: 2, leader: None, coordinator_id } } if coordinator_id.as_str() == "k"));
        let (lock, name) = (LockId::Tab(client(2)), "tabworker:app:tab:c2".to_owned());
        assert_eq!(out[3], CoordinatorOutput::WatchTab { conn: ConnId(2), lock, name });
    }

    #[test]
    fn a_leader_silent_while_a_tab_waits_on_it_is_taken_over_by_one_follower_and_its_late_frames_refused() {
        let mut k = coordinator();
        for n in 1..=3 {
            hello(&mut k, n);
        }
        k.handle(T0, ConnId(1), Ok(claim(1)));
        drain(&mut k);
        assert_eq!(k.poll_timeout(), None, "an idle leader is not watched");
        // Tab 2 asks for a session: the leader owes an answer and says nothing.
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(request(2, "s2"))));
        drain(&mut k);
        let mut told = Vec::new();
        while let Some(at) = k.poll_timeout().filter(|_| told.iter().all(|(_, _, kind)| *kind != "take-over")) {
            k.timeout(at);
            told.extend(drain(&mut k).into_iter().map(|(to, m)| (at.millis_since(T0), to, m.kind())));
        }
        assert_eq!(told.last(), Some(&(SILENT_LEADER_MS, ConnId(2), "take-over")), "{told:?}");
        assert!(told.iter().filter(|(_, to, _)| *to == ConnId(1)).all(|(_, _, kind)| *kind == "probe"));
        // Tab 2 claims the lead; the old leader wakes and answers a probe, too late.
        k.handle(T0.plus_millis(2_000), ConnId(2), Ok(claim(2)));
        drain(&mut k);
        k.handle(T0.plus_millis(12_000), ConnId(1), Ok(TabToCoordinator::Alive { epoch: Epoch::new(1).unwrap() }));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::StaleEpoch]);
        assert_eq!(k.leadership().map(|l| (l.leader_id.clone(), l.epoch.get())), Some((client(2), 2)));
        assert_eq!(k.recent_takeovers(T0.plus_millis(12_000)), 1);
    }

    #[test]
    fn a_holder_of_the_lock_silent_before_its_claim_is_found_by_roll_call_and_taken_over_by_one_that_answered() {
        let mut k = coordinator();
        for n in 1..=3 {
            hello(&mut k, n);
        }
        drain(&mut k);
        // Tab 1 was granted the lock and stopped before it could say so; tab 2 waits on a leader.
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::WhoLeads));
        let called: Vec<ConnId> =
            sent(&mut k).into_iter().filter(|(_, m)| m.kind() == "roll-call").map(|(to, _)| to).collect();
        assert_eq!(called, [ConnId(1), ConnId(2), ConnId(3)], "every tab is asked whether it holds the lock");
        // Tabs 2 and 3 run and answer each roll call; tab 1 says nothing.
        let answer = |k: &mut Coordinator, now| {
            for n in [2, 3] {
                k.handle(now, ConnId(n), Ok(TabToCoordinator::Present { holding: false }));
            }
        };
        answer(&mut k, T0);
        let mut takeover = None;
        while takeover.is_none() {
            let now = k.poll_timeout().expect("the election is watched");
            assert!(now <= at(SILENT_LEADER_MS), "{now:?}");
            k.timeout(now);
            takeover = sent(&mut k).into_iter().find_map(|(to, m)| match m {
                CoordinatorToTab::TakeOver { epoch, silent_ms } => Some((to, epoch, silent_ms, now)),
                _ => None,
            });
            answer(&mut k, now);
        }
        assert_eq!(
            takeover,
            Some((ConnId(2), None, SILENT_LEADER_MS, at(SILENT_LEADER_MS))),
            "the first in line that answered"
        );
        // It steals the lock and says so; then it claims and the election is over.
        k.handle(at(SILENT_LEADER_MS + 1), ConnId(2), Ok(TabToCoordinator::Present { holding: true }));
        k.handle(at(SILENT_LEADER_MS + 50), ConnId(2), Ok(claim(2)));
        assert_eq!(k.leadership().map(|l| l.leader_id.clone()), Some(client(2)));
        drain(&mut k);
        assert_eq!(k.poll_timeout(), None, "a leader that owes nothing is not watched");
    }

    #[test]
    fn a_holder_that_says_so_and_answers_its_roll_calls_is_never_taken_over() {
        let mut k = coordinator();
        for n in 1..=2 {
            hello(&mut k, n);
        }
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Present { holding: true }));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::WhoLeads));
        drain(&mut k);
        // Its worker takes 10 s to start; its main thread runs all along.
        let mut now = T0;
        while now < at(10_000) {
            now = k.poll_timeout().expect("the holder is probed while a tab waits");
            k.timeout(now);
            let out = sent(&mut k);
            assert!(out.iter().all(|(to, m)| *to == ConnId(1) && m.kind() == "roll-call"), "{out:?}");
            k.handle(now, ConnId(1), Ok(TabToCoordinator::Present { holding: true }));
        }
        k.handle(now, ConnId(1), Ok(claim(1)));
        assert_eq!(k.recent_takeovers(now), 0);
        assert_eq!(k.leadership().map(|l| l.leader_id.clone()), Some(client(1)));
    }

    #[test]
    fn a_tab_may_keep_only_so_many_questions_waiting_and_others_are_still_served() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        // No leader yet: every connect and session waits at the coordinator.
        for id in 0..MAX_PENDING_PER_TAB as u64 - 1 {
            k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connect(call(1, id))));
        }
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::RequestPort(request(1, "s1"))));
        assert_eq!(codes(drain(&mut k)), []);
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connect(call(1, 999))));
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::RequestPort(request(1, "s2"))));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::TooManyPending, ErrorCode::TooManyPending]);
        assert_eq!(k.pending_connects(), MAX_PENDING_PER_TAB - 1, "nothing more is kept");
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connect(call(1, 0))));
        assert_eq!(codes(drain(&mut k)), [], "the same connect again replaces the one waiting");
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Connect(call(2, 0))));
        assert_eq!(codes(drain(&mut k)), [], "another tab is not held to the first's count");
        // Once a leader takes them, answering one frees a place.
        k.handle(T0, ConnId(2), Ok(claim(2)));
        drain(&mut k);
        let answer = ConnectAnswer {
            client_id: client(1),
            request_id: 0,
            outcome: crate::protocol::ConnectOutcome::Refused { code: ErrorCode::KeyNotHeld, detail: "no".into() },
        };
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Connected(Box::new(answer))));
        drain(&mut k);
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connect(call(1, 1000))));
        assert_eq!(codes(drain(&mut k)), []);
    }

    #[test]
    fn each_claim_gets_the_next_epoch_and_every_tab_hears_of_it() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        k.handle(T0, ConnId(1), Ok(claim(1)));
        let out = drain(&mut k);
        let expected = Leadership {
            leader_id: client(1),
            epoch: Epoch::new(1).unwrap(),
            liveness_key: "live-1".into(),
            backend_id: None,
        };
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
        k.connect(T0, ConnId(2));
        let hi = TabToCoordinator::Hello {
            client_id: client(2),
            build: BUILD.into(),
            epoch: Some(Epoch::new(7).unwrap()),
            proof: proof(2),
        };
        k.handle(T0, ConnId(2), Ok(hi));
        hello(&mut k, 1);
        let reclaim = |epoch: u64| {
            TabToCoordinator::NewLeader(LeaderClaim {
                leader_id: client(1),
                liveness_key: "live-1".into(),
                epoch: Some(Epoch::new(epoch).unwrap()),
                backend_id: None,
                hosted: vec![],
            })
        };
        k.handle(T0, ConnId(1), Ok(reclaim(7)));
        assert_eq!(k.leadership().unwrap().epoch.get(), 7, "the leader of epoch 7 keeps it");
        k.handle(T0, ConnId(1), Ok(reclaim(7)));
        assert_eq!(k.leadership().unwrap().epoch.get(), 8, "the same term twice is a new term");
        k.handle(T0, ConnId(1), Ok(reclaim(3)));
        assert_eq!(k.leadership().unwrap().epoch.get(), 9, "an old term is never given back");
        let mut fresh = coordinator();
        fresh.connect(T0, ConnId(1));
        let hi = TabToCoordinator::Hello {
            client_id: client(1),
            build: BUILD.into(),
            epoch: Some(Epoch::new(4).unwrap()),
            proof: proof(1),
        };
        fresh.handle(T0, ConnId(1), Ok(hi));
        fresh.handle(T0, ConnId(1), Ok(claim(1)));
        assert_eq!(fresh.leadership().unwrap().epoch.get(), 5, "a new claim gets the epoch after the floor");
    }

    #[test]
    fn a_claim_sent_again_by_the_leader_on_its_connection_gets_the_same_term_and_only_it_hears() {
        let mut k = led_by(1, 2);
        let given = k.leadership().cloned().unwrap();
        k.handle(at(300), ConnId(1), Ok(claim(1)));
        assert_eq!(drain(&mut k), vec![(ConnId(1), CoordinatorToTab::NewLeader(given.clone()))]);
        assert_eq!(k.leadership(), Some(&given), "no second term");
        // Once a tab says it knows a newer term, or from a new connection
        // (the old one was dropped), it is a new claim, as before.
        let hi = |n: u32, e: Option<Epoch>| TabToCoordinator::Hello {
            client_id: client(n),
            build: BUILD.into(),
            epoch: e,
            proof: proof(n),
        };
        k.connect(T0, ConnId(3));
        k.handle(T0, ConnId(3), Ok(hi(3, Some(epoch(4)))));
        k.handle(T0, ConnId(1), Ok(claim(1)));
        assert_eq!(k.leadership().map(|l| l.epoch), Some(epoch(5)));
        k.connect(T0, ConnId(5));
        k.handle(T0, ConnId(5), Ok(hi(1, None)));
        k.handle(T0, ConnId(5), Ok(claim(1)));
        assert_eq!(k.leadership().map(|l| l.epoch), Some(epoch(6)));
    }

    #[test]
    fn who_leads_is_answered_with_the_connected_leadership_to_the_asker_alone() {
        let mut k = coordinator();
        k.connect(T0, ConnId(2));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::WhoLeads));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::NoHello]);
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::WhoLeads));
        assert!(drain(&mut k).is_empty(), "no leader yet: its claim will tell every tab");
        k.handle(T0, ConnId(1), Ok(claim(1)));
        let given = k.leadership().cloned().unwrap();
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::WhoLeads));
        assert_eq!(drain(&mut k), vec![(ConnId(2), CoordinatorToTab::NewLeader(given))]);
        k.tab_gone(T0, ConnId(1));
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::WhoLeads));
        assert!(drain(&mut k).is_empty(), "a gone leader is not announced");
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
        assert_eq!(codes(drain(&mut k)), [ErrorCode::StaleEpoch, ErrorCode::StaleEpoch]);
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
        k.connect(T0, ConnId(9));
        k.handle(T0, ConnId(9), Ok(claim(9)));
        k.handle(T0, ConnId(2), Err(DecodeError::Malformed { detail: "x".into() }));
        k.handle(T0, ConnId(2), Ok(claim(1)));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(request(1, "s"))));
        k.handle(
            T0,
            ConnId(2),
            Ok(TabToCoordinator::Hello { client_id: client(2), build: BUILD.into(), epoch: None, proof: proof(2) }),
        );
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(grant(7, "s", 1))));
        assert_eq!(
            codes(drain(&mut k)),
            [
                ErrorCode::NoHello,
                ErrorCode::Malformed,
                ErrorCode::WrongClient,
                ErrorCode::WrongClient,
                ErrorCode::DuplicateHello,
                ErrorCode::UnknownClient
            ]
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
        k.connect(T0, ConnId(5));
        k.handle(
            T0,
            ConnId(5),
            Ok(TabToCoordinator::Hello { client_id: client(1), build: BUILD.into(), epoch: None, proof: proof(1) }),
        );
        let out = drain_all(&mut k);
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
    fn a_hello_for_a_connected_client_without_its_proof_is_refused_and_evicts_nobody() {
        let mut k = led_by(1, 2);
        report(&mut k, 1, 1, "b", &[scheduled(0), ready(1)]);
        k.handle(T0, ConnId(2), Ok(watch("b")));
        drain(&mut k);
        let given = k.leadership().cloned();
        // Another page knows the leader's client id (every tab does), not its proof.
        k.connect(T0, ConnId(9));
        let forged = |proof: &str| TabToCoordinator::Hello {
            client_id: client(1),
            build: BUILD.into(),
            epoch: None,
            proof: proof.into(),
        };
        for attempt in ["guess", "", &"p".repeat(MAX_ID_LEN + 1)] {
            k.handle(at(5), ConnId(9), Ok(forged(attempt)));
        }
        let out = drain_all(&mut k);
        let refused: Vec<ErrorCode> = out
            .iter()
            .filter_map(|o| match o {
                CoordinatorOutput::Send { to: ConnId(9), message: CoordinatorToTab::Rejected { code, .. } } => {
                    Some(*code)
                }
                _ => None,
            })
            .collect();
        assert_eq!(refused, [ErrorCode::ClientIdTaken, ErrorCode::Malformed, ErrorCode::Malformed]);
        assert_eq!(out.len(), 3, "nothing else happened: {out:?}");
        assert_eq!(k.leadership().cloned(), given, "the leader keeps its place");
        assert_eq!(k.clients().cloned().collect::<Vec<_>>(), [client(1), client(2)]);
        assert_eq!(k.history(&bid("b")).map(<[_]>::len), Some(2), "its backend lives on");
        // The silent connection is closed at its hello deadline, as any other.
        k.timeout(T0.plus_millis(HELLO_TIMEOUT_MS));
        assert_eq!(drain_all(&mut k), [CoordinatorOutput::Close { conn: ConnId(9) }]);
        // The leader still leads: a session asked of it reaches it.
        k.handle(at(HELLO_TIMEOUT_MS), ConnId(2), Ok(TabToCoordinator::RequestPort(request(2, "s"))));
        assert_eq!(drain(&mut k), vec![(ConnId(1), CoordinatorToTab::RequestPort(request(2, "s")))]);
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

    fn hi(n: u32) -> TabToCoordinator {
        TabToCoordinator::Hello { client_id: client(n), build: BUILD.into(), epoch: None, proof: proof(n) }
    }

    const HELLO: u64 = HELLO_TIMEOUT_MS;

    /// A tab killed before its `hello`, or whose `hello` was lost, leaves a
    /// connection no tab lock tells the coordinator about.
    #[test]
    fn a_connection_silent_past_its_hello_deadline_is_closed_and_not_before() {
        let mut k = led_by(1, 1);
        k.connect(at(100), ConnId(2));
        // A frame refused before `hello` does not count as one.
        k.handle(at(200), ConnId(2), Ok(TabToCoordinator::WhoLeads));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::NoHello]);
        k.timeout(at(100 + HELLO - 1));
        assert_eq!(k.poll_output(), None, "not before its deadline");
        assert_eq!(k.connections(), 2);
        k.timeout(at(100 + HELLO));
        assert_eq!(k.poll_output(), Some(CoordinatorOutput::Close { conn: ConnId(2) }));
        assert_eq!(k.poll_output(), None);
        assert_eq!(k.connections(), 1, "only the leader's connection is left");
        assert_eq!(k.leadership().map(|l| l.epoch), Some(epoch(1)));
        // Its `hello`, too late, is of a closed connection; the tab says it
        // again on a new one and is welcomed there.
        k.handle(at(100 + HELLO + 1), ConnId(2), Ok(hi(2)));
        assert_eq!(k.poll_output(), None);
        k.connect(at(100 + HELLO + 1_000), ConnId(3));
        k.handle(at(100 + HELLO + 1_001), ConnId(3), Ok(hi(2)));
        assert!(matches!(
            drain_all(&mut k).first(),
            Some(CoordinatorOutput::Send { to: ConnId(3), message: CoordinatorToTab::Welcome { tabs: 2, .. } })
        ));
        assert_eq!(k.clients().cloned().collect::<Vec<_>>(), [client(1), client(2)]);
    }

    #[test]
    fn a_connection_that_said_hello_in_time_is_never_closed_for_silence() {
        let mut k = coordinator();
        k.connect(T0, ConnId(1));
        k.handle(at(HELLO - 1), ConnId(1), Ok(hi(1)));
        drain(&mut k);
        for ms in [HELLO - 1, HELLO, 100 * HELLO] {
            k.timeout(at(ms));
        }
        assert_eq!(k.poll_output(), None);
        assert_eq!(k.clients().cloned().collect::<Vec<_>>(), [client(1)]);
    }

    #[test]
    fn poll_timeout_is_the_earliest_hello_deadline_and_none_once_every_connection_said_hello() {
        let mut k = coordinator();
        assert_eq!(k.poll_timeout(), None);
        k.connect(at(500), ConnId(1));
        k.connect(at(200), ConnId(2));
        k.connect(at(900), ConnId(3));
        assert_eq!(k.poll_timeout(), Some(at(200 + HELLO)));
        k.connect(at(5_000), ConnId(2));
        assert_eq!(k.poll_timeout(), Some(at(200 + HELLO)), "a connection opened again keeps its deadline");
        k.handle(at(300), ConnId(2), Ok(hi(2)));
        assert_eq!(k.poll_timeout(), Some(at(500 + HELLO)), "one that said hello has none");
        drain(&mut k);
        k.timeout(at(500 + HELLO));
        assert_eq!(drain_all(&mut k), [CoordinatorOutput::Close { conn: ConnId(1) }]);
        assert_eq!(k.poll_timeout(), Some(at(900 + HELLO)));
        // A tab that leaves before its `hello` takes its deadline with it.
        k.handle(at(600 + HELLO), ConnId(3), Ok(TabToCoordinator::Goodbye { client_id: client(3) }));
        assert_eq!(k.poll_timeout(), None);
        k.connect(at(700 + HELLO), ConnId(4));
        k.handle(at(700 + HELLO), ConnId(4), Ok(hi(4)));
        assert_eq!(k.poll_timeout(), None, "every open connection said hello");
    }

    /// Every output but the reading of a new connection (its own test follows it).
    fn drain_all(k: &mut Coordinator) -> Vec<CoordinatorOutput> {
        std::iter::from_fn(|| k.poll_output()).filter(|o| !matches!(o, CoordinatorOutput::Listen { .. })).collect()
    }

    #[test]
    fn connections_wait_unread_until_the_liveness_lock_is_held_then_are_read_in_order() {
        let mut k = Coordinator::new(CoordinatorId::new("k").unwrap(), LockNames::new(AppName::new("app").unwrap()));
        k.connect(T0, ConnId(1));
        k.connect(at(5), ConnId(2));
        assert_eq!(k.poll_output(), None, "no tab could see this coordinator die yet: nothing is read");
        assert_eq!((k.connections(), k.poll_timeout()), (0, None), "no hello deadline runs meanwhile");
        k.liveness_held(at(40));
        let read: Vec<CoordinatorOutput> = std::iter::from_fn(|| k.poll_output()).collect();
        assert_eq!(
            read,
            [CoordinatorOutput::Listen { conn: ConnId(1) }, CoordinatorOutput::Listen { conn: ConnId(2) }]
        );
        assert_eq!(k.poll_timeout(), Some(at(40 + HELLO_TIMEOUT_MS)), "their hello deadlines run from now");
        k.connect(at(50), ConnId(3));
        assert_eq!(k.poll_output(), Some(CoordinatorOutput::Listen { conn: ConnId(3) }), "a later one is read at once");
        k.liveness_held(at(60));
        assert_eq!(k.poll_output(), None, "held once");
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

    // --- keyed backends: connect, status, watch, terminate ---

    fn at(ms: u64) -> Timestamp {
        T0.plus_millis(ms)
    }

    fn bid(s: &str) -> BackendId {
        BackendId::new(s).unwrap()
    }

    fn epoch(n: u64) -> Epoch {
        Epoch::new(n).unwrap()
    }

    fn call(n: u32, request_id: u64) -> Box<ConnectCall> {
        let request = crate::model::connect::ConnectRequest { key: Some("room".into()), ..Default::default() };
        Box::new(ConnectCall { client_id: client(n), request_id, request })
    }

    fn answer(n: u32, request_id: u64) -> Box<ConnectAnswer> {
        let outcome = crate::protocol::ConnectOutcome::Refused { code: ErrorCode::KeyNotHeld, detail: "no".into() };
        Box::new(ConnectAnswer { client_id: client(n), request_id, outcome })
    }

    fn status(e: u64, b: &str, state: BackendState) -> TabToCoordinator {
        TabToCoordinator::Status(StatusReport { epoch: epoch(e), backend_id: bid(b), key: format!("key-{b}"), state })
    }

    fn watch(b: &str) -> TabToCoordinator {
        TabToCoordinator::Watch { backend_id: bid(b) }
    }

    fn terminate(n: u32, b: &str) -> TabToCoordinator {
        TabToCoordinator::Terminate(TerminateCall { client_id: client(n), backend_id: bid(b), hard: false })
    }

    fn port_for(n: u32, s: &str, b: &str) -> PortRequest {
        PortRequest { backend_id: Some(bid(b)), ..request(n, s) }
    }

    fn scheduled(ms: u64) -> BackendState {
        BackendState::Scheduled { time: at(ms) }
    }

    fn ready(ms: u64) -> BackendState {
        BackendState::Ready { time: at(ms) }
    }

    fn ended(
        ms: u64,
        reason: Option<TerminationReason>,
        kind: Option<crate::model::status::TerminationKind>,
    ) -> BackendState {
        BackendState::Terminated {
            time: at(ms),
            termination_reason: reason,
            termination_kind: kind,
            exit_error: Some(false),
        }
    }

    fn status_to(to: u64, b: &str, state: BackendState) -> (ConnId, CoordinatorToTab) {
        (ConnId(to), CoordinatorToTab::Status { backend_id: bid(b), state })
    }

    /// Tabs `1..=tabs` say hello, then tab `leader` claims epoch 1.
    fn led_by(leader: u32, tabs: u32) -> Coordinator {
        let mut k = coordinator();
        for n in 1..=tabs {
            hello(&mut k, n);
        }
        k.handle(T0, ConnId(leader.into()), Ok(claim(leader)));
        drain(&mut k);
        k
    }

    /// The leader on `conn`, of epoch `e`, reports each state of backend `b`.
    fn report(k: &mut Coordinator, conn: u64, e: u64, b: &str, states: &[BackendState]) {
        for state in states {
            k.handle(T0, ConnId(conn), Ok(status(e, b, state.clone())));
        }
    }

    #[test]
    fn a_connect_goes_to_the_leader_and_its_answer_only_to_the_asker() {
        let mut k = led_by(1, 3);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Connect(call(2, 7))));
        assert_eq!(drain(&mut k), vec![(ConnId(1), CoordinatorToTab::Connect(call(2, 7)))]);
        assert_eq!(k.pending_connects(), 1);
        k.handle(T0, ConnId(3), Ok(TabToCoordinator::Connected(answer(2, 7))));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::NotLeader], "only the leader answers");
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connected(answer(2, 7))));
        assert_eq!(drain(&mut k), vec![(ConnId(2), CoordinatorToTab::Connected(answer(2, 7)))]);
        assert_eq!(k.pending_connects(), 0);
        let before = k.rejected();
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connected(answer(2, 7))));
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connected(answer(3, 1))));
        assert!(drain(&mut k).is_empty(), "an answer to no pending connect goes nowhere");
        assert_eq!(k.rejected(), before + 2);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Connect(call(3, 8))));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::WrongClient]);
    }

    #[test]
    fn a_connect_made_before_any_leader_waits_and_goes_to_the_first_leader() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Connect(call(2, 1))));
        assert!(drain(&mut k).is_empty(), "no leader yet: the connect waits");
        k.handle(T0, ConnId(1), Ok(claim(1)));
        let out = drain(&mut k);
        assert_eq!(out.iter().filter(|(_, m)| matches!(m, CoordinatorToTab::NewLeader(_))).count(), 2);
        assert_eq!(out.last(), Some(&(ConnId(1), CoordinatorToTab::Connect(call(2, 1)))));
        assert_eq!(out.iter().filter(|(_, m)| matches!(m, CoordinatorToTab::Connect(_))).count(), 1);
    }

    #[test]
    fn an_unanswered_connect_goes_again_to_the_next_leader_once_the_old_leader_is_gone() {
        let mut k = led_by(1, 4);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Connect(call(2, 1))));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Connect(call(2, 2))));
        k.handle(T0, ConnId(4), Ok(TabToCoordinator::Connect(call(4, 1))));
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Connected(answer(2, 2))));
        drain(&mut k);
        k.tab_gone(T0, ConnId(1));
        k.tab_gone(T0, ConnId(4));
        assert!(drain(&mut k).is_empty(), "no leader: the connects wait");
        k.handle(T0, ConnId(3), Ok(claim(3)));
        let connects: Vec<_> =
            drain(&mut k).into_iter().filter(|(_, m)| matches!(m, CoordinatorToTab::Connect(_))).collect();
        assert_eq!(
            connects,
            vec![(ConnId(3), CoordinatorToTab::Connect(call(2, 1)))],
            "the answered connect and the gone tab's connect are not sent again"
        );
        k.handle(T0, ConnId(3), Ok(TabToCoordinator::Connected(answer(2, 1))));
        assert_eq!(drain(&mut k), vec![(ConnId(2), CoordinatorToTab::Connected(answer(2, 1)))]);
    }

    #[test]
    fn status_from_a_tab_that_does_not_lead_or_of_a_stale_epoch_is_refused() {
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        k.handle(T0, ConnId(1), Ok(status(1, "b", scheduled(0))));
        k.handle(T0, ConnId(1), Ok(claim(1)));
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(status(1, "b", scheduled(0))));
        k.handle(T0, ConnId(1), Ok(status(2, "b", scheduled(0))));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::NotLeader, ErrorCode::StaleEpoch]);
        k.handle(T0, ConnId(2), Ok(claim(2)));
        drain(&mut k);
        k.handle(T0, ConnId(1), Ok(status(1, "b", scheduled(0))));
        k.handle(T0, ConnId(2), Ok(status(1, "b", scheduled(0))));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::NotLeader, ErrorCode::StaleEpoch]);
        assert_eq!(k.history(&bid("b")), None, "nothing was recorded");
        k.handle(T0, ConnId(2), Ok(status(2, "b", scheduled(0))));
        assert!(drain(&mut k).is_empty());
        assert_eq!(k.history(&bid("b")), Some(&[scheduled(0)][..]));
        assert_eq!(k.backend_key(&bid("b")), Some("key-b"));
    }

    /// A claim naming what its tab hosts, by backend id.
    fn claim_hosting(n: u32, epoch: Option<u64>, hosted: &[&str]) -> TabToCoordinator {
        TabToCoordinator::NewLeader(LeaderClaim {
            leader_id: client(n),
            liveness_key: format!("live-{n}"),
            epoch: epoch.map(self::epoch),
            backend_id: None,
            hosted: hosted.iter().map(|b| bid(b)).collect(),
        })
    }

    fn unhosted_to(to: u64, b: &str, ms: u64) -> (ConnId, CoordinatorToTab) {
        (ConnId(to), CoordinatorToTab::Unhosted { backend_id: bid(b), time: at(ms) })
    }

    #[test]
    fn a_watch_of_a_backend_not_reported_yet_is_told_each_state_once_its_leader_reports_it() {
        // A new coordinator: tab 2 watches again before the leader claimed its term again here.
        let mut k = coordinator();
        for n in 1..=3 {
            hello(&mut k, n);
        }
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(watch("b")));
        let empty = CoordinatorToTab::History { backend_id: bid("b"), states: vec![] };
        assert_eq!(drain(&mut k), vec![(ConnId(2), empty.clone())]);
        k.handle(T0, ConnId(1), Ok(claim_hosting(1, Some(1), &["b", "c"])));
        assert!(drain(&mut k).iter().all(|(_, m)| matches!(m, CoordinatorToTab::NewLeader(_))), "b is expected");
        // Named in the claim: watched after it, it is still awaited.
        k.handle(T0, ConnId(3), Ok(watch("c")));
        assert_eq!(
            drain(&mut k),
            vec![(ConnId(3), CoordinatorToTab::History { backend_id: bid("c"), states: vec![] })]
        );
        report(&mut k, 1, 1, "b", &[scheduled(0), ready(1)]);
        assert_eq!(drain(&mut k), vec![status_to(2, "b", scheduled(0)), status_to(2, "b", ready(1))]);
        // A watcher that went is told nothing.
        k.tab_gone(at(2), ConnId(3));
        drain(&mut k);
        report(&mut k, 1, 1, "c", &[scheduled(3)]);
        assert!(drain(&mut k).is_empty());
    }

    #[test]
    fn a_backend_no_leader_continues_is_unhosted_to_its_watchers_at_the_claim_and_at_once_after_it() {
        // A new coordinator, after the old one died with the leader's tab:
        // tabs 2 and 3 watch again a backend of that leader.
        let mut k = coordinator();
        for n in 1..=3 {
            hello(&mut k, n);
        }
        drain(&mut k);
        k.handle(at(5), ConnId(2), Ok(watch("old")));
        k.handle(at(5), ConnId(3), Ok(watch("old")));
        drain(&mut k);
        // Tab 1 takes the lead, hosting only its default backend: nobody continues `old`.
        k.handle(at(10), ConnId(1), Ok(claim_hosting(1, None, &["default"])));
        let out = drain(&mut k);
        let unhosted: Vec<_> = out.into_iter().filter(|(_, m)| m.kind() == "unhosted").collect();
        assert_eq!(unhosted, vec![unhosted_to(2, "old", 10), unhosted_to(3, "old", 10)]);
        // Asked again, it is answered at once; what the claim named is awaited.
        k.handle(at(20), ConnId(2), Ok(watch("old")));
        k.handle(at(20), ConnId(2), Ok(watch("default")));
        let empty = CoordinatorToTab::History { backend_id: bid("default"), states: vec![] };
        assert_eq!(drain(&mut k), vec![unhosted_to(2, "old", 20), (ConnId(2), empty)]);
        report(&mut k, 1, 1, "default", &[scheduled(11)]);
        assert_eq!(drain(&mut k), vec![status_to(2, "default", scheduled(11))]);
        // The leader goes: until the next claim a backend not on the board may still come.
        k.tab_gone(at(30), ConnId(1));
        drain(&mut k);
        k.handle(at(31), ConnId(3), Ok(watch("next")));
        assert_eq!(
            drain(&mut k),
            vec![(ConnId(3), CoordinatorToTab::History { backend_id: bid("next"), states: vec![] })]
        );
        k.handle(at(40), ConnId(2), Ok(claim_hosting(2, None, &[])));
        let out = drain(&mut k);
        assert!(out.contains(&unhosted_to(3, "next", 40)), "{out:?}");
        assert_eq!(k.history(&bid("old")), None, "nothing is made up on the board");
    }

    #[test]
    fn a_named_backend_that_ends_before_it_is_reported_is_unhosted_and_a_claim_naming_too_many_is_refused() {
        let mut k = coordinator();
        for n in 1..=2 {
            hello(&mut k, n);
        }
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(watch("b")));
        k.handle(T0, ConnId(1), Ok(claim_hosting(1, Some(1), &["b"])));
        drain(&mut k);
        // Its worker died while the leader claimed again: the leader ends it before telling its history.
        let end = ended(7, Some(TerminationReason::Lost), None);
        k.handle(at(7), ConnId(1), Ok(status(1, "b", end)));
        let out = drain(&mut k);
        assert_eq!(codes(out.clone()), [ErrorCode::UnknownBackend]);
        assert!(out.contains(&unhosted_to(2, "b", 7)), "{out:?}");

        let too_many: Vec<String> = (0..=MAX_HOSTED).map(|i| format!("b{i}")).collect();
        let names: Vec<&str> = too_many.iter().map(String::as_str).collect();
        k.handle(T0, ConnId(2), Ok(claim_hosting(2, None, &names)));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::Malformed]);
        assert_eq!(k.leadership().map(|l| l.leader_id.clone()), Some(client(1)), "the claim changed nothing");
    }

    #[test]
    fn a_watcher_gets_the_history_then_each_new_state_and_a_late_watcher_the_history() {
        let mut k = led_by(1, 3);
        // The leader reports a backend before any tab learns of it (its
        // `connected` answer comes after its `scheduled`).
        report(&mut k, 1, 1, "b", &[scheduled(0)]);
        k.handle(T0, ConnId(2), Ok(watch("b")));
        assert_eq!(
            drain(&mut k),
            vec![(ConnId(2), CoordinatorToTab::History { backend_id: bid("b"), states: vec![scheduled(0)] })]
        );
        let loading = BackendState::Loading { time: at(1) };
        report(&mut k, 1, 1, "b", std::slice::from_ref(&loading));
        assert_eq!(drain(&mut k), vec![status_to(2, "b", loading.clone())]);
        k.handle(T0, ConnId(2), Ok(watch("b")));
        let so_far = vec![scheduled(0), loading.clone()];
        assert_eq!(
            drain(&mut k),
            vec![(ConnId(2), CoordinatorToTab::History { backend_id: bid("b"), states: so_far })]
        );
        let starting = BackendState::Starting { time: at(2) };
        report(&mut k, 1, 1, "b", std::slice::from_ref(&starting));
        assert_eq!(drain(&mut k), vec![status_to(2, "b", starting.clone())]);
        k.handle(T0, ConnId(3), Ok(watch("b")));
        k.handle(T0, ConnId(2), Ok(watch("b")));
        let so_far = vec![scheduled(0), loading, starting];
        let history = CoordinatorToTab::History { backend_id: bid("b"), states: so_far };
        assert_eq!(drain(&mut k), vec![(ConnId(3), history.clone()), (ConnId(2), history)]);
        report(&mut k, 1, 1, "b", &[ready(3)]);
        assert_eq!(drain(&mut k), vec![status_to(2, "b", ready(3)), status_to(3, "b", ready(3))], "once each");
        k.tab_gone(T0, ConnId(3));
        drain(&mut k);
        let stopping = BackendState::Terminating { time: at(4), termination_reason: TerminationReason::External };
        report(&mut k, 1, 1, "b", std::slice::from_ref(&stopping));
        assert_eq!(drain(&mut k), vec![status_to(2, "b", stopping)], "a gone tab watches nothing");
    }

    #[test]
    fn a_refused_transition_is_rejected_with_the_lifecycle_code_and_recorded_nowhere() {
        let mut k = led_by(1, 2);
        k.handle(T0, ConnId(2), Ok(watch("b")));
        report(&mut k, 1, 1, "b", &[scheduled(0)]);
        k.handle(T0, ConnId(2), Ok(watch("b")));
        report(&mut k, 1, 1, "b", &[ready(1)]);
        drain(&mut k);
        report(&mut k, 1, 1, "b", &[BackendState::Loading { time: at(2) }, scheduled(2)]);
        report(&mut k, 1, 1, "new", &[ready(2)]);
        let stopping = BackendState::Terminating { time: at(3), termination_reason: TerminationReason::External };
        report(&mut k, 1, 1, "b", &[stopping.clone(), ended(4, Some(TerminationReason::Swept), None)]);
        report(&mut k, 1, 1, "b", &[ended(5, Some(TerminationReason::External), None)]);
        report(
            &mut k,
            1,
            1,
            "b",
            &[ended(6, Some(TerminationReason::External), Some(crate::model::status::TerminationKind::Soft))],
        );
        report(&mut k, 1, 1, "b", &[ready(7)]);
        let out = drain(&mut k);
        let to_leader: Vec<_> = out.iter().filter(|(to, _)| *to == ConnId(1)).cloned().collect();
        assert_eq!(
            codes(to_leader),
            [
                ErrorCode::NotForward,
                ErrorCode::NotForward,
                ErrorCode::UnknownBackend,
                ErrorCode::ReasonMismatch,
                ErrorCode::KindMismatch,
                ErrorCode::AlreadyTerminated
            ]
        );
        let end = ended(6, Some(TerminationReason::External), Some(crate::model::status::TerminationKind::Soft));
        assert_eq!(
            out.into_iter().filter(|(to, _)| *to == ConnId(2)).collect::<Vec<_>>(),
            vec![status_to(2, "b", stopping.clone()), status_to(2, "b", end.clone())],
            "watchers hear only of accepted states"
        );
        assert_eq!(k.history(&bid("b")), Some(&[scheduled(0), ready(1), stopping, end][..]));
        assert_eq!(k.history(&bid("new")), None);
    }

    #[test]
    fn a_gone_leader_tab_leaves_each_of_its_live_backends_terminated_lost_for_its_watchers() {
        use crate::model::status::TerminationKind::Soft;
        let mut k = led_by(1, 2);
        let sweeping = BackendState::Terminating { time: at(2), termination_reason: TerminationReason::Swept };
        report(&mut k, 1, 1, "live", &[scheduled(0), ready(1)]);
        report(&mut k, 1, 1, "stopping", &[scheduled(0), sweeping]);
        report(&mut k, 1, 1, "done", &[scheduled(0), ended(3, None, None)]);
        for b in ["live", "stopping", "done"] {
            k.handle(T0, ConnId(2), Ok(watch(b)));
        }
        drain(&mut k);
        k.tab_gone(at(500), ConnId(1));
        assert_eq!(
            drain(&mut k),
            vec![
                status_to(2, "live", ended(500, Some(TerminationReason::Lost), None)),
                status_to(2, "stopping", ended(500, Some(TerminationReason::Swept), Some(Soft))),
            ]
        );
        assert_eq!(k.history(&bid("live")).unwrap().last(), Some(&ended(500, Some(TerminationReason::Lost), None)));
        assert_eq!(k.history(&bid("done")).unwrap().len(), 2, "a terminated backend stays as it ended");
    }

    #[test]
    fn a_newer_leader_leaves_the_backends_of_a_still_connected_leader_terminated_key_expired() {
        let mut k = led_by(1, 3);
        report(&mut k, 1, 1, "b", &[scheduled(0), ready(1)]);
        k.handle(T0, ConnId(3), Ok(watch("b")));
        drain(&mut k);
        k.handle(at(50), ConnId(2), Ok(claim(2)));
        let out = drain(&mut k);
        let expired = ended(50, Some(TerminationReason::KeyExpired), None);
        assert_eq!(out.iter().filter(|(_, m)| matches!(m, CoordinatorToTab::Status { .. })).count(), 1);
        assert!(out.contains(&status_to(3, "b", expired.clone())));
        assert_eq!(k.history(&bid("b")).unwrap().last(), Some(&expired));
        report(
            &mut k,
            1,
            1,
            "b",
            &[BackendState::Terminating { time: at(51), termination_reason: TerminationReason::External }],
        );
        report(&mut k, 2, 2, "b", &[ready(52)]);
        assert_eq!(codes(drain(&mut k)), [ErrorCode::NotLeader, ErrorCode::AlreadyTerminated]);
        k.tab_gone(at(60), ConnId(1));
        assert!(drain(&mut k).is_empty(), "nothing more to end");
    }

    #[test]
    fn a_leader_claiming_again_on_its_connection_keeps_its_backends_and_announces_its_default_backend() {
        let mut k = led_by(1, 3);
        report(&mut k, 1, 1, "keyed", &[scheduled(0), ready(1)]);
        report(&mut k, 1, 1, "old-default", &[scheduled(0), ended(2, None, None)]);
        k.handle(T0, ConnId(3), Ok(watch("keyed")));
        drain(&mut k);
        // Its default backend was replaced: the same tab claims a new term.
        let again = TabToCoordinator::NewLeader(LeaderClaim {
            leader_id: client(1),
            liveness_key: "live-1b".into(),
            epoch: None,
            backend_id: Some(bid("new-default")),
            hosted: vec![],
        });
        k.handle(at(10), ConnId(1), Ok(again));
        let out = drain(&mut k);
        let announced: Vec<&Leadership> = out
            .iter()
            .filter_map(|(_, m)| match m {
                CoordinatorToTab::NewLeader(l) => Some(l),
                _ => None,
            })
            .collect();
        assert_eq!(announced.len(), 3, "every tab hears of the new term");
        assert!(announced.iter().all(|l| l.epoch == epoch(2) && l.backend_id == Some(bid("new-default"))));
        assert!(
            !out.iter().any(|(_, m)| matches!(m, CoordinatorToTab::Status { .. })),
            "nothing of its own ended: {out:?}"
        );
        assert_eq!(k.history(&bid("keyed")).unwrap().last(), Some(&ready(1)));
        // It reports on in its new term, and the watcher hears it.
        let terminating = BackendState::Terminating { time: at(11), termination_reason: TerminationReason::External };
        report(&mut k, 1, 2, "keyed", std::slice::from_ref(&terminating));
        assert_eq!(drain(&mut k), vec![status_to(3, "keyed", terminating)]);
        report(&mut k, 1, 1, "keyed", &[ended(12, None, None)]);
        assert_eq!(codes(drain(&mut k)), [ErrorCode::StaleEpoch]);
    }

    /// Found by the keyed random walks (`tabs_on_virtual_time`): a session
    /// granted, or a state reported, between the leader's new claim (its
    /// default backend was replaced) and its answer carries the term before,
    /// and was refused as stale: the session was never opened.
    #[test]
    fn a_leader_claiming_again_still_has_the_keyed_ports_and_states_it_sent_in_its_term_before() {
        let mut k = led_by(1, 2);
        report(&mut k, 1, 1, "keyed", &[scheduled(0)]);
        // Its default backend was replaced: a new worker, claimed anew.
        let again = LeaderClaim {
            leader_id: client(1),
            liveness_key: "live-1b".into(),
            epoch: None,
            backend_id: Some(bid("new-default")),
            hosted: vec![],
        };
        k.handle(at(10), ConnId(1), Ok(TabToCoordinator::NewLeader(again)));
        drain(&mut k);
        assert_eq!(k.leadership().map(|l| l.epoch), Some(epoch(2)));
        report(&mut k, 1, 1, "keyed", &[ready(11)]);
        let keyed = PortGrant { backend_id: Some(bid("keyed")), ..grant(2, "s", 1) };
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(keyed.clone())));
        assert_eq!(drain(&mut k), vec![(ConnId(2), CoordinatorToTab::ProvidePort(keyed))]);
        assert_eq!(k.history(&bid("keyed")), Some(&[scheduled(0), ready(11)][..]));
        // The default path's port of the term before is of a replaced worker;
        // a term the coordinator never gave is nobody's.
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(grant(2, "s2", 1))));
        report(&mut k, 1, 3, "keyed", &[ended(12, None, None)]);
        assert_eq!(codes(drain(&mut k)), [ErrorCode::StaleEpoch, ErrorCode::StaleEpoch]);
    }

    #[test]
    fn terminate_reaches_the_leader_only_for_a_live_backend_of_its_epoch() {
        let mut k = led_by(1, 3);
        report(&mut k, 1, 1, "old", &[scheduled(0)]);
        k.handle(T0, ConnId(2), Ok(terminate(2, "old")));
        let TabToCoordinator::Terminate(old) = terminate(2, "old") else { unreachable!() };
        assert_eq!(drain(&mut k), vec![(ConnId(1), CoordinatorToTab::Terminate(old))]);
        k.handle(T0, ConnId(2), Ok(terminate(2, "nobody")));
        assert!(drain(&mut k).is_empty(), "an unknown backend: nothing happens");
        k.handle(T0, ConnId(2), Ok(terminate(3, "old")));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::WrongClient]);
        k.handle(T0, ConnId(3), Ok(claim(3)));
        report(&mut k, 3, 2, "new", &[scheduled(1)]);
        report(&mut k, 3, 2, "done", &[scheduled(1), ended(2, None, None)]);
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(terminate(2, "old")));
        k.handle(T0, ConnId(2), Ok(terminate(2, "done")));
        assert!(drain(&mut k).is_empty(), "an older epoch's or a terminated backend: nothing happens");
        k.handle(T0, ConnId(2), Ok(terminate(2, "new")));
        let TabToCoordinator::Terminate(new) = terminate(2, "new") else { unreachable!() };
        assert_eq!(drain(&mut k), vec![(ConnId(3), CoordinatorToTab::Terminate(new))]);
    }

    #[test]
    fn a_port_for_an_unknown_or_terminated_backend_is_refused_at_once() {
        let mut k = led_by(1, 2);
        report(&mut k, 1, 1, "live", &[scheduled(0)]);
        report(&mut k, 1, 1, "done", &[scheduled(0), ended(1, None, None)]);
        drain(&mut k);
        let refusal = |s: &str, code: ErrorCode| {
            let detail = String::new();
            (ConnId(2), PortRefusal { client_id: client(2), session_id: SessionId::new(s).unwrap(), code, detail })
        };
        let refused = |out: Vec<(ConnId, CoordinatorToTab)>| -> Vec<(ConnId, PortRefusal)> {
            out.into_iter()
                .filter_map(|(to, m)| match m {
                    CoordinatorToTab::RefusePort(r) => Some((to, PortRefusal { detail: String::new(), ..r })),
                    _ => None,
                })
                .collect()
        };
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s1", "nobody"))));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s2", "done"))));
        assert_eq!(
            refused(drain(&mut k)),
            vec![refusal("s1", ErrorCode::UnknownBackend), refusal("s2", ErrorCode::BackendTerminated)]
        );
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s3", "live"))));
        assert_eq!(drain(&mut k), vec![(ConnId(1), CoordinatorToTab::RequestPort(port_for(2, "s3", "live")))]);
        k.tab_gone(T0, ConnId(1));
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s4", "live"))));
        assert_eq!(
            refused(drain(&mut k)),
            vec![refusal("s4", ErrorCode::BackendTerminated)],
            "no waiting for a lost one"
        );
    }

    /// Found by the keyed random walks (`tabs_on_virtual_time`): a keyed
    /// session asked of a leader that went away before it answered (its
    /// tab closed, or a newer leader took over) was never answered.
    #[test]
    fn a_keyed_session_asked_of_a_leader_that_goes_is_refused() {
        let mut k = led_by(1, 3);
        report(&mut k, 1, 1, "b", &[scheduled(0)]);
        for (n, s) in [(2, "s1"), (3, "s2"), (3, "s3")] {
            k.handle(T0, ConnId(n), Ok(TabToCoordinator::RequestPort(port_for(n as u32, s, "b"))));
        }
        let answered = PortGrant { backend_id: Some(bid("b")), ..grant(3, "s2", 1) };
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(answered)));
        drain(&mut k);
        // A newer leader takes over while the old one is still connected.
        k.handle(at(5), ConnId(2), Ok(claim(2)));
        let refused: Vec<(ConnId, String, ErrorCode)> = drain(&mut k)
            .into_iter()
            .filter_map(|(to, m)| match m {
                CoordinatorToTab::RefusePort(r) => Some((to, r.session_id.to_string(), r.code)),
                _ => None,
            })
            .collect();
        let terminated = ErrorCode::BackendTerminated;
        assert_eq!(refused, [(ConnId(2), "s1".into(), terminated), (ConnId(3), "s3".into(), terminated)]);

        // The leader's tab goes: what was asked of it is refused, once.
        report(&mut k, 2, 2, "c", &[scheduled(6)]);
        k.handle(T0, ConnId(3), Ok(TabToCoordinator::RequestPort(port_for(3, "s4", "c"))));
        drain(&mut k);
        k.tab_gone(at(7), ConnId(2));
        let refused: Vec<(ConnId, String)> = drain(&mut k)
            .into_iter()
            .filter_map(|(to, m)| match m {
                CoordinatorToTab::RefusePort(r) => Some((to, r.session_id.to_string())),
                _ => None,
            })
            .collect();
        assert_eq!(refused, [(ConnId(3), "s4".to_owned())]);
        k.tab_gone(at(8), ConnId(2));
        assert!(drain(&mut k).is_empty());
    }

    #[test]
    fn a_new_coordinator_passes_a_port_for_a_backend_its_leader_may_still_report_and_refuses_the_rest() {
        // The old coordinator died; a tab asks this one again before any leader claimed.
        let mut k = coordinator();
        hello(&mut k, 1);
        hello(&mut k, 2);
        drain(&mut k);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s1", "b"))));
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s2", "gone"))));
        assert_eq!(drain(&mut k), vec![], "no leader yet: both wait");
        // The leader claims again, hosting b, which it has not reported here yet.
        k.handle(T0, ConnId(1), Ok(claim_hosting(1, Some(1), &["b"])));
        let out = drain(&mut k);
        let asked: Vec<_> = out.iter().filter(|(_, m)| m.kind() == "request-port").cloned().collect();
        assert_eq!(asked, vec![(ConnId(1), CoordinatorToTab::RequestPort(port_for(2, "s1", "b")))]);
        let refused: Vec<_> = (out.iter())
            .filter_map(|(to, m)| match m {
                CoordinatorToTab::RefusePort(r) => Some((*to, r.session_id.to_string(), r.code)),
                _ => None,
            })
            .collect();
        assert_eq!(refused, [(ConnId(2), "s2".to_owned(), ErrorCode::UnknownBackend)], "not named in the claim");
        // Asked once the claim was heard: b goes to the leader, another is refused at once.
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s3", "b"))));
        assert_eq!(drain(&mut k), vec![(ConnId(1), CoordinatorToTab::RequestPort(port_for(2, "s3", "b")))]);
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::RequestPort(port_for(2, "s4", "gone"))));
        let out = drain(&mut k);
        assert!(
            matches!(&out[..], [(ConnId(2), CoordinatorToTab::RefusePort(r))] if r.code == ErrorCode::UnknownBackend),
            "{out:?}"
        );
    }

    #[test]
    fn a_leaders_port_refusal_or_grant_for_a_backend_reaches_only_the_client_that_asked() {
        let mut k = led_by(1, 3);
        let refusal = PortRefusal {
            client_id: client(2),
            session_id: SessionId::new("s").unwrap(),
            code: ErrorCode::UnknownBackend,
            detail: "none".into(),
        };
        k.handle(T0, ConnId(3), Ok(TabToCoordinator::RefusePort(refusal.clone())));
        assert_eq!(codes(drain(&mut k)), [ErrorCode::NotLeader]);
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::RefusePort(refusal.clone())));
        assert_eq!(drain(&mut k), vec![(ConnId(2), CoordinatorToTab::RefusePort(refusal))]);
        let keyed = PortGrant { backend_id: Some(bid("b")), ..grant(2, "s", 1) };
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::ProvidePort(keyed.clone())));
        assert_eq!(drain(&mut k), vec![(ConnId(2), CoordinatorToTab::ProvidePort(keyed))]);
    }

    #[test]
    fn terminated_backends_beyond_the_cap_are_forgotten_oldest_first_and_live_ones_never() {
        use board::MAX_TERMINATED;
        let mut k = led_by(1, 1);
        report(&mut k, 1, 1, "live", &[scheduled(0)]);
        for n in 0..MAX_TERMINATED + 5 {
            report(&mut k, 1, 1, &format!("b{n}"), &[scheduled(0), ended(1, None, None)]);
        }
        assert_eq!(k.rejected(), 0);
        assert_eq!(k.backends().count(), MAX_TERMINATED + 1);
        assert!(k.history(&bid("live")).is_some(), "a live backend is never forgotten");
        assert!((0..5).all(|n| k.history(&bid(&format!("b{n}"))).is_none()), "the oldest terminated are forgotten");
        assert!(k.history(&bid("b5")).is_some());
        assert!(k.history(&bid(&format!("b{}", MAX_TERMINATED + 4))).is_some());
        k.tab_gone(T0, ConnId(1));
        assert_eq!(k.backends().count(), MAX_TERMINATED, "`live` ended: the oldest terminated makes room");
        assert!(k.history(&bid("live")).is_some());
        assert!(k.history(&bid("b5")).is_none());
    }

    #[test]
    fn a_storm_of_frames_from_any_connection_in_any_order_never_panics() {
        let frames = |n: u32| {
            vec![
                claim(n),
                TabToCoordinator::RequestPort(port_for(n, "s", "b")),
                TabToCoordinator::RequestPort(request(n, "s")),
                TabToCoordinator::ProvidePort(grant(n % 3 + 1, "s", u64::from(n % 3 + 1))),
                TabToCoordinator::RefusePort(PortRefusal {
                    client_id: client(n % 3 + 1),
                    session_id: SessionId::new("s").unwrap(),
                    code: ErrorCode::ALL[n as usize % ErrorCode::ALL.len()],
                    detail: String::new(),
                }),
                TabToCoordinator::Connect(call(n, u64::from(n % 2))),
                TabToCoordinator::Connected(answer(n % 3 + 1, u64::from(n % 2))),
                status(u64::from(n % 4), "b", scheduled(0)),
                status(u64::from(n % 4), "b", ready(1)),
                status(u64::from(n % 4), "b", ended(2, None, None)),
                status(u64::from(n % 4), "c", scheduled(0)),
                watch("b"),
                watch("c"),
                terminate(n, "b"),
                terminate(n, "c"),
                TabToCoordinator::WhoLeads,
                TabToCoordinator::Goodbye { client_id: client(n) },
            ]
        };
        let mut k = coordinator();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let n = u32::try_from(seed >> 60).unwrap() % 4 + 1;
            let conn = ConnId(n.into());
            match (seed >> 32) % 24 {
                0 => k.tab_gone(at(step), conn),
                1 => hello(&mut k, n),
                2 => k.handle(at(step), conn, Err(DecodeError::Malformed { detail: "x".into() })),
                pick => {
                    let all = frames(n);
                    let frame = all[usize::try_from(pick).unwrap() % all.len()].clone();
                    k.handle(at(step), conn, Ok(frame));
                }
            }
            k.timeout(at(step));
            while k.poll_output().is_some() {}
        }
    }
}
