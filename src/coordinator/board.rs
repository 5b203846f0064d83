//! The coordinator's board: every backend a leader reported, with its
//! history and the connections watching it.
//!
//! Pure, like the coordinator that owns it: it records what the leaders
//! report ([`Board::report`]), ends the backends of a leader that is gone or
//! superseded ([`Board::end_hosted`]), and says which connections to tell of
//! each new state. Sending is the coordinator's job.
//!
//! A backend not reported yet is awaited only while it may still come: once
//! a leader's claim named what it hosts ([`Board::claimed`]), a backend
//! that is neither on the board nor among those is of a term that no leader
//! continues (its leader died, with the coordinator that knew it or before
//! it told this one): it is *unhosted*, and its watchers are told so.
//!
//! Memory is bounded by the live backends: at most [`MAX_TERMINATED`]
//! terminated records are kept, the ones that terminated first are dropped
//! first (in the order they terminated on this board). A live record is
//! never dropped.

use std::collections::VecDeque;

use crate::model::map::{Map, Set};

use crate::model::code::ErrorCode;
use crate::model::ids::{BackendId, ConnId, Epoch};
use crate::model::lifecycle::{Lifecycle, TransitionError};
use crate::model::status::{BackendState, BackendStatus, TerminationReason};
use crate::model::time::Timestamp;

/// How many terminated backends the board remembers at most.
pub(crate) const MAX_TERMINATED: usize = 1024;
/// The most watches of backends not reported yet that are kept (a tab
/// watching again after a new coordinator started, before the leader told it
/// of its backends); beyond it such a watch is answered and forgotten.
pub(crate) const MAX_AWAITED: usize = 1024;

/// One backend, as its leader reported it.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Its key (as first reported).
    pub(crate) key: String,
    /// The term of the leader hosting it.
    pub(crate) epoch: Epoch,
    /// The connection of that leader.
    pub(crate) host: ConnId,
    lifecycle: Lifecycle,
    watchers: Set<ConnId>,
}

impl Record {
    /// Every state so far, oldest first.
    pub(crate) fn history(&self) -> &[BackendState] {
        self.lifecycle.history()
    }

    /// The current state.
    pub(crate) fn state(&self) -> &BackendState {
        self.lifecycle.state()
    }

    /// Whether the backend is terminated.
    pub(crate) fn is_terminated(&self) -> bool {
        self.lifecycle.is_terminated()
    }
}

/// Why a report was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReportError {
    /// The first report of a backend must be `scheduled`.
    #[error("backend `{backend_id}` is unknown; its first state must be `scheduled`, not `{status}`")]
    UnknownBackend {
        /// The backend.
        backend_id: BackendId,
        /// The status reported.
        status: BackendStatus,
    },
    /// The lifecycle refused the move.
    #[error("backend `{backend_id}`: {error}")]
    Transition {
        /// The backend.
        backend_id: BackendId,
        /// The refusal.
        error: TransitionError,
    },
}

impl ReportError {
    /// A stable code: `unknown-backend`, or the lifecycle's own.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            ReportError::UnknownBackend { .. } => ErrorCode::UnknownBackend,
            ReportError::Transition { error, .. } => error.code(),
        }
    }
}

/// A state recorded, and who watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The backend.
    pub(crate) backend_id: BackendId,
    /// Its new state.
    pub(crate) state: BackendState,
    /// The connections to tell.
    pub(crate) watchers: Vec<ConnId>,
}

/// Every backend reported, live or (for a while) terminated.
#[derive(Debug, Default)]
pub(crate) struct Board {
    records: Map<BackendId, Record>,
    /// The terminated records, in the order they terminated.
    ended: VecDeque<BackendId>,
    /// Watchers of backends not reported yet: they are told of each state
    /// once the backend's leader reports it.
    awaited: Map<BackendId, Set<ConnId>>,
    /// What the connected leader's claim said it hosts, while the board has
    /// not recorded it yet; `None` while no leader's claim was heard since
    /// the last one left (then every backend not on the board may come).
    expected: Option<Set<BackendId>>,
}

/// The answer to a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watched {
    /// The backend's history so far (empty: not reported yet, and it may
    /// still be, once its leader tells this coordinator).
    History(Vec<BackendState>),
    /// No leader hosts it, nor will: it is not on the board, and the
    /// leader's claim did not name it.
    Unhosted,
}

impl Board {
    /// The record of `id`, if it is known.
    pub(crate) fn get(&self, id: &BackendId) -> Option<&Record> {
        self.records.get(id)
    }

