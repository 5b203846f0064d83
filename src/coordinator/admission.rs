//! What a coordinator takes on trust from a tab: a tab of another build is
//! not served, no tab may move the epoch further than a real leader change
//! could, and no tab may have more than [`MAX_PENDING_PER_TAB`] questions
//! waiting at once.

use crate::model::ids::{AppName, Epoch};

/// The most a `hello`'s or a claim's epoch may lie above every epoch the
/// coordinator knows. A new coordinator learns the epochs from the tabs'
/// `hello`s, and a real one is never this far ahead: each leader takes the
/// next epoch. A forged one would otherwise push the epoch to its limit
/// (`Number.MAX_SAFE_INTEGER`) and leave no epoch for the next leader.
pub const MAX_EPOCH_LEAP: u64 = 1 << 20;

/// The most `connect`s and `request-port`s of one tab that may wait at once
/// (for the leader's answer, or for a leader). A tab's own calls number a
/// few per key it uses; a page that floods the coordinator is refused with
/// `too-many-pending` past this, so what the coordinator keeps per tab stays
/// bounded.
pub const MAX_PENDING_PER_TAB: usize = 64;

/// Why a tab with `pending` questions waiting may not ask another; `None`
/// when it may.
pub(super) fn too_many(pending: usize, kind: &str) -> Option<String> {
    (pending >= MAX_PENDING_PER_TAB)
        .then(|| format!("`{kind}`: this tab has {pending} questions waiting, at most {MAX_PENDING_PER_TAB}"))
}

/// Why a tab may not say it knows `epoch` when the newest the coordinator
/// knows is `known`; `None` when it may.
pub(super) fn incredible(known: Epoch, epoch: Epoch) -> Option<String> {
    (epoch.get() > known.get().saturating_add(MAX_EPOCH_LEAP))
        .then(|| format!("epoch {epoch} is more than {MAX_EPOCH_LEAP} above the newest known, {known}"))
}

/// Why a tab of `build` is not served by the coordinator of `app`, naming
/// both builds; `None` when it is of the coordinator's own (or the
/// coordinator's app name carries no build).
pub(super) fn other_build(app: &AppName, build: &str) -> Option<String> {
    let own = app.fingerprint()?;
    (own != build).then(|| format!("this coordinator serves build `{own}`, the tab is build `{build}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_is_credible_up_to_the_leap_above_the_known_one() {
        let known = Epoch::new(10).unwrap();
        assert_eq!(incredible(known, Epoch::new(10 + MAX_EPOCH_LEAP).unwrap()), None);
        assert!(incredible(known, Epoch::new(11 + MAX_EPOCH_LEAP).unwrap()).is_some());
        assert_eq!(incredible(known, Epoch::ZERO), None, "an older epoch is not this rule's business");
    }

    #[test]
    fn only_a_coordinator_of_a_deployment_checks_builds() {
        let app = AppName::deployed("a", "b1").unwrap();
        assert_eq!(other_build(&app, "b1"), None);
        assert!(other_build(&app, "b2").is_some_and(|d| d.contains("`b1`") && d.contains("`b2`")));
        assert_eq!(other_build(&AppName::new("a").unwrap(), "anything"), None);
    }
}
