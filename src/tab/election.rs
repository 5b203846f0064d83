//! The tab's part in the election, and what it hosts while it leads.
//!
//! As a follower: the newest leadership it heard of, the liveness lock of
//! that leader's worker it waits on (shared, to learn of its death at once),
//! the warm standby it keeps when it is next in line, and the takeover the
//! coordinator may order of a silent leader. Holding the leader lock: its
//! own worker, the default backend, from spawn to ready ([`Lead`]'s
//! stages); its claim of the lead and the coordinator's answer; its fleet
//! of keyed backends, whose states it reports in its term; stepping down.

use super::default_session::DefaultSession;
use super::outbox::Outbox;
use super::output::{Role, TabEvent, TabOutput};
use super::stages::{Lead, Retry, WORKER_START_TIMEOUT_MS, WorkerStage};
use super::standby::Standby;
use crate::fleet::{Fleet, FleetLimits, FleetOutput};
use crate::model::ids::{BackendId, ClientId, Epoch};
use crate::model::locks::{LockId, LockMode};
use crate::model::time::Timestamp;
use crate::protocol::{
    BackendToLeader, CoordinatorToTab, DecodeError, LeaderClaim, Leadership, MAX_HOSTED, PortGrant, PortRequest,
    StatusReport, TabToCoordinator,
};

/// What an input of the election works with besides its own state.
pub(super) struct Cx<'a> {
    /// What is to be done.
    pub(super) out: &'a mut Outbox,
    /// The default session, which waits on the leader.
    pub(super) session: &'a mut DefaultSession,
    /// The warm standby, adopted when this tab comes to lead.
    pub(super) standby: &'a mut Standby,
    /// Whether the tab is joined to a coordinator (a claim waits for one).
    pub(super) joined: bool,
}

/// The tab's part in the election.
#[derive(Debug)]
pub(super) struct Election {
    client: ClientId,
    lead: Lead,
    /// The newest leadership heard of.
    known: Option<Leadership>,
    /// The newest epoch whose worker is known to be dead.
    lost: Option<Epoch>,
    /// The liveness lock of the leader's worker this tab waits on (shared).
    watching: Option<LockId>,
    /// Whether the leader lock was asked for (once, at the first welcome).
    in_election: bool,
    /// The keyed backends this tab hosts while it leads, its default
    /// backend among them.
    fleet: Fleet,
}

impl Election {
    /// Not in the election yet, for the tab of `client` in `app`. Its fleet
    /// makes ids and tokens from a counter until [`Election::configure`]
    /// gives it real entropy.
    pub(super) fn new(client: ClientId, app: String) -> Self {
        let mut counter = 0u128;
        let entropy = Box::new(move || {
            counter += 1;
            counter
        });
        Election {
            fleet: Fleet::new(app, client.clone(), entropy),
            client,
            lead: Lead::Follower,
            known: None,
            lost: None,
            watching: None,
            in_election: false,
        }
    }

    /// Gives the fleet its limits, the tags that have a script and its entropy.
    pub(super) fn configure(
        &mut self,
        limits: FleetLimits,
        tags: impl IntoIterator<Item = String>,
        entropy: Box<dyn FnMut() -> u128>,
    ) {
        self.fleet.configure(limits, tags);
        self.fleet.set_entropy(entropy);
    }

    /// A fresh secret from the fleet's entropy.
    pub(super) fn fresh_token(&mut self) -> String {
        self.fleet.fresh()
    }

    /// The keyed backends this tab hosts (while it leads).
    pub(super) fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The newest leadership heard of.
    pub(super) fn leadership(&self) -> Option<&Leadership> {
        self.known.as_ref()
    }

    /// Whether this tab holds the leader lock (leading or on its way).
    pub(super) fn holds(&self) -> bool {
        self.lead != Lead::Follower
    }

    /// This tab's role.
    pub(super) fn role(&self) -> Role {
        if self.holds() { Role::Leader } else { Role::Follower }
    }