    /// Every record, by backend id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&BackendId, &Record)> {
        self.records.iter()
    }

    /// Records `state` of a backend hosted by the leader of `epoch` on
    /// `host`. An unknown backend must start `scheduled`; a known one moves
    /// on by the [`Lifecycle`] rules. Nothing is recorded when refused.
    pub(crate) fn report(
        &mut self,
        epoch: Epoch,
        host: ConnId,
        backend_id: BackendId,
        key: String,
        state: BackendState,
    ) -> Result<Recorded, ReportError> {
        let recorded = match self.records.get_mut(&backend_id) {
            Some(record) => {
                let state = match record.lifecycle.apply(state) {
                    Ok(state) => state.clone(),
                    Err(error) => return Err(ReportError::Transition { backend_id, error }),
                };
                Recorded { backend_id, state, watchers: record.watchers.iter().copied().collect() }
            }
            None => {
                let BackendState::Scheduled { time } = state else {
                    return Err(ReportError::UnknownBackend { backend_id, status: state.status() });
                };
                if let Some(expected) = &mut self.expected {
                    expected.remove(&backend_id);
                }
                let watchers = self.awaited.remove(&backend_id).unwrap_or_default();
                let told = watchers.iter().copied().collect();
                let record = Record { key, epoch, host, lifecycle: Lifecycle::new(time), watchers };
                let state = record.state().clone();
                self.records.insert(backend_id.clone(), record);
                Recorded { backend_id, state, watchers: told }
            }
        };
        if recorded.state.status() == BackendStatus::Terminated {
            self.ended(recorded.backend_id.clone());
        }
        Ok(recorded)
    }

    /// Whether `id`, not on the board, may still be reported: no leader's
    /// claim was heard since the last one left, or the claim named it.
    pub(crate) fn may_report(&self, id: &BackendId) -> bool {
        !self.records.contains_key(id) && self.expected.as_ref().is_none_or(|expected| expected.contains(id))
    }

    /// `conn` watches `id`: the history so far. A backend that is not
    /// terminated tells `conn` of each new state from now on; so does one
    /// not reported yet that may still be, once its leader reports it (up to
    /// `MAX_AWAITED` such backends). One that will not be is unhosted.
    pub(crate) fn watch(&mut self, conn: ConnId, id: &BackendId) -> Watched {
        if let Some(record) = self.records.get_mut(id) {
            if !record.is_terminated() {
                record.watchers.insert(conn);
            }
            return Watched::History(record.history().to_vec());
        }
        if !self.may_report(id) {
            return Watched::Unhosted;
        }
        if self.awaited.contains_key(id) || self.awaited.len() < MAX_AWAITED {
            self.awaited.entry(id.clone()).or_default().insert(conn);
        }
        Watched::History(Vec::new())
    }

    /// A leader claimed, hosting `hosted`: those the board does not know are
    /// expected from it. Every other backend awaited is unhosted: returned
    /// with its watchers, and no longer awaited.
    pub(crate) fn claimed(&mut self, hosted: &[BackendId]) -> Vec<(BackendId, Vec<ConnId>)> {
        let expected: Set<BackendId> = hosted.iter().filter(|id| !self.records.contains_key(*id)).cloned().collect();
        let unhosted: Vec<BackendId> = self.awaited.keys().filter(|id| !expected.contains(*id)).cloned().collect();
        self.expected = Some(expected);
        unhosted
            .into_iter()
            .filter_map(|id| self.awaited.remove(&id).map(|watchers| (id, watchers.into_iter().collect())))
            .collect()
    }

    /// The leader's connection closed: until the next claim, any backend
    /// not on the board may still be reported.
    pub(crate) fn leader_left(&mut self) {
        self.expected = None;
    }

    /// The leader ended backend `id` before it reported it here (it died
    /// while the leader claimed again): it is no longer expected, and its
    /// watchers, returned, are to be told it is unhosted.
    pub(crate) fn ended_unreported(&mut self, id: &BackendId) -> Vec<ConnId> {
        if self.records.contains_key(id) || !self.expected.as_mut().is_some_and(|expected| expected.remove(id)) {
            return Vec::new();
        }
        self.awaited.remove(id).map(|watchers| watchers.into_iter().collect()).unwrap_or_default()
    }

    /// `conn` is gone: it watches nothing any more.
    pub(crate) fn unwatch(&mut self, conn: ConnId) {
        for record in self.records.values_mut() {
            record.watchers.remove(&conn);
        }
        self.awaited.retain(|_, watchers| {
            watchers.remove(&conn);
            !watchers.is_empty()
        });
    }

    /// The live backends hosted on `host` are hosted in `epoch` from now on
    /// (their leader claimed a new term on the same connection).
    pub(crate) fn rehome(&mut self, host: ConnId, epoch: Epoch) {
        for record in self.records.values_mut().filter(|r| r.host == host && !r.is_terminated()) {
            record.epoch = epoch;
        }
    }

    /// Ends every live backend for which `reason` gives a reason, at `now`
    /// (a termination under way keeps its own reason and kind).
    pub(crate) fn end_hosted(
        &mut self,
        now: Timestamp,
        reason: impl Fn(&Record) -> Option<TerminationReason>,
    ) -> Vec<Recorded> {
        let mut ended = Vec::new();
        for (backend_id, record) in &mut self.records {
            if record.is_terminated() {
                continue;
            }
            let Some(reason) = reason(record) else { continue };
            // `finish` cannot fail on a live backend: `terminated` follows
            // every status, with the reason of a termination under way.
            if let Ok(state) = record.lifecycle.finish(now, false, Some(reason)) {
                let state = state.clone();
                let watchers = record.watchers.iter().copied().collect();
                ended.push(Recorded { backend_id: backend_id.clone(), state, watchers });
            }
        }
        for recorded in &ended {
            self.ended(recorded.backend_id.clone());
        }
        ended
    }

    /// `id` terminated: remember it among the terminated, dropping the
    /// oldest beyond [`MAX_TERMINATED`].
    fn ended(&mut self, id: BackendId) {
        if let Some(record) = self.records.get_mut(&id) {
            // Nobody is told of anything after `terminated`.
            record.watchers.clear();
        }
        self.ended.push_back(id);
        while self.ended.len() > MAX_TERMINATED {
            if let Some(oldest) = self.ended.pop_front() {
                self.records.remove(&oldest);
            }
        }
    }
}
