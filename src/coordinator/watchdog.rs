//! The leader's watchdog: a leader tab whose main thread stops running
//! (frozen by the browser, or wedged in a long task) keeps its leader lock,
//! and without this every other tab would wait on it for as long as that
//! lasts.
//!
//! The rules:
//! 1. the leader is watched only while it owes an answer: from the moment
//!    the coordinator passes it something only its main thread can answer
//!    (a `request-port`, a `connect`, a `terminate`) until any frame comes
//!    from it. An idle leader costs nothing, and a wedged one whose
//!    backends go on serving their sessions is left alone while no tab
//!    needs it: a takeover ends those backends;
//! 2. while it owes, the leader is sent a `probe` every [`PROBE_MS`],
//!    which a running leader answers at once (so one busy with a slow
//!    answer still shows it runs). A probe is a message, never a timer in
//!    the tab, so a background tab whose timers the browser throttles
//!    still answers;
//! 3. a leader that has owed for [`SILENT_LEADER_MS`] without a word is
//!    taken over: one follower, the first in line for the lock not tried
//!    yet (the one keeping the standby worker), is told `take-over` and
//!    steals the leader lock. A main thread busy for
//!    less than [`SILENT_LEADER_MS`] is never taken over;
//! 4. one order at a time: a follower that has not claimed the lead within
//!    [`TAKEOVER_TIMEOUT_MS`] (it is frozen too) is passed over for the
//!    next;
//! 5. at most [`MAX_TAKEOVERS`] orders in any [`TAKEOVER_WINDOW_MS`]: two
//!    tabs that freeze in turn never take the lock from each other in a
//!    loop. Past the cap the silent leader is left to wake or die (its tab
//!    lock tells the coordinator when it does).
//!
//! A tab never steals on its own, and a leader that was taken over and
//! wakes queues for the lock like any follower: only the coordinator
//! orders a takeover, and only of the leader it currently believes in.

use crate::model::ids::{ConnId, Epoch};
use crate::model::time::Timestamp;

/// How often a leader that owes an answer and is silent is probed.
pub const PROBE_MS: u64 = 250;

/// How long a leader may owe an answer without a word before a follower
/// takes the lead from it: a tab that asks a frozen leader is served by a
/// new one about this long after it asked, plus the new leader's start.
pub const SILENT_LEADER_MS: u64 = 1_500;

/// How long a follower told to take over has to claim the lead before the
/// next one is told.
pub const TAKEOVER_TIMEOUT_MS: u64 = 3_000;

/// The most takeovers ordered within [`TAKEOVER_WINDOW_MS`].
pub const MAX_TAKEOVERS: usize = 3;

/// The window of [`MAX_TAKEOVERS`].
pub const TAKEOVER_WINDOW_MS: u64 = 60_000;

/// What the watchdog asks the coordinator to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Bark {
    /// Probe the leader on `conn`.
    Probe { conn: ConnId, epoch: Epoch },
    /// Tell the follower on `conn` to take the lead of `epoch` over.
    TakeOver { conn: ConnId, epoch: Epoch, silent_ms: u64 },
}

/// The leader watched: its connection and term, and whether it owes.
#[derive(Debug)]
struct Watched {
    conn: ConnId,
    epoch: Epoch,
    /// Since it was last heard: when it was first passed something to
    /// answer, and when it was last probed (or passed something).
    owes: Option<(Timestamp, Timestamp)>,
    /// The followers told to take this term over, in order.
    tried: Vec<ConnId>,
    /// The follower told last, and until when it has to claim.
    order: Option<(ConnId, Timestamp)>,
}

/// The watchdog's state.
#[derive(Debug, Default)]
pub(super) struct Watchdog {
    watched: Option<Watched>,
    /// When each takeover of the last [`TAKEOVER_WINDOW_MS`] was ordered.
    ordered: Vec<Timestamp>,
}

impl Watchdog {
    /// A leader claimed `epoch` on `conn`: watch it from now on.
    pub(super) fn watch(&mut self, conn: ConnId, epoch: Epoch) {
        self.watched = Some(Watched { conn, epoch, owes: None, tried: Vec::new(), order: None });
    }

    /// `conn` was passed, at `now`, something only a leader's main thread
    /// answers: if it leads and owed nothing, it owes from now on.
    pub(super) fn demand(&mut self, now: Timestamp, conn: ConnId) {
        if let Some(watched) = self.watched.as_mut().filter(|w| w.conn == conn) {
            watched.owes.get_or_insert((now, now));
        }
    }

