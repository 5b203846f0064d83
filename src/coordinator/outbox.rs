//! What the coordinator asks the browser layer to do, in order, and how
//! many frames it refused.

use std::collections::VecDeque;

use super::board::Recorded;
use crate::model::code::ErrorCode;
use crate::model::ids::{BackendId, ConnId};
use crate::model::locks::LockId;
use crate::model::time::Timestamp;
use crate::protocol::CoordinatorToTab;

/// What the coordinator asks the browser layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinatorOutput {
    /// Post `message` on connection `to`. When the message carries a port
    /// ([`WireMessage::ports`](crate::protocol::WireMessage::ports)), it is
    /// the port that arrived with the frame being handled; it is
    /// transferred, never copied.
    Send {
        /// The connection.
        to: ConnId,
        /// The message.
        message: CoordinatorToTab,
    },
    /// Wait on the Web Lock `lock` (exclusive) and call
    /// [`Coordinator::tab_gone`](super::Coordinator::tab_gone) for `conn`
    /// once it is granted: the tab held it for its whole life, so the grant
    /// means the tab is gone.
    WatchTab {
        /// The connection of the tab.
        conn: ConnId,
        /// The tab's lock.
        lock: LockId,
        /// Its name.
        name: String,
    },
    /// Read connection `conn` from now on: the coordinator holds its
    /// liveness lock, so its tab can see it die (until then, what the tab
    /// posts waits in the port).
    Listen {
        /// The connection.
        conn: ConnId,
    },
    /// Close connection `conn` and stop watching its tab (its tab is gone,
    /// or it never said `hello` in time).
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// The outputs not taken yet, and the count of refused frames.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    outputs: VecDeque<CoordinatorOutput>,
    rejected: u64,
}

impl Outbox {
    /// Posts `message` on `to`.
    pub(super) fn send(&mut self, to: ConnId, message: CoordinatorToTab) {
        self.outputs.push_back(CoordinatorOutput::Send { to, message });
    }

    /// Anything else to do.
    pub(super) fn push(&mut self, output: CoordinatorOutput) {
        self.outputs.push_back(output);
    }

    /// `conn`'s frame is refused, and counted; it is told so while `open`.
    pub(super) fn reject(&mut self, conn: ConnId, open: bool, code: ErrorCode, detail: String) {
        self.rejected += 1;
        if open {
            self.send(conn, CoordinatorToTab::Rejected { code, detail });
        }
    }

    /// A frame that nobody is to hear of was dropped: counted.
    pub(super) fn dropped(&mut self) {
        self.rejected += 1;
    }

    /// How many frames were refused or dropped so far.
    pub(super) fn rejected(&self) -> u64 {
        self.rejected
    }

    /// How many outputs wait.
    pub(super) fn len(&self) -> usize {
        self.outputs.len()
    }

    /// The connections passed, after the first `since` outputs waiting,
    /// something only a leader's main thread answers.
    pub(super) fn demanded_since(&self, since: usize) -> Vec<ConnId> {
        (self.outputs.iter().skip(since))
            .filter_map(|out| match out {
                CoordinatorOutput::Send { to, message } if message.is_demand() => Some(*to),
                _ => None,
            })
            .collect()
    }

    /// Tells each watcher of each recorded backend its new state.
    pub(super) fn tell(&mut self, recorded: Vec<Recorded>) {
        for Recorded { backend_id, state, watchers } in recorded {
            for to in watchers {
                self.send(to, CoordinatorToTab::Status { backend_id: backend_id.clone(), state: state.clone() });
            }
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

    /// The next output, if any.
    pub(super) fn pop(&mut self) -> Option<CoordinatorOutput> {
        self.outputs.pop_front()
    }
}
