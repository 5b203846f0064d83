//! One tab as a pure state machine: its membership of the coordinator, its
//! part in the election, its own worker (the default backend) while it
//! leads, and its session.
//!
//! The browser layer feeds in what happens — a granted lock
//! ([`Tab::lock_granted`]), a frame from the coordinator
//! ([`Tab::from_coordinator`]) or from a backend worker
//! ([`Tab::from_worker`]), a fired timer ([`Tab::timeout`]) — and after each
//! input drains [`Tab::poll_output`], then arms one timer for
//! [`Tab::poll_timeout`].
//!
//! Ports: an input carries at most one `MessagePort` (a `provide-port` from the
//! coordinator, a `session` from the worker). The output that uses it —
//! [`TabEvent::Connected`], [`TabOutput::OpenKeyed`] or a `provide-port` to
//! the coordinator — takes it; a port that no output took is closed by the
//! browser layer.
//!
//! The rules, in the seed's order:
//! 1. the tab takes its tab lock, then says `hello`; after `welcome` it asks
//!    for the leader lock and waits for it for as long as it takes;
//! 2. the holder spawns a worker, waits for `listening`, sends `init`, waits
//!    for `ready`, and claims the lead with `new-leader`; the coordinator
//!    answers every tab with the leadership and its epoch. A claim left
//!    unanswered is sent again with backoff (one the coordinator took is
//!    answered with the epoch it gave);
//! 3. each session is one connect attempt, under its session lock, asked
//!    for with `request-port` ([`sessions`]; the default session's own rules
//!    in [`default_session`]);
//! 4. a leader that sees a higher epoch than its own from another tab steps
//!    down: it stops its worker and queues for the lock again;
//! 5. keyed backends: the tab's calls on them are [`keyed`]'s; while it
//!    leads it hosts them in its [`Fleet`]; stepping down kills them.
//!
//! Its parts each own their state, and this file routes each input to them:
//! the election, the tab's own worker and what it hosts while it leads
//! ([`election`], its stages in [`stages`], the warm standby in
//! [`standby`]); every session, the default one and the keyed ones, with
//! the attempt numbers ([`sessions`], [`default_session`]); keyed calls
//! ([`keyed`], [`calls`], [`watches`]); what is to be done ([`outbox`], its
//! kinds in [`output`]). The membership of the coordinator and the join are the
//! Tab's own.

mod calls;
mod default_session;
mod election;
mod keyed;
mod outbox;
mod output;
mod sessions;
mod settings;
mod stages;
mod standby;
mod watches;

use crate::model::code::ErrorCode;
pub use calls::{CallError, CallId, CallValue, DEFAULT_CALL_TIMEOUT_MS};
use election::{Cx, Election};
use keyed::{Ctx as KeyedCx, Keyed};
use outbox::Outbox;
pub use output::{DisconnectReason, Role, TabEvent, TabOutput};
use sessions::Sessions;
pub use settings::{CLIENT_OPTIONS, ClientSettings, Mode};
use stages::Membership;
pub use stages::{FIRST_RETRY_MS, MAX_RETRY_MS, WELCOME_TIMEOUT_MS, WORKER_START_TIMEOUT_MS};
use standby::Standby;
use watches::Await;
pub use watches::SubscriptionId;

use crate::fleet::{Fleet, FleetLimits};
use crate::model::connect::ConnectRequest;
use crate::model::ids::{BackendId, ClientId, CoordinatorId, Epoch, SessionId};
use crate::model::locks::{LockId, LockMode, LockNames};
use crate::model::status::BackendState;
use crate::model::time::Timestamp;
use crate::protocol::{BackendToLeader, BackendToTab, CoordinatorToTab, DecodeError, Leadership, TabToCoordinator};

/// One tab's state.
#[derive(Debug)]
pub struct Tab {
    id: ClientId,
    names: LockNames,
    membership: Membership,
    /// The liveness lock of the coordinator this tab waits on (shared).
    coordinator_watch: Option<LockId>,
    /// The secret its every `hello` carries, drawn from the fleet's entropy
    /// at [`Tab::start`]: only this tab can say `hello` as its client.
    proof: String,
    /// Its part in the election, its own worker and what it hosts.
    election: Election,
    /// The worker kept loaded while this tab is next in line for the lead.
    standby: Standby,
    /// Every session: the default one, and those with keyed backends.
    sessions: Sessions,
    /// The backends watched, and the rules of keyed calls.
    keyed: Keyed,
    /// The app's calls waiting for an answer, and its connects' credentials.
    calls: calls::Calls,
    /// What is to be done, and what was out of place.
    out: Outbox,
}

impl Tab {
    /// A tab of the app of `names`, with client id `id`. Nothing happens
    /// until [`Tab::start`]. Its fleet makes ids and tokens from a counter
    /// until [`Tab::configure_fleet`] gives it real entropy.
    pub fn new(id: ClientId, names: LockNames) -> Self {
        Tab {
            keyed: Keyed::new(id.clone()),
            calls: calls::Calls::default(),
            election: Election::new(id.clone(), names.app().to_string()),
            standby: Standby::default(),
            out: Outbox::new(names.clone()),
            sessions: Sessions::new(id.clone()),
            id,
            names,
            membership: Membership::New,
            coordinator_watch: None,
            proof: String::new(),
        }
    }

    /// This tab's client id.
    pub fn id(&self) -> &ClientId {
        &self.id
    }

    /// This tab's role.
    pub fn role(&self) -> Role {
        self.election.role()
    }

    /// The newest leadership this tab heard of.
    pub fn leadership(&self) -> Option<&Leadership> {
        self.election.leadership()
    }

    /// The open session: its attempt and the epoch of the leader serving it.
    pub fn session(&self) -> Option<(&SessionId, Epoch)> {
        self.sessions.default.connected()
    }

    /// Whether this tab leads, with its worker ready and its epoch given.
    pub fn leading(&self) -> Option<Epoch> {
        self.election.leading()
    }

    /// This tab's own worker, its default backend, while it leads and the worker is not known to
    /// have ended.
    pub fn worker(&self) -> Option<&BackendId> {
        self.election.worker()
    }

    /// The keyed backends this tab hosts (while it leads).
    pub fn fleet(&self) -> &Fleet {
        self.election.fleet()
    }

    /// Gives the fleet its limits, the tags that have a script (besides the
    /// default) and the entropy its ids and tokens are made from.
    pub fn configure_fleet(
        &mut self,
        limits: FleetLimits,
        tags: impl IntoIterator<Item = String>,
        entropy: Box<dyn FnMut() -> u128>,
    ) {
        self.election.configure(limits, tags, entropy);
    }

