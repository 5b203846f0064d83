//! The backend lifecycle as a pure state machine.
//!
//! Rules, each a typed [`TransitionError`] when broken:
//! * statuses only move forward, in the order of [`BackendStatus`]; a backend
//!   may skip statuses;
//! * `terminating → hard-terminating` is allowed, never the reverse;
//! * nothing follows `terminated`;
//! * once a termination is under way its reason is fixed: `hard-terminating`
//!   and `terminated` must carry the reason of the `terminating` before them,
//!   and `terminated` carries the kind the termination had (`soft` after
//!   `terminating`, `hard` after `hard-terminating`).

use crate::model::code::ErrorCode;
use crate::model::status::{BackendState, BackendStatus, TerminationKind, TerminationReason};
use crate::model::time::Timestamp;

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The backend is terminated; no status may follow.
    #[error("the backend is terminated; `{to}` cannot follow `terminated`")]
    AlreadyTerminated {
        /// The refused status.
        to: BackendStatus,
    },
    /// The move was not forward.
    #[error("a backend only moves forward; `{from}` → `{to}` is not allowed")]
    NotForward {
        /// The current status.
        from: BackendStatus,
        /// The refused status.
        to: BackendStatus,
    },
    /// A termination under way was given another reason.
    #[error(
        "the termination under way is for `{}`; `{to}` with reason `{}` does not match",
        expected.as_str(),
        found.as_ref().map_or("none", TerminationReason::as_str)
    )]
    ReasonMismatch {
        /// The refused status.
        to: BackendStatus,
        /// The reason of the termination under way.
        expected: TerminationReason,
        /// The reason given.
        found: Option<TerminationReason>,
    },
    /// `terminated` was given another kind than the termination under way.
    #[error(
        "after `{from}` the termination kind is `{}`, not `{}`",
        expected.as_str(),
        found.as_ref().map_or("none", TerminationKind::as_str)
    )]
    KindMismatch {
        /// The current status.
        from: BackendStatus,
        /// The kind the termination under way has.
        expected: TerminationKind,
        /// The kind given.
        found: Option<TerminationKind>,
    },
}

impl TransitionError {
    /// A stable code for this error, for callers to branch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            TransitionError::AlreadyTerminated { .. } => ErrorCode::AlreadyTerminated,
            TransitionError::NotForward { .. } => ErrorCode::NotForward,
            TransitionError::ReasonMismatch { .. } => ErrorCode::ReasonMismatch,
            TransitionError::KindMismatch { .. } => ErrorCode::KindMismatch,
        }
    }
}

/// One backend's life: its current [`BackendState`] and every state before
/// it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// Never empty: it starts with `scheduled`.
    history: Vec<BackendState>,
}

impl Lifecycle {
    /// A backend the leader accepted at `time`: status `scheduled`.
    pub fn new(time: Timestamp) -> Self {
        Lifecycle { history: vec![BackendState::Scheduled { time }] }
    }

    /// The current state.
    pub fn state(&self) -> &BackendState {
        // `history` starts with one state and is only ever appended to.
        self.history.last().expect("a lifecycle always has a state")
    }

    /// The current status.
    pub fn status(&self) -> BackendStatus {
        self.state().status()
    }

    /// Every state so far, oldest first.
    pub fn history(&self) -> &[BackendState] {
        &self.history
    }

    /// Whether the backend is terminated.
    pub fn is_terminated(&self) -> bool {
        self.status() == BackendStatus::Terminated
    }

    /// Moves to `next` if the rules allow it.
    pub fn apply(&mut self, next: BackendState) -> Result<&BackendState, TransitionError> {
        self.check(&next)?;
        self.history.push(next);
        Ok(self.state())
    }

    fn check(&self, next: &BackendState) -> Result<(), TransitionError> {
        let current = self.state();
        let (from, to) = (current.status(), next.status());
        if from == BackendStatus::Terminated {
            return Err(TransitionError::AlreadyTerminated { to });
        }
        if to <= from {
            return Err(TransitionError::NotForward { from, to });
        }
        let (under_way, kind) = match *current {
            BackendState::Terminating { termination_reason, .. } => (termination_reason, TerminationKind::Soft),
            BackendState::HardTerminating { termination_reason, .. } => (termination_reason, TerminationKind::Hard),
            _ => return Ok(()),
        };
        if next.termination_reason() != Some(under_way) {
            return Err(TransitionError::ReasonMismatch { to, expected: under_way, found: next.termination_reason() });
        }
        if let BackendState::Terminated { termination_kind, .. } = *next {
            if termination_kind != Some(kind) {
                return Err(TransitionError::KindMismatch { from, expected: kind, found: termination_kind });
            }
        }
        Ok(())
    }

    /// Starts (or escalates) a termination: `soft` moves to `terminating`,
    /// `hard` to `hard-terminating`. A termination already under way keeps
    /// its first reason: escalating a soft termination to hard ignores
    /// `reason`.
    pub fn terminate(
        &mut self,
        time: Timestamp,
        kind: TerminationKind,
        reason: TerminationReason,
    ) -> Result<&BackendState, TransitionError> {
        let termination_reason = self.state().termination_reason().unwrap_or(reason);
        self.apply(match kind {
            TerminationKind::Soft => BackendState::Terminating { time, termination_reason },
            TerminationKind::Hard => BackendState::HardTerminating { time, termination_reason },
        })
    }

    /// Ends the backend. After a termination under way, the state carries its
    /// reason and kind; otherwise it carries `reason` (e.g. `lost`, or `None`
    /// when the backend ended by itself) and no kind.
    pub fn finish(
        &mut self,
        time: Timestamp,
        exit_error: bool,
        reason: Option<TerminationReason>,
    ) -> Result<&BackendState, TransitionError> {
        self.apply(final_state(self.state(), time, exit_error, reason))
    }
}

/// The `terminated` state that follows `last` at `time`: a termination under
/// way keeps its own reason and kind; otherwise `reason`, with no kind.
pub(crate) fn final_state(
    last: &BackendState,
    time: Timestamp,
    exit_error: bool,
    reason: Option<TerminationReason>,
) -> BackendState {
    let (termination_reason, termination_kind) = match *last {
        BackendState::Terminating { termination_reason, .. } => (Some(termination_reason), Some(TerminationKind::Soft)),
        BackendState::HardTerminating { termination_reason, .. } => {
            (Some(termination_reason), Some(TerminationKind::Hard))
        }
        _ => (reason, None),
    };
    BackendState::Terminated { time, termination_reason, termination_kind, exit_error: Some(exit_error) }
}
