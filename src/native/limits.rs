//! The native server's bounds, as rules the tokio glue follows: how many
//! connections it holds ([`Gate`]), how it waits after a failed accept
//! ([`Backoff`]) and how much a session's unsent frames may hold
//! ([`OutboxBound`]). Each keeps its own count and says what to log, so a
//! flood of refusals or failures is one line, not one per event.

use std::time::Duration;

/// How long a connection may take to complete its WebSocket handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections held at once (handshakes in progress and sessions).
pub const MAX_CONNECTIONS: usize = 1024;
/// The most frames a session's outbox holds unsent.
pub const OUTBOX_FRAMES: usize = 1024;
/// The most bytes of text a session's outbox holds unsent.
pub const OUTBOX_BYTES: usize = 16 << 20;
/// The first wait after a failed accept; each further failure doubles it.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(5);
/// The longest wait after failed accepts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The native server's bounds ([`Default`]: the constants of this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a handshake may take before the connection is closed.
    pub handshake: Duration,
    /// The most connections held at once; past it a connection is answered
    /// `503` and closed.
    pub connections: usize,
    /// The most frames a session's outbox holds.
    pub outbox_frames: usize,
    /// The most bytes a session's outbox holds.
    pub outbox_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake: HANDSHAKE_TIMEOUT,
            connections: MAX_CONNECTIONS,
            outbox_frames: OUTBOX_FRAMES,
            outbox_bytes: OUTBOX_BYTES,
        }
    }
}

/// Whether a new connection is held or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Held: it counts until [`Gate::ended`].
    Held,
    /// Refused: the cap is reached. `log` is the line to log, given once
    /// per run of refusals.
    Refused {
        /// What to log, if anything.
        log: Option<String>,
    },
}

/// The connection cap: at most `cap` connections, from accept to close.
#[derive(Debug)]
pub struct Gate {
    cap: usize,
    held: usize,
    refused: u64,
}

impl Gate {
    /// A gate holding at most `cap` connections.
    pub fn new(cap: usize) -> Self {
        Gate { cap, held: 0, refused: 0 }
    }

    /// A connection was accepted: held when under the cap, refused otherwise.
    pub fn admit(&mut self) -> Admission {
        if self.held < self.cap {
            self.held += 1;
            return Admission::Held;
        }
        self.refused += 1;
        let log = (self.refused == 1).then(|| {
            format!("{} connections held, the most there may be: refusing new ones (503) until one ends", self.cap)
        });
        Admission::Refused { log }
    }

    /// A held connection ended; the line to log when refusals stop.
    pub fn ended(&mut self) -> Option<String> {
        self.held = self.held.saturating_sub(1);
        if self.refused == 0 {
            return None;
        }
        let refused = std::mem::take(&mut self.refused);
        Some(format!("below {} connections again, after refusing {refused}", self.cap))
    }

    /// How many connections are held.
    pub fn held(&self) -> usize {
        self.held
    }
}

/// Waiting after failed accepts: [`BACKOFF_FIRST`], doubling up to
/// [`BACKOFF_MAX`], reset by an accept that succeeds. (A listener out of
/// file descriptors stays readable: without a wait, accept fails at once,
/// forever.)
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u64,
}

impl Backoff {
    /// An accept failed: how long to wait before the next, and whether to
    /// log this failure (only the first of a run is logged).
    pub fn failed(&mut self) -> (Duration, bool) {
        self.failures += 1;
        let doublings = u32::try_from(self.failures - 1).unwrap_or(u32::MAX).min(16);
        let wait = BACKOFF_FIRST.saturating_mul(1 << doublings).min(BACKOFF_MAX);
        (wait, self.failures == 1)
    }

    /// An accept succeeded; the line to log when it ends a run of failures.
    pub fn succeeded(&mut self) -> Option<String> {
        let failures = std::mem::take(&mut self.failures);
        (failures > 0).then(|| format!("accepting again, after {failures} failed accept(s)"))
    }
}

/// A session's outbox would pass its bound: the session is closed (a
/// reader this slow is dropped rather than let grow the process's memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("its outbox is full ({frames} frames, {bytes} bytes unsent): the reader is too slow")]
pub struct Overflow {
    /// Frames unsent.
    pub frames: usize,
    /// Bytes unsent.
    pub bytes: usize,
}