    /// Whether the coordinator welcomed this tab and it was not destroyed.
    pub fn is_joined(&self) -> bool {
        self.membership == Membership::Joined
    }

    /// Whether this tab keeps a standby worker (loading or loaded).
    pub fn has_standby(&self) -> bool {
        self.standby.has()
    }

    /// A frame from the standby worker before it was adopted: only its
    /// `listening` means something.
    pub fn from_standby(&mut self, frame: Result<BackendToLeader, DecodeError>) {
        self.standby.heard(frame, &mut self.out);
    }

    /// The standby worker failed to load, or threw: it is terminated, and
    /// this tab starts its worker from nothing if it comes to lead.
    pub fn standby_error(&mut self) {
        self.standby.failed(&mut self.out);
    }

    /// How many frames or events were refused or out of place so far.
    pub fn ignored(&self) -> u64 {
        self.out.ignored()
    }

    /// The parts an input of the election works with, beside it.
    fn cx(&mut self) -> (&mut Election, Cx<'_>) {
        let joined = self.membership == Membership::Joined;
        let (out, session, standby) = (&mut self.out, &mut self.sessions.default, &mut self.standby);
        (&mut self.election, Cx { out, session, standby, joined })
    }

    /// The parts a keyed call or frame works with, beside them.
    fn keyed_cx(&mut self) -> (&mut Keyed, KeyedCx<'_>) {
        let joined = self.membership == Membership::Joined;
        let (calls, sessions, out) = (&mut self.calls, &mut self.sessions, &mut self.out);
        (&mut self.keyed, KeyedCx { calls, sessions, out, joined })
    }

    /// The history of every backend this tab watches, as far as it
    /// arrived.
    pub fn watched(&self) -> impl Iterator<Item = (&BackendId, &[BackendState])> {
        self.keyed.watched()
    }

    /// This tab's keyed sessions (asked for, opening or open): each with its
    /// backend and, until it is open, the app's call that waits for it.
    pub fn keyed_sessions(&self) -> impl Iterator<Item = (&SessionId, &BackendId, Option<CallId>)> {
        self.sessions.keyed()
    }

    /// How long a `connect` or an `open` made from now on waits for its
    /// answer before it is refused with `timeout` (`connectTimeoutMs`;
    /// [`DEFAULT_CALL_TIMEOUT_MS`] unless set).
    pub fn set_call_timeout(&mut self, timeout_ms: u64) {
        self.calls.set_timeout(timeout_ms);
    }

    /// Asks the leader for a backend (the seed's `connect`). The request's
    /// `user` and `auth` are not sent: they stay in this tab, and go to the
    /// backend with each session opened with the response's `url`. Settled
    /// with [`CallValue::Connected`], or refused (`not-initialized` before
    /// the tab joined, the leader's code, `timeout`). A key the leader would
    /// refuse (`invalid-key`) or a request of more text than a connect
    /// carries (`invalid-argument`) is refused at once.
    pub fn connect(&mut self, now: Timestamp, request: ConnectRequest) -> CallId {
        let (keyed, mut cx) = self.keyed_cx();
        keyed.connect(now, request, &mut cx)
    }

    /// The app's `connected()`: settled with the open default session, at once or when the next
    /// opens ([`CallValue::DefaultSession`]); refused once the client was destroyed.
    pub fn connected(&mut self) -> CallId {
        self.sessions.default.wait(self.membership == Membership::Left, &mut self.calls, &mut self.out)
    }

    /// Opens a session with a keyed backend; `url` is a response's `url`.
    /// Settled with [`CallValue::Session`] once the backend took it, or
    /// refused (`invalid-argument`, `not-initialized`, the coordinator's,
    /// the leader's or the backend's code, `timeout`).
    pub fn open(&mut self, now: Timestamp, url: &str) -> CallId {
        let (keyed, mut cx) = self.keyed_cx();
        keyed.open(now, url, &mut cx)
    }

    /// The current state of a backend (`backend`: its id or a url of a
    /// response); refused with `unknown-backend` if none is known.
    pub fn status(&mut self, backend: &str) -> CallId {
        let (keyed, mut cx) = self.keyed_cx();
        keyed.wait(backend, Await::Current, None, &mut cx)
    }

    /// The backend's `ready` state, once it is ready; refused with
    /// `backend-terminated` (naming its final state) if it ends first.
    pub fn ready(&mut self, backend: &str) -> CallId {
        let (keyed, mut cx) = self.keyed_cx();
        keyed.wait(backend, Await::Ready, None, &mut cx)
    }

    /// Stops a backend from any tab (reason `external`; soft unless
    /// `hard`); settled with its `terminated` state.
    pub fn terminate(&mut self, backend: &str, hard: bool) -> CallId {
        let (keyed, mut cx) = self.keyed_cx();
        keyed.wait(backend, Await::Terminated, Some(hard), &mut cx)
    }

    /// Follows every state of a backend (`backend`: its id or a url of a
    /// response): the past ones first, then each new one, each once
    /// ([`TabEvent::StatusUpdate`]).
    pub fn subscribe(&mut self, backend: &str) -> Result<SubscriptionId, CallError> {
        let (keyed, mut cx) = self.keyed_cx();
        keyed.subscribe(backend, &mut cx)
    }

    /// Stops a subscription: it is given nothing more.
    pub fn unsubscribe(&mut self, subscription: SubscriptionId) {
        self.keyed.unsubscribe(subscription);
    }

    /// The backend's answer to the `open` posted on keyed session
    /// `session_id`'s port, decoded or refused.
    pub fn open_answered(&mut self, session_id: &SessionId, answer: Result<BackendToTab, DecodeError>) {
        self.sessions.open_answered(session_id, answer, &mut self.calls, &mut self.out);
    }

    /// The `open` of keyed session `session_id` could not be posted on its
    /// port (`detail` says why): the session ends.
    pub fn open_unsent(&mut self, session_id: &SessionId, detail: String) {
        self.sessions.end(session_id, CallError::new(ErrorCode::BadToken, detail), &mut self.calls, &mut self.out);
    }

    /// Ends a session with a keyed backend (asked for or open): its lock is
    /// released, so the backend closes it, and its ports are closed.
    pub fn close_session(&mut self, session_id: &SessionId) {
        let error = CallError::new(ErrorCode::BackendTerminated, "the session ended while it opened");
        self.sessions.end(session_id, error, &mut self.calls, &mut self.out);
    }

    /// Starts joining: takes the tab lock (and the first session lock).
    pub fn start(&mut self, _now: Timestamp) {
        if self.membership == Membership::New {
            self.membership = Membership::Locking;
            self.proof = self.election.fresh_token();
            self.out.acquire(LockId::Tab(self.id.clone()), LockMode::Exclusive);
            // The first attempt's session lock is taken meanwhile, so that the
            // request can go out as soon as a leader is known.
            self.sessions.default.begin(&mut self.out);
        }
    }

