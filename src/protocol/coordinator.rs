//! Tab ↔ coordinator messages.

use super::frame::WireMessage;
use super::limits;
use crate::model::code::ErrorCode;
use crate::model::connect::{ConnectRequest, ConnectResponse};
use crate::model::ids::{BackendId, ClientId, CoordinatorId, Epoch, SessionId};
use crate::model::status::BackendState;
use crate::model::time::Timestamp;
use crate::model::value::{Fields, FromValue, Record, ToValue, Value, ValueError, record};

/// Who leads, in which term, and how to learn of its backend's death.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    /// The leader tab's client.
    pub leader_id: ClientId,
    /// Its term, given by the coordinator; higher than every leader's before it.
    pub epoch: Epoch,
    /// The Web Lock its backend worker holds for as long as it lives.
    pub liveness_key: String,
    /// The backend id of its default backend (the one `initialize()`
    /// connects), which every tab can watch like any other backend.
    pub backend_id: Option<BackendId>,
}

/// A leader's claim: its backend worker is ready and it leads from now on.
/// The coordinator answers with the [`Leadership`], giving it the next epoch.
/// The same claim (without `epoch`) again from the current leader's
/// connection — a claim sent again because no answer came — is answered
/// with the leadership already given, to the claimant alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderClaim {
    /// The claiming tab's client.
    pub leader_id: ClientId,
    /// The Web Lock its backend worker holds for as long as it lives.
    pub liveness_key: String,
    /// The term the claimant already leads in, when it claims again from a
    /// new coordinator (the old one died); kept if no tab knows a newer one.
    pub epoch: Option<Epoch>,
    /// The backend id of its default backend.
    pub backend_id: Option<BackendId>,
    /// Every backend the claimant hosts now (its default backend among
    /// them): the coordinator expects their states from it, and ends as
    /// `lost` every backend a tab watches that it does not know and that is
    /// not among them, as no leader continues its term. At most
    /// [`MAX_HOSTED`] (a claim with more is refused as malformed).
    pub hosted: Vec<BackendId>,
}

/// The most backends a leader hosts at once, and names in its claim: a
/// connect that would start one more is refused with `too-many-backends`.
pub const MAX_HOSTED: usize = 512;

/// A client asks for a session: one connect attempt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRequest {
    /// The requesting client.
    pub client_id: ClientId,
    /// The connect attempt the session is for.
    pub session_id: SessionId,
    /// The keyed backend the session is with; absent: the leader's default
    /// backend.
    pub backend_id: Option<BackendId>,
}

/// A session's port, on its way from the leader to the client that asked;
/// one `MessagePort` travels with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortGrant {
    /// The client the port is for.
    pub client_id: ClientId,
    /// The connect attempt the port is for.
    pub session_id: SessionId,
    /// The term of the leader that made the session.
    pub epoch: Epoch,
    /// The keyed backend the session is with; absent: the default backend.
    pub backend_id: Option<BackendId>,
}

/// A session that cannot be opened, said to the client that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRefusal {
    /// The client that asked.
    pub client_id: ClientId,
    /// Its connect attempt.
    pub session_id: SessionId,
    /// Why not, e.g. [`ErrorCode::UnknownBackend`].
    pub code: ErrorCode,
    /// What was wrong.
    pub detail: String,
}

/// A `client.connect(request)` on its way from the asking tab to the leader.
/// The request's `user` and `auth` are not in it: they stay in the asking
/// tab, which hands them to the backend itself when it opens a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectCall {
    /// The asking client.
    pub client_id: ClientId,
    /// Numbers the asking client's connects; the answer names it.
    pub request_id: u64,
    /// The request, without `user` and `auth`.
    pub request: ConnectRequest,
}

/// The leader's answer to a [`ConnectCall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectAnswer {
    /// The client that asked.
    pub client_id: ClientId,
    /// The connect answered.
    pub request_id: u64,
    /// What it reached, or why it was refused.
    pub outcome: ConnectOutcome,
}

/// What a connect reached, or why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// The backend reached.
    Response(ConnectResponse),
    /// Refused.
    Refused {
        /// Why, e.g. [`ErrorCode::KeyNotHeld`].
        code: ErrorCode,
        /// What was wrong.
        detail: String,
    },
}

