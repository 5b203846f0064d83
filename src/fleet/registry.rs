//! The session backends of one app, by key: which backend a `connect`
//! reaches, which one it starts, and which requests it refuses.
//!
//! Pure: the caller gives the time, fresh ids and the tags its options
//! know, and carries out what [`Registry::connect`] decides. A key is held
//! by at most one backend that is not terminated; the key is released only
//! when that backend is `terminated`.
//!
//! The rules, after Jamsocket's:
//! - no key: a new backend under a fresh key, always;
//! - a key whose backend is live (from `scheduled` to `ready`): that
//!   backend, unless the request names another tag;
//! - a key whose backend is terminating: with `spawn`, the request waits
//!   for the end and then starts a successor; without, the key is not held;
//! - a key with no backend: a new one if `spawn` is `true` or an object,
//!   else the key is not held.
//!
//! `resource_limits` that tabworker cannot enforce in a browser worker are
//! refused, naming the field, rather than ignored.
//!
//! Memory is bounded by the live backends, as the coordinator's board is:
//! a backend that ended keeps only its key, tag and states (how it was
//! started, its `env` among them, goes), and at most [`MAX_ENDED`] ended
//! backends are kept, the ones that ended first dropped first.

use std::collections::VecDeque;

use crate::model::map::Map;

use crate::model::code::ErrorCode;
use crate::model::connect::{ConnectRequest, ResourceLimits, Spawn, SpawnConfig, key_fault};
use crate::model::ids::BackendId;
use crate::model::lifecycle::Lifecycle;
use crate::model::status::BackendStatus;
use crate::model::time::Timestamp;
use crate::protocol::MAX_HOSTED;

/// The key of the leader's default backend (the one `initialize()`
/// connects): a `connect` with it reaches that backend like any other, but
/// only the leader starts one under it.
pub const DEFAULT_KEY: &str = "tabworker:default";

/// Why a `connect` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The key has no live backend and the request did not ask to start one.
    #[error("no backend holds the key `{key}` and the request did not ask to spawn one")]
    NotHeld {
        /// The key.
        key: String,
    },
    /// The key's live backend runs another tag than the one asked for.
    #[error("the key `{key}` is held by a backend of tag {live}, not of tag {asked}")]
    TagMismatch {
        /// The key.
        key: String,
        /// The live backend's tag (`the default` when it has none).
        live: String,
        /// The tag the request named.
        asked: String,
    },
    /// The request named a tag that the client's `backends` option lacks.
    #[error("unknown backend tag `{tag}`: the client's `backends` option has no script for it")]
    UnknownTag {
        /// The tag.
        tag: String,
    },
    /// A resource limit tabworker cannot enforce in a browser worker.
    #[error("resource_limits.{field} cannot be enforced in a browser worker; leave it out")]
    UnsupportedLimit {
        /// The field of `resource_limits`.
        field: &'static str,
    },
    /// The key is not a valid key.
    #[error("invalid key: {detail}")]
    InvalidKey {
        /// What is wrong with it.
        detail: String,
    },
    /// As many backends as a leader may host at once hold a key.
    #[error("the leader hosts {MAX_HOSTED} backends, as many as it may at once: terminate one first")]
    TooManyBackends,
}

impl ConnectError {
    /// A stable code for this error, for callers to branch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            ConnectError::NotHeld { .. } => ErrorCode::KeyNotHeld,
            ConnectError::TagMismatch { .. } => ErrorCode::TagMismatch,
            ConnectError::UnknownTag { .. } => ErrorCode::UnknownTag,
            ConnectError::UnsupportedLimit { .. } => ErrorCode::UnsupportedResourceLimit,
            ConnectError::InvalidKey { .. } => ErrorCode::InvalidKey,
            ConnectError::TooManyBackends => ErrorCode::TooManyBackends,
        }
    }
}

pub use crate::model::connect::MAX_KEY_LEN;

/// How many ended backends the registry remembers at most.
pub const MAX_ENDED: usize = 1024;

/// What a `connect` leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The key's live backend.
    Live {
        /// The backend.
        backend_id: BackendId,
        /// Its status now.
        status: BackendStatus,
    },
    /// A new backend, now `scheduled`: the caller starts it.
    Spawned {
        /// The new backend.
        backend_id: BackendId,
        /// Its key.
        key: String,
    },
    /// The key's backend is terminating: ask again once it is terminated
    /// (see [`Registry::finish`]), and a successor starts.
    Wait {
        /// The terminating backend.
        behind: BackendId,
    },
}

