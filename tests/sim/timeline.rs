//! Virtual time: the clock, the events due in order, and each channel's
//! last delivery (a channel delivers in FIFO order, as a `MessagePort` does).

use std::collections::BTreeMap;

use super::world::{Ctx, Event};

/// The clock and the events to come.
#[derive(Default)]
pub(super) struct Timeline {
    now_us: u64,
    /// Events by their time, then by the order they were scheduled in.
    events: BTreeMap<(u64, u64), Event>,
    seq: u64,
    /// The last delivery time of each channel.
    channels: BTreeMap<(Ctx, Ctx), u64>,
}

impl Timeline {
    /// Virtual time now, in microseconds.
    pub(super) fn now_us(&self) -> u64 {
        self.now_us
    }

    /// `event` happens at `at_us`, after every event already due then.
    pub(super) fn schedule(&mut self, at_us: u64, event: Event) {
        self.seq += 1;
        self.events.insert((at_us, self.seq), event);
    }

    /// The next event, its time now.
    pub(super) fn next(&mut self) -> Option<Event> {
        let ((at, _), event) = self.events.pop_first()?;
        debug_assert!(at >= self.now_us, "time never goes back");
        self.now_us = at;
        Some(event)
    }

    /// When the next event is due.
    pub(super) fn next_at(&self) -> Option<u64> {
        self.events.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Whether no event is due.
    pub(super) fn is_idle(&self) -> bool {
        self.events.is_empty()
    }

    /// The clock moves on to `at_us` (never back).
    pub(super) fn advance_to(&mut self, at_us: u64) {
        self.now_us = self.now_us.max(at_us);
    }

    /// When a message sent now on `from → to` arrives: after `delay`, but
    /// never before the channel's previous message.
    pub(super) fn channel_time(&mut self, from: Ctx, to: Ctx, delay: u64) -> u64 {
        let last = self.channels.get(&(from, to)).copied().unwrap_or(0);
        let at = (self.now_us + delay).max(last);
        self.channels.insert((from, to), at);
        at
    }

    /// Nothing arrives on `from → to` before `at_us`.
    pub(super) fn hold_channel(&mut self, from: Ctx, to: Ctx, at_us: u64) {
        self.channels.insert((from, to), at_us);
    }
}
