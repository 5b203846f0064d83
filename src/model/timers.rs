//! A small table of deadlines, one slot per kind of timer, for a state
//! machine with several: the earliest one is what its `poll_timeout()`
//! answers, and the glue keeps one runtime timer armed to it.
//!
//! How that runtime timer waits ([`timer_wake`]): a browser's `setTimeout` takes
//! a signed 32-bit delay, and fires at once when given a longer one, so a
//! deadline further than [`MAX_TIMER_DELAY_MS`] (24.8 days: a
//! `lifetime_limit_seconds` of 30 days, a large `timeoutMs`) is waited for
//! in arms of at most that long. Each time the timer wakes it asks again:
//! before the deadline (the last arm of a far deadline, or a clock that
//! says the wake came early) it arms for what is left and does not fire;
//! at or past it, it fires. A deadline `d` ms away is so reached in
//! `d / MAX_TIMER_DELAY_MS + 1` arms.

use std::marker::PhantomData;

use crate::model::time::Timestamp;

/// The longest delay one `setTimeout` waits as asked: 2^31 − 1 ms.
pub const MAX_TIMER_DELAY_MS: u64 = (1 << 31) - 1;

/// What a runtime timer armed for a deadline does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerWake {
    /// The deadline is reached: call the machine.
    Fire,
    /// Not yet: arm for this many ms (at most [`MAX_TIMER_DELAY_MS`]) and
    /// ask again when it wakes.
    Wait(u32),
}

/// What the runtime timer armed for `deadline` does at `now`: when it is
/// armed, and each time it wakes.
pub fn timer_wake(deadline: Timestamp, now: Timestamp) -> TimerWake {
    match deadline.millis_since(now) {
        0 => TimerWake::Fire,
        // At most 2^31 − 1: a u32 holds it.
        left => TimerWake::Wait(left.min(MAX_TIMER_DELAY_MS) as u32),
    }
}

/// `ms` as one `setTimeout`'s delay: at most [`MAX_TIMER_DELAY_MS`] (a
/// wait the core gives, which a caller does not re-arm, ends early then
/// rather than at once).
pub fn timer_delay(ms: u64) -> u32 {
    // At most 2^31 − 1: a u32 holds it.
    ms.min(MAX_TIMER_DELAY_MS) as u32
}

/// The kinds of timer of one machine: an enum whose variants index a
/// [`Timers`] table.
pub(crate) trait TimerKind: Copy + Eq + std::fmt::Debug + 'static {
    /// How many kinds there are.
    const COUNT: usize;
    /// Every kind, each once.
    const ALL: &'static [Self];
    /// The kind's slot, below [`TimerKind::COUNT`].
    fn slot(self) -> usize;
}

/// At most one deadline per kind of timer `K`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Timers<K: TimerKind> {
    at: Vec<Option<Timestamp>>,
    kinds: PhantomData<K>,
}

impl<K: TimerKind> Default for Timers<K> {
    fn default() -> Self {
        Timers { at: vec![None; K::COUNT], kinds: PhantomData }
    }
}

impl<K: TimerKind> std::fmt::Debug for Timers<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(K::ALL.iter().filter_map(|&k| Some((k, self.get(k)?)))).finish()
    }
}

impl<K: TimerKind> Timers<K> {
    /// Arms `kind` for `at`, replacing its deadline if it had one.
    pub(crate) fn set(&mut self, kind: K, at: Timestamp) {
        self.at[kind.slot()] = Some(at);
    }

    /// Arms `kind` for `at`, or disarms it for `None`.
    pub(crate) fn set_opt(&mut self, kind: K, at: Option<Timestamp>) {
        self.at[kind.slot()] = at;
    }

    /// Disarms `kind`.
    pub(crate) fn stop(&mut self, kind: K) {
        self.at[kind.slot()] = None;
    }

    /// The deadline of `kind`, if armed.
    pub(crate) fn get(&self, kind: K) -> Option<Timestamp> {
        self.at[kind.slot()]
    }

    /// Whether `kind` is armed and due at `now`.
    pub(crate) fn is_due(&self, kind: K, now: Timestamp) -> bool {
        self.get(kind).is_some_and(|at| at <= now)
    }