    /// The Web Lock `lock` was granted.
    pub fn lock_granted(&mut self, now: Timestamp, lock: &LockId) {
        if self.membership == Membership::Left {
            return self.out.release(lock.clone());
        }
        match lock {
            LockId::Tab(client) if *client == self.id && self.membership == Membership::Locking => {
                self.say_hello(now);
            }
            LockId::Coordinator(_) if self.coordinator_watch.as_ref() == Some(lock) => {
                self.coordinator_lost(now, lock.clone());
            }
            LockId::Leader if !self.election.holds() => {
                let (election, mut cx) = self.cx();
                election.lock_granted(now, &mut cx);
            }
            LockId::Liveness(_) if self.election.watches(lock) => {
                let (election, mut cx) = self.cx();
                election.worker_lost(now, &mut cx);
            }
            // Taken from a silent leader's workers, which end: given back.
            LockId::Hosted(_) => self.out.release(lock.clone()),
            LockId::Session(attempt) => {
                let joined = self.membership == Membership::Joined;
                if self.sessions.lock_granted(attempt, joined, &mut self.out) {
                    self.request(now);
                }
            }
            _ => {}
        }
    }

    /// The Web Lock `lock`, granted, was taken from this tab by another
    /// one's steal: for the leader lock, it stops leading and queues again.
    pub fn lock_lost(&mut self, now: Timestamp, lock: &LockId) {
        if *lock == LockId::Leader && self.membership != Membership::Left {
            let (election, mut cx) = self.cx();
            election.lock_lost(now, &mut cx);
        }
    }

    /// A frame from the coordinator, decoded or refused.
    pub fn from_coordinator(&mut self, now: Timestamp, frame: Result<CoordinatorToTab, DecodeError>) {
        let Ok(message) = frame else {
            self.out.ignore();
            return;
        };
        match (message, &self.membership) {
            (CoordinatorToTab::Welcome { coordinator_id, leader, .. }, Membership::Greeting { .. }) => {
                self.welcome(now, coordinator_id, leader);
            }
            (message, Membership::Joined) => self.on_joined_frame(now, message),
            (CoordinatorToTab::Rejected { code, detail }, Membership::Greeting { .. }) => {
                self.refused_at_join(now, code, detail);
            }
            // A frame out of place: nothing to act on.
            _ => self.out.ignore(),
        }
    }

    fn on_joined_frame(&mut self, now: Timestamp, message: CoordinatorToTab) {
        let (election, mut cx) = self.cx();
        let keyed = match message {
            CoordinatorToTab::NewLeader(leadership) => {
                election.learn(now, leadership, &mut cx);
                None
            }
            CoordinatorToTab::Probe { epoch } => {
                election.probed(epoch, cx.out);
                None
            }
            CoordinatorToTab::TakeOver { epoch, .. } => {
                election.take_over(epoch, cx.out);
                None
            }
            CoordinatorToTab::RollCall => {
                election.roll_call(cx.out);
                None
            }
            CoordinatorToTab::Standby { on } => {
                let (follows, served) = (!election.holds(), cx.session.connected().is_some());
                cx.standby.told(on, follows, served, cx.out);
                None
            }
            CoordinatorToTab::ProvidePort(grant) if grant.backend_id.is_none() => {
                election.port_provided(&grant, &mut cx);
                self.sessions.default.settle_waiting(&mut self.calls, &mut self.out);
                None
            }
            // For the leader's own worker or its fleet; else keyed backends:
            // this tab's connects, sessions and watches.
            message => election.leader_frame(now, message, &mut cx),
        };
        if let Some(message) = keyed {
            let (keyed, mut cx) = self.keyed_cx();
            keyed.frame(message, &mut cx);
        }
    }

    /// A frame from the worker of backend `backend_id` (this tab's own, or
    /// a keyed backend's), decoded or refused.
    pub fn from_worker(&mut self, now: Timestamp, backend_id: &BackendId, frame: Result<BackendToLeader, DecodeError>) {
        let (election, mut cx) = self.cx();
        election.worker_frame(now, backend_id, frame, &mut cx);
    }

    /// The worker of backend `backend_id` failed to load, or threw
    /// (`detail`, what the browser said). It ends with `exit_error`.
    pub fn worker_error(&mut self, now: Timestamp, backend_id: &BackendId, detail: String) {
        let (election, mut cx) = self.cx();
        election.worker_error(now, backend_id, detail, &mut cx);
    }