    /// Whether this tab leads, with its worker ready and its epoch given.
    pub(super) fn leading(&self) -> Option<Epoch> {
        self.lead.leading()
    }

    /// The term this tab hosts backends in: the last one it was given, for
    /// as long as it holds the leader lock.
    pub(super) fn hosting(&self) -> Option<Epoch> {
        self.lead.term()
    }

    /// This tab's own worker, its default backend, while it has one: it
    /// leads, and the worker was created and is not known to have ended.
    pub(super) fn worker(&self) -> Option<&BackendId> {
        match self.lead.stage()? {
            WorkerStage::Spawning { worker, .. }
            | WorkerStage::Initializing { worker, .. }
            | WorkerStage::Claiming { worker, .. }
            | WorkerStage::Leading { worker, .. } => Some(worker),
            WorkerStage::Respawning { .. } => None,
        }
    }

    /// The newest epoch whose leader's worker is not known to be dead.
    pub(super) fn live_epoch(&self) -> Option<Epoch> {
        self.known.as_ref().map(|k| k.epoch).filter(|&e| self.lost.is_none_or(|lost| lost < e))
    }

    /// Whether `lock` is the leader's worker's liveness lock this tab waits on.
    pub(super) fn watches(&self, lock: &LockId) -> bool {
        self.watching.as_ref() == Some(lock)
    }

    /// The leader lock was granted: this tab leads from now on, its worker
    /// spawned (or the standby adopted), and says so at once: until it
    /// claims, the coordinator watches it as the lock's holder.
    pub(super) fn lock_granted(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        cx.out.event(TabEvent::RoleChanged(Role::Leader));
        self.spawn(now, cx);
        if cx.joined {
            cx.out.send(TabToCoordinator::Present { holding: true });
        }
    }

    /// The coordinator's `roll-call`: whether this tab holds the lock.
    pub(super) fn roll_call(&self, out: &mut Outbox) {
        out.send(TabToCoordinator::Present { holding: self.holds() });
    }

    /// A coordinator welcomed the tab: the first time, it asks for the
    /// leader lock. A claim the old coordinator took with it is made again;
    /// a leader claims its term again from a new coordinator, which knows
    /// none of its backends.
    pub(super) fn welcomed(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        if !std::mem::replace(&mut self.in_election, true) {
            cx.out.acquire(LockId::Leader, LockMode::Exclusive);
        }
        self.lead.replay_later();
        let term = self.lead.leading();
        match self.lead.stage().cloned() {
            Some(WorkerStage::Claiming { liveness_key, .. }) => self.claim(now, liveness_key, None, cx.out),
            Some(WorkerStage::Leading { liveness_key, .. }) => self.claim(now, liveness_key, term, cx.out),
            _ => {}
        }
    }

    /// A frame from the worker of backend `backend_id` (this tab's own, or
    /// a keyed backend's), decoded or refused.
    pub(super) fn worker_frame(
        &mut self,
        now: Timestamp,
        backend_id: &BackendId,
        frame: Result<BackendToLeader, DecodeError>,
        cx: &mut Cx<'_>,
    ) {
        if self.worker() == Some(backend_id) {
            return self.own_worker_frame(now, backend_id, frame, cx);
        }
        if self.hosting().is_none() {
            return cx.out.ignore();
        }
        self.fleet.from_worker(now, backend_id, frame);
        self.pull(now, cx);
    }

    /// The worker of backend `backend_id` failed to load, or threw. It ends
    /// with `exit_error`; this tab's own is replaced.
    pub(super) fn worker_error(&mut self, now: Timestamp, backend_id: &BackendId, detail: String, cx: &mut Cx<'_>) {
        if self.worker() == Some(backend_id) {
            // Before it was ready, a new worker after a pause; after, at once.
            if matches!(self.lead.stage(), Some(WorkerStage::Spawning { .. } | WorkerStage::Initializing { .. })) {
                self.respawn_later(now, cx.session);
            }
            self.default_failed(now, cx);
            return cx.out.event(TabEvent::BackendError { detail });
        }
        self.fleet.worker_error(now, backend_id);
        self.pull(now, cx);
    }

