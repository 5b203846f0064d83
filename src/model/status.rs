//! Backend statuses and termination, serialized exactly as the seed's
//! `@jamsocket/types` writes them.

use std::fmt;

use crate::model::value::{Fields, FromValue, Record, ToValue, Value, ValueError, string_enum};

use crate::model::time::Timestamp;

/// Where a backend is in its life. The order of the variants is the order of
/// the lifecycle: a backend only ever moves forward (it may skip statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

    /// The status the seed writes as `text`.
    pub fn parse(text: &str) -> Option<BackendStatus> {
        BackendStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

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

impl ToValue for BackendStatus {
    fn to_value(&self) -> Value {
        self.as_str().to_value()
    }
}

impl FromValue for BackendStatus {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        value.as_str().and_then(BackendStatus::parse).ok_or_else(|| ValueError::expected("a backend status", value))
    }
}

impl fmt::Display for BackendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a backend was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminationKind {
    /// Asked politely, with a grace period.
    Soft,
    /// Stopped with `worker.terminate()`.
    Hard,
}

/// Why a backend stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The engine running it failed to (a Plane drone's executor could not
    /// start or keep it). Never given to an in-browser backend.
    InternalError,
}

/// A backend's status at one instant, with what that status carries. This is
/// the seed's `BackendState`: tagged by `status`, `time` an ISO-8601 string.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        termination_reason: Option<TerminationReason>,
        /// How it was stopped; absent when it was not asked to stop.
        termination_kind: Option<TerminationKind>,
        /// Whether it ended with an error (it threw, or panicked).
        exit_error: Option<bool>,
    },
}

string_enum!(TerminationKind, "a termination kind", {
    TerminationKind::Soft => "soft",
    TerminationKind::Hard => "hard",
});

string_enum!(TerminationReason, "a termination reason", {
    TerminationReason::Swept => "swept",
    TerminationReason::External => "external",
    TerminationReason::KeyExpired => "key_expired",
    TerminationReason::Lost => "lost",
    TerminationReason::StartupTimeout => "startup_timeout",
    TerminationReason::InternalError => "internal_error",
});

impl ToValue for BackendState {
    /// Tagged by `status`, with the fields of that status.
    fn to_value(&self) -> Value {
        let record = Record::tagged("status", self.status().as_str()).put("time", &self.time());
        match self {
            BackendState::Terminating { termination_reason, .. }
            | BackendState::HardTerminating { termination_reason, .. } => {
                record.put("termination_reason", termination_reason)
            }
            BackendState::Terminated { termination_reason, termination_kind, exit_error, .. } => record
                .put_opt("termination_reason", termination_reason)
                .put_opt("termination_kind", termination_kind)
                .put_opt("exit_error", exit_error),
            _ => record,
        }
        .done()
    }
}

impl FromValue for BackendState {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        let tag = fields.tag("status")?;
        let status = BackendStatus::parse(tag)
            .ok_or_else(|| ValueError::new(format!("`status`: `{tag}` is not a backend status")))?;
        BackendState::read::<TerminationReason>(status, fields.req("time")?, &fields)
    }
}

impl BackendState {
    /// The state of `status` at `time`, with the fields that status carries
    /// read from `fields`, its termination reason as an `R` spells it (the
    /// seed's, or Plane's status stream's).
    pub(crate) fn read<R: FromValue + Into<TerminationReason>>(
        status: BackendStatus,
        time: Timestamp,
        fields: &Fields<'_>,
    ) -> Result<Self, ValueError> {
        let reason = || fields.req::<R>("termination_reason").map(Into::into);
        Ok(match status {
            BackendStatus::Scheduled => BackendState::Scheduled { time },
            BackendStatus::Loading => BackendState::Loading { time },
            BackendStatus::Starting => BackendState::Starting { time },
            BackendStatus::Waiting => BackendState::Waiting { time },
            BackendStatus::Ready => BackendState::Ready { time },
            BackendStatus::Terminating => BackendState::Terminating { time, termination_reason: reason()? },
            BackendStatus::HardTerminating => BackendState::HardTerminating { time, termination_reason: reason()? },
            BackendStatus::Terminated => BackendState::Terminated {
                time,
                termination_reason: fields.opt::<R>("termination_reason")?.map(Into::into),
                termination_kind: fields.opt("termination_kind")?,
                exit_error: fields.opt("exit_error")?,
            },
        })
    }
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
