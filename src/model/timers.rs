//! A small table of deadlines, one slot per kind of timer, for a state
//! machine with several: the earliest one is what its `poll_timeout()`
//! answers, and the glue keeps one runtime timer armed to it.

use std::marker::PhantomData;

use crate::model::time::Timestamp;

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
