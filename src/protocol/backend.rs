//! Leader ↔ backend worker messages, and the handshake a tab makes on a
//! keyed backend's session port.

use super::coordinator::{PortRequest, unknown_type};
use super::frame::WireMessage;
use super::limits;
use crate::model::code::ErrorCode;
use crate::model::ids::{BackendId, ClientId, SessionId};
use crate::model::map::Map;
use crate::model::value::{Fields, FromValue, Object, Record, ToValue, Value, ValueError, record};

/// What a keyed backend is given at `init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInit {
    /// The backend.
    pub backend_id: BackendId,
    /// The key it holds.
    pub key: String,
    /// `executable.env` of the connect that started it.
    pub env: Map<String, String>,
    /// The name of the OPFS directory of its key it is given, if any.
    pub mount: Option<String>,
    /// The capabilities handed out so far (see [`LeaderToBackend::Admit`]).
    pub admitted: Vec<Admission>,
}

/// The capabilities of one connect: a session presents `token`; the backend
/// can check a `secret_token` it is shown. They last as long as the tab
/// that made the connect (`client_id`) and are among its latest
/// [`MAX_ADMITTED_PER_TAB`] connects to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The connect's token.
    pub token: String,
    /// The connect's secret token.
    pub secret_token: String,
    /// The tab that made the connect.
    pub client_id: ClientId,
}

/// The most connects of one tab whose capabilities a backend keeps: past
/// it, the oldest one's token opens no session (`bad-token`) and its secret
/// is no longer one.
pub const MAX_ADMITTED_PER_TAB: usize = 64;

impl BackendInit {
    /// Adds the capabilities of a connect made before the backend started,
    /// dropping the oldest of its tab's past [`MAX_ADMITTED_PER_TAB`].
    pub fn admit(&mut self, admission: Admission) {
        let of_tab = |a: &&Admission| a.client_id == admission.client_id;
        if self.admitted.iter().filter(of_tab).count() >= MAX_ADMITTED_PER_TAB {
            if let Some(oldest) = self.admitted.iter().position(|a| a.client_id == admission.client_id) {
                self.admitted.remove(oldest);
            }
        }
        self.admitted.push(admission);
    }
}

/// What the leader tab sends to a backend worker it spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderToBackend {
    /// Sent once the worker said `listening`: start the backend.
    Init {
        /// The leader tab's client (the seed's `init (Client1_ID)`).
        leader_id: ClientId,
        /// The app's name, which the worker's lock names are made from.
        app: String,
        /// For a keyed backend, what it is given; absent for the default
        /// backend.
        backend: Option<BackendInit>,
    },
    /// Open a session for one connect attempt of a client.
    StartSession(PortRequest),
    /// A connect reached this backend: accept sessions that present its
    /// token.
    Admit(Admission),
    /// Stop (a soft termination): the worker is terminated once it says
    /// `stopped`, or when the grace period ends.
    Stop,
}

impl WireMessage for LeaderToBackend {
    fn kind(&self) -> &'static str {
        match self {
            LeaderToBackend::Init { .. } => "init",
            LeaderToBackend::StartSession(_) => "start-session",
            LeaderToBackend::Admit(_) => "admit",
            LeaderToBackend::Stop => "stop",
        }
    }

    fn check(&self) -> Result<(), ValueError> {
        match self {
            LeaderToBackend::Init { backend: Some(init), .. } => limits::key(&init.key),
            _ => Ok(()),
        }
    }
}

/// What a backend worker sends to the leader tab that spawned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendToLeader {
    /// The worker's script has loaded and it will not miss `init`.
    Listening,
    /// The backend's start code returned; it is not ready until it says
    /// `ready`.
    Started,
    /// The backend is ready; it holds the Web Lock `liveness_key` for as
    /// long as it lives.
    Ready {
        /// The name of the worker's liveness lock.
        liveness_key: String,
    },
    /// The backend's start code threw: the worker is finished.
    Failed {
        /// What it threw.
        detail: String,
    },
    /// The backend finished stopping after `stop`.
    Stopped,
    /// A session is open; its port travels with this message.
    Session(PortRequest),
    /// A session closed (its tab released the session, or went away).
    SessionClosed {
        /// The session's connect attempt.
        session_id: SessionId,
    },
}