/// A backend moved on: the leader hosting it tells the coordinator, which
/// keeps every backend's history and passes it to the tabs that watch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The term of the leader hosting the backend.
    pub epoch: Epoch,
    /// The backend.
    pub backend_id: BackendId,
    /// Its key.
    pub key: String,
    /// Its new state.
    pub state: BackendState,
}

/// A tab asks for a backend to be stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminateCall {
    /// The asking client.
    pub client_id: ClientId,
    /// The backend.
    pub backend_id: BackendId,
    /// `true`: `worker.terminate()` at once; `false`: ask the backend to
    /// stop and give it a grace period first.
    pub hard: bool,
}

/// What a tab sends to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabToCoordinator {
    /// The first message on a new connection (the seed's "Connect"). The tab
    /// holds its tab lock ([`crate::LockNames::tab`]) before sending it, and
    /// says it again to a new coordinator when the old one died.
    Hello {
        /// The tab's client.
        client_id: ClientId,
        /// The sender's build fingerprint ([`BUILD`](super::BUILD)).
        build: String,
        /// The newest epoch the tab knows of: a coordinator that started
        /// after another one died gives no epoch at or below it again.
        epoch: Option<Epoch>,
        /// A secret of the tab's own, the same in every `hello` it says and
        /// sent nowhere else: a `hello` for a client already connected moves
        /// it to the new connection only with the same proof (the tab said
        /// it again, believing its coordinator dead); without it, it is
        /// refused (`client-id-taken`), and the connected tab keeps its place.
        proof: String,
    },
    /// The sender's backend worker is ready and the sender leads from now on.
    NewLeader(LeaderClaim),
    /// The sender wants a session with the leader's backend.
    RequestPort(PortRequest),
    /// The leader hands over a session's port.
    ProvidePort(PortGrant),
    /// The leader cannot open a session that was asked for.
    RefusePort(PortRefusal),
    /// The sender asks for a backend by key (to the leader).
    Connect(Box<ConnectCall>),
    /// The leader answers a connect.
    Connected(Box<ConnectAnswer>),
    /// The leader reports a backend's new state.
    Status(StatusReport),
    /// The sender wants the history of a backend's states, then each new
    /// one; a backend not known yet (just spawned, or not yet told to a new
    /// coordinator by its leader) is told to it once it is. A tab sends it
    /// again for what it watches when a new coordinator welcomes it.
    Watch {
        /// The backend.
        backend_id: BackendId,
    },
    /// The sender asks for a backend to be stopped (to the leader).
    Terminate(TerminateCall),
    /// The sender waits for a session and knows no live leader: it asks for
    /// the current leadership, in case a `new-leader` meant for it was lost.
    /// Answered with `new-leader` to the sender alone, or not at all while
    /// no leader is connected (the next claim tells every tab).
    WhoLeads,
    /// The leader answers a `probe`: its main thread still runs.
    Alive {
        /// The term it leads in.
        epoch: Epoch,
    },
    /// The sender's main thread runs: said at once when it is granted the
    /// leader lock (before it claims), and in answer to a `roll-call`.
    Present {
        /// Whether it holds the leader lock.
        holding: bool,
    },
    /// The sender is leaving (a courtesy: its tab lock is what counts).
    Goodbye {
        /// The leaving client.
        client_id: ClientId,
    },
}

impl TabToCoordinator {
    /// The client the message speaks for, which must be its sender's own;
    /// `None` for one that names the client it is for instead (a grant, a
    /// refusal, an answer) or names none.
    pub fn claimed_client(&self) -> Option<&ClientId> {
        match self {
            TabToCoordinator::Hello { client_id, .. } | TabToCoordinator::Goodbye { client_id } => Some(client_id),
            TabToCoordinator::NewLeader(claim) => Some(&claim.leader_id),
            TabToCoordinator::RequestPort(request) => Some(&request.client_id),
            TabToCoordinator::Connect(call) => Some(&call.client_id),
            TabToCoordinator::Terminate(call) => Some(&call.client_id),
            TabToCoordinator::ProvidePort(_)
            | TabToCoordinator::RefusePort(_)
            | TabToCoordinator::Connected(_)
            | TabToCoordinator::Status(_)
            | TabToCoordinator::Watch { .. }
            | TabToCoordinator::WhoLeads
            | TabToCoordinator::Alive { .. }
            | TabToCoordinator::Present { .. } => None,
        }
    }
}