    /// A frame from this tab's own worker (its default backend), decoded or
    /// refused. The fleet follows its lifecycle and its sessions by token;
    /// the tab claims the lead once it is ready.
    fn own_worker_frame(
        &mut self,
        now: Timestamp,
        worker: &BackendId,
        frame: Result<BackendToLeader, DecodeError>,
        cx: &mut Cx<'_>,
    ) {
        let Ok(message) = frame else {
            return cx.out.ignore();
        };
        if let (
            BackendToLeader::Failed { detail },
            Some(WorkerStage::Spawning { .. } | WorkerStage::Initializing { .. }),
        ) = (&message, self.lead.stage())
        {
            // Its start code threw: a new one after a pause.
            self.respawn_later(now, cx.session);
            cx.out.event(TabEvent::BackendError { detail: detail.clone() });
        }
        // The fleet first: its states are reported in the current term,
        // before a claim of the next one.
        self.fleet.from_worker(now, worker, Ok(message.clone()));
        self.pull(now, cx);
        match (message, self.lead.stage()) {
            (BackendToLeader::Listening, Some(WorkerStage::Spawning { worker, ready_by })) => {
                self.lead.set_stage(WorkerStage::Initializing { worker: worker.clone(), ready_by: *ready_by });
            }
            (BackendToLeader::Ready { liveness_key }, Some(WorkerStage::Initializing { worker, .. })) => {
                // Between two coordinators the claim waits for the new one's welcome.
                if cx.joined {
                    self.claim(now, liveness_key, None, cx.out);
                } else {
                    self.lead.set_stage(WorkerStage::Claiming { worker: worker.clone(), liveness_key, retry: None });
                }
            }
            _ => {}
        }
    }

    /// Claims the lead for the worker holding `liveness_key` (again, in
    /// `epoch`, from a new coordinator), naming its default backend; sent
    /// again at `retry` until answered.
    fn claim(&mut self, now: Timestamp, liveness_key: String, epoch: Option<Epoch>, out: &mut Outbox) {
        let Some(worker) = self.worker().cloned() else { return };
        self.send_claim(liveness_key.clone(), epoch, out);
        self.lead.set_stage(WorkerStage::Claiming { worker, liveness_key, retry: Some(Retry::first(now)) });
    }

    fn send_claim(&mut self, liveness_key: String, epoch: Option<Epoch>, out: &mut Outbox) {
        let backend_id = self.fleet.default_backend().cloned();
        // Every backend it hosts: the coordinator ends what a tab watches
        // and no leader continues. (The registry keeps them within MAX_HOSTED.)
        let hosted = self.fleet.hosted().take(MAX_HOSTED).cloned().collect();
        let claim = LeaderClaim { leader_id: self.client.clone(), liveness_key, epoch, backend_id, hosted };
        out.send(TabToCoordinator::NewLeader(claim));
    }

    /// A new worker is spawned after a pause, not at once.
    fn respawn_later(&mut self, now: Timestamp, session: &DefaultSession) {
        self.lead.set_stage(WorkerStage::Respawning { at: now.plus_millis(session.retry_ms()) });
    }

    /// The default backend's worker failed: the fleet ends it with
    /// `exit_error`, and its `kill` replaces the worker.
    fn default_failed(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        if let Some(id) = self.fleet.default_backend().cloned() {
            self.fleet.worker_error(now, &id);
        }
        self.pull(now, cx);
    }

