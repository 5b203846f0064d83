//! Newtype identifiers, so that a client id can never be passed where a
//! backend id is expected. All of them cross browser contexts, so each one
//! validates what it is given and refuses malformed values with an [`IdError`].

use std::fmt;

use crate::model::value::{FromValue, ToValue, Value, ValueError};

/// The longest identifier accepted from another context, in bytes.
pub const MAX_ID_LEN: usize = 128;

pub use crate::model::value::MAX_SAFE_INTEGER;

/// Why a value was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier was the empty string.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which identifier.
        kind: &'static str,
    },
    /// The identifier was longer than [`MAX_ID_LEN`] bytes.
    #[error("{kind} is {len} bytes long; at most {MAX_ID_LEN} are allowed")]
    TooLong {
        /// Which identifier.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The identifier contained a control character.
    #[error("{kind} contains a control character")]
    ControlCharacter {
        /// Which identifier.
        kind: &'static str,
    },
    /// An app's name or build holding a character tabworker gives a meaning
    /// in the names it makes (see [`RESERVED_IN_NAME`], [`RESERVED_IN_BUILD`]).
    #[error(
        "{kind} may not contain `{character}`: `@` separates the name from its build, `~` a tab running alone, `:` the parts of a lock's name, and `/` and `\\` the directories of its OPFS data"
    )]
    Reserved {
        /// Which identifier.
        kind: &'static str,
        /// The character.
        character: char,
    },
    /// An app name that is `.` or `..`, which cannot name its OPFS directory.
    #[error("{kind} may not be `.` or `..`: it names the app's OPFS directory")]
    DotName {
        /// Which identifier.
        kind: &'static str,
    },
    /// An app's name and build too long to leave room for a tab's own name
    /// where it runs alone (see [`MAX_DEPLOYMENT_LEN`]).
    #[error(
        "the app's name and build make a deployment name of {len} bytes; at most {MAX_DEPLOYMENT_LEN} are allowed, so that it works in both modes"
    )]
    DeploymentTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// An epoch beyond what a JavaScript number holds exactly.
    #[error("epoch {0} is above Number.MAX_SAFE_INTEGER")]
    EpochTooLarge(u64),
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl ToValue for $name {
            fn to_value(&self) -> Value {
                Value::String(self.0.clone())
            }
        }

        impl FromValue for $name {
            fn from_value(value: &Value) -> Result<Self, ValueError> {
                read_id(value, $kind).map(Self)
            }
        }

        impl $name {
            /// Checks `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate(&value, $kind)?;
                Ok(Self(value))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// One tab's client: one `Client` object in one page.
    ClientId,
    "client id"
);
string_id!(
    /// One backend: one dedicated worker running the app's code for one key.
    /// A key that is started again gets a new `BackendId`.
    BackendId,
    "backend id"
);
string_id!(
    /// One connect attempt of a client. Sessions are keyed by attempt, not by
    /// client, so a client that reconnects always gets a fresh session.
    SessionId,
    "session id"
);
string_id!(
    /// One running coordinator (one SharedWorker instance).
    CoordinatorId,
    "coordinator id"
);
string_id!(
    /// An app's name: tabs of one name share a coordinator, a leader and
    /// their backends; two names on one origin never meet.
    AppName,
    "app name"
);

/// The identifier `value` holds, checked.
fn read_id(value: &Value, kind: &'static str) -> Result<String, ValueError> {
    let text = value.text("a string")?;
    validate(text, kind).map_err(|e| ValueError::new(e.to_string()))?;
    Ok(text.to_owned())
}

/// Between an app's name and its deployment's fingerprint, in the name every
/// context of one deployment shares.
pub const BUILD_SEPARATOR: char = '@';

/// Between a deployment's name and the client that runs it alone, in a
/// browser without SharedWorker ([`AppName::isolated`]).
pub const ISOLATION_SEPARATOR: char = '~';

/// What an app's name may not hold: the separators of the names tabworker
/// makes from it (`@` before the build, `~` before an isolated tab, the `:` of
/// lock names) and of paths (it names the app's OPFS directory).
pub const RESERVED_IN_NAME: [char; 5] = [BUILD_SEPARATOR, ISOLATION_SEPARATOR, ':', '/', '\\'];

/// What an app's build id may not hold: it follows the name's `@`, so only
/// the `~` before an isolated tab and the `:` of lock names.
pub const RESERVED_IN_BUILD: [char; 2] = [ISOLATION_SEPARATOR, ':'];

/// The longest client id a tab makes: a UUID in its 36-character form.
pub const MAX_CLIENT_ID_LEN: usize = 36;

/// The longest deployment name (`name@fingerprint`): one that leaves room for
/// `~` and a client id within [`MAX_ID_LEN`], so that the same name and build
/// work in a browser with SharedWorker and in one without.
pub const MAX_DEPLOYMENT_LEN: usize = MAX_ID_LEN - 1 - MAX_CLIENT_ID_LEN;

impl AppName {
    /// The app `name` as deployment `fingerprint` runs it (`name@fingerprint`):
    /// the name its coordinator, its locks and its backends are known by, so
    /// that two builds of one app open at once run apart, each with its own
    /// coordinator, leader and backends. What they must share (the OPFS data
    /// of a key, and the lock that keeps two backends from opening it at
    /// once) goes by [`AppName::shared`]. `name` may hold none of
    /// [`RESERVED_IN_NAME`] nor be `.` or `..`; the whole is at most
    /// [`MAX_DEPLOYMENT_LEN`] bytes.
    pub fn deployed(name: &str, fingerprint: &str) -> Result<AppName, IdError> {
        const KIND: &str = "app name";
        validate(name, KIND)?;
        if let Some(character) = name.chars().find(|c| RESERVED_IN_NAME.contains(c)) {
            return Err(IdError::Reserved { kind: KIND, character });
        }
        if name == "." || name == ".." {
            return Err(IdError::DotName { kind: KIND });
        }
        let deployment = format!("{name}{BUILD_SEPARATOR}{fingerprint}");
        if deployment.len() > MAX_DEPLOYMENT_LEN {
            return Err(IdError::DeploymentTooLong { len: deployment.len() });
        }
        AppName::new(deployment)
    }

