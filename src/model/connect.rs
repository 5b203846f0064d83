//! `connect` requests and responses, serialized exactly as the seed's
//! `@jamsocket/types` writes them (snake_case fields, optional fields
//! omitted when absent).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ids::BackendId;
use crate::model::status::BackendStatus;

/// What a tab asks for with `client.connect(request)`.
///
/// Optional fields are omitted when absent; `null` is read as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// The backend's key. A key with a live backend reaches that backend; no
    /// key always starts a new backend under a fresh key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether, and how, to start a backend when the key has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn: Option<Spawn>,
    /// Who is connecting; given to the backend with the session, never to
    /// other tabs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Credentials for the backend; given to it with the session, never to
    /// other tabs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The seed's `spawn?: boolean | { … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spawn {
    /// `true`: start a backend with defaults; `false`: never start one.
    Enabled(bool),
    /// Start a backend configured so.
    Config(SpawnConfig),
}

impl Serialize for Spawn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Spawn::Enabled(flag) => serializer.serialize_bool(*flag),
            Spawn::Config(config) => config.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Spawn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpawnVisitor;
        impl<'de> Visitor<'de> for SpawnVisitor {
            type Value = Spawn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`spawn` to be a boolean or a spawn configuration object")
            }
            fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Spawn, E> {
                Ok(Spawn::Enabled(flag))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Spawn, A::Error> {
                SpawnConfig::deserialize(de::value::MapAccessDeserializer::new(map)).map(Spawn::Config)
            }
        }
        deserializer.deserialize_any(SpawnVisitor)
    }
}

/// How to start a backend: the object form of the seed's `spawn`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SpawnConfig {
    /// Which backend script runs. A different tag for a live key is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The backend is swept this many seconds after it was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_limit_seconds: Option<u32>,
    /// The backend is swept after this many seconds with no session and no
    /// message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_idle_seconds: Option<u32>,
    /// What the backend is given at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<Executable>,
}

/// What the backend is given at start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Executable {
    /// An OPFS directory for the key, handed to the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<Mount>,
    /// Environment given to the backend at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Limits on what the backend may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
}

/// The seed's `mount?: string | boolean`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// `true`: a directory with a default name; `false`: none.
    Enabled(bool),
    /// A directory with this name.
    Named(String),
}

impl Serialize for Mount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Mount::Enabled(flag) => serializer.serialize_bool(*flag),
            Mount::Named(name) => serializer.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for Mount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MountVisitor;
        impl Visitor<'_> for MountVisitor {
            type Value = Mount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`mount` to be a boolean or a directory name")
            }
            fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Mount, E> {
                Ok(Mount::Enabled(flag))
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Mount, E> {
                Ok(Mount::Named(name.to_owned()))
            }
        }
        deserializer.deserialize_any(MountVisitor)
    }
}

/// The seed's `resource_limits`. Each is any JSON number, as the seed types
/// them: tabworker refuses every one (see [`crate::Registry`]), so none is
/// read as a quantity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResourceLimits {
    /// Scheduling period, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<serde_json::Number>,
    /// Proportion of the period the backend may use, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period_percent: Option<serde_json::Number>,
    /// Total CPU time allowed, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_limit: Option<serde_json::Number>,
    /// Memory the backend may use, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<serde_json::Number>,
    /// Disk (OPFS) the backend may use, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_limit_bytes: Option<serde_json::Number>,
}

/// What `client.connect(request)` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectResponse {
    /// The backend reached.
    pub backend_id: BackendId,
    /// Whether this connect started the backend (`false`: it was live).
    pub spawned: bool,
    /// The backend's status when the connect was answered.
    pub status: BackendStatus,
    /// A capability for this connect that the backend can check.
    pub token: String,
    /// Where a session to the backend is opened.
    pub url: String,
    /// A secret capability for this connect that the backend can check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_token: Option<String>,
    /// Where the backend's status stream is followed.
    pub status_url: String,
    /// Where the backend's readiness is awaited.
    pub ready_url: String,
}