impl WireMessage for TabToCoordinator {
    fn kind(&self) -> &'static str {
        match self {
            TabToCoordinator::Hello { .. } => "hello",
            TabToCoordinator::NewLeader(_) => "new-leader",
            TabToCoordinator::RequestPort(_) => "request-port",
            TabToCoordinator::ProvidePort(_) => "provide-port",
            TabToCoordinator::RefusePort(_) => "refuse-port",
            TabToCoordinator::Connect(_) => "connect",
            TabToCoordinator::Connected(_) => "connected",
            TabToCoordinator::Status(_) => "status",
            TabToCoordinator::Watch { .. } => "watch",
            TabToCoordinator::Terminate(_) => "terminate",
            TabToCoordinator::WhoLeads => "who-leads",
            TabToCoordinator::Alive { .. } => "alive",
            TabToCoordinator::Present { .. } => "present",
            TabToCoordinator::Goodbye { .. } => "goodbye",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, TabToCoordinator::ProvidePort(_)))
    }

    fn check(&self) -> Result<(), ValueError> {
        match self {
            TabToCoordinator::NewLeader(claim) => limits::liveness_key(&claim.liveness_key),
            TabToCoordinator::Connect(call) => limits::connect_call(&call.request),
            TabToCoordinator::Status(report) => limits::key(&report.key),
            _ => Ok(()),
        }
    }
}

/// What the coordinator sends to a tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinatorToTab {
    /// The answer to `hello`.
    Welcome {
        /// This coordinator instance.
        coordinator_id: CoordinatorId,
        /// The current leader, if one has announced itself.
        leader: Option<Leadership>,
        /// How many tabs are connected, the new one included.
        tabs: u32,
    },
    /// A leader announced itself (to every tab, the leader included); also
    /// the answer to a repeated claim or to `who-leads`, to the sender alone.
    NewLeader(Leadership),
    /// To the leader: a client wants a session.
    RequestPort(PortRequest),
    /// To the requesting client only: its session's port.
    ProvidePort(PortGrant),
    /// To the requesting client only: its session cannot be opened.
    RefusePort(PortRefusal),
    /// To the leader: a client asks for a backend by key.
    Connect(Box<ConnectCall>),
    /// To the asking client only: the leader's answer.
    Connected(Box<ConnectAnswer>),
    /// To the tabs watching the backend: its new state.
    Status {
        /// The backend.
        backend_id: BackendId,
        /// Its new state.
        state: BackendState,
    },
    /// The answer to `watch`: every state of the backend so far, oldest
    /// first (none: no such backend is known). New ones follow as `status`.
    History {
        /// The backend.
        backend_id: BackendId,
        /// Its states so far.
        states: Vec<BackendState>,
    },
    /// To the tabs watching a backend that no leader hosts, nor will: it is
    /// not on the board, and the leader's claim did not name it (its term
    /// ended with no leader continuing it, as when its leader tab died with
    /// the coordinator that knew it). A tab that knew it live takes it as
    /// `terminated` with reason `lost` at `time`.
    Unhosted {
        /// The backend.
        backend_id: BackendId,
        /// When the coordinator found it so.
        time: Timestamp,
    },
    /// To the leader: a client asks for a backend to be stopped.
    Terminate(TerminateCall),
    /// To the leader, silent for a while: is its main thread still running?
    /// Answered with `alive` at once by a leader that is.
    Probe {
        /// The term the coordinator believes it leads in.
        epoch: Epoch,
    },
    /// To one follower: the leader of `epoch` has not answered for
    /// `silent_ms` (frozen, or its main thread wedged): take the leader lock
    /// from it and lead. Without `epoch`: no leader has claimed, and the
    /// lock's holder has been silent that long.
    TakeOver {
        /// The silent leader's term, if it claimed one.
        epoch: Option<Epoch>,
        /// How long it has been silent.
        silent_ms: u64,
    },
    /// To a tab, while no leader has claimed and a tab waits: say whether
    /// you hold the leader lock (`present`). Sent to the tab that said it
    /// holds it, or to every tab while none did.
    RollCall,
    /// To one follower, the next in line: keep a backend worker loaded
    /// (`on`), so that if it takes the lead it only sends `init`; or stop
    /// keeping it (`on` false), another tab is next in line now.
    Standby {
        /// Whether to keep one.
        on: bool,
    },
    /// The tab's last frame was refused.
    Rejected {
        /// Why, e.g. [`ErrorCode::Malformed`] or [`ErrorCode::StaleEpoch`].
        code: ErrorCode,
        /// What was wrong.
        detail: String,
    },
}