impl WireMessage for BackendToLeader {
    fn kind(&self) -> &'static str {
        match self {
            BackendToLeader::Listening => "listening",
            BackendToLeader::Started => "started",
            BackendToLeader::Ready { .. } => "ready",
            BackendToLeader::Failed { .. } => "failed",
            BackendToLeader::Stopped => "stopped",
            BackendToLeader::Session(_) => "session",
            BackendToLeader::SessionClosed { .. } => "session-closed",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, BackendToLeader::Session(_)))
    }

    fn check(&self) -> Result<(), ValueError> {
        match self {
            BackendToLeader::Ready { liveness_key } => limits::liveness_key(liveness_key),
            _ => Ok(()),
        }
    }
}

/// What a tab sends on the port of a session with a keyed backend. Its
/// first and only frame there is `open`: from then on the port is the app's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabToBackend {
    /// Opens the session; the app's end of a new channel travels with it.
    /// `user` and `auth` go from the connecting tab straight to the
    /// backend, through no other tab and not through the coordinator.
    Open {
        /// The token of the connect the session is opened with.
        token: String,
        /// The connect's `user`.
        user: Option<String>,
        /// The connect's `auth`.
        auth: Option<Object>,
    },
}

impl WireMessage for TabToBackend {
    fn kind(&self) -> &'static str {
        "open"
    }

    fn ports(&self) -> usize {
        1
    }
}

/// The backend's answer to `open`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendToTab {
    /// The session is open: the app's handler has its end.
    Opened,
    /// The session was refused.
    Refused {
        /// Why, e.g. [`ErrorCode::BadToken`].
        code: ErrorCode,
        /// What was wrong.
        detail: String,
    },
}

impl WireMessage for BackendToTab {
    fn kind(&self) -> &'static str {
        match self {
            BackendToTab::Opened => "opened",
            BackendToTab::Refused { .. } => "refused",
        }
    }
}

record!(BackendInit { backend_id, key; optional mount; defaulted env, admitted });
record!(Admission { token, secret_token, client_id });

impl ToValue for LeaderToBackend {
    fn to_value(&self) -> Value {
        let record = Record::tagged("type", self.kind());
        match self {
            LeaderToBackend::Init { leader_id, app, backend } => {
                record.put("leader_id", leader_id).put("app", app).put_opt("backend", backend)
            }
            LeaderToBackend::StartSession(request) => record.merge(request.to_value()),
            LeaderToBackend::Admit(admission) => record.merge(admission.to_value()),
            LeaderToBackend::Stop => record,
        }
        .done()
    }
}

impl FromValue for LeaderToBackend {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        Ok(match fields.tag("type")? {
            "init" => LeaderToBackend::Init {
                leader_id: fields.req("leader_id")?,
                app: fields.req("app")?,
                backend: fields.opt("backend")?,
            },
            "start-session" => LeaderToBackend::StartSession(FromValue::from_value(value)?),
            "admit" => LeaderToBackend::Admit(FromValue::from_value(value)?),
            "stop" => LeaderToBackend::Stop,
            other => return Err(unknown_type(other)),
        })
    }
}

impl ToValue for BackendToLeader {
    fn to_value(&self) -> Value {
        let record = Record::tagged("type", self.kind());
        match self {
            BackendToLeader::Listening | BackendToLeader::Started | BackendToLeader::Stopped => record,
            BackendToLeader::Ready { liveness_key } => record.put("liveness_key", liveness_key),
            BackendToLeader::Failed { detail } => record.put("detail", detail),
            BackendToLeader::Session(request) => record.merge(request.to_value()),
            BackendToLeader::SessionClosed { session_id } => record.put("session_id", session_id),
        }
        .done()
    }
}