/// The count of a session's unsent frames: at most `frames` frames and
/// `bytes` bytes, except that an empty outbox always takes one frame (a
/// frame larger than the bound is sent alone). A frame counts from when it
/// is queued until the socket has taken it.
#[derive(Debug)]
pub struct OutboxBound {
    max_frames: usize,
    max_bytes: usize,
    frames: usize,
    bytes: usize,
}

impl OutboxBound {
    /// An empty outbox of `limits`' bounds.
    pub fn new(limits: &Limits) -> Self {
        OutboxBound { max_frames: limits.outbox_frames, max_bytes: limits.outbox_bytes, frames: 0, bytes: 0 }
    }

    /// A frame of `len` bytes is to be queued: counted, or the overflow.
    pub fn push(&mut self, len: usize) -> Result<(), Overflow> {
        let fits = self.frames < self.max_frames && self.bytes.saturating_add(len) <= self.max_bytes;
        if self.frames > 0 && !fits {
            return Err(Overflow { frames: self.frames, bytes: self.bytes });
        }
        self.frames += 1;
        self.bytes = self.bytes.saturating_add(len);
        Ok(())
    }

    /// A frame of `len` bytes was taken by the socket.
    pub fn sent(&mut self, len: usize) {
        self.frames = self.frames.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_holds_at_most_its_cap_and_logs_once_per_run_of_refusals() {
        let mut gate = Gate::new(2);
        assert_eq!((gate.admit(), gate.admit()), (Admission::Held, Admission::Held));
        let Admission::Refused { log: Some(line) } = gate.admit() else { panic!("the third is refused, logged") };
        assert!(line.contains("503"), "{line}");
        for _ in 0..1000 {
            assert_eq!(gate.admit(), Admission::Refused { log: None }, "one line per run, not per refusal");
        }
        assert_eq!(gate.held(), 2);
        assert_eq!(gate.ended().as_deref(), Some("below 2 connections again, after refusing 1001"));
        assert_eq!(gate.admit(), Admission::Held);
        assert_eq!(gate.ended(), None, "no run of refusals to close");
        assert_eq!(gate.ended(), None);
        assert_eq!(gate.held(), 0);
        assert_eq!(gate.ended(), None, "never below zero");
        assert_eq!(gate.held(), 0);
    }

    #[test]
    fn backoff_doubles_from_5_ms_to_1_s_and_logs_only_the_first_failure() {
        let mut backoff = Backoff::default();
        let waits: Vec<(u64, bool)> = (0..12)
            .map(|_| {
                let (wait, log) = backoff.failed();
                (wait.as_millis() as u64, log)
            })
            .collect();
        let ms: Vec<u64> = waits.iter().map(|w| w.0).collect();
        assert_eq!(ms, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]);
        assert_eq!(waits.iter().filter(|w| w.1).count(), 1);
        assert!(waits[0].1);
        for _ in 0..100_000 {
            assert_eq!(backoff.failed(), (BACKOFF_MAX, false), "stays at the cap, silent");
        }
        assert_eq!(backoff.succeeded().as_deref(), Some("accepting again, after 100012 failed accept(s)"));
        assert_eq!(backoff.succeeded(), None);
        assert_eq!(backoff.failed(), (BACKOFF_FIRST, true), "a new run starts over");
    }

    #[test]
    fn an_outbox_holds_its_bound_and_one_frame_always() {
        let limits = Limits { outbox_frames: 3, outbox_bytes: 100, ..Limits::default() };
        let mut outbox = OutboxBound::new(&limits);
        assert_eq!(outbox.push(1_000), Ok(()), "an empty outbox takes one frame of any size");
        assert_eq!(outbox.push(1), Err(Overflow { frames: 1, bytes: 1_000 }));
        outbox.sent(1_000);
        for _ in 0..3 {
            assert_eq!(outbox.push(10), Ok(()));
        }
        assert_eq!(outbox.push(10), Err(Overflow { frames: 3, bytes: 30 }), "at most 3 frames");
        outbox.sent(10);
        assert_eq!(outbox.push(81), Err(Overflow { frames: 2, bytes: 20 }), "at most 100 bytes");
        assert_eq!(outbox.push(80), Ok(()));
        assert_eq!(
            Overflow { frames: 3, bytes: 90 }.to_string(),
            "its outbox is full (3 frames, 90 bytes unsent): the reader is too slow"
        );
        let defaults = Limits::default();
        assert_eq!((defaults.outbox_frames, defaults.outbox_bytes), (1024, 16 << 20));
        assert!(defaults.outbox_bytes >= 2 * crate::channel::text::MAX_TEXT_BYTES);
    }
}