    /// Creates the leader's worker, with a deadline for its `ready`, or
    /// adopts the standby worker. It is the default backend: the fleet hosts
    /// it under a new backend id, `scheduled` and `loading` at once, and it
    /// runs the default script.
    fn spawn(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        let Some(worker) = self.fleet.host_default(now) else {
            // The fleet hosts no two default backends; the last one ended
            // before every spawn, so this is not reached. Try again later.
            cx.out.ignore();
            return self.respawn_later(now, cx.session);
        };
        self.lead.set_stage(WorkerStage::Spawning {
            worker: worker.clone(),
            ready_by: now.plus_millis(WORKER_START_TIMEOUT_MS),
        });
        // The standby worker, if this tab keeps one, is already loaded.
        let Some(listening) = cx.standby.adopt(&worker, cx.out) else {
            cx.out.push(TabOutput::SpawnWorker { backend_id: worker, tag: None });
            return self.pull(now, cx);
        };
        self.pull(now, cx);
        if listening {
            self.own_worker_frame(now, &worker, Ok(BackendToLeader::Listening), cx);
        }
    }

    /// A leadership announced by the coordinator.
    pub(super) fn learn(&mut self, now: Timestamp, leadership: Leadership, cx: &mut Cx<'_>) {
        let same = self.known.as_ref() == Some(&leadership);
        if !same && self.known.as_ref().is_some_and(|k| leadership.epoch <= k.epoch) {
            return cx.out.ignore();
        }
        // The answer to this tab's own claim (or a claim made again).
        if leadership.leader_id == self.client {
            self.lead.lead_in(&leadership);
        }
        if same {
            // A leader that claimed its term again from a new coordinator: nothing changed.
            return self.report_missing(now, cx);
        }
        self.known = Some(leadership.clone());
        // A waiting attempt asks at once; the rest overlaps the round trip.
        let asked = cx.session.is_waiting();
        if asked && cx.joined {
            cx.session.request(now, self.live_epoch(), cx.out);
        }
        let liveness = LockId::Liveness(leadership.liveness_key.clone());
        if let Some(watching) = self.watching.replace(liveness.clone()) {
            cx.out.release(watching);
        }
        cx.out.acquire(liveness, LockMode::Shared);
        cx.out.event(TabEvent::Leader(leadership.clone()));

        // Before its own claim is answered, a leader hears of earlier ones;
        // its claim gets a higher epoch. Once leading, a newer one is another tab's.
        if let Some(epoch) = self.leading() {
            if leadership.leader_id != self.client && epoch < leadership.epoch {
                self.stop_leading(now, cx);
                cx.out.release(LockId::Leader);
                cx.out.acquire(LockId::Leader, LockMode::Exclusive);
            }
        }
        cx.session.new_leader(asked, cx.out);
        // After the session's request: it is what the tabs wait for.
        self.report_missing(now, cx);
    }

    /// Once this tab leads: the states the coordinator may lack (made before
    /// this tab had a term, or told to a coordinator that died since), as
    /// every history again.
    fn report_missing(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        if self.lead.take_replay() {
            self.fleet.replay();
            self.pull(now, cx);
        }
    }

    /// The worker whose liveness lock this tab waits on died.
    pub(super) fn worker_lost(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        let Some(lock) = self.watching.take() else { return };
        let own = matches!((self.lead.stage(), &lock), (Some(WorkerStage::Leading { liveness_key, .. } | WorkerStage::Claiming { liveness_key, .. }), LockId::Liveness(dead))
            if liveness_key == dead);
        cx.out.release(lock);
        if own {
            // Our own worker died while this tab lives (leading, or claiming
            // its term again from a new coordinator): it ended with
            // `exit_error`, and another one starts.
            self.default_failed(now, cx);
        }
        let Some(epoch) = self.known.as_ref().map(|k| k.epoch) else { return };
        self.lost = Some(epoch);
        cx.session.lost(epoch, cx.out);
    }

    /// The port of the default session's attempt arrived: the session opens
    /// with the backend of the leader of its epoch, and the standby worker,
    /// if asked for, is created now.
    pub(super) fn port_provided(&mut self, grant: &PortGrant, cx: &mut Cx<'_>) {
        let Some((session_id, epoch)) = cx.session.provided(grant) else {
            // A port for an abandoned attempt: the browser layer closes it.
            return cx.out.ignore();
        };
        let backend_id = self.known.as_ref().filter(|k| k.epoch == epoch).and_then(|k| k.backend_id.clone());
        cx.out.event(TabEvent::Connected { session_id, epoch, backend_id });
        cx.standby.due(!self.holds(), true, cx.out);
    }

