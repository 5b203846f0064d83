//! The names of the Web Locks an app's contexts use. Every role derives them
//! here, so that a tab, the coordinator and a backend worker agree.

use crate::model::ids::{AppName, BackendId, ClientId, CoordinatorId, SessionId};

/// What a machine (a tab, a backend's host) asks the browser of a Web Lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockCommand {
    /// Request the lock `lock`, named `name`, in `mode`; its grant is an
    /// input of the machine, however long it takes.
    Acquire {
        /// The lock.
        lock: LockId,
        /// Its name.
        name: String,
        /// How.
        mode: LockMode,
    },
    /// Release the lock, or withdraw the request for it.
    Release {
        /// The lock.
        lock: LockId,
    },
}

/// How a Web Lock is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// One holder at a time.
    Exclusive,
    /// Any number of shared holders, while no one holds it exclusively.
    Shared,
    /// Exclusive, granted at once: taken from its holder, which learns it
    /// lost the lock. Only a takeover of a silent leader asks this way.
    Steal,
}

/// A Web Lock, by what it is for. [`LockNames::name`] gives its name in
/// an app; the glue keeps its requests by this id, and the state machines
/// learn of a grant by it, never by comparing names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockId {
    /// The election: its holder is the leader tab.
    Leader,
    /// A tab's life: held by the tab, waited on by the coordinator.
    Tab(ClientId),
    /// A connect attempt's session: held by the tab, waited on by the backend.
    Session(SessionId),
    /// A coordinator instance's life: held by it, waited on by every tab.
    Coordinator(CoordinatorId),
    /// A backend worker's life, by its liveness key (the lock's name, as the
    /// worker announced it): held by the worker, waited on by every tab.
    Liveness(String),
    /// A key's OPFS mount, by the lock's name ([`LockNames::mount`]): held
    /// by the backend worker that has it open, for its whole life.
    Mount(String),
    /// A key, by the lock's name ([`LockNames::key`]): held by the backend
    /// worker of the key for its whole life, taken from a stale one.
    Key(String),
    /// The workers a leader tab hosts ([`LockNames::hosted`]): each holds it
    /// (shared) for its whole life; a tab that takes the lead over steals it,
    /// so that they all end.
    Hosted(ClientId),
}

/// The longest lock name read from another context, in bytes (a backend's
/// liveness key): the longest this build makes, from an app name and a
/// worker id of at most [`MAX_ID_LEN`](crate::model::ids::MAX_ID_LEN) bytes
/// each, is well below it.
pub const MAX_LOCK_NAME_LEN: usize = 512;

/// The lock names of one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockNames {
    app: AppName,
}

impl LockNames {
    /// The lock names of `app`.
    pub fn new(app: AppName) -> Self {
        LockNames { app }
    }

    /// The app.
    pub fn app(&self) -> &AppName {
        &self.app
    }

    /// The name of the Web Lock `lock`.
    pub fn name(&self, lock: &LockId) -> String {
        match lock {
            LockId::Leader => self.leader(),
            LockId::Tab(client) => self.tab(client),
            LockId::Session(session) => self.session(session),
            LockId::Coordinator(coordinator) => self.coordinator_liveness(coordinator),
            LockId::Liveness(key) | LockId::Mount(key) | LockId::Key(key) => key.clone(),
            LockId::Hosted(leader) => self.hosted(leader),
        }
    }

    /// The name of the app's coordinator SharedWorker.
    pub fn coordinator(&self) -> String {
        format!("tabworker:{}", self.app)
    }

    /// The app a coordinator worker named `worker` (by [`LockNames::coordinator`]) serves.
    pub fn of_coordinator(worker: &str) -> Result<LockNames, String> {
        let app = worker
            .strip_prefix("tabworker:")
            .ok_or_else(|| format!("the worker is named `{worker}`, not `tabworker:<app>`; pass the app's name"))?;
        AppName::new(app.to_owned()).map(LockNames::new).map_err(|e| e.to_string())
    }

    /// Held by the coordinator of id `coordinator` for its whole life; every
    /// tab waits on it (shared) to learn at once that the coordinator died
    /// (a SharedWorker dies with the renderer process that hosts it).
    pub fn coordinator_liveness(&self, coordinator: &CoordinatorId) -> String {
        format!("tabworker:{}:coordinator:{coordinator}", self.app)
    }

    /// The name of the worker that runs backend `backend` in its leader tab
    /// (the backend entry knows such a worker by its `:backend:`).
    pub fn backend_worker(&self, backend: &BackendId) -> String {
        format!("{}:backend:{backend}", self.coordinator())
    }

    /// The name of a tab's standby worker, which becomes a backend's worker.
    pub fn standby_worker(&self) -> String {
        format!("{}:backend:standby", self.coordinator())
    }

    /// The election: its holder is the leader tab.
    pub fn leader(&self) -> String {
        format!("tabworker:{}:leader", self.app)
    }

    /// Held by a tab for its whole life; the coordinator waits on it to learn
    /// that the tab is gone.
    pub fn tab(&self, client: &ClientId) -> String {
        format!("tabworker:{}:tab:{client}", self.app)
    }

    /// Held by a tab for as long as it wants the session of this connect
    /// attempt; the backend waits on it and closes the session when it is
    /// released.
    pub fn session(&self, session: &SessionId) -> String {
        format!("tabworker:{}:session:{session}", self.app)
    }

    /// Held by the backend worker that has `directory` of `key` open (its
    /// OPFS mount) for as long as it lives. Named by the app's shared name,
    /// so that two deployments' backends of one key never open it at once.
    pub fn mount(&self, key: &str, directory: &str) -> String {
        format!("tabworker:{}:mount:{}/{directory}", self.app.shared(), crate::model::connect::opfs_name(key))
    }

