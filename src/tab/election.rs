//! The tab's part in the election: its own worker, the default backend,
//! from spawn to ready; its claim of the lead and the coordinator's answer;
//! stepping down. The stages it moves through are [`Lead`]'s.

use super::stages::{Lead, Membership, Retry, WorkerStage};
use super::{Role, Tab, TabEvent, TabOutput, WORKER_START_TIMEOUT_MS};
use crate::model::ids::{BackendId, Epoch};
use crate::model::locks::{LockId, LockMode};
use crate::model::time::Timestamp;
use crate::protocol::{
    BackendToLeader, DecodeError, LeaderClaim, Leadership, MAX_HOSTED, PortGrant, PortRequest, TabToCoordinator,
};

impl Tab {
    /// This tab's own worker, its default backend, while it has one: it
    /// leads, and the worker was created and is not known to have ended.
    pub fn worker(&self) -> Option<&BackendId> {
        match self.lead.stage()? {
            WorkerStage::Spawning { worker, .. }
            | WorkerStage::Initializing { worker, .. }
            | WorkerStage::Claiming { worker, .. }
            | WorkerStage::Leading { worker, .. } => Some(worker),
            WorkerStage::Respawning { .. } => None,
        }
    }

    /// A frame from this tab's own worker (its default backend), decoded or
    /// refused. The fleet follows its lifecycle and its sessions by token;
    /// the tab claims the lead once it is ready, and grants the sessions of
    /// its default path.
    pub(super) fn on_own_worker_frame(
        &mut self,
        now: Timestamp,
        worker: &BackendId,
        frame: Result<BackendToLeader, DecodeError>,
    ) {
        let Ok(message) = frame else {
            self.out.ignore();
            return;
        };
        match (&message, self.lead.stage()) {
            (BackendToLeader::Session(PortRequest { client_id, session_id, backend_id: None }), _) => {
                let Some(epoch) = self.leading() else {
                    self.out.ignore();
                    return;
                };
                let (client_id, session_id) = (client_id.clone(), session_id.clone());
                let grant = PortGrant { client_id, session_id, epoch, backend_id: None };
                return self.out.send(TabToCoordinator::ProvidePort(grant));
            }
            (
                BackendToLeader::Failed { detail },
                Some(WorkerStage::Spawning { .. } | WorkerStage::Initializing { .. }),
            ) => {
                // Its start code threw: a new one after a pause.
                self.respawn_later(now);
                self.out.event(TabEvent::BackendError { detail: detail.clone() });
            }
            _ => {}
        }
        // The fleet first: its states are reported in the current term,
        // before a claim of the next one.
        self.fleet.from_worker(now, worker, Ok(message.clone()));
        self.pull_fleet(now);
        match (message, self.lead.stage()) {
            (BackendToLeader::Listening, Some(WorkerStage::Spawning { worker, ready_by })) => {
                self.lead.set_stage(WorkerStage::Initializing { worker: worker.clone(), ready_by: *ready_by });
            }
            (BackendToLeader::Ready { liveness_key }, Some(WorkerStage::Initializing { worker, .. })) => {
                // Between two coordinators the claim waits for the new one's welcome.
                if self.membership == Membership::Joined {
                    self.claim(now, liveness_key, None);
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
    pub(super) fn claim(&mut self, now: Timestamp, liveness_key: String, epoch: Option<Epoch>) {
        let Some(worker) = self.worker().cloned() else { return };
        self.send_claim(liveness_key.clone(), epoch);
        self.lead.set_stage(WorkerStage::Claiming { worker, liveness_key, retry: Some(Retry::first(now)) });
    }

    pub(super) fn send_claim(&mut self, liveness_key: String, epoch: Option<Epoch>) {
        let backend_id = self.fleet.default_backend().cloned();
        // Every backend it hosts: the coordinator ends what a tab watches
        // and no leader continues. (The registry keeps them within MAX_HOSTED.)
        let hosted = self.fleet.hosted().take(MAX_HOSTED).cloned().collect();
        let claim = LeaderClaim { leader_id: self.id.clone(), liveness_key, epoch, backend_id, hosted };
        self.out.send(TabToCoordinator::NewLeader(claim));
    }

    /// This tab's own worker failed to load, or threw: as any backend that
    /// throws, it ends with `exit_error` and its worker is terminated.
    /// Before it was ready, a new worker is spawned after a pause; after, at
    /// once (and the tab claims a new term with it).
    pub(super) fn own_worker_error(&mut self, now: Timestamp, detail: String) {
        if matches!(self.lead.stage(), Some(WorkerStage::Spawning { .. } | WorkerStage::Initializing { .. })) {
            self.respawn_later(now);
        }
        self.default_failed(now);
        self.out.event(TabEvent::BackendError { detail });
    }

    /// A new worker is spawned after a pause, not at once.
    pub(super) fn respawn_later(&mut self, now: Timestamp) {
        self.lead.set_stage(WorkerStage::Respawning { at: now.plus_millis(self.session.retry_ms()) });
    }

    /// The default backend's worker failed: the fleet ends it with
    /// `exit_error`, and its `kill` replaces the worker.
    pub(super) fn default_failed(&mut self, now: Timestamp) {
        if let Some(id) = self.fleet.default_backend().cloned() {
            self.fleet.worker_error(now, &id);
        }
        self.pull_fleet(now);
    }

    /// This tab's own worker was killed: unless this tab stopped leading or
    /// a respawn is planned after a pause, another is spawned at once.
    pub(super) fn own_worker_ended(&mut self, now: Timestamp) {
        if !matches!(self.lead.stage(), None | Some(WorkerStage::Respawning { .. })) {
            self.spawn(now);
        }
    }

    /// Creates the leader's worker, with a deadline for its `ready`, or
    /// adopts the standby worker. It is the default backend: the fleet hosts
    /// it under a new backend id, `scheduled` and `loading` at once, and it
    /// runs the default script.
    pub(super) fn spawn(&mut self, now: Timestamp) {
        let Some(worker) = self.fleet.host_default(now) else {
            // The fleet hosts no two default backends; the last one ended
            // before every spawn, so this is not reached. Try again later.
            self.out.ignore();
            return self.respawn_later(now);
        };
        self.lead.set_stage(WorkerStage::Spawning {
            worker: worker.clone(),
            ready_by: now.plus_millis(WORKER_START_TIMEOUT_MS),
        });
        // The standby worker, if this tab keeps one, is already loaded.
        let Some(listening) = self.standby.adopt(&worker, &mut self.out) else {
            self.out.push(TabOutput::SpawnWorker { backend_id: worker, tag: None });
            return self.pull_fleet(now);
        };
        self.pull_fleet(now);
        if listening {
            self.on_own_worker_frame(now, &worker, Ok(BackendToLeader::Listening));
        }
    }

    /// A leadership announced by the coordinator.
    pub(super) fn learn(&mut self, now: Timestamp, leadership: Leadership) {
        let same = self.known.as_ref() == Some(&leadership);
        if !same && self.known.as_ref().is_some_and(|k| leadership.epoch <= k.epoch) {
            self.out.ignore();
            return;
        }
        // The answer to this tab's own claim (or a claim made again).
        if leadership.leader_id == self.id {
            self.lead.lead_in(&leadership);
        }
        if same {
            // A leader that claimed its term again from a new coordinator: nothing changed.
            return self.report_missing(now);
        }
        self.known = Some(leadership.clone());
        // A waiting attempt asks at once; the rest overlaps the round trip.
        let asked = self.session.is_waiting();
        if asked {
            self.request(now);
        }
        let liveness = LockId::Liveness(leadership.liveness_key.clone());
        if let Some(watching) = self.watching.replace(liveness.clone()) {
            self.out.release(watching);
        }
        self.out.acquire(liveness, LockMode::Shared);
        self.out.event(TabEvent::Leader(leadership.clone()));

        // Before its own claim is answered, a leader hears of earlier ones;
        // its claim gets a higher epoch. Once leading, a newer one is another tab's.
        if let Some(epoch) = self.leading() {
            if leadership.leader_id != self.id && epoch < leadership.epoch {
                self.step_down(now);
            }
        }

        self.session.new_leader(asked, &mut self.out);
        // After the session's request: it is what the tabs wait for.
        self.report_missing(now);
    }

    /// Once this tab leads: the states the coordinator may lack (made before
    /// this tab had a term, or told to a coordinator that died since), as
    /// every history again.
    pub(super) fn report_missing(&mut self, now: Timestamp) {
        if self.lead.take_replay() {
            self.fleet.replay();
            self.pull_fleet(now);
        }
    }

    /// The coordinator's `probe`: a leader whose main thread runs answers at
    /// once. A probe of another term (this tab was taken over) is not
    /// answered.
    pub(super) fn probed(&mut self, epoch: Epoch) {
        if self.leading() == Some(epoch) {
            self.out.send(TabToCoordinator::Alive { epoch });
        } else {
            self.out.ignore();
        }
    }

    /// The coordinator found the leader of `epoch` silent (or, with no
    /// epoch, the lock's holder that has not claimed) and chose this tab to
    /// take over: a follower in the election that knows no newer leader
    /// steals the lock, and leads once it is granted.
    pub(super) fn take_over(&mut self, epoch: Option<Epoch>) {
        if self.lead != Lead::Follower || !self.in_election {
            self.out.ignore();
            return;
        }
        match epoch {
            None => self.out.acquire(LockId::Leader, LockMode::Steal),
            Some(epoch) => {
                let silent = self.known.as_ref().filter(|k| k.epoch == epoch).map(|k| k.leader_id.clone());
                let Some(silent) = silent else {
                    self.out.ignore();
                    return;
                };
                self.out.acquire(LockId::Leader, LockMode::Steal);
                // Its workers end themselves once they lose it; given back at once.
                self.out.acquire(LockId::Hosted(silent), LockMode::Steal);
            }
        }
    }

    /// The Web Lock `lock`, granted, was taken from this tab by another
    /// one's steal. The leader lock: this tab was taken over while frozen
    /// or busy; it stops its workers and queues for the lock like any
    /// follower (never stealing it back).
    ///
    /// A tab that never heard of the grant (its main thread stopped before
    /// it could act on it, and the lock was taken over from it meanwhile)
    /// lost its request with it: it queues again.
    pub fn lock_lost(&mut self, now: Timestamp, lock: &LockId) {
        if *lock != LockId::Leader || self.membership == Membership::Left {
            return;
        }
        if self.lead != Lead::Follower {
            self.stop_leading(now);
            self.out.acquire(LockId::Leader, LockMode::Exclusive);
        } else if self.in_election {
            self.out.acquire(LockId::Leader, LockMode::Exclusive);
        }
    }

    /// A higher epoch than ours belongs to another tab: stop serving and
    /// queue for the lock again.
    pub(super) fn step_down(&mut self, now: Timestamp) {
        self.stop_leading(now);
        self.out.release(LockId::Leader);
        self.out.acquire(LockId::Leader, LockMode::Exclusive);
    }

    /// Stops the worker and every hosted backend, and gives up the term.
    pub(super) fn stop_leading(&mut self, now: Timestamp) {
        // The fleet's shut-down kills every worker, this tab's own among them.
        self.lead = Lead::Follower;
        self.fleet.shut_down();
        self.pull_fleet(now);
        self.out.event(TabEvent::RoleChanged(Role::Follower));
    }
}
