//! `connect` requests and responses, serialized exactly as the seed's
//! `@jamsocket/types` writes them (snake_case fields, optional fields
//! omitted when absent).

use crate::model::code::ErrorCode;
use crate::model::ids::{BackendId, IdError};
use crate::model::map::Map;
use crate::model::status::BackendStatus;
use crate::model::value::{FromValue, Number, Object, ToValue, Value, ValueError, record};

/// What a tab asks for with `client.connect(request)`.
///
/// Optional fields are omitted when absent; `null` is read as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// The backend's key. A key with a live backend reaches that backend; no
    /// key always starts a new backend under a fresh key.
    pub key: Option<String>,
    /// Whether, and how, to start a backend when the key has none.
    pub spawn: Option<Spawn>,
    /// Who is connecting; given to the backend with the session, never to
    /// other tabs.
    pub user: Option<String>,
    /// Credentials for the backend; given to it with the session, never to
    /// other tabs.
    pub auth: Option<Object>,
}

/// The seed's `spawn?: boolean | { … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spawn {
    /// `true`: start a backend with defaults; `false`: never start one.
    Enabled(bool),
    /// Start a backend configured so.
    Config(SpawnConfig),
}

impl ToValue for Spawn {
    fn to_value(&self) -> Value {
        match self {
            Spawn::Enabled(flag) => flag.to_value(),
            Spawn::Config(config) => config.to_value(),
        }
    }
}

impl FromValue for Spawn {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Bool(flag) => Ok(Spawn::Enabled(*flag)),
            Value::Object(_) => SpawnConfig::from_value(value).map(Spawn::Config),
            other => Err(ValueError::expected("`spawn` to be a boolean or a spawn configuration object", other)),
        }
    }
}

/// How to start a backend: the object form of the seed's `spawn`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpawnConfig {
    /// Which backend script runs. A different tag for a live key is an error.
    pub tag: Option<String>,
    /// The backend is swept this many seconds after it was scheduled.
    pub lifetime_limit_seconds: Option<u32>,
    /// The backend is swept after this many seconds with no session and no
    /// message.
    pub max_idle_seconds: Option<u32>,
    /// What the backend is given at start.
    pub executable: Option<Executable>,
}

/// What the backend is given at start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Executable {
    /// An OPFS directory for the key, handed to the backend.
    pub mount: Option<Mount>,
    /// Environment given to the backend at start.
    pub env: Option<Map<String, String>>,
    /// Limits on what the backend may use.
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

impl ToValue for Mount {
    fn to_value(&self) -> Value {
        match self {
            Mount::Enabled(flag) => flag.to_value(),
            Mount::Named(name) => name.to_value(),
        }
    }
}

impl FromValue for Mount {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Bool(flag) => Ok(Mount::Enabled(*flag)),
            Value::String(name) => Ok(Mount::Named(name.clone())),
            other => Err(ValueError::expected("`mount` to be a boolean or a directory name", other)),
        }
    }
}

/// The seed's `resource_limits`. Each is any JSON number, as the seed types
/// them: tabworker refuses every one (see [`crate::Registry`]), so none is
/// read as a quantity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceLimits {
    /// Scheduling period, in microseconds.
    pub cpu_period: Option<Number>,
    /// Proportion of the period the backend may use, in percent.
    pub cpu_period_percent: Option<Number>,
    /// Total CPU time allowed, in seconds.
    pub cpu_time_limit: Option<Number>,
    /// Memory the backend may use, in bytes.
    pub memory_limit_bytes: Option<Number>,
    /// Disk (OPFS) the backend may use, in bytes.
    pub disk_limit_bytes: Option<Number>,
}

/// What `client.connect(request)` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub secret_token: Option<String>,
    /// Where the backend's status stream is followed.
    pub status_url: String,
    /// Where the backend's readiness is awaited.
    pub ready_url: String,
}

record!(ConnectRequest { ; optional key, spawn, user, auth });
record!(SpawnConfig { ; optional tag, lifetime_limit_seconds, max_idle_seconds, executable });
record!(Executable { ; optional mount, env, resource_limits });
record!(ResourceLimits { ; optional cpu_period, cpu_period_percent, cpu_time_limit, memory_limit_bytes, disk_limit_bytes });
record!(ConnectResponse { backend_id, spawned, status, token, url, status_url, ready_url; optional secret_token });

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 256;

