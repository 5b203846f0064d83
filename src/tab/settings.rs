//! A client's settings, as the app gives them beside its worker sources:
//! which are known, their defaults, and what is refused.

use crate::model::ids::{AppName, ClientId, IdError, RESERVED_IN_BUILD};
use crate::model::value::{Fields, FromValue, Value, ValueError};

/// Every option a client takes (the worker sources are read apart, by the
/// browser layer); any other is refused, so that a misspelt option is an
/// error rather than silently a default.
pub const CLIENT_OPTIONS: &[&str] = &[
    "coordinator",
    "backend",
    "backends",
    "name",
    "build",
    "connectTimeoutMs",
    "startupTimeoutMs",
    "terminationGraceMs",
];

/// A client's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The app's name (`name`): tabs of one name share a leader.
    pub name: String,
    /// The app's own build id (`build`), if it gives one: tabs of two builds
    /// run apart (see [`ClientSettings::app`]).
    pub build: Option<String>,
    /// How long a call waits for its answer (`connectTimeoutMs`).
    pub connect_timeout_ms: u32,
    /// How long a backend may take to be ready (`startupTimeoutMs`).
    pub startup_timeout_ms: u32,
    /// How long a soft termination waits (`terminationGraceMs`).
    pub termination_grace_ms: u32,
}

impl FromValue for ClientSettings {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        fields.only(CLIENT_OPTIONS)?;
        let ms = |name: &str, default: u64| Ok::<_, ValueError>(fields.opt(name)?.unwrap_or(default as u32));
        Ok(ClientSettings {
            name: fields.opt("name")?.unwrap_or_else(|| "default".into()),
            build: fields.opt("build")?,
            connect_timeout_ms: ms("connectTimeoutMs", super::calls::DEFAULT_CALL_TIMEOUT_MS)?,
            startup_timeout_ms: ms("startupTimeoutMs", crate::fleet::DEFAULT_STARTUP_TIMEOUT_MS)?,
            termination_grace_ms: ms("terminationGraceMs", crate::fleet::DEFAULT_GRACE_MS)?,
        })
    }
}

impl ClientSettings {
    /// The name the client's deployment is known by: the app's name and the
    /// fingerprint of this build of tabworker, its protocol and the app's
    /// `build` (see [`AppName::deployed`]).
    /// The name and the build are checked here, at `new Client`, with one
    /// rule for both modes: the build may hold no control character and none
    /// of [`RESERVED_IN_BUILD`]; for the name, see [`AppName::deployed`].
    pub fn app(&self) -> Result<AppName, IdError> {
        if let Some(build) = &self.build {
            const KIND: &str = "build";
            if build.chars().any(char::is_control) {
                return Err(IdError::ControlCharacter { kind: KIND });
            }
            if let Some(character) = build.chars().find(|c| RESERVED_IN_BUILD.contains(c)) {
                return Err(IdError::Reserved { kind: KIND, character });
            }
        }
        AppName::deployed(&self.name, &crate::protocol::fingerprint(self.build.as_deref()))
    }
}

/// How a client runs with the other tabs of its deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The tabs share one coordinator (a SharedWorker), one leader and its
    /// backends.
    Shared,
    /// No SharedWorker (e.g. Chrome on Android before 148): each tab runs
    /// the deployment alone, with its own coordinator (a dedicated worker),
    /// leads itself and hosts its own backends. A key still has one live
    /// backend across the tabs: a tab's backend of a key another tab's runs
    /// waits in `starting` until that one ends (the key's Web Lock).
    Isolated,
}

impl Mode {
    /// The mode of a browser that has SharedWorker, or not.
    pub fn of(shared_worker: bool) -> Mode {
        if shared_worker { Mode::Shared } else { Mode::Isolated }
    }

