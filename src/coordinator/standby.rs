//! Which tab keeps the warm standby: a backend worker loaded and waiting,
//! its wasm instantiated and nothing started, so that a failover only sends
//! it `init` instead of starting a worker from nothing.
//!
//! The rules:
//! 1. while a leader is connected, the standby is the oldest follower — the
//!    one queued longest for the leader lock, so the next to be granted it
//!    when the leader goes, and the one the watchdog tells to take over
//!    first. Before the first leader there is none (whoever wins the lock
//!    starts its worker anyway); while no leader is connected it stays
//!    where it is: that tab is likely being granted the lock right now, and
//!    must not be told to drop the worker it is about to use;
//! 2. only that one tab pays for it: when the choice changes, the new one is
//!    told `standby` on and the old one, if it is still a follower, off;
//! 3. the choice is made after every input, from the first follower in
//!    connection order: a cost that does not grow with the number of tabs.

use crate::model::ids::ConnId;

/// The tab told to keep the standby.
#[derive(Debug, Default)]
pub(super) struct Standby {
    tab: Option<ConnId>,
}

impl Standby {
    /// The tab told to keep it, if any.
    pub(super) fn tab(&self) -> Option<ConnId> {
        self.tab
    }

    /// The standby belongs with `next` now: who is told what (`true`: keep
    /// one; `false`: stop). `still_follows` says whether the previous one is
    /// still a follower to tell (not gone, not leading).
    pub(super) fn place(
        &mut self,
        next: Option<ConnId>,
        still_follows: impl Fn(ConnId) -> bool,
    ) -> Vec<(ConnId, bool)> {
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

    #[test]
    fn the_first_choice_is_told_on_and_the_same_choice_again_says_nothing() {
        let mut standby = Standby::default();
        assert_eq!(standby.place(Some(conn(2)), |_| true), vec![(conn(2), true)]);
        assert_eq!(standby.place(Some(conn(2)), |_| true), vec![]);
        assert_eq!(standby.tab(), Some(conn(2)));
    }

    #[test]
    fn a_move_tells_the_old_tab_off_only_while_it_still_follows() {
        let mut standby = Standby::default();
        standby.place(Some(conn(2)), |_| true);
        assert_eq!(standby.place(Some(conn(3)), |_| true), vec![(conn(2), false), (conn(3), true)]);
        // The old one is gone (or took the lead): only the new one hears.
        assert_eq!(standby.place(Some(conn(4)), |_| false), vec![(conn(4), true)]);
        assert_eq!(standby.place(None, |_| true), vec![(conn(4), false)]);
        assert_eq!(standby.tab(), None);
    }
}