/// One backend the registry knows of.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    /// The key it holds (until it is terminated).
    pub key: String,
    /// Its tag (`None`: the default backend script).
    pub tag: Option<String>,
    /// How it was asked to start.
    pub config: SpawnConfig,
    /// Its states so far.
    pub lifecycle: Lifecycle,
}

/// The backends of one app.
#[derive(Debug, Default)]
pub struct Registry {
    backends: Map<BackendId, Backend>,
    /// Each held key, with the backend holding it.
    keys: Map<String, BackendId>,
    /// The ended backends kept, in the order they ended.
    ended: VecDeque<BackendId>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The backend `id`, terminated ones included (the last [`MAX_ENDED`]).
    pub fn backend(&self, id: &BackendId) -> Option<&Backend> {
        self.backends.get(id)
    }

    /// The backend holding `key`, if any.
    pub fn holder(&self, key: &str) -> Option<&BackendId> {
        self.keys.get(key)
    }

    /// Decides what `request` reaches. `known_tag` says whether the client's
    /// options have a script for a tag; `fresh_key` and `fresh_id` give a
    /// new random key and backend id, and are called only when needed.
    pub fn connect(
        &mut self,
        now: Timestamp,
        request: &ConnectRequest,
        known_tag: impl Fn(&str) -> bool,
        fresh_key: impl FnOnce() -> String,
        fresh_id: impl FnOnce() -> BackendId,
    ) -> Result<Decision, ConnectError> {
        let config = match &request.spawn {
            Some(Spawn::Config(config)) => Some(config.clone()),
            Some(Spawn::Enabled(true)) => Some(SpawnConfig::default()),
            Some(Spawn::Enabled(false)) | None => None,
        };
        let asked_tag = config.as_ref().and_then(|c| c.tag.clone());
        if let Some(tag) = asked_tag.as_deref().filter(|tag| !known_tag(tag)) {
            return Err(ConnectError::UnknownTag { tag: tag.to_owned() });
        }
        if let Some(limits) = config.as_ref().and_then(|c| c.executable.as_ref()?.resource_limits.as_ref()) {
            refuse_limits(limits)?;
        }
        let key = match &request.key {
            Some(key) => {
                validate_key(key)?;
                key.clone()
            }
            None => {
                let key = fresh_key();
                return self.spawn(now, key, config.unwrap_or_default(), fresh_id);
            }
        };
        let Some(held) = self.keys.get(&key).cloned() else {
            return match config {
                Some(_) if key == DEFAULT_KEY => Err(ConnectError::InvalidKey {
                    detail: format!("`{DEFAULT_KEY}` is the default backend's key: only the leader starts it"),
                }),
                Some(config) => self.spawn(now, key, config, fresh_id),
                None => Err(ConnectError::NotHeld { key }),
            };
        };
        let backend = &self.backends[&held];
        let status = backend.lifecycle.status();
        if matches!(status, BackendStatus::Terminating | BackendStatus::HardTerminating) {
            return match config {
                Some(_) => Ok(Decision::Wait { behind: held }),
                None => Err(ConnectError::NotHeld { key }),
            };
        }
        if let Some(asked) = asked_tag.filter(|asked| backend.tag.as_ref() != Some(asked)) {
            let live = backend.tag.as_ref().map_or_else(|| "the default".to_owned(), |t| format!("`{t}`"));
            return Err(ConnectError::TagMismatch { key, live, asked: format!("`{asked}`") });
        }
        Ok(Decision::Live { backend_id: held, status })
    }

    /// Records the end of backend `id` (its lifecycle already `terminated`
    /// by the caller through [`Registry::lifecycle_mut`]): its key is free,
    /// how it was started is dropped, and the oldest ended backend past
    /// [`MAX_ENDED`] is forgotten. Returns the key it released, if it held one.
    pub fn finish(&mut self, id: &BackendId) -> Option<String> {
        let backend = self.backends.get_mut(id)?;
        if !backend.lifecycle.is_terminated() || self.keys.get(&backend.key) != Some(id) {
            return None;
        }
        backend.config = SpawnConfig { tag: backend.config.tag.take(), ..SpawnConfig::default() };
        let key = backend.key.clone();
        self.keys.remove(&key);
        self.ended.push_back(id.clone());
        while self.ended.len() > MAX_ENDED {
            if let Some(oldest) = self.ended.pop_front() {
                self.backends.remove(&oldest);
            }
        }
        Some(key)
    }