    /// The name every deployment of the app shares: the part before `@`.
    pub fn shared(&self) -> &str {
        self.deployment().split(BUILD_SEPARATOR).next().unwrap_or_default()
    }

    /// The deployment's fingerprint: the part after `@`, if any.
    pub fn fingerprint(&self) -> Option<&str> {
        self.deployment().split_once(BUILD_SEPARATOR).map(|(_, build)| build)
    }

    /// The deployment as `client` runs it alone, in a browser without
    /// SharedWorker: its own coordinator, leader lock and backends, under
    /// `<deployment>~<client>`. What must stay one per key across the tabs
    /// (a key's lock, its mount) is named by [`AppName::deployment`] and
    /// [`AppName::shared`], which it keeps.
    pub fn isolated(&self, client: &ClientId) -> Result<AppName, IdError> {
        AppName::new(format!("{}{ISOLATION_SEPARATOR}{client}", self.deployment()))
    }

    /// Whether one client runs this deployment alone ([`AppName::isolated`]).
    pub fn is_isolated(&self) -> bool {
        self.0.contains(ISOLATION_SEPARATOR)
    }

    /// The deployment every tab of it shares: the name without the isolated
    /// client, if any.
    pub fn deployment(&self) -> &str {
        self.0.split(ISOLATION_SEPARATOR).next().unwrap_or_default()
    }
}

fn validate(value: &str, kind: &'static str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, len: value.len() });
    }
    if value.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter { kind });
    }
    Ok(())
}

/// A leadership term. Each new leader takes a higher epoch than every leader
/// before it, and messages stamped with an older epoch are ignored.
///
/// Epochs travel as JavaScript numbers, so they are capped at
/// [`MAX_SAFE_INTEGER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(u64);

impl ToValue for Epoch {
    fn to_value(&self) -> Value {
        self.0.to_value()
    }
}

impl FromValue for Epoch {
    /// A whole number up to [`MAX_SAFE_INTEGER`], as `u64` reads it.
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        u64::from_value(value).map(Epoch)
    }
}

impl Epoch {
    /// The epoch before any leader.
    pub const ZERO: Epoch = Epoch(0);

    /// Checks `value` and wraps it.
    pub fn new(value: u64) -> Result<Self, IdError> {
        if value > MAX_SAFE_INTEGER {
            return Err(IdError::EpochTooLarge(value));
        }
        Ok(Self(value))
    }

    /// The epoch as a number.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The epoch after this one, or `None` at the top of the range.
    pub fn next(self) -> Option<Epoch> {
        Epoch::new(self.0 + 1).ok()
    }
}

impl TryFrom<u64> for Epoch {
    type Error = IdError;
    fn try_from(value: u64) -> Result<Self, IdError> {
        Epoch::new(value)
    }
}

impl From<Epoch> for u64 {
    fn from(epoch: Epoch) -> u64 {
        epoch.0
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One connection (one `MessagePort`) to the coordinator, numbered by the
/// browser layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployed_app_name_keeps_its_shared_name_and_its_fingerprint_apart() {
        let app = AppName::deployed("notes", "tabworker/0.1.0/p1+v@2").unwrap();
        assert_eq!(app.as_str(), "notes@tabworker/0.1.0/p1+v@2");
        assert_eq!(app.shared(), "notes");
        assert_eq!(app.fingerprint(), Some("tabworker/0.1.0/p1+v@2"));
        assert_eq!(AppName::deployed("no@tes", "b"), Err(IdError::Reserved { kind: "app name", character: '@' }));
        let plain = AppName::new("notes").unwrap();
        assert_eq!((plain.shared(), plain.fingerprint()), ("notes", None));
    }

    #[test]
    fn ids_refuse_empty_long_and_control_characters() {
        assert_eq!(ClientId::new(""), Err(IdError::Empty { kind: "client id" }));
        assert!(matches!(BackendId::new("x".repeat(MAX_ID_LEN + 1)), Err(IdError::TooLong { .. })));
        assert!(BackendId::new("x".repeat(MAX_ID_LEN)).is_ok());
        assert!(matches!(SessionId::new("a\nb"), Err(IdError::ControlCharacter { .. })));
        assert_eq!(ClientId::new("tab-1").unwrap().as_str(), "tab-1");
    }

    #[test]
    fn ids_validate_when_deserialized() {
        use crate::model::value::{from_json_text, to_json};
        assert!(from_json_text::<ClientId>(r#""""#).is_err());
        assert_eq!(from_json_text::<ClientId>(r#""c1""#).unwrap().as_str(), "c1");
        assert_eq!(to_json(&ClientId::new("c1").unwrap()).to_string(), r#""c1""#);
    }

    #[test]
    fn epochs_rise_and_stay_within_safe_integers() {
        assert!(Epoch::ZERO < Epoch::ZERO.next().unwrap());
        assert_eq!(Epoch::new(MAX_SAFE_INTEGER).unwrap().next(), None);
        use crate::model::value::from_json_text;
        assert!(from_json_text::<Epoch>("9007199254740992").is_err());
        assert!(from_json_text::<Epoch>("-1").is_err());
        assert_eq!(from_json_text::<Epoch>("7").unwrap().get(), 7);
    }
}