    /// The earliest deadline of all.
    pub(crate) fn next(&self) -> Option<Timestamp> {
        self.at.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        A,
        B,
    }

    impl TimerKind for Kind {
        const COUNT: usize = 2;
        const ALL: &'static [Kind] = &[Kind::A, Kind::B];
        fn slot(self) -> usize {
            self as usize
        }
    }

    /// Runs a runtime timer armed for `deadline` at `start` whose first
    /// wake comes `early` ms before the instant it was armed for, the
    /// others on time: the delays it armed, and the instant it fired.
    fn run(start: Timestamp, deadline: Timestamp, early: u64) -> (Vec<u32>, Timestamp) {
        let (mut now, mut arms) = (start, Vec::new());
        loop {
            match timer_wake(deadline, now) {
                TimerWake::Fire => return (arms, now),
                TimerWake::Wait(ms) => {
                    let early = if arms.is_empty() { early } else { 0 };
                    arms.push(ms);
                    assert!(arms.len() < 10, "re-armed again and again: {arms:?}");
                    now = now.plus_millis(u64::from(ms) - early);
                }
            }
        }
    }

    #[test]
    fn a_far_deadline_is_waited_for_in_arms_the_browser_keeps_and_fires_once_at_it() {
        let t0 = Timestamp::from_unix_millis(1_700_000_000_000);
        let days = |n: u64| n * 86_400_000;
        let limit = MAX_TIMER_DELAY_MS as u32;
        // 30 days (a lifetime_limit_seconds of 2,592,000): two arms, the
        // first as long as a setTimeout waits.
        let (arms, fired) = run(t0, t0.plus_millis(days(30)), 0);
        assert_eq!(arms, [limit, (days(30) - MAX_TIMER_DELAY_MS) as u32]);
        assert_eq!(fired, t0.plus_millis(days(30)));
        // A year: 15 arms would be too many for `run`, so count them.
        let year = t0.plus_millis(days(365));
        let mut now = t0;
        let mut count = 0;
        while let TimerWake::Wait(ms) = timer_wake(year, now) {
            assert!(u64::from(ms) <= MAX_TIMER_DELAY_MS);
            now = now.plus_millis(u64::from(ms));
            count += 1;
        }
        assert_eq!((count, now), (days(365) / MAX_TIMER_DELAY_MS + 1, year));
        // Just at the limit: one arm; a deadline passed or due: fire at once.
        assert_eq!(run(t0, t0.plus_millis(MAX_TIMER_DELAY_MS), 0).0, [limit]);
        assert_eq!(timer_wake(t0, t0), TimerWake::Fire);
        assert_eq!(timer_wake(t0, t0.plus_millis(5)), TimerWake::Fire);
    }

    #[test]
    fn a_wake_before_the_deadline_arms_again_for_what_is_left_instead_of_firing() {
        let t0 = Timestamp::from_unix_millis(1_700_000_000_000);
        let (arms, fired) = run(t0, t0.plus_millis(1_000), 3);
        assert_eq!(arms, [1_000, 3], "woken 3 ms early: armed for the 3 ms left");
        assert_eq!(fired, t0.plus_millis(1_000), "fired at the deadline, never before");
        assert_eq!(u64::from(timer_delay(u64::MAX)), MAX_TIMER_DELAY_MS);
        assert_eq!(timer_delay(250), 250);
    }

    #[test]
    fn the_earliest_armed_deadline_is_next_and_each_kind_holds_one() {
        let t = |ms| Timestamp::from_unix_millis(ms);
        let mut timers = Timers::<Kind>::default();
        assert_eq!(timers.next(), None);
        timers.set(Kind::A, t(50));
        timers.set(Kind::B, t(20));
        assert_eq!(timers.next(), Some(t(20)));
        timers.set(Kind::B, t(90));
        assert_eq!(timers.next(), Some(t(50)), "re-arming replaces");
        assert!(!timers.is_due(Kind::A, t(49)) && timers.is_due(Kind::A, t(50)));
        timers.stop(Kind::A);
        assert_eq!((timers.get(Kind::A), timers.next()), (None, Some(t(90))));
        timers.set_opt(Kind::B, None);
        assert_eq!(timers.next(), None);
        assert_eq!(format!("{timers:?}"), "{}");
    }
}