    /// The earliest instant at which [`Tab::timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let joined = self.membership == Membership::Joined;
        let retry = self.sessions.default.poll_timeout(joined && !self.election.holds());
        let (election, welcome) = (self.election.poll_timeout(joined), self.membership.welcome_by());
        [retry, election, welcome, self.calls.poll_timeout()].into_iter().flatten().min()
    }

    /// Time passed; acts on whatever is due.
    pub fn timeout(&mut self, now: Timestamp) {
        let (keyed, mut cx) = self.keyed_cx();
        if let Some(join) = keyed.expire(now, &mut cx) {
            // A join with no welcome by its deadline: the tab leaves.
            let error = self.calls.join_timeout_error();
            self.join_failed(now, join, error);
        }
        let (election, mut cx) = self.cx();
        election.fleet_timeout(now, &mut cx);
        let asking = cx.joined && !election.holds();
        cx.session.timeout(now, asking, cx.out);
        election.worker_timeout(now, &mut cx);
        if self.membership.welcome_by().is_some_and(|by| by <= now) {
            // The coordinator greeted may have died before answering: greet again, on a new connection.
            self.out.push(TabOutput::ReconnectCoordinator);
            self.say_hello(now);
        }
    }

    /// Leaves: stops the worker, releases every lock, says goodbye.
    pub fn destroy(&mut self, now: Timestamp) {
        if self.membership == Membership::Left {
            return;
        }
        for watch in [self.election.unwatch(), self.coordinator_watch.take()].into_iter().flatten() {
            self.out.release(watch);
        }
        let (keyed, mut cx) = self.keyed_cx();
        keyed.leave(&mut cx);
        self.sessions.leave(&mut self.out);
        let (election, mut cx) = self.cx();
        election.leave(now, &mut cx);
        // Also before `hello`: the coordinator then drops the connection at once.
        if matches!(self.membership, Membership::Locking | Membership::Greeting { .. } | Membership::Joined) {
            self.out.send(TabToCoordinator::Goodbye { client_id: self.id.clone() });
        }
        self.out.release(LockId::Leader);
        self.out.release(LockId::Tab(self.id.clone()));
        self.membership = Membership::Left;
    }

    /// The next thing to do, if any. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<TabOutput> {
        self.out.pop()
    }

    /// The coordinator's answer to `hello`: the first, or one from a new
    /// coordinator after the old one died.
    fn welcome(&mut self, now: Timestamp, coordinator_id: CoordinatorId, leader: Option<Leadership>) {
        self.membership = Membership::Joined;
        // The session's request goes out first (`learn` sends it when a
        // leader is known): the rest of this work overlaps its round trip.
        let (election, mut cx) = self.cx();
        if let Some(leader) = leader {
            election.learn(now, leader, &mut cx);
        }
        cx.session.welcomed(now, election.live_epoch(), cx.out);
        let watch = LockId::Coordinator(coordinator_id.clone());
        self.out.acquire(watch.clone(), LockMode::Shared);
        if let Some(old) = self.coordinator_watch.replace(watch) {
            self.out.release(old);
        }
        self.out.event(TabEvent::Joined { coordinator_id });
        self.keyed.watch_again(&mut self.out);
        self.sessions.welcomed(&mut self.out);
        self.welcomed();
        let (election, mut cx) = self.cx();
        election.welcomed(now, &mut cx);
    }

    /// The coordinator died (its liveness lock was granted to this tab's
    /// watch): say hello to a new one. Sessions are direct channels to the
    /// backend and live on; a request in flight is made again.
    fn coordinator_lost(&mut self, now: Timestamp, lock: LockId) {
        self.coordinator_watch = None;
        self.out.release(lock);
        // The new coordinator names its own standby.
        self.standby.stop(&mut self.out);
        // Greeting from now on; `say_hello` below sets the deadline again.
        self.membership = Membership::Greeting { welcome_by: now.plus_millis(WELCOME_TIMEOUT_MS) };
        self.sessions.coordinator_lost(&mut self.calls, &mut self.out);
        self.out.push(TabOutput::ReconnectCoordinator);
        self.say_hello(now);
    }

    fn say_hello(&mut self, now: Timestamp) {
        self.membership = Membership::Greeting { welcome_by: now.plus_millis(WELCOME_TIMEOUT_MS) };
        let epoch = self.election.leadership().map(|k| k.epoch);
        let build = self.names.app().fingerprint().unwrap_or(crate::protocol::BUILD).to_owned();
        let hello = TabToCoordinator::Hello { client_id: self.id.clone(), build, epoch, proof: self.proof.clone() };
        self.out.send(hello);
    }

    /// Starts joining ([`Tab::start`]) as the app's `initialize()`: settled
    /// with [`CallValue::Joined`] at the coordinator's `welcome`, refused
    /// with `coordinator-unavailable` if none comes within the call timeout
    /// ([`Tab::set_call_timeout`]) or the coordinator fails
    /// ([`Tab::coordinator_failed`]), and with `not-initialized` if the tab
    /// was started already or is destroyed first.
    pub fn join(&mut self, now: Timestamp) -> CallId {
        if self.membership != Membership::New {
            let error = CallError::new(ErrorCode::NotInitialized, "initialize() may be called once per client");
            return self.out.refuse(&mut self.calls, error);
        }
        let call = self.calls.join(now);
        self.start(now);
        call
    }

    /// The coordinator's script failed to load or threw (`detail` says
    /// how): a join still waiting for its `welcome` fails, and the tab
    /// leaves. Once joined, the coordinator's death is learnt from its lock.
    pub fn coordinator_failed(&mut self, now: Timestamp, detail: String) {
        match self.calls.take_join() {
            Some(call) => self.join_failed(now, call, CallError::new(ErrorCode::CoordinatorUnavailable, detail)),
            None => self.out.ignore(),
        }
    }

    /// The coordinator welcomed this tab: the join, if pending, is settled.
    fn welcomed(&mut self) {
        if let Some(call) = self.calls.take_join() {
            self.out.event(TabEvent::Settled { call, outcome: Ok(CallValue::Joined) });
        }
    }

    /// The coordinator refused this tab's `hello`. A refusal for being of
    /// another build (`version-mismatch`) or for a client id another tab
    /// holds (`client-id-taken`) fails a join still waiting, with that code;
    /// any other refusal of a `hello` is left to the welcome's deadline,
    /// which says hello again.
    fn refused_at_join(&mut self, now: Timestamp, code: ErrorCode, detail: String) {
        if !matches!(code, ErrorCode::VersionMismatch | ErrorCode::ClientIdTaken) {
            self.out.ignore();
            return;
        }
        match self.calls.take_join() {
            Some(call) => self.join_failed(now, call, CallError::new(code, detail)),
            None => self.out.ignore(),
        }
    }

    /// The join `call` failed with `error`: it is refused, and the tab leaves.
    fn join_failed(&mut self, now: Timestamp, call: CallId, error: CallError) {
        self.out.event(TabEvent::Settled { call, outcome: Err(error) });
        self.destroy(now);
    }

    /// Sends the waiting attempt's `request-port` once joined, if a live
    /// leader is known; if none is, arms the question for one.
    fn request(&mut self, now: Timestamp) {
        if self.membership == Membership::Joined {
            let live = self.election.live_epoch();
            self.sessions.default.request(now, live, &mut self.out);
        }
    }
}