    /// The leader's connection closed: nothing to watch until the next claim.
    pub(super) fn unwatch(&mut self) {
        self.watched = None;
    }

    /// A frame came from `conn`: a sign of life if it leads, which owes
    /// nothing from now on.
    pub(super) fn heard(&mut self, conn: ConnId) {
        if let Some(watched) = self.watched.as_mut().filter(|w| w.conn == conn) {
            watched.owes = None;
        }
    }

    /// Whether the leader owes an answer (it is watched more closely).
    pub(super) fn owes(&self) -> bool {
        self.watched.as_ref().is_some_and(|w| w.owes.is_some())
    }

    /// How many takeovers were ordered within the window before `now`.
    pub(super) fn recent_takeovers(&self, now: Timestamp) -> usize {
        self.ordered.iter().filter(|&&at| now.millis_since(at) < TAKEOVER_WINDOW_MS).count()
    }

    /// When [`Watchdog::due`] must next be called, with `followers` to
    /// choose a successor from (none: the leader is not watched).
    pub(super) fn next_deadline(&self, followers: &[ConnId]) -> Option<Timestamp> {
        let watched = self.watched.as_ref().filter(|_| !followers.is_empty())?;
        let (first, last) = watched.owes?;
        let probe = last.plus_millis(PROBE_MS);
        let act = match watched.order {
            Some((_, by)) => by,
            None if self.ordered.len() >= MAX_TAKEOVERS => self.ordered[0].plus_millis(TAKEOVER_WINDOW_MS),
            None if followers.iter().all(|f| watched.tried.contains(f)) => return Some(probe),
            None => first.plus_millis(SILENT_LEADER_MS),
        };
        Some(probe.min(act))
    }

    /// Time passed: what to send at `now`, with `followers` (the other
    /// tabs' connections, first in line first) to choose a successor from.
    pub(super) fn due(&mut self, now: Timestamp, followers: &[ConnId]) -> Vec<Bark> {
        self.ordered.retain(|&at| now.millis_since(at) < TAKEOVER_WINDOW_MS);
        let Some(watched) = self.watched.as_mut() else { return Vec::new() };
        if followers.is_empty() {
            return Vec::new();
        }
        let mut barks = Vec::new();
        let (conn, epoch) = (watched.conn, watched.epoch);
        let Some((first, last)) = watched.owes else { return barks };
        if now.millis_since(last) >= PROBE_MS {
            watched.owes = Some((first, now));
            barks.push(Bark::Probe { conn, epoch });
        }
        let silent_ms = now.millis_since(first);
        // A follower told before, gone or past its time, is passed over.
        if let Some((to, by)) = watched.order {
            if followers.contains(&to) && now < by {
                return barks;
            }
            watched.order = None;
        }
        if silent_ms < SILENT_LEADER_MS || self.ordered.len() >= MAX_TAKEOVERS {
            return barks;
        }
        let Some(&to) = followers.iter().find(|f| !watched.tried.contains(f)) else { return barks };
        watched.tried.push(to);
        watched.order = Some((to, now.plus_millis(TAKEOVER_TIMEOUT_MS)));
        self.ordered.push(now);
        barks.push(Bark::TakeOver { conn: to, epoch, silent_ms });
        barks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);
    const LEADER: ConnId = ConnId(1);

    /// Watching the leader of epoch 4, which owes an answer from T0.
    fn owing() -> Watchdog {
        let mut dog = Watchdog::default();
        dog.watch(LEADER, Epoch::new(4).unwrap());
        dog.demand(T0, LEADER);
        dog
    }

    /// Calls `due` at every deadline until `until` ms after T0, the leader
    /// answering each probe at once if `answers`; every bark, with its time.
    fn run(dog: &mut Watchdog, until: u64, followers: &[ConnId], answers: bool) -> Vec<(u64, Bark)> {
        let mut barks = Vec::new();
        while let Some(at) = dog.next_deadline(followers) {
            if at > T0.plus_millis(until) {
                break;
            }
            for bark in dog.due(at, followers) {
                if answers && matches!(bark, Bark::Probe { .. }) {
                    dog.heard(LEADER);
                }
                barks.push((at.millis_since(T0), bark));
            }
        }
        barks
    }