impl CoordinatorToTab {
    /// Whether only a leader's main thread answers it: a leader passed one
    /// owes an answer (see the coordinator's watchdog).
    pub fn is_demand(&self) -> bool {
        matches!(self, CoordinatorToTab::RequestPort(_) | CoordinatorToTab::Connect(_) | CoordinatorToTab::Terminate(_))
    }
}

impl WireMessage for CoordinatorToTab {
    fn kind(&self) -> &'static str {
        match self {
            CoordinatorToTab::Welcome { .. } => "welcome",
            CoordinatorToTab::NewLeader(_) => "new-leader",
            CoordinatorToTab::RequestPort(_) => "request-port",
            CoordinatorToTab::ProvidePort(_) => "provide-port",
            CoordinatorToTab::RefusePort(_) => "refuse-port",
            CoordinatorToTab::Connect(_) => "connect",
            CoordinatorToTab::Connected(_) => "connected",
            CoordinatorToTab::Status { .. } => "status",
            CoordinatorToTab::History { .. } => "history",
            CoordinatorToTab::Unhosted { .. } => "unhosted",
            CoordinatorToTab::Terminate(_) => "terminate",
            CoordinatorToTab::Probe { .. } => "probe",
            CoordinatorToTab::TakeOver { .. } => "take-over",
            CoordinatorToTab::RollCall => "roll-call",
            CoordinatorToTab::Standby { .. } => "standby",
            CoordinatorToTab::Rejected { .. } => "rejected",
        }
    }

    fn ports(&self) -> usize {
        usize::from(matches!(self, CoordinatorToTab::ProvidePort(_)))
    }

    fn check(&self) -> Result<(), ValueError> {
        match self {
            CoordinatorToTab::Welcome { leader: Some(leadership), .. } | CoordinatorToTab::NewLeader(leadership) => {
                limits::liveness_key(&leadership.liveness_key)
            }
            CoordinatorToTab::Connect(call) => limits::connect_call(&call.request),
            _ => Ok(()),
        }
    }
}

record!(Leadership { leader_id, epoch, liveness_key; optional backend_id });
record!(LeaderClaim { leader_id, liveness_key, hosted; optional epoch, backend_id });
record!(PortRequest { client_id, session_id; optional backend_id });
record!(PortGrant { client_id, session_id, epoch; optional backend_id });
record!(PortRefusal { client_id, session_id, code, detail });
record!(ConnectCall { client_id, request_id, request });
record!(ConnectAnswer { client_id, request_id, outcome });
record!(StatusReport { epoch, backend_id, key, state });
record!(TerminateCall { client_id, backend_id, hard });

impl ToValue for ConnectOutcome {
    /// `{"response": …}` or `{"refused": {"code", "detail"}}`.
    fn to_value(&self) -> Value {
        match self {
            ConnectOutcome::Response(response) => Record::new().put("response", response),
            ConnectOutcome::Refused { code, detail } => {
                Record::new().put("refused", &Record::new().put("code", code).put("detail", detail).done())
            }
        }
        .done()
    }
}

impl FromValue for ConnectOutcome {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        if let Some(response) = fields.opt("response")? {
            return Ok(ConnectOutcome::Response(response));
        }
        let refused: Value = fields.req("refused").map_err(|_| ValueError::new("expected `response` or `refused`"))?;
        let refused = Fields::of(&refused).map_err(|e| e.in_field("refused"))?;
        let code = refused.req("code").map_err(|e| e.in_field("refused"))?;
        let detail = refused.req("detail").map_err(|e| e.in_field("refused"))?;
        Ok(ConnectOutcome::Refused { code, detail })
    }
}

/// A message's `type` that this direction does not have.
pub(super) fn unknown_type(tag: &str) -> ValueError {
    ValueError::new(format!("`type`: unknown message type `{tag}`"))
}

