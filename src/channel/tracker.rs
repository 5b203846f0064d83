//! What a tab's handle on a backend knows of its lifecycle: the states it
//! was told, each once and in order, and what that means for `ready()`,
//! `isReady()` and `isTerminated()`.

use crate::model::ids::BackendId;
use crate::model::status::{BackendState, BackendStatus, TerminationReason};
use crate::model::time::Timestamp;

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

/// What a keyed handle does once its session closed and its backend's end
/// is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Connect the same key again and open a session with what answers.
    Reconnect,
    /// Nothing follows: the handle ends with the backend's final state.
    End(Option<BackendState>),
}

/// Whether a backend that ended in `state` went with its tab, not by the
/// app's choice or a limit: the leader tab closed or crashed (`lost`, or
/// `key_expired` for a key whose holder went).
pub fn lost_with_its_tab(state: &BackendState) -> bool {
    matches!(state.termination_reason(), Some(TerminationReason::Lost | TerminationReason::KeyExpired))
}

/// How long a reconnect waits before it connects again when the answer
/// named the backend that was lost.
pub const RECONNECT_RETRY_MS: u64 = 100;
/// How many times a reconnect connects again before the handle ends.
pub const MAX_RECONNECTS: u32 = 50;

/// What the answer to a reconnect's connect means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconnected {
    /// A live backend answered: follow it and open a session with it.
    Follow,
    /// The backend that was lost answered (its leader was still going):
    /// connect again at [`Closing::poll_timeout`].
    Later,
    /// It answered that way too many times: the handle ends.
    GiveUp(Option<BackendState>),
}

/// The end of a keyed handle's session: it waits for both the session's
/// close and the backend's final state (they come in either order), then
/// says what follows. With `reconnect`, a backend lost with its tab is
/// connected again; any other end is final.
#[derive(Debug, Clone)]
pub struct Closing {
    reconnect: bool,
    closed: bool,
    /// The backend that ended, and its final state.
    terminal: Option<(BackendId, BackendState)>,
    decided: bool,
    /// Connects made again because the lost backend answered.
    attempts: u32,
    retry_at: Option<Timestamp>,
}

impl Closing {
    /// The end of a session that is not open yet.
    pub fn new(reconnect: bool) -> Self {
        Closing { reconnect, closed: false, terminal: None, decided: false, attempts: 0, retry_at: None }
    }

    /// A new session opened (after a reconnect): its end is still to come.
    pub fn opened(&mut self) {
        *self = Closing::new(self.reconnect);
    }

    /// The session closed.
    pub fn closed(&mut self) -> Option<Ending> {
        self.closed = true;
        self.decide()
    }

    /// Backend `backend` ended in `state`.
    pub fn terminated(&mut self, backend: BackendId, state: BackendState) -> Option<Ending> {
        self.terminal = Some((backend, state));
        self.decide()
    }

    /// The session could not be opened (or opened again): nothing follows.
    pub fn failed(&mut self, last: Option<BackendState>) -> Option<Ending> {
        self.retry_at = None;
        (!std::mem::replace(&mut self.decided, true)).then_some(Ending::End(last))
    }

    /// The reconnect's connect was answered by `backend`.
    pub fn answered(&mut self, now: Timestamp, backend: &BackendId) -> Reconnected {
        let Some((lost, state)) = &self.terminal else { return Reconnected::Follow };
        if lost != backend {
            return Reconnected::Follow;
        }
        if self.attempts >= MAX_RECONNECTS {
            return Reconnected::GiveUp(Some(state.clone()));
        }
        self.attempts += 1;
        self.retry_at = Some(now.plus_millis(RECONNECT_RETRY_MS));
        Reconnected::Later
    }