    /// How many backends are kept, live and ended.
    pub fn len(&self) -> usize {
        self.backends.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The lifecycle of backend `id`, to move it on.
    pub fn lifecycle_mut(&mut self, id: &BackendId) -> Option<&mut Lifecycle> {
        self.backends.get_mut(id).map(|b| &mut b.lifecycle)
    }

    /// Records the leader's default backend `backend_id`, `scheduled` now,
    /// under [`DEFAULT_KEY`]; `false` (and nothing recorded) while a default
    /// backend holds it.
    pub fn host_default(&mut self, now: Timestamp, backend_id: BackendId) -> bool {
        if self.keys.contains_key(DEFAULT_KEY) || self.backends.contains_key(&backend_id) {
            return false;
        }
        self.record(now, DEFAULT_KEY.to_owned(), SpawnConfig::default(), backend_id);
        true
    }

    /// A new keyed backend of `key`, unless `MAX_HOSTED - 1` keyed backends
    /// hold a key (every live one does), the default backend's place aside:
    /// the leader names every backend it hosts in its claims.
    fn spawn(
        &mut self,
        now: Timestamp,
        key: String,
        config: SpawnConfig,
        fresh_id: impl FnOnce() -> BackendId,
    ) -> Result<Decision, ConnectError> {
        let keyed = self.keys.len() - usize::from(self.keys.contains_key(DEFAULT_KEY));
        if keyed >= MAX_HOSTED - 1 {
            return Err(ConnectError::TooManyBackends);
        }
        Ok(self.record(now, key, config, fresh_id()))
    }

    fn record(&mut self, now: Timestamp, key: String, config: SpawnConfig, backend_id: BackendId) -> Decision {
        let backend = Backend { key: key.clone(), tag: config.tag.clone(), config, lifecycle: Lifecycle::new(now) };
        self.backends.insert(backend_id.clone(), backend);
        self.keys.insert(key.clone(), backend_id.clone());
        Decision::Spawned { backend_id, key }
    }
}

/// None of these can be enforced on a dedicated worker: the browser gives
/// no CPU quota, no memory cap and no per-directory OPFS quota.
fn refuse_limits(limits: &ResourceLimits) -> Result<(), ConnectError> {
    let ResourceLimits { cpu_period, cpu_period_percent, cpu_time_limit, memory_limit_bytes, disk_limit_bytes } =
        limits;
    let set = [
        ("cpu_period", cpu_period.is_some()),
        ("cpu_period_percent", cpu_period_percent.is_some()),
        ("cpu_time_limit", cpu_time_limit.is_some()),
        ("memory_limit_bytes", memory_limit_bytes.is_some()),
        ("disk_limit_bytes", disk_limit_bytes.is_some()),
    ];
    match set.into_iter().find(|(_, is_set)| *is_set) {
        Some((field, _)) => Err(ConnectError::UnsupportedLimit { field }),
        None => Ok(()),
    }
}

fn validate_key(key: &str) -> Result<(), ConnectError> {
    match key_fault(key) {
        Some(detail) => Err(ConnectError::InvalidKey { detail }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::connect::Executable;
    use crate::model::status::{BackendState, TerminationKind, TerminationReason};

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    fn id(n: u32) -> BackendId {
        BackendId::new(format!("b{n}")).unwrap()
    }

    fn request(key: Option<&str>, spawn: Option<Spawn>) -> ConnectRequest {
        ConnectRequest { key: key.map(str::to_owned), spawn, ..ConnectRequest::default() }
    }

    fn tagged(tag: &str) -> Option<Spawn> {
        Some(Spawn::Config(SpawnConfig { tag: Some(tag.into()), ..SpawnConfig::default() }))
    }

    fn connect(registry: &mut Registry, request: &ConnectRequest, n: u32) -> Result<Decision, ConnectError> {
        registry.connect(T0, request, |tag| matches!(tag, "chat" | "game"), || format!("fresh-{n}"), || id(n))
    }

    #[test]
    fn a_key_reaches_its_live_backend_once_spawned_and_is_refused_without_spawn() {
        let mut registry = Registry::new();
        let err = connect(&mut registry, &request(Some("room"), None), 1).unwrap_err();
        assert_eq!(err, ConnectError::NotHeld { key: "room".into() });
        let err = connect(&mut registry, &request(Some("room"), Some(Spawn::Enabled(false))), 1).unwrap_err();
        assert_eq!(err.code(), ErrorCode::KeyNotHeld);

        let first = connect(&mut registry, &request(Some("room"), Some(Spawn::Enabled(true))), 1).unwrap();
        assert_eq!(first, Decision::Spawned { backend_id: id(1), key: "room".into() });
        assert_eq!(registry.backend(&id(1)).unwrap().lifecycle.status(), BackendStatus::Scheduled);
        for spawn in [None, Some(Spawn::Enabled(true))] {
            let again = connect(&mut registry, &request(Some("room"), spawn), 2).unwrap();
            assert_eq!(again, Decision::Live { backend_id: id(1), status: BackendStatus::Scheduled });
        }
        assert!(registry.backend(&id(2)).is_none(), "no second backend for one key");
    }

    #[test]
    fn at_most_max_hosted_backends_hold_a_key_the_default_one_always_among_them() {
        let mut registry = Registry::new();
        let spawn = Some(Spawn::Enabled(true));
        for n in 0..MAX_HOSTED as u32 - 1 {
            let key = format!("k{n}");
            assert!(matches!(
                connect(&mut registry, &request(Some(&key), spawn.clone()), n),
                Ok(Decision::Spawned { .. })
            ));
        }
        let full = connect(&mut registry, &request(Some("one-more"), spawn.clone()), 9_000).unwrap_err();
        assert_eq!(full, ConnectError::TooManyBackends);
        assert_eq!(full.code(), ErrorCode::TooManyBackends);
        let fresh = connect(&mut registry, &request(None, spawn.clone()), 9_001).unwrap_err();
        assert_eq!(fresh.code(), ErrorCode::TooManyBackends, "a fresh key counts too");
        assert!(registry.backend(&id(9_000)).is_none() && registry.backend(&id(9_001)).is_none(), "nothing kept");
        // A live key is still reached, and the default backend still has its place.
        assert!(matches!(connect(&mut registry, &request(Some("k0"), None), 9_002), Ok(Decision::Live { .. })));
        assert!(registry.host_default(T0, id(9_003)));
        // One ends: its place is free again.
        registry.lifecycle_mut(&id(0)).unwrap().finish(T0, false, None).unwrap();
        registry.finish(&id(0));
        assert!(matches!(
            connect(&mut registry, &request(Some("one-more"), spawn), 9_004),
            Ok(Decision::Spawned { .. })
        ));
    }

    #[test]
    fn the_default_key_reaches_the_leaders_default_backend_but_only_the_leader_starts_one() {
        let mut registry = Registry::new();
        let err = connect(&mut registry, &request(Some(DEFAULT_KEY), Some(Spawn::Enabled(true))), 1).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidKey);
        assert!(err.to_string().contains("only the leader starts it"), "{err}");
        assert!(registry.backend(&id(1)).is_none());

        assert!(registry.host_default(T0, id(2)));
        assert!(!registry.host_default(T0, id(3)), "one default backend at a time");
        for spawn in [None, Some(Spawn::Enabled(true))] {
            let live = connect(&mut registry, &request(Some(DEFAULT_KEY), spawn), 4).unwrap();
            assert_eq!(live, Decision::Live { backend_id: id(2), status: BackendStatus::Scheduled });
        }
        let err = connect(&mut registry, &request(Some(DEFAULT_KEY), tagged("chat")), 4).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TagMismatch);

        let lifecycle = registry.lifecycle_mut(&id(2)).unwrap();
        lifecycle.finish(T0, false, None).unwrap();
        assert_eq!(registry.finish(&id(2)).as_deref(), Some(DEFAULT_KEY));
        assert!(registry.host_default(T0, id(3)), "a successor once the first is terminated");
    }

    #[test]
    fn no_key_always_starts_a_new_backend_under_a_fresh_key() {
        let mut registry = Registry::new();
        let a = connect(&mut registry, &request(None, None), 1).unwrap();
        let b = connect(&mut registry, &request(None, Some(Spawn::Enabled(false))), 2).unwrap();
        assert_eq!(a, Decision::Spawned { backend_id: id(1), key: "fresh-1".into() });
        assert_eq!(b, Decision::Spawned { backend_id: id(2), key: "fresh-2".into() });
    }

    #[test]
    fn tags_must_be_known_and_match_the_live_backend() {
        let mut registry = Registry::new();
        let err = connect(&mut registry, &request(Some("k"), tagged("nope")), 1).unwrap_err();
        assert_eq!(err, ConnectError::UnknownTag { tag: "nope".into() });
        connect(&mut registry, &request(Some("k"), tagged("chat")), 1).unwrap();
        let err = connect(&mut registry, &request(Some("k"), tagged("game")), 2).unwrap_err();
        assert_eq!(err.to_string(), "the key `k` is held by a backend of tag `chat`, not of tag `game`");
        assert_eq!(err.code(), ErrorCode::TagMismatch);
        let same = connect(&mut registry, &request(Some("k"), tagged("chat")), 2).unwrap();
        assert!(matches!(same, Decision::Live { .. }));
        // A request that names no tag takes the live backend whatever its tag.
        assert!(matches!(connect(&mut registry, &request(Some("k"), None), 2).unwrap(), Decision::Live { .. }));

        connect(&mut registry, &request(Some("plain"), Some(Spawn::Enabled(true))), 3).unwrap();
        let err = connect(&mut registry, &request(Some("plain"), tagged("chat")), 4).unwrap_err();
        assert_eq!(err.to_string(), "the key `plain` is held by a backend of tag the default, not of tag `chat`");
    }

    #[test]
    fn a_resource_limit_of_any_number_is_refused_by_name_not_as_malformed() {
        for value in [serde_json::json!(1000), serde_json::json!(-1), serde_json::json!(0.5)] {
            let request: ConnectRequest = crate::from_json(serde_json::json!({
                "key": "k",
                "spawn": {"executable": {"resource_limits": {"cpu_period_percent": value}}}
            }))
            .unwrap();
            let err = connect(&mut Registry::new(), &request, 1).unwrap_err();
            assert_eq!(err, ConnectError::UnsupportedLimit { field: "cpu_period_percent" }, "{value}");
        }
    }

    #[test]
    fn every_resource_limit_is_refused_by_name() {
        let fields: [(&str, ResourceLimits); 5] = [
            (
                "cpu_period",
                ResourceLimits {
                    cpu_period: Some(crate::Number::new((100_000) as f64).unwrap()),
                    ..ResourceLimits::default()
                },
            ),
            (
                "cpu_period_percent",
                ResourceLimits {
                    cpu_period_percent: Some(crate::Number::new((50) as f64).unwrap()),
                    ..ResourceLimits::default()
                },
            ),
            (
                "cpu_time_limit",
                ResourceLimits {
                    cpu_time_limit: Some(crate::Number::new((60) as f64).unwrap()),
                    ..ResourceLimits::default()
                },
            ),
            (
                "memory_limit_bytes",
                ResourceLimits {
                    memory_limit_bytes: Some(crate::Number::new((1 << 20) as f64).unwrap()),
                    ..ResourceLimits::default()
                },
            ),
            (
                "disk_limit_bytes",
                ResourceLimits {
                    disk_limit_bytes: Some(crate::Number::new((1 << 20) as f64).unwrap()),
                    ..ResourceLimits::default()
                },
            ),
        ];
        for (field, limits) in fields {
            let executable = Executable { resource_limits: Some(limits), ..Executable::default() };
            let config = SpawnConfig { executable: Some(executable), ..SpawnConfig::default() };
            let mut registry = Registry::new();
            let err = connect(&mut registry, &request(Some("k"), Some(Spawn::Config(config))), 1).unwrap_err();
            assert_eq!(err, ConnectError::UnsupportedLimit { field });
            assert!(err.to_string().contains(field));
            assert!(registry.holder("k").is_none(), "nothing started");
        }
        let empty = Executable { resource_limits: Some(ResourceLimits::default()), ..Executable::default() };
        let config = SpawnConfig { executable: Some(empty), ..SpawnConfig::default() };
        assert!(connect(&mut Registry::new(), &request(Some("k"), Some(Spawn::Config(config))), 1).is_ok());
    }

    #[test]
    fn bad_keys_are_refused() {
        for key in ["", "a\nb", &"k".repeat(MAX_KEY_LEN + 1)] {
            let err = connect(&mut Registry::new(), &request(Some(key), Some(Spawn::Enabled(true))), 1).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidKey, "{key:?}");
        }
        let longest = "k".repeat(MAX_KEY_LEN);
        assert!(connect(&mut Registry::new(), &request(Some(&longest), Some(Spawn::Enabled(true))), 1).is_ok());
    }