impl ToValue for TabToCoordinator {
    fn to_value(&self) -> Value {
        let record = Record::tagged("type", self.kind());
        match self {
            TabToCoordinator::Hello { client_id, build, epoch, proof } => {
                record.put("client_id", client_id).put("build", build).put_opt("epoch", epoch).put("proof", proof)
            }
            TabToCoordinator::NewLeader(claim) => record.merge(claim.to_value()),
            TabToCoordinator::RequestPort(request) => record.merge(request.to_value()),
            TabToCoordinator::ProvidePort(grant) => record.merge(grant.to_value()),
            TabToCoordinator::RefusePort(refusal) => record.merge(refusal.to_value()),
            TabToCoordinator::Connect(call) => record.merge(call.to_value()),
            TabToCoordinator::Connected(answer) => record.merge(answer.to_value()),
            TabToCoordinator::Status(report) => record.merge(report.to_value()),
            TabToCoordinator::Watch { backend_id } => record.put("backend_id", backend_id),
            TabToCoordinator::Terminate(call) => record.merge(call.to_value()),
            TabToCoordinator::WhoLeads => record,
            TabToCoordinator::Alive { epoch } => record.put("epoch", epoch),
            TabToCoordinator::Present { holding } => record.put("holding", holding),
            TabToCoordinator::Goodbye { client_id } => record.put("client_id", client_id),
        }
        .done()
    }
}

impl FromValue for TabToCoordinator {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        Ok(match fields.tag("type")? {
            "hello" => TabToCoordinator::Hello {
                client_id: fields.req("client_id")?,
                build: fields.req("build")?,
                epoch: fields.opt("epoch")?,
                proof: fields.req("proof")?,
            },
            "new-leader" => TabToCoordinator::NewLeader(FromValue::from_value(value)?),
            "request-port" => TabToCoordinator::RequestPort(FromValue::from_value(value)?),
            "provide-port" => TabToCoordinator::ProvidePort(FromValue::from_value(value)?),
            "refuse-port" => TabToCoordinator::RefusePort(FromValue::from_value(value)?),
            "connect" => TabToCoordinator::Connect(FromValue::from_value(value)?),
            "connected" => TabToCoordinator::Connected(FromValue::from_value(value)?),
            "status" => TabToCoordinator::Status(FromValue::from_value(value)?),
            "watch" => TabToCoordinator::Watch { backend_id: fields.req("backend_id")? },
            "terminate" => TabToCoordinator::Terminate(FromValue::from_value(value)?),
            "who-leads" => TabToCoordinator::WhoLeads,
            "alive" => TabToCoordinator::Alive { epoch: fields.req("epoch")? },
            "present" => TabToCoordinator::Present { holding: fields.req("holding")? },
            "goodbye" => TabToCoordinator::Goodbye { client_id: fields.req("client_id")? },
            other => return Err(unknown_type(other)),
        })
    }
}

impl ToValue for CoordinatorToTab {
    fn to_value(&self) -> Value {
        let record = Record::tagged("type", self.kind());
        match self {
            CoordinatorToTab::Welcome { coordinator_id, leader, tabs } => {
                record.put("coordinator_id", coordinator_id).put_opt("leader", leader).put("tabs", tabs)
            }
            CoordinatorToTab::NewLeader(leadership) => record.merge(leadership.to_value()),
            CoordinatorToTab::RequestPort(request) => record.merge(request.to_value()),
            CoordinatorToTab::ProvidePort(grant) => record.merge(grant.to_value()),
            CoordinatorToTab::RefusePort(refusal) => record.merge(refusal.to_value()),
            CoordinatorToTab::Connect(call) => record.merge(call.to_value()),
            CoordinatorToTab::Connected(answer) => record.merge(answer.to_value()),
            CoordinatorToTab::Status { backend_id, state } => record.put("backend_id", backend_id).put("state", state),
            CoordinatorToTab::History { backend_id, states } => {
                record.put("backend_id", backend_id).put("states", states)
            }
            CoordinatorToTab::Unhosted { backend_id, time } => record.put("backend_id", backend_id).put("time", time),
            CoordinatorToTab::Terminate(call) => record.merge(call.to_value()),
            CoordinatorToTab::Probe { epoch } => record.put("epoch", epoch),
            CoordinatorToTab::TakeOver { epoch, silent_ms } => {
                record.put_opt("epoch", epoch).put("silent_ms", silent_ms)
            }
            CoordinatorToTab::RollCall => record,
            CoordinatorToTab::Standby { on } => record.put("on", on),
            CoordinatorToTab::Rejected { code, detail } => record.put("code", code).put("detail", detail),
        }
        .done()
    }
}

