//! The warm standby: while the coordinator names this tab next in line for
//! the lead (`standby` on), it keeps one backend worker of the default
//! script loaded — its script run, its wasm instantiated, nothing started —
//! so that when it is granted the leader lock its default backend only
//! needs `init`. Only that tab pays for one; it is terminated when the
//! coordinator names another tab (`standby` off), when this tab leaves, or
//! when the coordinator that named it dies (a new one names its own). A tab
//! told before its own session is open starts the worker only once it is:
//! a tab joining, or reconnecting after a failover, is served first.
//!
//! The worker holds no lock and serves nobody until it is adopted: its
//! frames before then go to [`Tab::from_standby`], and only `listening`
//! counts. Adopted, it becomes the default backend's worker under the
//! backend id the fleet gives it ([`TabOutput::AdoptStandby`]), and if it
//! already said `listening` the tab sends `init` at once.

use super::outbox::Outbox;
use super::output::TabOutput;
use crate::model::ids::BackendId;
use crate::protocol::{BackendToLeader, DecodeError};

/// Where the standby worker is, as far as the tab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kept {
    /// None kept.
    #[default]
    Off,
    /// Asked for while this tab's own session is not open yet: created
    /// once it is (the tab's join comes first).
    Due,
    /// Created; its script has not said `listening` yet.
    Loading,
    /// Loaded and waiting for `init`.
    Listening,
}

/// The standby worker this tab keeps, if any.
#[derive(Debug, Default)]
pub(super) struct Standby {
    kept: Kept,
}

impl Standby {
    /// Whether a standby worker is kept (loading or loaded).
    pub(super) fn has(&self) -> bool {
        matches!(self.kept, Kept::Loading | Kept::Listening)
    }

    /// The coordinator's `standby`: keep a worker loaded (`on`), or stop. A
    /// tab that leads already runs its own worker and keeps none (`follows`
    /// says whether this one follows); one whose own session is not open
    /// (`served`) creates it once it is.
    pub(super) fn told(&mut self, on: bool, follows: bool, served: bool, out: &mut Outbox) {
        match (on, self.kept) {
            (true, Kept::Off) if follows => {
                self.kept = Kept::Due;
                self.due(follows, served, out);
            }
            (false, Kept::Due | Kept::Loading | Kept::Listening) => self.stop(out),
            _ => {}
        }
    }

    /// Creates the worker asked for, once this tab follows and is `served`
    /// (its own session is open).
    pub(super) fn due(&mut self, follows: bool, served: bool, out: &mut Outbox) {
        if self.kept == Kept::Due && served && follows {
            self.kept = Kept::Loading;
            out.push(TabOutput::SpawnStandby);
        }
    }

    /// A frame from the worker before it was adopted: only its `listening`
    /// means something.
    pub(super) fn heard(&mut self, frame: Result<BackendToLeader, DecodeError>, out: &mut Outbox) {
        match (frame, self.kept) {
            (Ok(BackendToLeader::Listening), Kept::Loading) => self.kept = Kept::Listening,
            _ => out.ignore(),
        }
    }

    /// The worker failed to load, or threw: it is terminated, and the tab
    /// starts its worker from nothing if it comes to lead.
    pub(super) fn failed(&mut self, out: &mut Outbox) {
        if self.has() {
            self.stop(out);
        }
    }

    /// Terminates the worker, if there is one.
    pub(super) fn stop(&mut self, out: &mut Outbox) {
        if self.has() {
            out.push(TabOutput::KillStandby);
        }
        self.kept = Kept::Off;
    }

    /// Makes the worker the default backend `worker`'s: `None` if there is
    /// none, otherwise whether it already said `listening`.
    pub(super) fn adopt(&mut self, worker: &BackendId, out: &mut Outbox) -> Option<bool> {
        let listening = match std::mem::take(&mut self.kept) {
            Kept::Off | Kept::Due => return None,
            Kept::Loading => false,
            Kept::Listening => true,
        };
        out.push(TabOutput::AdoptStandby { backend_id: worker.clone() });
        Some(listening)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{CoordinatorId, Epoch};
    use crate::model::locks::{LockCommand, LockId};
    use crate::protocol::{CoordinatorToTab, LeaderToBackend, Leadership, PortGrant, TabToCoordinator};
    use crate::tab::Tab;
    use crate::tab::tests::{T0, client, drain, from_own, is_spawn};

    /// Tab `n`, joined, with what it asked for drained but its session lock not granted yet.
    fn joining(n: u32) -> (Tab, LockId) {
        let mut tab = crate::tab::tests::joined(n, None);
        let lock = (drain(&mut tab).into_iter())
            .find_map(|o| match o {
                TabOutput::Lock(LockCommand::Acquire { lock: lock @ LockId::Session(_), .. }) => Some(lock),
                _ => None,
            })
            .expect("a session lock");
        (tab, lock)
    }

    /// Opens `tab`'s own session, with tab 1 leading in epoch 1.
    fn connect(tab: &mut Tab, lock: &LockId) {
        tab.lock_granted(T0, lock);
        let leadership = Leadership {
            leader_id: client(1),
            epoch: Epoch::new(1).unwrap(),
            liveness_key: "w1".into(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership)));
        let request = (drain(tab).into_iter())
            .find_map(|o| match o {
                TabOutput::ToCoordinator(TabToCoordinator::RequestPort(request)) => Some(request),
                _ => None,
            })
            .expect("a request-port");
        let grant = PortGrant {
            client_id: request.client_id,
            session_id: request.session_id,
            epoch: Epoch::new(1).unwrap(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        assert!(tab.session().is_some());
    }

    /// A follower whose own session is open.
    fn follower() -> Tab {
        let (mut tab, lock) = joining(2);
        connect(&mut tab, &lock);
        drain(&mut tab);
        tab
    }

    fn told(tab: &mut Tab, on: bool) -> Vec<TabOutput> {
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Standby { on }));
        drain(tab)
    }