#[cfg(test)]
mod hosting_tests;
#[cfg(test)]
mod joining_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{AppName, BackendId};
    use crate::model::locks::LockCommand;
    use crate::protocol::{LeaderClaim, LeaderToBackend, PortGrant, PortRequest};

    pub(super) const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    pub(super) fn names() -> LockNames {
        LockNames::new(AppName::new("app").unwrap())
    }

    pub(super) fn client(n: u32) -> ClientId {
        ClientId::new(format!("c{n}")).unwrap()
    }

    pub(super) fn drain(tab: &mut Tab) -> Vec<TabOutput> {
        std::iter::from_fn(|| tab.poll_output()).collect()
    }

    /// The calls settled, in order.
    pub(super) fn settled(out: &[TabOutput]) -> Vec<(CallId, Result<CallValue, CallError>)> {
        out.iter()
            .filter_map(|o| match o {
                TabOutput::Event(TabEvent::Settled { call, outcome }) => Some((*call, outcome.clone())),
                _ => None,
            })
            .collect()
    }

    fn leadership(n: u32, epoch: u64) -> Leadership {
        Leadership {
            leader_id: client(n),
            epoch: Epoch::new(epoch).unwrap(),
            liveness_key: format!("live-{epoch}"),
            backend_id: None,
        }
    }

    fn welcome(leader: Option<Leadership>) -> CoordinatorToTab {
        CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k").unwrap(), leader, tabs: 1 }
    }

    /// A connect to the key `room`, spawning, with `user` and `auth` if asked.
    pub(super) fn room(user: bool) -> crate::ConnectRequest {
        crate::ConnectRequest {
            key: Some("room".into()),
            spawn: Some(crate::Spawn::Enabled(true)),
            user: user.then(|| "ada".into()),
            auth: user.then(|| crate::Value::from(serde_json::json!({"secret": "pw"})).as_object().cloned()).flatten(),
        }
    }

    /// The output that asks for `lock`, by its name in the tests' app.
    pub(super) fn acquire(lock: LockId, mode: LockMode) -> TabOutput {
        TabOutput::Lock(LockCommand::Acquire { name: names().name(&lock), lock, mode })
    }

    /// A frame from `tab`'s own worker.
    pub(super) fn from_own(tab: &mut Tab, now: Timestamp, message: BackendToLeader) {
        let worker = tab.worker().cloned().expect("the tab has its own worker");
        tab.from_worker(now, &worker, Ok(message));
    }

    /// `tab`'s own worker failed.
    pub(super) fn own_error(tab: &mut Tab, now: Timestamp, detail: String) {
        let worker = tab.worker().cloned().expect("the tab has its own worker");
        tab.worker_error(now, &worker, detail);
    }

    /// Whether `output` creates a worker of the default script.
    pub(super) fn is_spawn(output: &TabOutput) -> bool {
        matches!(output, TabOutput::SpawnWorker { tag: None, .. })
    }

    /// Whether `output` terminates a worker.
    pub(super) fn is_kill(output: &TabOutput) -> bool {
        matches!(output, TabOutput::KillWorker { .. })
    }

    /// A tab that joined, with `leader` already known.
    pub(super) fn joined(n: u32, leader: Option<Leadership>) -> Tab {
        let mut tab = Tab::new(client(n), names());
        tab.start(T0);
        tab.lock_granted(T0, &LockId::Tab(client(n)));
        tab.from_coordinator(T0, Ok(welcome(leader)));
        tab
    }

    fn requests(out: &[TabOutput]) -> Vec<PortRequest> {
        out.iter()
            .filter_map(|o| match o {
                TabOutput::ToCoordinator(TabToCoordinator::RequestPort(r)) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn session_lock(out: &[TabOutput]) -> LockId {
        out.iter()
            .rev()
            .find_map(|o| match o {
                TabOutput::Lock(LockCommand::Acquire {
                    lock: lock @ LockId::Session(_),
                    mode: LockMode::Exclusive,
                    ..
                }) => Some(lock.clone()),
                _ => None,
            })
            .expect("a session lock was asked for")
    }

    #[test]
    fn a_lone_tab_runs_the_seed_handshake_in_order_and_connects_to_itself() {
        let mut tab = Tab::new(client(1), names());
        tab.start(T0);
        let out = drain(&mut tab);
        assert_eq!(out[0], acquire(LockId::Tab(client(1)), LockMode::Exclusive));
        let lock = session_lock(&out);
        tab.lock_granted(T0, &lock);
        assert!(requests(&drain(&mut tab)).is_empty(), "no request before the coordinator's welcome");
        tab.lock_granted(T0, &LockId::Tab(client(1)));
        assert!(matches!(&drain(&mut tab)[..], [TabOutput::ToCoordinator(TabToCoordinator::Hello { .. })]));
        tab.from_coordinator(T0, Ok(welcome(None)));
        let out = drain(&mut tab);
        assert!(out.contains(&acquire(LockId::Leader, LockMode::Exclusive)));
        assert!(requests(&out).is_empty(), "no leader yet: no request");

        tab.lock_granted(T0, &LockId::Leader);
        let worker = tab.worker().cloned().expect("a worker of its own");
        let spawn = TabOutput::SpawnWorker { backend_id: worker.clone(), tag: None };
        let present = TabOutput::ToCoordinator(TabToCoordinator::Present { holding: true });
        assert_eq!(drain(&mut tab), [TabOutput::Event(TabEvent::RoleChanged(Role::Leader)), spawn, present]);
        assert_eq!(tab.role(), Role::Leader);
        // The worker is the default backend, one backend among the others:
        // an id, the default key, and its states.
        let default = tab.fleet().default_backend().cloned().expect("the default backend is hosted");
        assert_eq!(default, worker, "the tab's worker is its default backend");
        from_own(&mut tab, T0, BackendToLeader::Listening);
        let init = crate::protocol::BackendInit {
            backend_id: default.clone(),
            key: crate::fleet::DEFAULT_KEY.into(),
            env: Default::default(),
            mount: None,
            admitted: Vec::new(),
        };
        assert_eq!(
            drain(&mut tab),
            [TabOutput::ToWorker {
                backend_id: worker.clone(),
                message: LeaderToBackend::Init { leader_id: client(1), app: "app".into(), backend: Some(init) }
            }]
        );
        from_own(&mut tab, T0, BackendToLeader::Started);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-1".into() });
        assert_eq!(
            drain(&mut tab),
            [TabOutput::ToCoordinator(TabToCoordinator::NewLeader(LeaderClaim {
                leader_id: client(1),
                liveness_key: "live-1".into(),
                epoch: None,
                backend_id: Some(default.clone()),
                hosted: vec![default.clone()],
            }))],
            "no state goes out before the tab has a term"
        );
        let given = Leadership { backend_id: Some(default.clone()), ..leadership(1, 1) };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(given)));
        assert_eq!(tab.leading(), Some(Epoch::new(1).unwrap()));
        let out = drain(&mut tab);
        let reported: Vec<&str> = out
            .iter()
            .filter_map(|o| match o {
                TabOutput::ToCoordinator(TabToCoordinator::Status(r)) if r.backend_id == default => {
                    assert_eq!((r.epoch, r.key.as_str()), (Epoch::new(1).unwrap(), crate::fleet::DEFAULT_KEY));
                    Some(r.state.status().as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(reported, ["scheduled", "loading", "starting", "waiting", "ready"]);
        assert!(out.contains(&acquire(LockId::Liveness("live-1".into()), LockMode::Shared)));
        let request = requests(&out).pop().expect("the leader asks for its own session");
        assert_eq!(request.client_id, client(1));

        tab.from_coordinator(T0, Ok(CoordinatorToTab::RequestPort(request.clone())));
        let message = LeaderToBackend::StartSession(request.clone());
        assert_eq!(drain(&mut tab), [TabOutput::ToWorker { backend_id: worker.clone(), message }]);
        from_own(&mut tab, T0, BackendToLeader::Session(request.clone()));
        let grant = PortGrant {
            client_id: client(1),
            session_id: request.session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: None,
        };
        assert_eq!(drain(&mut tab), [TabOutput::ToCoordinator(TabToCoordinator::ProvidePort(grant.clone()))]);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        assert_eq!(
            drain(&mut tab),
            [TabOutput::Event(TabEvent::Connected {
                session_id: request.session_id,
                epoch: Epoch::new(1).unwrap(),
                backend_id: Some(default)
            })]
        );
        assert!(tab.session().is_some());
    }

    #[test]
    fn a_follower_asks_as_soon_as_a_leader_is_announced_and_takes_only_its_own_port() {
        let mut tab = joined(2, None);
        let lock = session_lock(&drain(&mut tab));
        tab.lock_granted(T0, &lock);
        assert!(requests(&drain(&mut tab)).is_empty());
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(1, 1))));
        let request = requests(&drain(&mut tab)).pop().expect("asked on new-leader");

        let foreign = PortGrant {
            client_id: client(2),
            session_id: SessionId::new("other").unwrap(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(foreign)));
        let old = PortGrant {
            client_id: client(2),
            session_id: request.session_id.clone(),
            epoch: Epoch::ZERO,
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(old)));
        assert!(drain(&mut tab).is_empty(), "ports of other attempts or epochs are not taken");
        assert_eq!(tab.ignored(), 2);
        let grant = PortGrant {
            client_id: client(2),
            session_id: request.session_id,
            epoch: Epoch::new(1).unwrap(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        assert!(tab.session().is_some());
    }

    #[test]
    fn connected_is_settled_by_the_session_that_opens_and_refused_once_the_tab_left() {
        let mut tab = Tab::new(client(2), names());
        let early = tab.connected();
        tab.start(T0);
        tab.lock_granted(T0, &LockId::Tab(client(2)));
        tab.from_coordinator(T0, Ok(welcome(None)));
        let lock = session_lock(&drain(&mut tab));
        tab.lock_granted(T0, &lock);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(1, 1))));
        let request = requests(&drain(&mut tab)).pop().expect("asked on new-leader");
        let waiting = tab.connected();
        assert!(settled(&drain(&mut tab)).is_empty(), "no session yet: the calls wait, with no deadline");
        let grant = PortGrant {
            client_id: client(2),
            session_id: request.session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        let opened = Ok(CallValue::DefaultSession(request.session_id.clone()));
        assert_eq!(settled(&drain(&mut tab)), [(early, opened.clone()), (waiting, opened.clone())]);
        let at_once = tab.connected();
        assert_eq!(settled(&drain(&mut tab)), [(at_once, opened)]);

        // A newer leader ends the session: a call waits for the next one, and the tab leaves first.
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(3, 2))));
        drain(&mut tab);
        let pending = tab.connected();
        tab.destroy(T0);
        let destroyed = Err(CallError::new(ErrorCode::NotInitialized, "the client was destroyed"));
        assert_eq!(settled(&drain(&mut tab)), [(pending, destroyed.clone())]);
        let late = tab.connected();
        assert_eq!(settled(&drain(&mut tab)), [(late, destroyed)]);
    }

    #[test]
    fn a_joining_tab_whose_locks_are_held_asks_for_its_session_before_anything_else() {
        // The request is on the join's critical path; the watches, the
        // election and the events can follow it.
        let mut tab = Tab::new(client(2), names());
        tab.start(T0);
        let lock = session_lock(&drain(&mut tab));
        tab.lock_granted(T0, &lock);
        tab.lock_granted(T0, &LockId::Tab(client(2)));
        drain(&mut tab);
        tab.from_coordinator(T0, Ok(welcome(Some(leadership(1, 1)))));
        let out = drain(&mut tab);
        assert!(matches!(&out[0], TabOutput::ToCoordinator(TabToCoordinator::RequestPort(_))), "{out:?}");
        assert_eq!(requests(&out).len(), 1);
        for expected in [
            acquire(LockId::Liveness("live-1".into()), LockMode::Shared),
            acquire(LockId::Leader, LockMode::Exclusive),
            TabOutput::Event(TabEvent::Leader(leadership(1, 1))),
        ] {
            assert!(out.contains(&expected), "{expected:?} in {out:?}");
        }
    }

    #[test]
    fn the_death_of_the_leaders_worker_ends_the_session_and_the_next_leader_gets_a_fresh_attempt() {
        let mut tab = joined(2, Some(leadership(1, 1)));
        let out = drain(&mut tab);
        assert!(out.contains(&acquire(LockId::Liveness("live-1".into()), LockMode::Shared)));
        tab.lock_granted(T0, &session_lock(&out));
        let first = requests(&drain(&mut tab)).pop().unwrap();
        let grant = PortGrant {
            client_id: client(2),
            session_id: first.session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        drain(&mut tab);

        tab.lock_granted(T0, &LockId::Liveness("live-1".into()));
        let out = drain(&mut tab);
        assert!(out.contains(&TabOutput::Lock(LockCommand::Release { lock: LockId::Liveness("live-1".into()) })));
        assert!(
            out.contains(&TabOutput::Lock(LockCommand::Release { lock: LockId::Session(first.session_id.clone()) }))
        );
        assert!(out.contains(&TabOutput::Event(TabEvent::Disconnected {
            session_id: first.session_id.clone(),
            reason: DisconnectReason::BackendLost
        })));
        tab.lock_granted(T0, &session_lock(&out));
        assert!(requests(&drain(&mut tab)).is_empty(), "the dead leader is not asked");
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(3, 2))));
        let second = requests(&drain(&mut tab)).pop().expect("asked the new leader");
        assert_ne!(second.session_id, first.session_id, "a fresh attempt");
        assert_eq!(tab.poll_timeout(), Some(T0.plus_millis(FIRST_RETRY_MS)));
    }

    #[test]
    fn an_unanswered_request_is_retried_as_a_new_attempt_with_backoff() {
        let mut tab = joined(2, Some(leadership(1, 1)));
        let lock = session_lock(&drain(&mut tab));
        tab.lock_granted(T0, &lock);
        let first = requests(&drain(&mut tab)).pop().unwrap();
        tab.timeout(T0.plus_millis(FIRST_RETRY_MS - 1));
        assert!(drain(&mut tab).is_empty(), "not yet due");
        let t1 = T0.plus_millis(FIRST_RETRY_MS);
        tab.timeout(t1);
        let out = drain(&mut tab);
        assert!(
            out.contains(&TabOutput::Lock(LockCommand::Release { lock: LockId::Session(first.session_id.clone()) }))
        );
        tab.lock_granted(t1, &session_lock(&out));
        let second = requests(&drain(&mut tab)).pop().unwrap();
        assert_ne!(second.session_id, first.session_id);
        assert_eq!(tab.poll_timeout(), Some(t1.plus_millis(FIRST_RETRY_MS * 2)));
    }

    fn claims(out: &[TabOutput]) -> Vec<Option<Epoch>> {
        out.iter()
            .filter_map(|o| match o {
                TabOutput::ToCoordinator(TabToCoordinator::NewLeader(c)) => Some(c.epoch),
                _ => None,
            })
            .collect()
    }

    const WHO_LEADS: TabOutput = TabOutput::ToCoordinator(TabToCoordinator::WhoLeads);

    #[test]
    fn an_unanswered_claim_is_sent_again_at_its_deadline_with_backoff_until_answered() {
        let mut tab = joined(1, None);
        tab.lock_granted(T0, &LockId::Leader);
        from_own(&mut tab, T0, BackendToLeader::Listening);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-1".into() });
        assert_eq!(claims(&drain(&mut tab)), [None]);
        tab.timeout(T0.plus_millis(FIRST_RETRY_MS - 1));
        assert!(claims(&drain(&mut tab)).is_empty(), "not yet due");
        let (mut at, mut waits) = (T0, Vec::new());
        for _ in 0..6 {
            let due = tab.poll_timeout().expect("a retry is armed");
            waits.push(due.millis_since(at));
            at = due;
            tab.timeout(at);
            assert_eq!(claims(&drain(&mut tab)), [None]);
        }
        assert_eq!(waits, [300, 600, 1_200, 2_400, MAX_RETRY_MS, MAX_RETRY_MS]);
        tab.from_coordinator(at, Ok(CoordinatorToTab::NewLeader(leadership(1, 1))));
        assert_eq!(tab.leading(), Some(Epoch::new(1).unwrap()));
        tab.timeout(at.plus_millis(10 * MAX_RETRY_MS));
        assert!(claims(&drain(&mut tab)).is_empty(), "answered: not sent again");
    }

    #[test]
    fn a_term_claimed_again_from_a_new_coordinator_is_sent_again_without_its_epoch() {
        let mut tab = joined(1, None);
        tab.lock_granted(T0, &LockId::Leader);
        from_own(&mut tab, T0, BackendToLeader::Listening);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-4".into() });
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(1, 4))));
        tab.lock_granted(T0, &LockId::Coordinator(CoordinatorId::new("k").unwrap()));
        drain(&mut tab);
        assert_eq!(tab.poll_timeout(), Some(T0.plus_millis(WELCOME_TIMEOUT_MS)), "no claim before the welcome");
        tab.from_coordinator(T0, Ok(welcome(None)));
        assert_eq!(claims(&drain(&mut tab)), [Some(Epoch::new(4).unwrap())]);
        tab.timeout(T0.plus_millis(FIRST_RETRY_MS));
        // If the first arrived, the coordinator answers with the term it kept.
        assert_eq!(claims(&drain(&mut tab)), [None]);
    }

    #[test]
    fn a_waiting_follower_that_knows_no_leader_asks_who_leads_with_backoff_until_answered() {
        let mut tab = joined(2, None);
        let lock = session_lock(&drain(&mut tab));
        tab.lock_granted(T0, &lock);
        drain(&mut tab);
        tab.timeout(T0.plus_millis(FIRST_RETRY_MS - 1));
        assert!(drain(&mut tab).is_empty(), "not yet due");
        let t1 = T0.plus_millis(FIRST_RETRY_MS);
        tab.timeout(t1);
        assert_eq!(drain(&mut tab), [WHO_LEADS]);
        let t2 = t1.plus_millis(2 * FIRST_RETRY_MS);
        assert_eq!(tab.poll_timeout(), Some(t2));
        tab.timeout(t2);
        assert_eq!(drain(&mut tab), [WHO_LEADS]);
        tab.from_coordinator(t2, Ok(CoordinatorToTab::NewLeader(leadership(1, 1))));
        assert_eq!(requests(&drain(&mut tab)).len(), 1);
        tab.timeout(t2.plus_millis(10 * MAX_RETRY_MS));
        assert!(!drain(&mut tab).contains(&WHO_LEADS), "answered: not asked again");
    }

    #[test]
    fn a_follower_whose_leader_died_asks_who_leads_and_a_tab_that_leads_does_not() {
        let mut tab = joined(2, Some(leadership(1, 1)));
        let lock = session_lock(&drain(&mut tab));
        tab.lock_granted(T0, &lock);
        drain(&mut tab);
        tab.lock_granted(T0, &LockId::Liveness("live-1".into()));
        let lock = session_lock(&drain(&mut tab));
        tab.lock_granted(T0, &lock);
        assert!(requests(&drain(&mut tab)).is_empty(), "the dead leader is not asked");
        tab.timeout(T0.plus_millis(FIRST_RETRY_MS));
        assert_eq!(drain(&mut tab), [WHO_LEADS]);

        let mut leader = joined(1, None);
        let lock = session_lock(&drain(&mut leader));
        leader.lock_granted(T0, &lock);
        leader.lock_granted(T0, &LockId::Leader);
        drain(&mut leader);
        leader.timeout(T0.plus_millis(FIRST_RETRY_MS));
        assert!(!drain(&mut leader).contains(&WHO_LEADS), "its own claim will tell it");
    }

    #[test]
    fn old_epochs_are_ignored_and_a_leader_that_sees_a_newer_one_steps_down() {
        let mut tab = joined(1, None);
        tab.lock_granted(T0, &LockId::Leader);
        from_own(&mut tab, T0, BackendToLeader::Listening);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-3".into() });
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(1, 3))));
        drain(&mut tab);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(2, 2))));
        assert!(drain(&mut tab).is_empty(), "an older epoch changes nothing");
        assert_eq!(tab.leading(), Some(Epoch::new(3).unwrap()));

        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(2, 4))));
        let out = drain(&mut tab);
        assert_eq!(tab.role(), Role::Follower);
        assert!(out.iter().any(is_kill), "its worker is terminated: {out:?}");
        assert!(out.contains(&TabOutput::Event(TabEvent::RoleChanged(Role::Follower))));
        assert!(out.contains(&acquire(LockId::Leader, LockMode::Exclusive)));
        // Frames for a leader are no longer served.
        tab.from_coordinator(
            T0,
            Ok(CoordinatorToTab::RequestPort(PortRequest {
                client_id: client(5),
                session_id: SessionId::new("x").unwrap(),
                backend_id: None,
            })),
        );
        assert!(drain(&mut tab).is_empty());
    }

    #[test]
    fn a_worker_that_fails_to_start_is_spawned_again_after_a_pause() {
        let mut tab = joined(1, None);
        tab.lock_granted(T0, &LockId::Leader);
        drain(&mut tab);
        let worker = tab.worker().cloned().expect("a worker of its own");
        own_error(&mut tab, T0, "404".into());
        assert_eq!(
            drain(&mut tab),
            [
                TabOutput::KillWorker { backend_id: worker.clone() },
                TabOutput::Event(TabEvent::BackendError { detail: "404".into() })
            ]
        );
        assert_eq!(tab.worker(), None, "no worker until the pause is over");
        assert_eq!(tab.poll_timeout(), Some(T0.plus_millis(FIRST_RETRY_MS)));
        tab.timeout(T0.plus_millis(FIRST_RETRY_MS));
        let out = drain(&mut tab);
        assert!(
            matches!(&out[..], [TabOutput::SpawnWorker { backend_id, tag: None }] if *backend_id != worker),
            "{out:?}"
        );
    }

    #[test]
    fn destroy_stops_the_worker_releases_every_lock_and_says_goodbye() {
        let mut tab = joined(1, None);
        tab.lock_granted(T0, &LockId::Leader);
        let lock = session_lock(&drain(&mut tab));
        let worker = tab.worker().cloned().expect("a worker of its own");
        tab.destroy(T0);
        let out = drain(&mut tab);
        for expected in [
            TabOutput::KillWorker { backend_id: worker },
            TabOutput::Event(TabEvent::RoleChanged(Role::Follower)),
            TabOutput::Lock(LockCommand::Release { lock }),
            TabOutput::Lock(LockCommand::Release { lock: LockId::Leader }),
            TabOutput::Lock(LockCommand::Release { lock: LockId::Tab(client(1)) }),
            TabOutput::ToCoordinator(TabToCoordinator::Goodbye { client_id: client(1) }),
        ] {
            assert!(out.contains(&expected), "{expected:?} in {out:?}");
        }
        tab.lock_granted(T0, &LockId::Leader);
        assert_eq!(
            drain(&mut tab),
            [TabOutput::Lock(LockCommand::Release { lock: LockId::Leader })],
            "a late grant is given back"
        );
        assert_eq!(tab.role(), Role::Follower);
    }

    #[test]
    fn when_the_coordinator_dies_the_tab_says_hello_to_a_new_one_and_a_leader_keeps_its_term() {
        let mut tab = joined(1, None);
        let out = drain(&mut tab);
        let watch = LockId::Coordinator(CoordinatorId::new("k").unwrap());
        assert!(out.contains(&acquire(watch.clone(), LockMode::Shared)));
        let lock = session_lock(&out);
        tab.lock_granted(T0, &lock);
        tab.lock_granted(T0, &LockId::Leader);
        from_own(&mut tab, T0, BackendToLeader::Listening);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-4".into() });
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(1, 4))));
        let request = requests(&drain(&mut tab)).pop().unwrap();
        tab.from_coordinator(T0, Ok(CoordinatorToTab::RequestPort(request.clone())));
        from_own(&mut tab, T0, BackendToLeader::Session(request.clone()));
        let grant = PortGrant {
            client_id: client(1),
            session_id: request.session_id.clone(),
            epoch: Epoch::new(4).unwrap(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        drain(&mut tab);

        tab.lock_granted(T0, &watch);
        let out = drain(&mut tab);
        assert_eq!(
            out,
            [
                TabOutput::Lock(LockCommand::Release { lock: watch }),
                TabOutput::ReconnectCoordinator,
                TabOutput::ToCoordinator(TabToCoordinator::Hello {
                    client_id: client(1),
                    build: crate::protocol::BUILD.into(),
                    epoch: Some(Epoch::new(4).unwrap()),
                    proof: tab.proof.clone(),
                }),
            ]
        );
        assert_eq!(tab.proof.len(), 32, "drawn once, at start");
        let new_coordinator =
            CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k2").unwrap(), leader: None, tabs: 1 };
        tab.from_coordinator(T0, Ok(new_coordinator));
        let out = drain(&mut tab);
        let default = tab.fleet().default_backend().cloned();
        assert!(default.is_some());
        let claim = LeaderClaim {
            leader_id: client(1),
            liveness_key: "live-4".into(),
            epoch: Some(Epoch::new(4).unwrap()),
            backend_id: default.clone(),
            hosted: default.iter().cloned().collect(),
        };
        assert!(out.contains(&TabOutput::ToCoordinator(TabToCoordinator::NewLeader(claim))), "{out:?}");
        assert!(!out.contains(&acquire(LockId::Leader, LockMode::Exclusive)), "still queued once");
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership(1, 4))));
        // The same term again changes nothing but that the new coordinator
        // is told the default backend's history, which it did not know.
        let replayed: Vec<(Epoch, Option<BackendId>, &str)> = drain(&mut tab)
            .iter()
            .map(|o| match o {
                TabOutput::ToCoordinator(TabToCoordinator::Status(r)) => {
                    (r.epoch, Some(r.backend_id.clone()), r.state.status().as_str())
                }
                other => panic!("only states: {other:?}"),
            })
            .collect();
        let e4 = Epoch::new(4).unwrap();
        assert_eq!(
            replayed,
            ["scheduled", "loading", "starting", "ready"].map(|s| (e4, default.clone(), s)),
            "every state of its history, in order"
        );
        assert_eq!(tab.leading(), Some(Epoch::new(4).unwrap()));
        assert_eq!(tab.session().map(|(s, _)| s.clone()), Some(request.session_id), "the session lives on");
    }

    #[test]
    fn a_claim_made_between_two_coordinators_waits_for_the_new_welcome_and_is_answered_once() {
        let mut tab = joined(1, None);
        let watch = LockId::Coordinator(CoordinatorId::new("k").unwrap());
        tab.lock_granted(T0, &LockId::Leader);
        from_own(&mut tab, T0, BackendToLeader::Listening);
        tab.lock_granted(T0, &watch);
        drain(&mut tab);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-x".into() });
        assert!(drain(&mut tab).is_empty(), "no claim before the new coordinator's welcome");
        let welcome =
            CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k2").unwrap(), leader: None, tabs: 1 };
        tab.from_coordinator(T0, Ok(welcome));
        let claims: Vec<TabOutput> = drain(&mut tab)
            .into_iter()
            .filter(|o| matches!(o, TabOutput::ToCoordinator(TabToCoordinator::NewLeader(_))))
            .collect();
        assert_eq!(claims.len(), 1);
        let mut answer = leadership(1, 2);
        answer.liveness_key = "live-x".into();
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(answer.clone())));
        assert_eq!(tab.leading(), Some(Epoch::new(2).unwrap()));
        answer.epoch = Epoch::new(3).unwrap();
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(answer)));
        assert_eq!(tab.leading(), Some(Epoch::new(3).unwrap()), "a newer term for its own worker is taken");
        assert_eq!(tab.role(), Role::Leader);
    }
}