    #[test]
    fn ended_backends_are_kept_up_to_the_bound_without_their_env_and_live_ones_always() {
        let mut registry = Registry::new();
        let env = crate::model::map::Map::from([("SECRET".to_owned(), "x".to_owned())]);
        let executable = Executable { env: Some(env), ..Executable::default() };
        let config = SpawnConfig { tag: Some("chat".into()), executable: Some(executable), ..SpawnConfig::default() };
        let spawn = || Some(Spawn::Config(config.clone()));
        connect(&mut registry, &request(Some("live"), spawn()), 0).unwrap();
        let total = 3 * MAX_ENDED as u32;
        for n in 1..=total {
            connect(&mut registry, &request(Some(&format!("k{n}")), spawn()), n).unwrap();
            registry.lifecycle_mut(&id(n)).unwrap().finish(T0, false, None).unwrap();
            assert_eq!(registry.finish(&id(n)), Some(format!("k{n}")));
            assert!(registry.len() <= MAX_ENDED + 1, "{} backends kept", registry.len());
        }
        assert_eq!(registry.len(), MAX_ENDED + 1, "the live one and the last ended ones");
        assert!(registry.backend(&id(total - MAX_ENDED as u32)).is_none(), "the oldest ended are dropped");
        let last = registry.backend(&id(total)).unwrap();
        assert!(last.lifecycle.is_terminated());
        assert_eq!((last.tag.as_deref(), last.config.tag.as_deref()), (Some("chat"), Some("chat")));
        assert_eq!(last.config.executable, None, "an ended backend's env is dropped");
        let live = registry.backend(&id(0)).unwrap();
        assert!(live.config.executable.as_ref().is_some_and(|e| e.env.is_some()), "a live one keeps it");
        assert_eq!(registry.holder("live"), Some(&id(0)));
    }

