//! Backend statuses and termination, serialized exactly as the seed's
//! `@jamsocket/types` writes them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::time::Timestamp;

/// Where a backend is in its life. The order of the variants is the order of
/// the lifecycle: a backend only ever moves forward (it may skip statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendStatus {
    /// The leader accepted the connect.
    Scheduled,
    /// The worker exists; its script and wasm are loading.
    Loading,
    /// `init` was sent; the backend's start code runs.
    Starting,
    /// Started; waiting for the backend to declare itself ready.
    Waiting,
    /// The backend declared itself ready.
    Ready,
    /// Asked to stop, with a grace period.
    Terminating,
    /// Being stopped with `worker.terminate()`.
    HardTerminating,
    /// Gone. Nothing follows.
    Terminated,
}

impl BackendStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [BackendStatus; 8] = [
        BackendStatus::Scheduled,
        BackendStatus::Loading,
        BackendStatus::Starting,
        BackendStatus::Waiting,
        BackendStatus::Ready,
        BackendStatus::Terminating,
        BackendStatus::HardTerminating,
        BackendStatus::Terminated,
    ];

    /// The status as the seed writes it, e.g. `"hard-terminating"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendStatus::Scheduled => "scheduled",
            BackendStatus::Loading => "loading",
            BackendStatus::Starting => "starting",
            BackendStatus::Waiting => "waiting",
            BackendStatus::Ready => "ready",
            BackendStatus::Terminating => "terminating",
            BackendStatus::HardTerminating => "hard-terminating",
            BackendStatus::Terminated => "terminated",
        }
    }
}

impl fmt::Display for BackendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a backend was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerminationKind {
    /// Asked politely, with a grace period.
    Soft,
    /// Stopped with `worker.terminate()`.
    Hard,
}

/// Why a backend stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminationReason {
    /// Idle past `max_idle_seconds`, or alive past `lifetime_limit_seconds`.
    Swept,
    /// Terminate was asked through the API, from any tab.
    External,
    /// The leader that hosted it lost its lease (its lock was taken over).
    KeyExpired,
    /// The hosting tab or worker died without a word.
    Lost,
    /// Not ready within the startup limit.
    StartupTimeout,
}

/// A backend's status at one instant, with what that status carries. This is
/// the seed's `BackendState`: tagged by `status`, `time` an ISO-8601 string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum BackendState {
    /// See [`BackendStatus::Scheduled`].
    Scheduled {
        /// When the status was entered.
        time: Timestamp,
    },
    /// See [`BackendStatus::Loading`].
    Loading {
        /// When the status was entered.
        time: Timestamp,
    },
    /// See [`BackendStatus::Starting`].
    Starting {
        /// When the status was entered.
        time: Timestamp,
    },
    /// See [`BackendStatus::Waiting`].
    Waiting {
        /// When the status was entered.
        time: Timestamp,
    },
    /// See [`BackendStatus::Ready`].
    Ready {
        /// When the status was entered.
        time: Timestamp,
    },
    /// See [`BackendStatus::Terminating`].
    Terminating {
        /// When the status was entered.
        time: Timestamp,
        /// Why the backend is stopping.
        termination_reason: TerminationReason,
    },
    /// See [`BackendStatus::HardTerminating`].
    HardTerminating {
        /// When the status was entered.
        time: Timestamp,
        /// Why the backend is stopping.
        termination_reason: TerminationReason,
    },
    /// See [`BackendStatus::Terminated`].
    Terminated {
        /// When the status was entered.
        time: Timestamp,
        /// Why the backend stopped; absent when it ended by itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        termination_reason: Option<TerminationReason>,
        /// How it was stopped; absent when it was not asked to stop.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        termination_kind: Option<TerminationKind>,
        /// Whether it ended with an error (it threw, or panicked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_error: Option<bool>,
    },
}

impl BackendState {
    /// The status of this state.
    pub fn status(&self) -> BackendStatus {
        match self {
            BackendState::Scheduled { .. } => BackendStatus::Scheduled,
            BackendState::Loading { .. } => BackendStatus::Loading,
            BackendState::Starting { .. } => BackendStatus::Starting,
            BackendState::Waiting { .. } => BackendStatus::Waiting,
            BackendState::Ready { .. } => BackendStatus::Ready,
            BackendState::Terminating { .. } => BackendStatus::Terminating,
            BackendState::HardTerminating { .. } => BackendStatus::HardTerminating,
            BackendState::Terminated { .. } => BackendStatus::Terminated,
        }
    }

    /// When this status was entered.
    pub fn time(&self) -> Timestamp {
        match *self {
            BackendState::Scheduled { time }
            | BackendState::Loading { time }
            | BackendState::Starting { time }
            | BackendState::Waiting { time }
            | BackendState::Ready { time }
            | BackendState::Terminating { time, .. }
            | BackendState::HardTerminating { time, .. }
            | BackendState::Terminated { time, .. } => time,
        }
    }

    /// The termination reason this state carries, if any.
    pub fn termination_reason(&self) -> Option<TerminationReason> {
        match *self {
            BackendState::Terminating { termination_reason, .. }
            | BackendState::HardTerminating { termination_reason, .. } => Some(termination_reason),
            BackendState::Terminated { termination_reason, .. } => termination_reason,
            _ => None,
        }
    }
}
