//! Which tab keeps the warm standby: a backend worker loaded and waiting,
//! its wasm instantiated and nothing started, so that a failover only sends
//! it `init` instead of starting a worker from nothing.
//!
//! The rules:
//! 1. the coordinator keeps the line of tabs queued for the leader lock, as
//!    the lock manager does: a tab joins it at its `hello`, leaves it when it
//!    claims the lead or goes, and a leader that a newer one replaced while
//!    its tab lives (it stepped down, or was taken over) queues again, last;
//! 2. while a leader is connected, the standby is the first in that line —
//!    the tab the leader lock goes to next. Before the first leader there is
//!    none (whoever wins the lock starts its worker anyway); while no leader
//!    is connected it stays where it is: that tab is likely being granted
//!    the lock right now, and must not be told to drop the worker it is
//!    about to use;
//! 3. only that one tab pays for it: when the choice changes, the new one is
//!    told `standby` on and the old one, if it is still a follower, off;
//! 4. the choice is made after every input from the head of the line: a
//!    cost that does not grow with the number of tabs.

use crate::model::ids::ConnId;

/// The line for the lead, and the tab told to keep the standby.
#[derive(Debug, Default)]
pub(super) struct Standby {
    /// The followers, in the order the leader lock would go to them.
    line: Vec<ConnId>,
    tab: Option<ConnId>,
}

impl Standby {
    /// The tab told to keep it, if any.
    pub(super) fn tab(&self) -> Option<ConnId> {
        self.tab
    }

    /// The followers, in the order the leader lock would go to them.
    pub(super) fn line(&self) -> &[ConnId] {
        &self.line
    }

    /// `conn` said `hello`: it queues for the lead, last.
    pub(super) fn joined(&mut self, conn: ConnId) {
        self.left(conn);
        self.line.push(conn);
    }

    /// `conn` is gone.
    pub(super) fn left(&mut self, conn: ConnId) {
        self.line.retain(|&c| c != conn);
    }

    /// `leader` claimed the lead; `previous`, the leader before it, if its
    /// tab lives on another connection, queues again, last.
    pub(super) fn led(&mut self, leader: ConnId, previous: Option<ConnId>) {
        self.left(leader);
        if let Some(previous) = previous.filter(|&p| p != leader) {
            self.joined(previous);
        }
    }

    /// The standby belongs with the head of the line now: who is told what
    /// (`true`: keep one; `false`: stop). `still_follows` says whether the
    /// previous one is still a follower to tell (not gone, not leading).
    pub(super) fn place(&mut self, still_follows: impl Fn(ConnId) -> bool) -> Vec<(ConnId, bool)> {
        let next = self.line.first().copied();
        if self.tab == next {
            return Vec::new();
        }
        let previous = std::mem::replace(&mut self.tab, next);
        let off = previous.filter(|&tab| still_follows(tab)).map(|tab| (tab, false));
        off.into_iter().chain(next.map(|tab| (tab, true))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(n: u64) -> ConnId {
        ConnId(n)
    }

    fn line(conns: &[u64]) -> Standby {
        let mut standby = Standby::default();
        for &c in conns {
            standby.joined(conn(c));
        }
        standby
    }

    #[test]
    fn the_head_of_the_line_is_told_on_once() {
        let mut standby = line(&[2, 3]);
        assert_eq!(standby.place(|_| true), vec![(conn(2), true)]);
        assert_eq!(standby.place(|_| true), vec![]);
        assert_eq!(standby.tab(), Some(conn(2)));
    }

    #[test]
    fn a_move_tells_the_old_tab_off_only_while_it_still_follows() {
        let mut standby = line(&[2, 3, 4]);
        standby.place(|_| true);
        standby.left(conn(2));
        assert_eq!(standby.place(|_| false), vec![(conn(3), true)], "gone: only the new one hears");
        standby.joined(conn(3));
        assert_eq!(standby.place(|_| true), vec![(conn(3), false), (conn(4), true)]);
        standby.left(conn(4));
        standby.left(conn(3));
        assert_eq!(standby.place(|_| true), vec![(conn(4), false)]);
        assert_eq!(standby.tab(), None);
    }

    #[test]
    fn a_leader_leaves_the_line_and_the_one_it_replaced_queues_again_last() {
        let mut standby = line(&[2, 3, 4]);
        // Tab 1 led; tab 3 took over while tab 1 lives: the line is 2, 4, 1.
        standby.led(conn(3), Some(conn(1)));
        assert_eq!(standby.line, [conn(2), conn(4), conn(1)]);
        standby.led(conn(2), Some(conn(3)));
        assert_eq!(standby.line, [conn(4), conn(1), conn(3)]);
        // A leader claiming again on its own connection stays out of the line.
        standby.led(conn(2), Some(conn(2)));
        assert_eq!(standby.line, [conn(4), conn(1), conn(3)]);
    }
}