    /// [`LockNames::key`] of this app's name as it is: where a tab runs its
    /// deployment alone, a key of that tab only (its default backend's).
    pub fn own_key(&self, key: &str) -> String {
        format!("tabworker:{}:key:{}", self.app, crate::model::connect::opfs_name(key))
    }

    /// Held (shared) by every backend worker that the tab of `leader` hosts,
    /// for its whole life. A tab that takes the lead over from `leader`
    /// steals it, and every such worker ends itself.
    pub fn hosted(&self, leader: &ClientId) -> String {
        format!("tabworker:{}:hosted-by:{leader}", self.app)
    }

    /// Held by the backend worker of `key` for its whole life. A new backend
    /// of the key steals it: any other holder is stale (a backend the board
    /// ended, whose leader was taken over while frozen), and ends itself
    /// when it loses the lock. Where each tab runs the deployment alone
    /// (no SharedWorker), a backend waits for it instead: another tab's
    /// backend of the key is not stale, and one key has one live backend
    /// across the tabs.
    pub fn key(&self, key: &str) -> String {
        // One per key across the tabs of a deployment, even where each tab runs it alone.
        format!("tabworker:{}:key:{}", self.app.deployment(), crate::model::connect::opfs_name(key))
    }

    /// Held by a backend worker for its whole life; every client waits on it
    /// (shared) to learn of the worker's death at once.
    pub fn liveness(&self, worker: &str) -> String {
        format!("tabworker:{}:liveness:{worker}", self.app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_per_app_and_per_object() {
        let a = LockNames::new(AppName::new("a").unwrap());
        let b = LockNames::new(AppName::new("b").unwrap());
        assert_ne!(a.leader(), b.leader());
        assert_ne!(a.coordinator(), b.coordinator());
        let c1 = ClientId::new("c1").unwrap();
        let c2 = ClientId::new("c2").unwrap();
        assert_ne!(a.tab(&c1), a.tab(&c2));
        assert_eq!(a.leader(), "tabworker:a:leader");
        assert_eq!(a.session(&SessionId::new("s").unwrap()), "tabworker:a:session:s");
        assert_eq!(a.liveness("w"), "tabworker:a:liveness:w");
        let backend = BackendId::try_from("b1".to_string()).unwrap();
        assert_eq!(a.backend_worker(&backend), "tabworker:a:backend:b1");
        assert_eq!(a.standby_worker(), "tabworker:a:backend:standby");
    }

    #[test]
    fn a_coordinator_finds_its_app_in_its_worker_name() {
        for app in [AppName::new("a").unwrap(), AppName::deployed("notes", "b1").unwrap()] {
            let names = LockNames::new(app);
            assert_eq!(LockNames::of_coordinator(&names.coordinator()).unwrap().leader(), names.leader());
        }
        let unnamed = LockNames::of_coordinator("worker").unwrap_err();
        assert!(unnamed.contains("not `tabworker:<app>`"), "{unnamed}");
        assert!(LockNames::of_coordinator("tabworker:").is_err());
    }

    #[test]
    fn a_tab_running_its_deployment_alone_has_its_own_locks_but_shares_each_key_and_mount_lock() {
        let deployment = AppName::deployed("notes", "b1").unwrap();
        let alone = deployment.isolated(&ClientId::new("c1").unwrap()).unwrap();
        let other = deployment.isolated(&ClientId::new("c2").unwrap()).unwrap();
        assert!(alone.is_isolated() && !deployment.is_isolated());
        assert_eq!((alone.deployment(), alone.shared(), alone.fingerprint()), ("notes@b1", "notes", Some("b1")));
        let (a, b, shared) = (LockNames::new(alone), LockNames::new(other), LockNames::new(deployment));
        assert_ne!(a.leader(), b.leader());
        assert_ne!(a.coordinator(), b.coordinator());
        assert_eq!(a.key("doc"), b.key("doc"));
        assert_eq!(a.key("doc"), shared.key("doc"));
        assert_eq!(a.mount("doc", "data"), b.mount("doc", "data"));
    }

    #[test]
    fn two_deployments_run_apart_but_share_each_mount_lock() {
        let v1 = LockNames::new(AppName::deployed("notes", "b1").unwrap());
        let v2 = LockNames::new(AppName::deployed("notes", "b2").unwrap());
        assert_ne!(v1.leader(), v2.leader());
        assert_ne!(v1.coordinator(), v2.coordinator());
        assert_eq!(v1.mount("doc/1", "data"), v2.mount("doc/1", "data"));
        assert_eq!(v1.mount("doc/1", "data"), "tabworker:notes:mount:doc%2F1/data");
        assert_ne!(v1.mount("doc/1", "data"), v1.mount("doc/2", "data"));
        let other = LockNames::new(AppName::deployed("mail", "b1").unwrap());
        assert_ne!(v1.mount("doc/1", "data"), other.mount("doc/1", "data"));
    }

    #[test]
    fn each_lock_id_names_its_lock() {
        let names = LockNames::new(AppName::new("a").unwrap());
        let (c, s, k) = (ClientId::new("c").unwrap(), SessionId::new("s").unwrap(), CoordinatorId::new("k").unwrap());
        assert_eq!(names.name(&LockId::Leader), names.leader());
        assert_eq!(names.name(&LockId::Tab(c.clone())), names.tab(&c));
        assert_eq!(names.name(&LockId::Session(s.clone())), names.session(&s));
        assert_eq!(names.name(&LockId::Coordinator(k.clone())), names.coordinator_liveness(&k));
        let key = names.liveness("w");
        assert_eq!(names.name(&LockId::Liveness(key.clone())), key);
    }
}