impl FromValue for CoordinatorToTab {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        Ok(match fields.tag("type")? {
            "welcome" => CoordinatorToTab::Welcome {
                coordinator_id: fields.req("coordinator_id")?,
                leader: fields.opt("leader")?,
                tabs: fields.req("tabs")?,
            },
            "new-leader" => CoordinatorToTab::NewLeader(FromValue::from_value(value)?),
            "request-port" => CoordinatorToTab::RequestPort(FromValue::from_value(value)?),
            "provide-port" => CoordinatorToTab::ProvidePort(FromValue::from_value(value)?),
            "refuse-port" => CoordinatorToTab::RefusePort(FromValue::from_value(value)?),
            "connect" => CoordinatorToTab::Connect(FromValue::from_value(value)?),
            "connected" => CoordinatorToTab::Connected(FromValue::from_value(value)?),
            "status" => CoordinatorToTab::Status { backend_id: fields.req("backend_id")?, state: fields.req("state")? },
            "history" => {
                CoordinatorToTab::History { backend_id: fields.req("backend_id")?, states: fields.req("states")? }
            }
            "unhosted" => {
                CoordinatorToTab::Unhosted { backend_id: fields.req("backend_id")?, time: fields.req("time")? }
            }
            "terminate" => CoordinatorToTab::Terminate(FromValue::from_value(value)?),
            "probe" => CoordinatorToTab::Probe { epoch: fields.req("epoch")? },
            "take-over" => {
                CoordinatorToTab::TakeOver { epoch: fields.opt("epoch")?, silent_ms: fields.req("silent_ms")? }
            }
            "standby" => CoordinatorToTab::Standby { on: fields.req("on")? },
            "roll-call" => CoordinatorToTab::RollCall,
            "rejected" => CoordinatorToTab::Rejected { code: fields.req("code")?, detail: fields.req("detail")? },
            other => return Err(unknown_type(other)),
        })
    }
}

#[cfg(test)]
pub(crate) mod examples {
    use super::*;

    pub(crate) fn leadership() -> Leadership {
        Leadership {
            leader_id: ClientId::new("c0").unwrap(),
            epoch: Epoch::new(3).unwrap(),
            liveness_key: "tabworker:app:liveness:w1".into(),
            backend_id: Some(BackendId::new("b0").unwrap()),
        }
    }