    /// A frame from the coordinator for the leader: a connect, a terminate
    /// or a session, with the default backend (the seed's `request-port`,
    /// which names none) or a keyed one, all to its fleet. Any other frame
    /// is given back.
    pub(super) fn leader_frame(
        &mut self,
        now: Timestamp,
        message: CoordinatorToTab,
        cx: &mut Cx<'_>,
    ) -> Option<CoordinatorToTab> {
        let hosting = self.hosting().is_some();
        match message {
            CoordinatorToTab::Connect(call) if hosting => self.fleet.connect(now, *call),
            CoordinatorToTab::Terminate(call) if hosting => self.fleet.terminate(now, &call),
            CoordinatorToTab::RequestPort(request) if hosting => self.fleet.request_port(request),
            message => return Some(message),
        }
        self.pull(now, cx);
        None
    }

    /// The coordinator's `probe`: a leader whose main thread runs answers at
    /// once. A probe of another term (this tab was taken over) is not
    /// answered.
    pub(super) fn probed(&self, epoch: Epoch, out: &mut Outbox) {
        if self.leading() == Some(epoch) {
            out.send(TabToCoordinator::Alive { epoch });
        } else {
            out.ignore();
        }
    }

    /// The coordinator found the leader of `epoch` silent (or, with no
    /// epoch, the lock's holder that has not claimed) and chose this tab to
    /// take over: a follower in the election that knows no newer leader
    /// steals the lock, and leads once it is granted.
    pub(super) fn take_over(&self, epoch: Option<Epoch>, out: &mut Outbox) {
        if self.holds() || !self.in_election {
            return out.ignore();
        }
        match epoch {
            None => out.acquire(LockId::Leader, LockMode::Steal),
            Some(epoch) => {
                let silent = self.known.as_ref().filter(|k| k.epoch == epoch).map(|k| k.leader_id.clone());
                let Some(silent) = silent else {
                    return out.ignore();
                };
                out.acquire(LockId::Leader, LockMode::Steal);
                // Its workers end themselves once they lose it; given back at once.
                out.acquire(LockId::Hosted(silent), LockMode::Steal);
            }
        }
    }

    /// The leader lock, granted, was taken from this tab by another one's
    /// steal: this tab was taken over while frozen or busy; it stops its
    /// workers and queues for the lock like any follower (never stealing it
    /// back). A tab that never heard of the grant (its main thread stopped
    /// before it could act on it, and the lock was taken over from it
    /// meanwhile) lost its request with it: it queues again.
    pub(super) fn lock_lost(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        if self.holds() {
            self.stop_leading(now, cx);
            cx.out.acquire(LockId::Leader, LockMode::Exclusive);
        } else if self.in_election {
            cx.out.acquire(LockId::Leader, LockMode::Exclusive);
        }
    }

    /// Stops the worker and every hosted backend, and gives up the term.
    fn stop_leading(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        // The fleet's shut-down kills every worker, this tab's own among them.
        self.lead = Lead::Follower;
        self.fleet.shut_down();
        self.pull(now, cx);
        cx.out.event(TabEvent::RoleChanged(Role::Follower));
    }

    /// The tab leaves: it stops waiting on the leader's worker; the lock
    /// waited on, to release.
    pub(super) fn unwatch(&mut self) -> Option<LockId> {
        self.watching.take()
    }

    /// The tab leaves: it keeps no standby, and stops leading.
    pub(super) fn leave(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        cx.standby.stop(cx.out);
        if self.holds() {
            self.stop_leading(now, cx);
        }
    }