    fn takeovers(barks: &[(u64, Bark)]) -> Vec<(u64, ConnId, u64)> {
        barks
            .iter()
            .filter_map(|(t, b)| match b {
                Bark::TakeOver { conn, silent_ms, .. } => Some((*t, *conn, *silent_ms)),
                Bark::Probe { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_leader_that_owes_nothing_is_never_probed() {
        let mut dog = Watchdog::default();
        dog.watch(LEADER, Epoch::new(4).unwrap());
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None, "an idle leader costs nothing");
        dog.demand(T0, ConnId(2));
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None, "only what the leader is passed counts");
        dog.demand(T0, LEADER);
        dog.heard(LEADER);
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None, "a frame from it pays what it owed");
    }

    #[test]
    fn a_leader_that_answers_its_probe_is_not_taken_over() {
        let mut dog = owing();
        let barks = run(&mut dog, 60_000, &[ConnId(2)], true);
        assert_eq!(barks, [(PROBE_MS, Bark::Probe { conn: LEADER, epoch: Epoch::new(4).unwrap() })]);
    }

    #[test]
    fn a_lone_leader_is_not_probed() {
        let mut dog = owing();
        assert_eq!(dog.next_deadline(&[]), None);
        assert_eq!(dog.due(T0.plus_millis(10_000), &[]), []);
    }

    #[test]
    fn a_leader_silent_while_it_owes_is_taken_over_once_by_the_oldest_follower() {
        let mut dog = owing();
        let barks = run(&mut dog, 2_500, &[ConnId(2), ConnId(3)], false);
        assert_eq!(takeovers(&barks), [(SILENT_LEADER_MS, ConnId(2), SILENT_LEADER_MS)]);
        let probes = barks.iter().filter(|(_, b)| matches!(b, Bark::Probe { .. })).count() as u64;
        assert_eq!(probes, 2_500 / PROBE_MS, "probed all along");
    }

    #[test]
    fn a_long_task_under_the_threshold_is_not_a_takeover() {
        let mut dog = owing();
        let mut barks = Vec::new();
        while let Some(at) = dog.next_deadline(&[ConnId(2)]) {
            if at >= T0.plus_millis(SILENT_LEADER_MS - 100) {
                break;
            }
            barks.extend(dog.due(at, &[ConnId(2)]));
        }
        // Busy until then; it answers everything at once.
        dog.heard(LEADER);
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None);
        assert!(barks.iter().all(|b| matches!(b, Bark::Probe { .. })), "{barks:?}");
    }

    #[test]
    fn a_follower_that_does_not_claim_in_time_is_passed_over_for_the_next() {
        let mut dog = owing();
        let barks = run(&mut dog, 10_000, &[ConnId(2), ConnId(3)], false);
        let later = SILENT_LEADER_MS + TAKEOVER_TIMEOUT_MS;
        assert_eq!(
            takeovers(&barks),
            [(SILENT_LEADER_MS, ConnId(2), SILENT_LEADER_MS), (later, ConnId(3), later)],
            "and none once every follower was tried"
        );
    }

    #[test]
    fn a_follower_that_leaves_while_told_is_passed_over_at_once() {
        let mut dog = owing();
        run(&mut dog, SILENT_LEADER_MS, &[ConnId(2), ConnId(3)], false);
        let next = dog.next_deadline(&[ConnId(3)]).unwrap();
        let barks = dog.due(next, &[ConnId(3)]);
        assert!(barks.iter().any(|b| matches!(b, Bark::TakeOver { conn: ConnId(3), .. })), "{barks:?}");
    }

    #[test]
    fn takeovers_are_capped_per_window_so_tabs_never_take_the_lock_in_a_loop() {
        let mut dog = Watchdog::default();
        let mut orders: Vec<Timestamp> = Vec::new();
        let mut now = T0;
        // Each new leader freezes at once, and a tab asks it for something.
        for term in 1..=20u64 {
            dog.watch(ConnId(term), Epoch::new(term).unwrap());
            dog.demand(now, ConnId(term));
            let followers = [ConnId(term + 1)];
            while let Some(at) = dog.next_deadline(&followers) {
                if dog.due(at, &followers).iter().any(|b| matches!(b, Bark::TakeOver { .. })) {
                    orders.push(at);
                    break;
                }
            }
            now = *orders.last().unwrap();
        }
        for (i, at) in orders.iter().enumerate() {
            let within = orders[..i].iter().filter(|&&o| at.millis_since(o) < TAKEOVER_WINDOW_MS).count();
            assert!(within < MAX_TAKEOVERS, "order {i} has {within} others in its window");
        }
        assert_eq!(orders.len(), 20, "it goes on after each window");
        assert_eq!(dog.recent_takeovers(now), MAX_TAKEOVERS);
    }
}
