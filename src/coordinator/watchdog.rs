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
//!
//! The same rules cover the lock's holder before it claims, while no leader
//! is connected: a tab that holds the lock but has not claimed yet (its
//! worker is starting), one that was granted it but whose main thread
//! stopped before it could say so, and the queue still forming behind it.
//! There the election owes from the moment a tab waits on it (a
//! `who-leads`, a `connect`, a `request-port`, or the leader's connection
//! closing); a tab granted the lock says so at once (`present`, holding),
//! and from then on it is the one probed (a `roll-call`) and taken over if
//! silent. While no tab said it holds the lock, every tab is sent the roll
//! call, and the takeover goes to the first in line among those that
//! answered it lately: the silent one is the holder.

use crate::model::ids::{ConnId, Epoch};
use crate::model::map::Set;
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
    /// Probe the lock's holder on `conn` (the leader of `epoch`, or a
    /// holder with no term yet); with no `conn`, every tab (no tab said it
    /// holds the lock).
    Probe { conn: Option<ConnId>, epoch: Option<Epoch> },
    /// Tell the follower on `conn` to take the lead over from the silent
    /// leader of `epoch`, or from the silent holder that has no term.
    TakeOver { conn: ConnId, epoch: Option<Epoch>, silent_ms: u64 },
}

/// Which tabs answered the roll calls lately: the last one or the one
/// before. A tab whose main thread stopped drops out after one whole round;
/// while no tab says it holds the lock, the takeover goes to one of these.
#[derive(Debug, Default)]
pub(super) struct Roll {
    current: Set<ConnId>,
    previous: Set<ConnId>,
}

impl Roll {
    /// A roll call goes out: a new round.
    pub(super) fn new_round(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }

    /// `conn` answered.
    pub(super) fn answered(&mut self, conn: ConnId) {
        self.current.insert(conn);
    }

    /// Whether `conn` answered this round or the one before.
    pub(super) fn recent(&self, conn: ConnId) -> bool {
        self.current.contains(&conn) || self.previous.contains(&conn)
    }

    /// `conn` closed.
    pub(super) fn forget(&mut self, conn: ConnId) {
        self.current.remove(&conn);
        self.previous.remove(&conn);
    }
}

/// The lock's holder watched: its connection and term, and whether it owes.
#[derive(Debug, Default)]
struct Watched {
    /// The leader's connection, or that of a tab that said it holds the
    /// lock and has not claimed; `None` while no tab said so.
    conn: Option<ConnId>,
    /// The leader's term; `None` before a claim.
    epoch: Option<Epoch>,
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
    watched: Watched,
    /// When each takeover of the last [`TAKEOVER_WINDOW_MS`] was ordered.
    ordered: Vec<Timestamp>,
}

impl Watchdog {
    /// A leader claimed `epoch` on `conn`: watch it from now on.
    pub(super) fn watch(&mut self, conn: ConnId, epoch: Epoch) {
        self.watched = Watched { conn: Some(conn), epoch: Some(epoch), ..Watched::default() };
    }

    /// `conn` was passed, at `now`, something only a leader's main thread
    /// answers: if it leads and owed nothing, it owes from now on.
    pub(super) fn demand(&mut self, now: Timestamp, conn: ConnId) {
        let watched = &mut self.watched;
        if watched.epoch.is_some() && watched.conn == Some(conn) {
            watched.owes.get_or_insert((now, now));
        }
    }

    /// A tab waits, at `now`, on an election no leader has won yet: the
    /// lock's holder owes a claim from now on, if it owed nothing. `true`
    /// if it starts owing now with no holder known: every tab is to be
    /// called.
    pub(super) fn demand_election(&mut self, now: Timestamp) -> bool {
        let watched = &mut self.watched;
        if watched.epoch.is_some() || watched.owes.is_some() {
            return false;
        }
        watched.owes = Some((now, now));
        watched.conn.is_none()
    }

    /// The leader's connection closed at `now`: the lock passes to the next
    /// tab in line, which owes a claim to the tabs that all wait on it.
    pub(super) fn unwatch(&mut self, now: Timestamp) {
        self.watched = Watched { owes: Some((now, now)), ..Watched::default() };
    }

    /// The tab on `conn` says, at `now`, that it holds the lock and has not
    /// claimed: while no leader claimed, it is the holder watched.
    pub(super) fn holding(&mut self, now: Timestamp, conn: ConnId) {
        let watched = &mut self.watched;
        if watched.epoch.is_none() && watched.conn != Some(conn) {
            *watched = Watched { conn: Some(conn), owes: watched.owes, ..Watched::default() };
        }
        self.heard(now, conn);
    }

    /// The connection `conn` closed: a holder without a term is gone, and
    /// the lock passes on. (A leader's is [`Watchdog::unwatch`].)
    pub(super) fn gone(&mut self, conn: ConnId) {
        let watched = &mut self.watched;
        if watched.epoch.is_none() && watched.conn == Some(conn) {
            watched.conn = None;
        }
    }

    /// A frame came from `conn` at `now`: a sign of life if it holds the
    /// lock. A leader owes nothing from now on; a holder with no term still
    /// owes its claim, silent from now.
    pub(super) fn heard(&mut self, now: Timestamp, conn: ConnId) {
        let watched = &mut self.watched;
        if watched.conn != Some(conn) {
            return;
        }
        watched.owes = match watched.epoch {
            Some(_) => None,
            None => watched.owes.map(|_| (now, now)),
        };
    }

    /// Whether the lock's holder owes an answer (it is watched more closely).
    pub(super) fn owes(&self) -> bool {
        self.watched.owes.is_some()
    }

