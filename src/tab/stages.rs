//! The stages a tab goes through, each holding the data valid in it: its
//! membership of the coordinator, its part in the election (with its own
//! worker, the default backend, while it has one); and the backoff of a
//! frame sent again until answered.

use crate::model::ids::{BackendId, Epoch};
use crate::model::time::Timestamp;
use crate::protocol::Leadership;

/// How long a `request-port` waits for its port before the attempt is
/// abandoned and a new one made, and a `new-leader` claim for its answer
/// before it is sent again; doubled on each retry up to [`MAX_RETRY_MS`]. A
/// safety net for a lost message: the normal path never waits on it.
pub const FIRST_RETRY_MS: u64 = 300;
/// The longest wait between two connect attempts (or two claims).
pub const MAX_RETRY_MS: u64 = 3_000;
/// How long a tab waits for `welcome` before it says `hello` again on a new
/// connection (a coordinator can die before it answers).
pub const WELCOME_TIMEOUT_MS: u64 = 1_000;
/// How long the leader's worker may take from its creation to `ready`
/// before it is terminated and another one started.
pub const WORKER_START_TIMEOUT_MS: u64 = 10_000;

/// A tab's membership of the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Membership {
    /// Not started.
    New,
    /// Waiting for the tab lock.
    Locking,
    /// `hello` sent; said again on a new connection if no `welcome` came
    /// by `welcome_by`.
    Greeting { welcome_by: Timestamp },
    /// Welcomed.
    Joined,
    /// Destroyed.
    Left,
}

impl Membership {
    /// When `hello` is said again on a new connection, while greeting.
    pub(super) fn welcome_by(&self) -> Option<Timestamp> {
        match self {
            Membership::Greeting { welcome_by } => Some(*welcome_by),
            _ => None,
        }
    }
}

/// A tab's part in the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lead {
    /// Not holding the leader lock (queued for it once joined).
    Follower,
    /// Holding it: what is valid only while it does.
    Holding(Holding),
}

/// What a tab keeps while it holds the leader lock; dropped with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Holding {
    /// Its own worker, the default backend, from spawn to leading.
    pub(super) stage: WorkerStage,
    /// The term it was last given. Its backends' states are reported in it,
    /// also while its default backend is replaced and a new term claimed.
    pub(super) term: Option<Epoch>,
    /// Whether the coordinator may lack some of the fleet's states (made
    /// before this tab had a term, or a new coordinator started): every
    /// history is reported again once it leads.
    pub(super) replay_due: bool,
}

impl Lead {
    /// The own worker's stage, while the leader lock is held.
    pub(super) fn stage(&self) -> Option<&WorkerStage> {
        match self {
            Lead::Follower => None,
            Lead::Holding(holding) => Some(&holding.stage),
        }
    }

    /// Moves the own worker to `stage`; the first stage after the lock is
    /// granted starts a holding with no term yet.
    pub(super) fn set_stage(&mut self, stage: WorkerStage) {
        match self {
            Lead::Holding(holding) => holding.stage = stage,
            Lead::Follower => *self = Lead::Holding(Holding { stage, term: None, replay_due: false }),
        }
    }

    /// The coordinator gave this tab's claim (of the worker holding its
    /// liveness key) the term of `leadership`: it leads in it.
    pub(super) fn lead_in(&mut self, leadership: &Leadership) {
        let Lead::Holding(holding) = self else { return };
        if let WorkerStage::Claiming { worker, liveness_key, .. } | WorkerStage::Leading { worker, liveness_key } =
            &holding.stage
        {
            if *liveness_key == leadership.liveness_key {
                let (worker, liveness_key) = (worker.clone(), liveness_key.clone());
                holding.stage = WorkerStage::Leading { worker, liveness_key };
                holding.term = Some(leadership.epoch);
            }
        }
    }

    /// The term states are reported in: the last one given, while the lock is held.
    pub(super) fn term(&self) -> Option<Epoch> {
        match self {
            Lead::Holding(holding) => holding.term,
            Lead::Follower => None,
        }
    }

    /// The epoch this tab leads in: its worker is ready and its claim answered.
    pub(super) fn leading(&self) -> Option<Epoch> {
        match self {
            Lead::Holding(Holding { stage: WorkerStage::Leading { .. }, term, .. }) => *term,
            _ => None,
        }
    }

    /// The coordinator may lack some states: they are reported again once
    /// this tab leads. A follower hosts nothing, so has nothing to report.
    pub(super) fn replay_later(&mut self) {
        if let Lead::Holding(holding) = self {
            holding.replay_due = true;
        }
    }

    /// Whether the states are to be reported again now (once, while leading).
    pub(super) fn take_replay(&mut self) -> bool {
        match self {
            Lead::Holding(holding @ Holding { stage: WorkerStage::Leading { .. }, .. }) => {
                std::mem::take(&mut holding.replay_due)
            }
            _ => false,
        }
    }
}

/// The stages of the leader's own worker, the default backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WorkerStage {
    /// Its `worker` was created and has not said `listening`. It is replaced
    /// if it is not ready by `ready_by`.
    Spawning { worker: BackendId, ready_by: Timestamp },
    /// `init` sent; waiting for `ready` (by `ready_by`).
    Initializing { worker: BackendId, ready_by: Timestamp },
    /// Ready; `new-leader` sent (unless waiting for a new coordinator's
    /// `welcome`: no `retry`) and waiting for the coordinator's answer.
    Claiming { worker: BackendId, liveness_key: String, retry: Option<Retry> },
    /// Leading, in the holding's term.
    Leading { worker: BackendId, liveness_key: String },
    /// The worker failed; a new one is spawned at `at`.
    Respawning { at: Timestamp },
}

/// A frame that may be lost, sent again at `at` unless answered; each wait
/// doubles, from [`FIRST_RETRY_MS`] up to [`MAX_RETRY_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Retry {
    pub(super) at: Timestamp,
    wait_ms: u64,
}

impl Retry {
    pub(super) fn first(now: Timestamp) -> Self {
        Retry { at: now.plus_millis(FIRST_RETRY_MS), wait_ms: FIRST_RETRY_MS }
    }

    pub(super) fn next(self, now: Timestamp) -> Self {
        let wait_ms = (self.wait_ms * 2).min(MAX_RETRY_MS);
        Retry { at: now.plus_millis(wait_ms), wait_ms }
    }
}