    /// When to connect again, if an answer named the lost backend.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.retry_at
    }

    /// Time passed: `Reconnect` when it is time to connect again.
    pub fn timeout(&mut self, now: Timestamp) -> Option<Ending> {
        self.retry_at.filter(|at| *at <= now)?;
        self.retry_at = None;
        Some(Ending::Reconnect)
    }

    fn decide(&mut self) -> Option<Ending> {
        let (_, terminal) = self.terminal.as_ref().filter(|_| self.closed && !self.decided)?;
        self.decided = true;
        Some(if self.reconnect && lost_with_its_tab(terminal) {
            Ending::Reconnect
        } else {
            Ending::End(Some(terminal.clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn ended(reason: TerminationReason) -> BackendState {
        BackendState::Terminated {
            time: at(9),
            termination_reason: Some(reason),
            termination_kind: None,
            exit_error: None,
        }
    }

    #[test]
    fn a_handle_waits_for_both_the_close_and_the_end_in_either_order() {
        let mut closing = Closing::new(false);
        assert_eq!(closing.closed(), None, "closed, but the end is not known yet");
        let end = ended(TerminationReason::External);
        assert_eq!(closing.terminated(b(1), end.clone()), Some(Ending::End(Some(end.clone()))));
        assert_eq!(closing.closed(), None, "decided once");
        let mut closing = Closing::new(false);
        assert_eq!(closing.terminated(b(1), end.clone()), None);
        assert_eq!(closing.closed(), Some(Ending::End(Some(end))));
    }

    #[test]
    fn only_a_backend_lost_with_its_tab_is_reconnected_and_only_when_asked() {
        for (reason, reconnects) in [
            (TerminationReason::Lost, true),
            (TerminationReason::KeyExpired, true),
            (TerminationReason::External, false),
            (TerminationReason::Swept, false),
            (TerminationReason::StartupTimeout, false),
        ] {
            let mut closing = Closing::new(true);
            closing.closed();
            let expected = if reconnects { Ending::Reconnect } else { Ending::End(Some(ended(reason))) };
            assert_eq!(closing.terminated(b(1), ended(reason)), Some(expected), "{reason:?}");
            let mut without = Closing::new(false);
            without.closed();
            assert_eq!(without.terminated(b(1), ended(reason)), Some(Ending::End(Some(ended(reason)))), "{reason:?}");
        }
    }

    #[test]
    fn a_reconnected_session_ends_afresh_and_a_failed_open_ends_once() {
        let mut closing = Closing::new(true);
        closing.closed();
        assert_eq!(closing.terminated(b(1), ended(TerminationReason::Lost)), Some(Ending::Reconnect));
        closing.opened();
        assert_eq!(closing.closed(), None, "the new session's end waits for the new backend's");
        assert_eq!(closing.failed(None), Some(Ending::End(None)));
        assert_eq!(closing.failed(None), None);
        assert_eq!(closing.terminated(b(1), ended(TerminationReason::Lost)), None, "nothing after the end");
    }

    fn b(n: u32) -> BackendId {
        BackendId::try_from(format!("b{n}")).unwrap()
    }

    #[test]
    fn an_answer_naming_the_lost_backend_is_asked_again_later_and_not_for_ever() {
        let mut closing = Closing::new(true);
        closing.closed();
        assert_eq!(closing.terminated(b(1), ended(TerminationReason::Lost)), Some(Ending::Reconnect));
        assert_eq!(closing.answered(at(10), &b(1)), Reconnected::Later, "a leader that was going answered");
        assert_eq!(closing.poll_timeout(), Some(at(10 + RECONNECT_RETRY_MS)));
        assert_eq!(closing.timeout(at(10)), None, "not before its time");
        assert_eq!(closing.timeout(at(10 + RECONNECT_RETRY_MS)), Some(Ending::Reconnect));
        assert_eq!(closing.poll_timeout(), None);
        assert_eq!(closing.answered(at(200), &b(2)), Reconnected::Follow, "a new backend is followed");
        for _ in 1..MAX_RECONNECTS {
            assert_eq!(closing.answered(at(300), &b(1)), Reconnected::Later);
        }
        assert_eq!(closing.answered(at(400), &b(1)), Reconnected::GiveUp(Some(ended(TerminationReason::Lost))));
    }
}