/// The most text one connect carries from tab to leader, in bytes: its
/// key, tag and mount name, and its env's names and values.
pub const MAX_CONNECT_TEXT: usize = 64 * 1024;

/// Why `key` is not a valid key, if it is not: empty, longer than
/// [`MAX_KEY_LEN`] bytes, or with control characters.
pub fn key_fault(key: &str) -> Option<String> {
    if key.is_empty() {
        Some("a key must not be empty".to_owned())
    } else if key.len() > MAX_KEY_LEN {
        Some(format!("a key is at most {MAX_KEY_LEN} bytes, this one is {}", key.len()))
    } else if key.chars().any(char::is_control) {
        Some("a key must not contain control characters".to_owned())
    } else {
        None
    }
}

impl ConnectRequest {
    /// The bytes of text the request carries to the leader: its key, tag
    /// and mount name, and its env's names and values (`user` and `auth`
    /// stay in the tab).
    pub fn text_len(&self) -> usize {
        let config = match &self.spawn {
            Some(Spawn::Config(config)) => Some(config),
            _ => None,
        };
        let executable = config.and_then(|c| c.executable.as_ref());
        let mount = match executable.and_then(|e| e.mount.as_ref()) {
            Some(Mount::Named(name)) => name.len(),
            _ => 0,
        };
        let env =
            executable.and_then(|e| e.env.as_ref()).map_or(0, |env| env.iter().map(|(k, v)| k.len() + v.len()).sum());
        self.key.as_ref().map_or(0, String::len)
            + config.and_then(|c| c.tag.as_ref()).map_or(0, String::len)
            + mount
            + env
    }
}

/// A key as one OPFS directory name: letters, digits, `-` and `_` as they
/// are, every other byte as `%XX` (so `/`, `.` and `..` cannot escape the
/// directory, and two keys never share a name).
pub fn opfs_name(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the app names a backend with: its bare id, or one of the urls of a
/// [`ConnectResponse`] — `tabworker://<app>/backends/<id>/sessions/<token>`
/// (`url`), `…/backends/<id>/status` (`status_url`), `…/backends/<id>/ready`
/// (`ready_url`), or `…/backends/<id>` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    /// The backend.
    pub backend_id: BackendId,
    /// The connect's token, for a session url.
    pub token: Option<String>,
}

/// The scheme of every url of a [`ConnectResponse`].
const SCHEME: &str = "tabworker://";

impl BackendUrl {
    /// Reads a backend id or a url of a [`ConnectResponse`]; anything else
    /// is a [`BackendUrlError`].
    pub fn parse(text: &str) -> Result<Self, BackendUrlError> {
        let refuse = |fault| BackendUrlError { text: text.to_owned(), fault };
        let Some(rest) = text.strip_prefix(SCHEME) else {
            let backend_id = BackendId::new(text).map_err(|e| refuse(UrlFault::BadId(e)))?;
            return Ok(BackendUrl { backend_id, token: None });
        };
        // The app's name may hold a `/`: the last `backends` segment counts.
        let parts: Vec<&str> = rest.split('/').collect();
        let at = parts.iter().rposition(|p| *p == "backends").ok_or_else(|| refuse(UrlFault::NoBackends))?;
        let id = parts.get(at + 1).ok_or_else(|| refuse(UrlFault::NoBackendId))?;
        let backend_id = BackendId::new(*id).map_err(|e| refuse(UrlFault::BadId(e)))?;
        let token = match parts.get(at + 2..).unwrap_or_default() {
            ["sessions", token] if !token.is_empty() => Some((*token).to_owned()),
            ["status" | "ready"] | [] => None,
            _ => return Err(refuse(UrlFault::NotAResponseUrl)),
        };
        Ok(BackendUrl { backend_id, token })
    }

    /// The url a session with `backend_id` is opened with, carrying a
    /// connect's `token` (a response's `url`).
    pub fn session(app: &str, backend_id: &BackendId, token: &str) -> String {
        format!("{SCHEME}{app}/backends/{backend_id}/sessions/{token}")
    }