    fn is_init_of(output: &TabOutput, worker: &BackendId) -> bool {
        matches!(output, TabOutput::ToWorker { backend_id, message: LeaderToBackend::Init { .. } } if backend_id == worker)
    }

    #[test]
    fn a_follower_told_keeps_one_worker_loaded_and_drops_it_when_told_off_or_leaving() {
        let mut tab = follower();
        assert_eq!(told(&mut tab, true), [TabOutput::SpawnStandby]);
        assert!(tab.has_standby());
        assert_eq!(told(&mut tab, true), [], "told again, it still keeps one");
        assert_eq!(told(&mut tab, false), [TabOutput::KillStandby]);
        assert!(!tab.has_standby());
        assert_eq!(told(&mut tab, false), []);
        told(&mut tab, true);
        tab.destroy(T0);
        assert!(drain(&mut tab).contains(&TabOutput::KillStandby));
    }

    #[test]
    fn granted_the_lead_a_tab_adopts_its_loaded_standby_and_sends_init_at_once() {
        let mut tab = follower();
        told(&mut tab, true);
        tab.from_standby(Ok(BackendToLeader::Listening));
        tab.lock_granted(T0, &LockId::Leader);
        let out = drain(&mut tab);
        let worker = tab.worker().cloned().expect("a worker");
        assert!(!out.iter().any(is_spawn), "no worker started from nothing: {out:?}");
        let adopted = out.iter().position(|o| *o == TabOutput::AdoptStandby { backend_id: worker.clone() });
        let init = out.iter().position(|o| is_init_of(o, &worker));
        assert!(adopted.is_some() && adopted < init, "adopted, then sent init: {out:?}");
        assert!(!tab.has_standby());
        assert_eq!(told(&mut tab, true), [], "a tab that leads keeps none");
    }

    #[test]
    fn a_standby_still_loading_is_adopted_and_sent_init_once_it_says_listening() {
        let mut tab = follower();
        told(&mut tab, true);
        tab.lock_granted(T0, &LockId::Leader);
        let out = drain(&mut tab);
        let worker = tab.worker().cloned().expect("a worker");
        assert!(out.contains(&TabOutput::AdoptStandby { backend_id: worker.clone() }), "{out:?}");
        assert!(!out.iter().any(|o| is_init_of(o, &worker)), "no init before listening: {out:?}");
        from_own(&mut tab, T0, BackendToLeader::Listening);
        assert!(drain(&mut tab).iter().any(|o| is_init_of(o, &worker)));
    }

    #[test]
    fn a_standby_that_fails_is_dropped_and_the_lead_then_starts_a_worker_from_nothing() {
        let mut tab = follower();
        told(&mut tab, true);
        tab.standby_error();
        assert_eq!(drain(&mut tab), [TabOutput::KillStandby]);
        tab.lock_granted(T0, &LockId::Leader);
        assert!(drain(&mut tab).iter().any(is_spawn));
    }

    #[test]
    fn a_tab_told_before_its_own_session_is_open_starts_the_standby_once_it_is() {
        let (mut tab, lock) = joining(2);
        assert_eq!(told(&mut tab, true), [], "its join comes first");
        assert!(!tab.has_standby());
        connect(&mut tab, &lock);
        assert!(drain(&mut tab).contains(&TabOutput::SpawnStandby));
        assert!(tab.has_standby());
        // Told off before it was due: nothing to terminate, nothing started later.
        let (mut tab, lock) = joining(3);
        told(&mut tab, true);
        assert_eq!(told(&mut tab, false), []);
        connect(&mut tab, &lock);
        assert!(!drain(&mut tab).contains(&TabOutput::SpawnStandby));
    }

    #[test]
    fn frames_from_a_standby_other_than_listening_or_from_none_are_ignored() {
        let mut tab = follower();
        tab.from_standby(Ok(BackendToLeader::Listening));
        assert_eq!(tab.ignored(), 1);
        told(&mut tab, true);
        tab.from_standby(Ok(BackendToLeader::Stopped));
        assert_eq!(tab.ignored(), 2);
        assert!(tab.has_standby());
        assert_eq!(drain(&mut tab), []);
    }

    #[test]
    fn the_standby_is_dropped_when_the_coordinator_that_named_it_dies() {
        let mut tab = follower();
        told(&mut tab, true);
        tab.lock_granted(T0, &LockId::Coordinator(CoordinatorId::new("k").unwrap()));
        assert!(drain(&mut tab).contains(&TabOutput::KillStandby));
        assert!(!tab.has_standby());
    }
}