    /// The holder's connection, if known (the leader's among them).
    pub(super) fn holder(&self) -> Option<ConnId> {
        self.watched.conn
    }

    /// How many takeovers were ordered within the window before `now`.
    pub(super) fn recent_takeovers(&self, now: Timestamp) -> usize {
        self.ordered.iter().filter(|&&at| now.millis_since(at) < TAKEOVER_WINDOW_MS).count()
    }

    /// When [`Watchdog::due`] must next be called, with `followers` to
    /// choose a successor from (none: the leader is not watched).
    pub(super) fn next_deadline(&self, followers: &[ConnId]) -> Option<Timestamp> {
        let watched = Some(&self.watched).filter(|_| !followers.is_empty())?;
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
        let watched = &mut self.watched;
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
                    dog.heard(at, LEADER);
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
        dog.demand_election(T0);
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None, "once a leader claimed, the election owes nothing");
        dog.demand(T0, ConnId(2));
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None, "only what the leader is passed counts");
        dog.demand(T0, LEADER);
        dog.heard(T0, LEADER);
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None, "a frame from it pays what it owed");
    }

    #[test]
    fn a_leader_that_answers_its_probe_is_not_taken_over() {
        let mut dog = owing();
        let barks = run(&mut dog, 60_000, &[ConnId(2)], true);
        assert_eq!(barks, [(PROBE_MS, Bark::Probe { conn: Some(LEADER), epoch: Epoch::new(4).ok() })]);
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
        dog.heard(T0.plus_millis(SILENT_LEADER_MS - 100), LEADER);
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

    // --- before a claim: the lock's holder and the queue forming behind it ---

    const HOLDER: ConnId = ConnId(7);

    #[test]
    fn a_holder_that_has_not_claimed_is_probed_while_tabs_wait_and_taken_over_once_silent() {
        let mut dog = Watchdog::default();
        assert_eq!(dog.next_deadline(&[ConnId(2)]), None, "nobody waits: nothing to watch");
        dog.demand_election(T0);
        dog.holding(T0, HOLDER);
        assert_eq!(dog.holder(), Some(HOLDER));
        // It runs (its worker starts): it answers each probe, and is never taken over.
        let mut now = T0;
        for _ in 0..20 {
            now = dog.next_deadline(&[ConnId(2)]).unwrap();
            let barks = dog.due(now, &[ConnId(2)]);
            assert_eq!(barks, [Bark::Probe { conn: Some(HOLDER), epoch: None }]);
            dog.heard(now, HOLDER);
        }
        assert!(now.millis_since(T0) >= 20 * PROBE_MS);
        // Its main thread stops (a claim in progress): taken over once it was silent long enough.
        let silent_from = now;
        let mut takeovers = Vec::new();
        while takeovers.is_empty() {
            let at = dog.next_deadline(&[ConnId(2), ConnId(3)]).unwrap();
            for bark in dog.due(at, &[ConnId(2), ConnId(3)]) {
                if let Bark::TakeOver { conn, epoch, silent_ms } = bark {
                    takeovers.push((at.millis_since(silent_from), conn, epoch, silent_ms));
                }
            }
        }
        assert_eq!(takeovers, [(SILENT_LEADER_MS, ConnId(2), None, SILENT_LEADER_MS)]);
    }

    #[test]
    fn while_no_tab_says_it_holds_the_lock_every_tab_is_probed_and_one_that_answered_takes_over() {
        let mut dog = Watchdog::default();
        dog.demand_election(T0);
        assert!(dog.holder().is_none());
        // The coordinator passes the tabs that answered the roll call lately: the silent one holds the lock.
        let barks = run(&mut dog, 2_000, &[ConnId(3)], false);
        assert_eq!(barks[0], (PROBE_MS, Bark::Probe { conn: None, epoch: None }));
        assert_eq!(takeovers(&barks), [(SILENT_LEADER_MS, ConnId(3), SILENT_LEADER_MS)]);
        let order = barks.iter().find_map(|(_, b)| match b {
            Bark::TakeOver { epoch, .. } => Some(*epoch),
            Bark::Probe { .. } => None,
        });
        assert_eq!(order, Some(None), "no term to take over");
    }

    #[test]
    fn a_holder_that_says_so_before_the_threshold_is_not_taken_over_and_a_claim_ends_the_election() {
        let mut dog = Watchdog::default();
        dog.demand_election(T0);
        let first = dog.next_deadline(&[ConnId(2)]).unwrap();
        dog.due(first, &[ConnId(2)]);
        // Granted the lock late in the queue forming, it says so under the threshold.
        dog.holding(T0.plus_millis(SILENT_LEADER_MS - 1), HOLDER);
        let at = dog.next_deadline(&[ConnId(2)]).unwrap();
        assert!(dog.due(at, &[ConnId(2)]).iter().all(|b| matches!(b, Bark::Probe { conn: Some(HOLDER), .. })));
        // Its tab dies before it claims: the lock passes on, and the next holder is awaited.
        dog.gone(HOLDER);
        assert!(dog.holder().is_none() && dog.owes());
        dog.holding(at, ConnId(2));
        dog.watch(ConnId(2), Epoch::new(1).unwrap());
        assert!(!dog.owes(), "the claim ends it");
        dog.demand_election(at);
        assert!(!dog.owes(), "and a leader owes only what it is passed");
        // Its connection closes: the tabs wait on the next claim at once.
        dog.unwatch(at);
        assert!(dog.owes() && dog.holder().is_none());
    }
}