    #[test]
    fn a_terminating_backend_is_never_handed_out_and_its_key_is_freed_only_at_terminated() {
        let mut registry = Registry::new();
        connect(&mut registry, &request(Some("k"), Some(Spawn::Enabled(true))), 1).unwrap();
        let t1 = T0.plus_millis(10);
        let lifecycle = registry.lifecycle_mut(&id(1)).unwrap();
        lifecycle.terminate(t1, TerminationKind::Soft, TerminationReason::External).unwrap();

        let wait = connect(&mut registry, &request(Some("k"), Some(Spawn::Enabled(true))), 2).unwrap();
        assert_eq!(wait, Decision::Wait { behind: id(1) });
        let err = connect(&mut registry, &request(Some("k"), None), 2).unwrap_err();
        assert_eq!(err.code(), ErrorCode::KeyNotHeld);
        assert_eq!(registry.finish(&id(1)), None, "not terminated yet: the key stays held");
        assert_eq!(registry.holder("k"), Some(&id(1)));

        registry.lifecycle_mut(&id(1)).unwrap().finish(t1.plus_millis(5), false, None).unwrap();
        assert!(matches!(registry.backend(&id(1)).unwrap().lifecycle.state(), BackendState::Terminated { .. }));
        assert_eq!(registry.finish(&id(1)), Some("k".into()));
        assert_eq!(registry.finish(&id(1)), None, "released once");
        let successor = connect(&mut registry, &request(Some("k"), Some(Spawn::Enabled(true))), 2).unwrap();
        assert_eq!(successor, Decision::Spawned { backend_id: id(2), key: "k".into() });
        assert!(registry.backend(&id(1)).is_some(), "the ended backend's history stays");
    }
}