    pub(crate) fn request() -> PortRequest {
        PortRequest {
            client_id: ClientId::new("c1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            backend_id: None,
        }
    }

    pub(crate) fn grant() -> PortGrant {
        PortGrant {
            client_id: ClientId::new("c1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            epoch: leadership().epoch,
            backend_id: Some(BackendId::new("b1").unwrap()),
        }
    }

    pub(crate) fn call() -> ConnectCall {
        let request = ConnectRequest { key: Some("room".into()), ..ConnectRequest::default() };
        ConnectCall { client_id: ClientId::new("c1").unwrap(), request_id: 7, request }
    }

    pub(crate) fn answers() -> Vec<ConnectAnswer> {
        let response = ConnectResponse {
            backend_id: BackendId::new("b1").unwrap(),
            spawned: true,
            status: crate::model::status::BackendStatus::Scheduled,
            token: "t".into(),
            url: "tabworker://app/backends/b1/sessions/t".into(),
            secret_token: Some("s".into()),
            status_url: "tabworker://app/backends/b1/status".into(),
            ready_url: "tabworker://app/backends/b1/ready".into(),
        };
        let refused = ConnectOutcome::Refused { code: ErrorCode::KeyNotHeld, detail: "no".into() };
        [ConnectOutcome::Response(response), refused]
            .into_iter()
            .map(|outcome| ConnectAnswer { client_id: ClientId::new("c1").unwrap(), request_id: 7, outcome })
            .collect()
    }

    pub(crate) fn state() -> BackendState {
        BackendState::Ready { time: crate::model::time::Timestamp::from_unix_millis(1_000) }
    }

    pub(crate) fn refusal() -> PortRefusal {
        PortRefusal {
            client_id: ClientId::new("c1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            code: ErrorCode::UnknownBackend,
            detail: "none".into(),
        }
    }

    pub(crate) fn terminate() -> TerminateCall {
        TerminateCall { client_id: ClientId::new("c1").unwrap(), backend_id: BackendId::new("b1").unwrap(), hard: true }
    }

    pub(crate) fn to_coordinator() -> Vec<TabToCoordinator> {
        vec![
            TabToCoordinator::Hello {
                client_id: ClientId::new("c1").unwrap(),
                build: super::super::BUILD.into(),
                epoch: Some(leadership().epoch),
                proof: "0123456789abcdef0123456789abcdef".into(),
            },
            TabToCoordinator::Hello {
                client_id: ClientId::new("c1").unwrap(),
                build: super::super::BUILD.into(),
                epoch: None,
                proof: "p".into(),
            },
            TabToCoordinator::NewLeader(LeaderClaim {
                leader_id: ClientId::new("c0").unwrap(),
                liveness_key: leadership().liveness_key,
                epoch: None,
                backend_id: None,
                hosted: vec![],
            }),
            TabToCoordinator::NewLeader(LeaderClaim {
                leader_id: ClientId::new("c0").unwrap(),
                liveness_key: leadership().liveness_key,
                epoch: Some(leadership().epoch),
                backend_id: leadership().backend_id,
                hosted: vec![BackendId::new("b0").unwrap(), BackendId::new("b1").unwrap()],
            }),
            TabToCoordinator::RequestPort(request()),
            TabToCoordinator::ProvidePort(grant()),
            TabToCoordinator::RefusePort(refusal()),
            TabToCoordinator::Connect(Box::new(call())),
            TabToCoordinator::Connected(Box::new(answers()[0].clone())),
            TabToCoordinator::Connected(Box::new(answers()[1].clone())),
            TabToCoordinator::Status(StatusReport {
                epoch: leadership().epoch,
                backend_id: BackendId::new("b1").unwrap(),
                key: "room".into(),
                state: state(),
            }),
            TabToCoordinator::Watch { backend_id: BackendId::new("b1").unwrap() },
            TabToCoordinator::Terminate(terminate()),
            TabToCoordinator::WhoLeads,
            TabToCoordinator::Alive { epoch: leadership().epoch },
            TabToCoordinator::Present { holding: true },
            TabToCoordinator::Goodbye { client_id: ClientId::new("c1").unwrap() },
        ]
    }

    pub(crate) fn to_tab() -> Vec<CoordinatorToTab> {
        vec![
            CoordinatorToTab::Welcome {
                coordinator_id: CoordinatorId::new("k1").unwrap(),
                leader: Some(leadership()),
                tabs: 2,
            },
            CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k1").unwrap(), leader: None, tabs: 1 },
            CoordinatorToTab::NewLeader(leadership()),
            CoordinatorToTab::RequestPort(request()),
            CoordinatorToTab::ProvidePort(grant()),
            CoordinatorToTab::RefusePort(refusal()),
            CoordinatorToTab::Connect(Box::new(call())),
            CoordinatorToTab::Connected(Box::new(answers()[0].clone())),
            CoordinatorToTab::Status { backend_id: BackendId::new("b1").unwrap(), state: state() },
            CoordinatorToTab::History { backend_id: BackendId::new("b1").unwrap(), states: vec![state()] },
            CoordinatorToTab::History { backend_id: BackendId::new("b1").unwrap(), states: vec![] },
            CoordinatorToTab::Terminate(terminate()),
            CoordinatorToTab::Probe { epoch: leadership().epoch },
            CoordinatorToTab::TakeOver { epoch: Some(leadership().epoch), silent_ms: 1_500 },
            CoordinatorToTab::TakeOver { epoch: None, silent_ms: 1_500 },
            CoordinatorToTab::RollCall,
            CoordinatorToTab::Standby { on: true },
            CoordinatorToTab::Standby { on: false },
            CoordinatorToTab::Rejected { code: ErrorCode::Malformed, detail: "missing field".into() },
        ]
    }
}