    /// The url a backend's statuses are followed with (`status_url`).
    pub fn status(app: &str, backend_id: &BackendId) -> String {
        format!("{SCHEME}{app}/backends/{backend_id}/status")
    }

    /// The url a backend's readiness is awaited with (`ready_url`).
    pub fn ready(app: &str, backend_id: &BackendId) -> String {
        format!("{SCHEME}{app}/backends/{backend_id}/ready")
    }
}

/// A text that names no backend: neither a backend id nor a url of a
/// [`ConnectResponse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}`: {fault}")]
pub struct BackendUrlError {
    text: String,
    fault: UrlFault,
}

impl BackendUrlError {
    /// The code JavaScript sees: always [`ErrorCode::InvalidArgument`], a
    /// value the app gave.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }

    /// What is wrong with it.
    pub fn fault(&self) -> &UrlFault {
        &self.fault
    }
}

/// What is wrong with a text given as a backend or its url.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlFault {
    /// Not a url, and not a valid backend id either; or a url whose backend
    /// id is not valid.
    #[error(transparent)]
    BadId(IdError),
    /// A `tabworker://` url with no `backends` segment.
    #[error("no `/backends/<id>` in the url")]
    NoBackends,
    /// A url that ends at `backends`.
    #[error("no backend id")]
    NoBackendId,
    /// A url with something else after the backend id than `sessions/<token>`,
    /// `status` or `ready`.
    #[error("not a url of a ConnectResponse")]
    NotAResponseUrl,
}

#[cfg(test)]
mod url_tests {
    use super::*;

    fn parsed(text: &str) -> Result<(String, Option<String>), UrlFault> {
        BackendUrl::parse(text).map(|u| (u.backend_id.to_string(), u.token)).map_err(|e| e.fault().clone())
    }

    #[test]
    fn a_backend_is_named_by_its_id_or_by_each_url_of_a_response() {
        let id = BackendId::new("b-7").unwrap();
        assert_eq!(parsed("b-7"), Ok(("b-7".into(), None)));
        assert_eq!(parsed(&BackendUrl::status("app", &id)), Ok(("b-7".into(), None)));
        assert_eq!(parsed(&BackendUrl::ready("app", &id)), Ok(("b-7".into(), None)));
        assert_eq!(parsed(&BackendUrl::session("app", &id, "tok")), Ok(("b-7".into(), Some("tok".into()))));
        assert_eq!(parsed("tabworker://app/backends/b-7"), Ok(("b-7".into(), None)));
        // An app name with a `/` in it, or called `backends`: the last segment counts.
        assert_eq!(parsed("tabworker://my/backends/backends/b-7/status"), Ok(("b-7".into(), None)));
    }

    #[test]
    fn anything_else_is_refused_as_an_invalid_argument_naming_the_text() {
        for (text, fault) in [
            ("", UrlFault::BadId(IdError::Empty { kind: "backend id" })),
            ("tabworker://app/b-7/status", UrlFault::NoBackends),
            ("tabworker://app/backends", UrlFault::NoBackendId),
            ("tabworker://app/backends/", UrlFault::BadId(IdError::Empty { kind: "backend id" })),
            ("tabworker://app/backends/b-7/sessions", UrlFault::NotAResponseUrl),
            ("tabworker://app/backends/b-7/sessions/", UrlFault::NotAResponseUrl),
            ("tabworker://app/backends/b-7/sessions/t/more", UrlFault::NotAResponseUrl),
            ("tabworker://app/backends/b-7/statuses", UrlFault::NotAResponseUrl),
            ("tabworker://app/backends/b-7/status/", UrlFault::NotAResponseUrl),
        ] {
            let error = BackendUrl::parse(text).expect_err(text);
            assert_eq!((error.fault(), error.code()), (&fault, ErrorCode::InvalidArgument), "{text}");
            assert!(error.to_string().starts_with(&format!("`{text}`: ")), "{error}");
        }
        let long = "x".repeat(crate::model::ids::MAX_ID_LEN + 1);
        assert!(matches!(parsed(&long), Err(UrlFault::BadId(IdError::TooLong { .. }))));
        assert!(matches!(parsed("a\u{7}b"), Err(UrlFault::BadId(IdError::ControlCharacter { .. }))));
    }
}
