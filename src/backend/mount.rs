//! A file of a backend's OPFS mount, opened for synchronous access. A
//! predecessor of the key that just died (its leader tab closed or crashed)
//! may still hold a sync access handle on the file for a moment: the browser
//! releases it asynchronously. A file found locked is tried again after
//! waits that double from [`MOUNT_RETRY_FIRST_MS`] up to
//! [`MOUNT_RETRY_MAX_MS`] each, [`MOUNT_RETRY_BUDGET_MS`] in all; then the
//! open fails with `mount-busy`. Any other failure fails at once. Nothing is
//! written before a handle is held, so a retry never corrupts or loses data.

use crate::model::time::Timestamp;

/// The first wait before a locked file is tried again.
pub const MOUNT_RETRY_FIRST_MS: u64 = 10;

/// The longest single wait.
pub const MOUNT_RETRY_MAX_MS: u64 = 400;

/// The most a locked file is waited for in all.
pub const MOUNT_RETRY_BUDGET_MS: u64 = 5_000;

/// The waits between the tries of a locked file, in order: doubling, each at
/// most [`MOUNT_RETRY_MAX_MS`], together at most [`MOUNT_RETRY_BUDGET_MS`].
pub fn retry_waits() -> Waits {
    Waits { next: MOUNT_RETRY_FIRST_MS, left: MOUNT_RETRY_BUDGET_MS }
}

/// The waits of [`retry_waits`] still to come.
#[derive(Debug, Clone)]
pub struct Waits {
    next: u64,
    left: u64,
}

impl Iterator for Waits {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let wait = self.next.min(self.left);
        if wait == 0 {
            return None;
        }
        self.left -= wait;
        self.next = (self.next * 2).min(MOUNT_RETRY_MAX_MS);
        Some(wait)
    }
}

/// Whether a try that failed with the `DOMException` named `name` may
/// succeed later: the file is locked by another handle still open.
pub fn is_locked(name: &str) -> bool {
    name == "NoModificationAllowedError"
}

/// The message of `mount-busy` for `file`, locked through `tries` tries.
pub fn busy_detail(file: &str, tries: usize) -> String {
    format!(
        "`{file}` is still locked by another handle after {tries} tries over {MOUNT_RETRY_BUDGET_MS} ms (a predecessor of this key that did not end?)"
    )
}

/// What follows a failed try to open a file of the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this instant.
    At(Timestamp),
    /// Give up: the file stays locked (`mount-busy`, with this message).
    Busy(String),
    /// Give up with the browser's own error: trying again would not help.
    Fail,
}

/// The tries of one open of file `file`: each failed try is an input, and
/// the answer says when to try again, if ever ([`retry_waits`],
/// [`is_locked`], [`busy_detail`]).
#[derive(Debug)]
pub struct MountOpen {
    file: String,
    tries: usize,
    waits: Waits,
}

impl MountOpen {
    /// The first try of `file` is under way.
    pub fn new(file: &str) -> MountOpen {
        MountOpen { file: file.to_owned(), tries: 1, waits: retry_waits() }
    }

    /// The try under way failed at `now` with the `DOMException` named `error`.
    pub fn failed(&mut self, now: Timestamp, error: &str) -> Retry {
        if !is_locked(error) {
            return Retry::Fail;
        }
        match self.waits.next() {
            Some(ms) => {
                self.tries += 1;
                Retry::At(now.plus_millis(ms))
            }
            None => Retry::Busy(busy_detail(&self.file, self.tries)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_up_to_the_cap_and_stop_at_the_budget() {
        let waits: Vec<u64> = retry_waits().collect();
        assert_eq!(&waits[..6], [10, 20, 40, 80, 160, 320]);
        assert!(waits[6..].iter().all(|&w| w <= MOUNT_RETRY_MAX_MS));
        assert_eq!(waits.iter().sum::<u64>(), MOUNT_RETRY_BUDGET_MS, "the whole budget, no more");
        assert!(waits.len() < 20, "a bounded number of tries: {}", waits.len());
    }

    #[test]
    fn an_open_tries_a_locked_file_again_on_each_wait_then_is_busy_and_fails_at_once_otherwise() {
        let t0 = Timestamp::from_unix_millis(1_000);
        let mut open = MountOpen::new("db");
        let (mut now, mut waits) = (t0, Vec::new());
        let busy = loop {
            match open.failed(now, "NoModificationAllowedError") {
                Retry::At(at) => {
                    waits.push(at.millis_since(now));
                    now = at;
                }
                other => break other,
            }
        };
        assert_eq!(waits, retry_waits().collect::<Vec<_>>(), "the core's waits, in order");
        assert_eq!(busy, Retry::Busy(busy_detail("db", waits.len() + 1)));
        assert_eq!(now.millis_since(t0), MOUNT_RETRY_BUDGET_MS);
        assert_eq!(MountOpen::new("db").failed(t0, "NotFoundError"), Retry::Fail, "another error fails at once");
    }

    #[test]
    fn only_a_locked_file_is_tried_again() {
        assert!(is_locked("NoModificationAllowedError"));
        for other in ["NotFoundError", "TypeError", "InvalidStateError", "SecurityError", ""] {
            assert!(!is_locked(other), "{other}");
        }
    }
}
