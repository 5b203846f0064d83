//! A file of a backend's OPFS mount, opened for synchronous access. A
//! predecessor of the key that just died (its leader tab closed or crashed)
//! may still hold a sync access handle on the file for a moment: the browser
//! releases it asynchronously. A file found locked is tried again after
//! waits that double from [`MOUNT_RETRY_FIRST_MS`] up to
//! [`MOUNT_RETRY_MAX_MS`] each, [`MOUNT_RETRY_BUDGET_MS`] in all; then the
//! open fails with `mount-busy`. Any other failure fails at once. Nothing is
//! written before a handle is held, so a retry never corrupts or loses data.

/// The first wait before a locked file is tried again.
pub const MOUNT_RETRY_FIRST_MS: u64 = 10;

/// The longest single wait.
pub const MOUNT_RETRY_MAX_MS: u64 = 400;

/// The most a locked file is waited for in all.
pub const MOUNT_RETRY_BUDGET_MS: u64 = 5_000;

/// The waits between the tries of a locked file, in order: doubling, each at
/// most [`MOUNT_RETRY_MAX_MS`], together at most [`MOUNT_RETRY_BUDGET_MS`].
pub fn retry_waits() -> impl Iterator<Item = u64> {
    let mut next = MOUNT_RETRY_FIRST_MS;
    let mut left = MOUNT_RETRY_BUDGET_MS;
    std::iter::from_fn(move || {
        let wait = next.min(left);
        if wait == 0 {
            return None;
        }
        left -= wait;
        next = (next * 2).min(MOUNT_RETRY_MAX_MS);
        Some(wait)
    })
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
    fn only_a_locked_file_is_tried_again() {
        assert!(is_locked("NoModificationAllowedError"));
        for other in ["NotFoundError", "TypeError", "InvalidStateError", "SecurityError", ""] {
            assert!(!is_locked(other), "{other}");
        }
    }
}