impl FromValue for BackendToLeader {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        Ok(match fields.tag("type")? {
            "listening" => BackendToLeader::Listening,
            "started" => BackendToLeader::Started,
            "ready" => BackendToLeader::Ready { liveness_key: fields.req("liveness_key")? },
            "failed" => BackendToLeader::Failed { detail: fields.req("detail")? },
            "stopped" => BackendToLeader::Stopped,
            "session" => BackendToLeader::Session(FromValue::from_value(value)?),
            "session-closed" => BackendToLeader::SessionClosed { session_id: fields.req("session_id")? },
            other => return Err(unknown_type(other)),
        })
    }
}

impl ToValue for TabToBackend {
    fn to_value(&self) -> Value {
        let TabToBackend::Open { token, user, auth } = self;
        Record::tagged("type", self.kind()).put("token", token).put_opt("user", user).put_opt("auth", auth).done()
    }
}

impl FromValue for TabToBackend {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        match fields.tag("type")? {
            "open" => Ok(TabToBackend::Open {
                token: fields.req("token")?,
                user: fields.opt("user")?,
                auth: fields.opt("auth")?,
            }),
            other => Err(unknown_type(other)),
        }
    }
}

impl ToValue for BackendToTab {
    fn to_value(&self) -> Value {
        let record = Record::tagged("type", self.kind());
        match self {
            BackendToTab::Opened => record,
            BackendToTab::Refused { code, detail } => record.put("code", code).put("detail", detail),
        }
        .done()
    }
}

impl FromValue for BackendToTab {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        match fields.tag("type")? {
            "opened" => Ok(BackendToTab::Opened),
            "refused" => Ok(BackendToTab::Refused { code: fields.req("code")?, detail: fields.req("detail")? }),
            other => Err(unknown_type(other)),
        }
    }
}

#[cfg(test)]
pub(crate) mod examples {
    use super::*;
    use crate::protocol::coordinator::examples::{leadership, request};

    fn admission() -> Admission {
        Admission { token: "t".into(), secret_token: "s".into(), client_id: request().client_id }
    }

    pub(crate) fn to_backend() -> Vec<LeaderToBackend> {
        let backend = BackendInit {
            backend_id: BackendId::new("b1").unwrap(),
            key: "room".into(),
            env: Map::from([("MODE".into(), "test".into())]),
            mount: Some("data".into()),
            admitted: vec![admission()],
        };
        vec![
            LeaderToBackend::Init { leader_id: leadership().leader_id, app: "app".into(), backend: None },
            LeaderToBackend::Init { leader_id: leadership().leader_id, app: "app".into(), backend: Some(backend) },
            LeaderToBackend::StartSession(request()),
            LeaderToBackend::Admit(admission()),
            LeaderToBackend::Stop,
        ]
    }

    pub(crate) fn to_leader() -> Vec<BackendToLeader> {
        vec![
            BackendToLeader::Listening,
            BackendToLeader::Started,
            BackendToLeader::Ready { liveness_key: leadership().liveness_key },
            BackendToLeader::Failed { detail: "boom".into() },
            BackendToLeader::Stopped,
            BackendToLeader::Session(request()),
            BackendToLeader::SessionClosed { session_id: request().session_id },
        ]
    }

    pub(crate) fn to_backend_on_a_session() -> Vec<TabToBackend> {
        let auth = Value::from(serde_json::json!({"role": "admin"})).as_object().cloned();
        vec![
            TabToBackend::Open { token: "t".into(), user: Some("ada".into()), auth },
            TabToBackend::Open { token: "t".into(), user: None, auth: None },
        ]
    }

    pub(crate) fn to_tab_on_a_session() -> Vec<BackendToTab> {
        vec![BackendToTab::Opened, BackendToTab::Refused { code: ErrorCode::BadToken, detail: "no".into() }]
    }
}
