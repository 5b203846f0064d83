//! What a tab's handle on a backend knows of its lifecycle: the states it
//! was told, each once and in order, and what that means for `ready()`,
//! `isReady()` and `isTerminated()`.

use crate::model::ids::BackendId;
use crate::model::status::{BackendState, BackendStatus};

/// What a new state means for the handle's listeners, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new status: for `onStatus`.
    Status(BackendState),
    /// The backend became ready: for `onReady` and `ready()`.
    Ready(BackendState),
    /// The backend ended: for `onTerminated`; `ready()` fails if it was not ready.
    Terminated(BackendState),
}

/// The lifecycle of the backend a handle follows.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    backend: Option<BackendId>,
    last: Option<BackendState>,
}

impl Tracker {
    /// A tracker that has heard of no backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backend followed.
    pub fn backend(&self) -> Option<&BackendId> {
        self.backend.as_ref()
    }

    /// Follows `backend` from now on (the default backend's successor after
    /// a failover); `true` if it is another one than before, whose states
    /// start afresh.
    pub fn follow(&mut self, backend: BackendId) -> bool {
        if self.backend.as_ref() == Some(&backend) {
            return false;
        }
        self.backend = Some(backend);
        self.last = None;
        true
    }

    /// The last state told.
    pub fn last(&self) -> Option<&BackendState> {
        self.last.as_ref()
    }

    /// Whether the backend is ready now (not before, and not once it stops).
    pub fn is_ready(&self) -> bool {
        self.status() == Some(BackendStatus::Ready)
    }

    /// Whether the backend ended.
    pub fn is_terminated(&self) -> bool {
        self.status() == Some(BackendStatus::Terminated)
    }

    fn status(&self) -> Option<BackendStatus> {
        self.last.as_ref().map(BackendState::status)
    }

    /// How `ready()` settles now: `Ok` with the ready state, `Err` with the
    /// final state of a backend that ended, `None` while it is to come (a
    /// backend that is stopping settles it when it has ended).
    pub fn ready_outcome(&self) -> Option<Result<BackendState, BackendState>> {
        match self.status()? {
            BackendStatus::Ready => self.last.clone().map(Ok),
            BackendStatus::Terminated => self.last.clone().map(Err),
            _ => None,
        }
    }

    /// A state of the followed backend: what it changes. A state that is
    /// not past the last one (told twice, or out of order) changes nothing.
    pub fn update(&mut self, state: BackendState) -> Vec<Change> {
        if self.status().is_some_and(|last| state.status() <= last) {
            return Vec::new();
        }
        self.last = Some(state.clone());
        let mut changes = vec![Change::Status(state.clone())];
        match state.status() {
            BackendStatus::Ready => changes.push(Change::Ready(state)),
            BackendStatus::Terminated => changes.push(Change::Terminated(state)),
            _ => {}
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::status::TerminationReason;
    use crate::model::time::Timestamp;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_unix_millis(1_700_000_000_000 + ms)
    }

    fn terminated(ms: u64) -> BackendState {
        let reason = Some(TerminationReason::Lost);
        BackendState::Terminated { time: at(ms), termination_reason: reason, termination_kind: None, exit_error: None }
    }

    #[test]
    fn each_status_is_told_once_in_order_and_ready_and_the_end_are_named() {
        let mut tracker = Tracker::new();
        assert!(tracker.follow(BackendId::try_from("b1".to_string()).unwrap()));
        assert_eq!(tracker.update(BackendState::Loading { time: at(1) }).len(), 1);
        let ready = BackendState::Ready { time: at(2) };
        assert_eq!(tracker.update(ready.clone()), [Change::Status(ready.clone()), Change::Ready(ready.clone())]);
        assert!(tracker.is_ready());
        assert_eq!(tracker.ready_outcome(), Some(Ok(ready.clone())));
        assert!(tracker.update(ready).is_empty(), "a state told twice changes nothing");
        assert!(tracker.update(BackendState::Loading { time: at(3) }).is_empty(), "nor one out of order");
        let end = terminated(4);
        assert_eq!(tracker.update(end.clone()), [Change::Status(end.clone()), Change::Terminated(end.clone())]);
        assert!(!tracker.is_ready(), "an ended backend is not ready any more");
        assert!(tracker.is_terminated());
        assert!(tracker.update(BackendState::Ready { time: at(5) }).is_empty(), "nothing after the end");
    }

    #[test]
    fn ready_fails_with_the_final_state_of_a_backend_that_ended_first() {
        let mut tracker = Tracker::new();
        assert_eq!(tracker.ready_outcome(), None, "before any state, ready() waits");
        tracker.update(BackendState::Starting { time: at(1) });
        assert_eq!(tracker.ready_outcome(), None);
        let reason = TerminationReason::StartupTimeout;
        tracker.update(BackendState::HardTerminating { time: at(2), termination_reason: reason });
        assert_eq!(tracker.ready_outcome(), None, "a stopping backend settles ready() with its final state");
        tracker.update(terminated(2));
        assert_eq!(tracker.ready_outcome(), Some(Err(terminated(2))));
    }

    #[test]
    fn following_another_backend_starts_its_states_afresh() {
        let mut tracker = Tracker::new();
        let first = BackendId::try_from("b1".to_string()).unwrap();
        tracker.follow(first.clone());
        tracker.update(BackendState::Ready { time: at(1) });
        assert!(!tracker.follow(first), "the same backend again keeps its states");
        assert!(tracker.is_ready());
        assert!(tracker.follow(BackendId::try_from("b2".to_string()).unwrap()));
        assert_eq!(tracker.last(), None);
        assert_eq!(tracker.update(BackendState::Scheduled { time: at(2) }).len(), 1);
    }
}