    /// The mode as JavaScript sees it (`client.mode`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shared => "shared",
            Mode::Isolated => "isolated",
        }
    }

    /// The name client `client` runs `deployment` by in this mode.
    pub fn app(self, deployment: &AppName, client: &ClientId) -> Result<AppName, IdError> {
        match self {
            Mode::Shared => Ok(deployment.clone()),
            Mode::Isolated => deployment.isolated(client),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{MAX_CLIENT_ID_LEN, MAX_DEPLOYMENT_LEN};
    use crate::model::value::from_json;

    #[test]
    fn absent_settings_take_their_defaults_and_unknown_ones_are_refused() {
        let defaults: ClientSettings = from_json(serde_json::json!({"coordinator": "c.js"})).unwrap();
        assert_eq!(defaults.name, "default");
        assert_eq!(u64::from(defaults.connect_timeout_ms), super::super::calls::DEFAULT_CALL_TIMEOUT_MS);
        let set: ClientSettings = from_json(serde_json::json!({"name": "app", "terminationGraceMs": 5})).unwrap();
        assert_eq!((set.name.as_str(), set.termination_grace_ms), ("app", 5));
        let error = from_json::<ClientSettings>(serde_json::json!({"conectTimeoutMs": 5})).unwrap_err();
        assert!(error.to_string().contains("unknown field `conectTimeoutMs`"), "{error}");
        assert!(from_json::<ClientSettings>(serde_json::json!({"connectTimeoutMs": -1})).is_err());
    }

    fn app_of(name: &str, build: Option<&str>) -> Result<AppName, IdError> {
        from_json::<ClientSettings>(serde_json::json!({"name": name, "build": build})).unwrap().app()
    }

    #[test]
    fn names_and_builds_that_would_break_isolation_or_storage_are_refused_with_one_length_rule() {
        // `~` is the isolation separator: `notes~a` would share `notes`' data and mount locks, and a
        // build holding it would read as a tab running alone.
        for (name, character) in [("notes~a", '~'), ("a/b", '/'), ("a\\b", '\\'), ("a:leader", ':'), ("a@b", '@')] {
            assert_eq!(app_of(name, None), Err(IdError::Reserved { kind: "app name", character }), "{name}");
        }
        for name in [".", ".."] {
            assert_eq!(app_of(name, None), Err(IdError::DotName { kind: "app name" }));
        }
        assert_eq!(app_of("a\u{1}", None), Err(IdError::ControlCharacter { kind: "app name" }));
        assert_eq!(app_of("", None), Err(IdError::Empty { kind: "app name" }));
        assert_eq!(app_of("notes", Some("v~2")), Err(IdError::Reserved { kind: "build", character: '~' }));
        assert_eq!(app_of("notes", Some("v:2")), Err(IdError::Reserved { kind: "build", character: ':' }));
        assert_eq!(app_of("notes", Some("v\n")), Err(IdError::ControlCharacter { kind: "build" }));
        assert!(app_of("a..b", Some("v@2/x")).is_ok(), "only the names `.` and `..` are paths");
        let message = app_of("notes~a", None).unwrap_err().to_string();
        assert!(message.contains("may not contain `~`"), "{message}");

        // One length rule: what fits in shared mode fits isolated, with the longest client id.
        // `@` and the fingerprint follow the name.
        let base = 1 + crate::protocol::fingerprint(None).len();
        let longest = "n".repeat(MAX_DEPLOYMENT_LEN - base);
        let fits = app_of(&longest, None).unwrap();
        let client = ClientId::new("c".repeat(MAX_CLIENT_ID_LEN)).unwrap();
        assert!(Mode::Isolated.app(&fits, &client).is_ok(), "isolated too");
        let over = app_of(&format!("{longest}n"), None).unwrap_err();
        assert_eq!(over, IdError::DeploymentTooLong { len: MAX_DEPLOYMENT_LEN + 1 });
        let split = app_of(&longest[..10], Some(&"b".repeat(MAX_DEPLOYMENT_LEN - base - 10)));
        assert!(split.is_err(), "the build counts too (its `+`)");
    }

    #[test]
    fn the_deployment_is_the_name_and_the_build() {
        let plain: ClientSettings = from_json(serde_json::json!({"name": "notes"})).unwrap();
        assert_eq!(plain.app().unwrap().as_str(), "notes@tabworker/0.1.0/p1");
        let built: ClientSettings = from_json(serde_json::json!({"name": "notes", "build": "v7"})).unwrap();
        assert_eq!(built.app().unwrap().as_str(), "notes@tabworker/0.1.0/p1+v7");
        assert_eq!(built.app().unwrap().shared(), "notes");
        let at: ClientSettings = from_json(serde_json::json!({"name": "a@b"})).unwrap();
        assert!(at.app().is_err(), "a name may not hold the separator");
        let client = ClientId::new("c1").unwrap();
        assert_eq!(Mode::of(true).app(&built.app().unwrap(), &client).unwrap(), built.app().unwrap());
        let alone = Mode::of(false).app(&built.app().unwrap(), &client).unwrap();
        assert_eq!(alone.as_str(), "notes@tabworker/0.1.0/p1+v7~c1");
        assert_eq!((Mode::Shared.as_str(), Mode::Isolated.as_str()), ("shared", "isolated"));
    }
}
