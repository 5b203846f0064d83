//! The keyed backends' traffic through the coordinator: a tab's `connect`
//! passed to the leader (and kept pending until answered, for the next
//! leader if this one dies), the leader's `connected` passed back to the
//! asker, its `status` reports checked and recorded on the board and told
//! to the backend's watchers, `watch` answered with the history so far, and
//! `terminate` passed to the leader of a live backend.

use super::board::{Recorded, Watched};
use super::{Coordinator, PendingConnect, admission};
use crate::model::code::ErrorCode;
use crate::model::ids::{BackendId, ConnId};
use crate::model::status::BackendStatus;
use crate::model::time::Timestamp;
use crate::protocol::{ConnectAnswer, ConnectCall, CoordinatorToTab, StatusReport, TerminateCall};

impl Coordinator {
    pub(super) fn tell_watchers(&mut self, recorded: Vec<Recorded>) {
        for Recorded { backend_id, state, watchers } in recorded {
            for to in watchers {
                self.send(to, CoordinatorToTab::Status { backend_id: backend_id.clone(), state: state.clone() });
            }
        }
    }

    pub(super) fn connect_call(&mut self, from: ConnId, call: Box<ConnectCall>) {
        // The same connect again replaces the one pending.
        self.connects.retain(|p| p.call.client_id != call.client_id || p.call.request_id != call.request_id);
        if let Some(detail) = admission::too_many(self.pending(from), "connect") {
            return self.reject(from, ErrorCode::TooManyPending, detail);
        }
        let sent_to = self.leader().map(|(epoch, leader)| {
            self.send(leader, CoordinatorToTab::Connect(call.clone()));
            epoch
        });
        self.connects.push(PendingConnect { from, call, sent_to });
    }

    pub(super) fn connected(&mut self, from: ConnId, answer: Box<ConnectAnswer>) {
        if self.leading_epoch(from, "connected").is_none() {
            return;
        }
        let pending = self
            .connects
            .iter()
            .position(|p| p.call.client_id == answer.client_id && p.call.request_id == answer.request_id);
        let Some(pending) = pending else {
            // Answered already, or its tab left: nothing to tell anyone.
            self.rejected += 1;
            return;
        };
        self.connects.remove(pending);
        if let Some(to) = self.conn_of(&answer.client_id) {
            self.send(to, CoordinatorToTab::Connected(answer));
        }
    }

    /// Tells each watcher of each backend that no leader hosts it.
    pub(super) fn tell_unhosted(&mut self, now: Timestamp, unhosted: Vec<(BackendId, Vec<ConnId>)>) {
        for (backend_id, watchers) in unhosted {
            for to in watchers {
                self.send(to, CoordinatorToTab::Unhosted { backend_id: backend_id.clone(), time: now });
            }
        }
    }

    pub(super) fn status(&mut self, now: Timestamp, from: ConnId, report: StatusReport) {
        let Some(epoch) = self.leading_epoch(from, "status") else { return };
        // A term it held before it claimed again on this connection: its
        // backends moved to the new term with it (`rehome`).
        if !self.is_own_term(report.epoch, epoch) {
            let detail = format!("status of epoch {} while epoch {epoch} leads", report.epoch);
            return self.reject(from, ErrorCode::StaleEpoch, detail);
        }
        let StatusReport { backend_id, key, state, .. } = report;
        let ended = state.status() == BackendStatus::Terminated;
        match self.board.report(epoch, from, backend_id.clone(), key, state) {
            Ok(recorded) => self.tell_watchers(vec![recorded]),
            Err(error) => {
                self.reject(from, error.code(), error.to_string());
                // One it named in its claim ended before it was told here.
                if ended {
                    let watchers = self.board.ended_unreported(&backend_id);
                    self.tell_unhosted(now, vec![(backend_id, watchers)]);
                }
            }
        }
    }

    /// Answers a watch with the history so far; a backend not reported yet
    /// (just spawned, or its leader has not told a new coordinator yet) is
    /// told to the watcher once it is; one that no leader hosts is told
    /// so.
    pub(super) fn watch(&mut self, now: Timestamp, from: ConnId, backend_id: BackendId) {
        match self.board.watch(from, &backend_id) {
            Watched::History(states) => self.send(from, CoordinatorToTab::History { backend_id, states }),
            Watched::Unhosted => self.send(from, CoordinatorToTab::Unhosted { backend_id, time: now }),
        }
    }

    /// Only a live backend of the current leader is worth stopping; for
    /// any other the asking tab learns the outcome from the history it
    /// watches.
    pub(super) fn terminate(&mut self, _from: ConnId, call: TerminateCall) {
        let Some((epoch, leader)) = self.leader() else { return };
        if self.board.get(&call.backend_id).is_some_and(|r| !r.is_terminated() && r.epoch == epoch) {
            self.send(leader, CoordinatorToTab::Terminate(call));
        }
    }
}