    /// When [`Election::timeout`] is due: the worker's start deadline or
    /// respawn, a claim's retry (once joined), the fleet's deadlines.
    pub(super) fn poll_timeout(&self, joined: bool) -> Option<Timestamp> {
        let worker = match self.lead.stage() {
            Some(WorkerStage::Respawning { at }) => Some(*at),
            Some(WorkerStage::Spawning { ready_by, .. } | WorkerStage::Initializing { ready_by, .. }) => {
                Some(*ready_by)
            }
            Some(WorkerStage::Claiming { retry: Some(retry), .. }) if joined => Some(retry.at),
            _ => None,
        };
        let fleet = if self.holds() { self.fleet.poll_timeout() } else { None };
        [worker, fleet].into_iter().flatten().min()
    }

    /// Time passed, for the fleet: its deadlines (while this tab holds the lock).
    pub(super) fn fleet_timeout(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        if self.holds() {
            self.fleet.timeout(now);
            self.pull(now, cx);
        }
    }

    /// Time passed, for the own worker: a claim left unanswered is sent
    /// again; a worker due is respawned; one not ready in time is
    /// `startup_timeout` and replaced after a pause.
    pub(super) fn worker_timeout(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        match self.lead.stage().cloned() {
            Some(WorkerStage::Claiming { worker, liveness_key, retry: Some(retry) })
                if cx.joined && retry.at <= now =>
            {
                // The claim or its answer was lost. Without an epoch: a claim
                // the coordinator took is answered with the term it gave.
                let retry = Some(retry.next(now));
                self.lead.set_stage(WorkerStage::Claiming { worker, liveness_key: liveness_key.clone(), retry });
                self.send_claim(liveness_key, None, cx.out);
            }
            Some(WorkerStage::Respawning { at }) if at <= now => self.spawn(now, cx),
            Some(WorkerStage::Spawning { ready_by, .. } | WorkerStage::Initializing { ready_by, .. })
                if ready_by <= now =>
            {
                // A worker that hangs or died without a word while starting:
                // `startup_timeout`, and a new one after a pause.
                self.respawn_later(now, cx.session);
                self.fleet.expire_start(now);
                self.pull(now, cx);
                let detail = format!("the backend worker was not ready within {WORKER_START_TIMEOUT_MS} ms");
                cx.out.event(TabEvent::BackendError { detail });
            }
            _ => {}
        }
    }

    /// Moves what the fleet asks for into the tab's outputs, in order.
    fn pull(&mut self, now: Timestamp, cx: &mut Cx<'_>) {
        while let Some(output) = self.fleet.poll_output() {
            let output = match output {
                FleetOutput::Spawn { backend_id, tag } => TabOutput::SpawnWorker { backend_id, tag },
                FleetOutput::ToWorker { backend_id, message } => TabOutput::ToWorker { backend_id, message },
                FleetOutput::Kill { backend_id, default } => {
                    cx.out.push(TabOutput::KillWorker { backend_id });
                    // This tab's own worker was killed: unless this tab
                    // stopped leading or a respawn is planned after a pause
                    // (it failed to start), another is spawned at once.
                    if default && !matches!(self.lead.stage(), None | Some(WorkerStage::Respawning { .. })) {
                        self.spawn(now, cx);
                    }
                    continue;
                }
                FleetOutput::Status { backend_id, key, state } => {
                    // Before this tab has a term the states wait: the
                    // coordinator is told every history once it leads.
                    let Some(epoch) = self.hosting() else {
                        self.lead.replay_later();
                        continue;
                    };
                    TabOutput::ToCoordinator(TabToCoordinator::Status(StatusReport { epoch, backend_id, key, state }))
                }
                FleetOutput::Answer(answer) => TabOutput::ToCoordinator(TabToCoordinator::Connected(Box::new(answer))),
                FleetOutput::Grant(PortRequest { client_id, session_id, backend_id }) => {
                    let Some(epoch) = self.hosting() else { continue };
                    TabOutput::ToCoordinator(TabToCoordinator::ProvidePort(PortGrant {
                        client_id,
                        session_id,
                        epoch,
                        backend_id,
                    }))
                }
                FleetOutput::Refuse(refusal) => TabOutput::ToCoordinator(TabToCoordinator::RefusePort(refusal)),
            };
            cx.out.push(output);
        }
    }
}
