//! The keyed backends, from a tab's side: the app's calls on them
//! (`connect`, `open`, `status`, `ready`, `terminate`, `statusStream`) and
//! the backends it watches (its sessions are [`Sessions`]'; what it hosts
//! while it leads is its fleet's).
//!
//! Every call the app makes is a [`CallId`], settled once by a
//! [`TabEvent::Settled`]; a `statusStream` is a [`SubscriptionId`], given
//! each state once by a [`TabEvent::StatusUpdate`]. The browser layer keeps
//! only the promises and callbacks behind those ids.
//!
use super::calls::{CallError, CallId, CallValue, Calls, Credentials, Expired};
use super::outbox::Outbox;
use super::output::TabEvent;
use super::sessions::Sessions;
use super::watches::{Await, Delivery, SubscriptionId, Watches};
use crate::model::code::ErrorCode;
use crate::model::connect::{BackendUrl, ConnectRequest, MAX_CONNECT_TEXT, key_fault};
use crate::model::ids::{BackendId, ClientId};
use crate::model::status::BackendState;
use crate::model::time::Timestamp;
use crate::protocol::{ConnectCall, ConnectOutcome, CoordinatorToTab, TabToBackend, TabToCoordinator, TerminateCall};

/// Why a call made before `initialize()` or after `destroy()` is refused.
fn not_joined() -> CallError {
    CallError::new(ErrorCode::NotInitialized, "call initialize() first (or the client was destroyed)")
}

/// The backend named by `text` (an id or a url of a response).
fn backend(text: &str) -> Result<BackendUrl, CallError> {
    BackendUrl::parse(text).map_err(|e| CallError::new(e.code(), e.to_string()))
}

/// What a keyed call or frame works with besides the part's own state: the
/// app's pending calls, the tab's sessions, what is to be done, and whether
/// the tab joined.
pub(super) struct Ctx<'a> {
    pub(super) calls: &'a mut Calls,
    pub(super) sessions: &'a mut Sessions,
    pub(super) out: &'a mut Outbox,
    pub(super) joined: bool,
}

impl Ctx<'_> {
    /// A call refused before anything was asked: settled at the next poll.
    fn refuse_at_once(&mut self, error: CallError) -> CallId {
        self.out.refuse(self.calls, error)
    }

    /// Settles `call`, if it is still pending.
    fn settle(&mut self, call: CallId, outcome: Result<CallValue, CallError>) {
        self.out.settle(self.calls, call, outcome);
    }
}

/// The backends a tab watches, and its keyed calls' rules.
#[derive(Debug)]
pub(super) struct Keyed {
    client: ClientId,
    watches: Watches,
}

impl Keyed {
    /// None yet, for the tab of `client`.
    pub(super) fn new(client: ClientId) -> Self {
        Keyed { client, watches: Watches::default() }
    }

    /// The history of every backend watched, as far as it arrived.
    pub(super) fn watched(&self) -> impl Iterator<Item = (&BackendId, &[BackendState])> {
        self.watches.known()
    }

    /// The app's `connect` (see [`Tab::connect`](super::Tab::connect)).
    pub(super) fn connect(&mut self, now: Timestamp, mut request: ConnectRequest, cx: &mut Ctx<'_>) -> CallId {
        let credentials = Credentials { user: request.user.take(), auth: request.auth.take() };
        if let Some(fault) = request.key.as_deref().and_then(key_fault) {
            return cx.refuse_at_once(CallError::new(ErrorCode::InvalidKey, format!("invalid key: {fault}")));
        }
        if request.text_len() > MAX_CONNECT_TEXT {
            let detail = format!("a connect carries at most {MAX_CONNECT_TEXT} bytes of key, tag, mount and env");
            return cx.refuse_at_once(CallError::new(ErrorCode::InvalidArgument, detail));
        }
        if !cx.joined {
            return cx.refuse_at_once(not_joined());
        }
        let call = cx.calls.connect(now, credentials);
        let connect = ConnectCall { client_id: self.client.clone(), request_id: call.get(), request };
        cx.out.send(TabToCoordinator::Connect(Box::new(connect)));
        call
    }

    /// The app's `open` (see [`Tab::open`](super::Tab::open)).
    pub(super) fn open(&mut self, now: Timestamp, url: &str, cx: &mut Ctx<'_>) -> CallId {
        let target = match backend(url) {
            Ok(target) => target,
            Err(error) => return cx.refuse_at_once(error),
        };
        let Some(token) = target.token else {
            return cx
                .refuse_at_once(CallError::new(ErrorCode::InvalidArgument, format!("`{url}` is not a session url")));
        };
        if !cx.joined {
            return cx.refuse_at_once(not_joined());
        }
        let Credentials { user, auth } = cx.calls.credentials(&token);
        let open = TabToBackend::Open { token, user, auth };
        cx.sessions.open(now, (target.backend_id, open), cx.calls, cx.out)
    }

    /// A wait on a backend's state (`status`, `ready`, `terminate`).
    pub(super) fn wait(&mut self, text: &str, until: Await, terminate: Option<bool>, cx: &mut Ctx<'_>) -> CallId {
        let backend_id = match backend(text) {
            Ok(target) => target.backend_id,
            Err(error) => return cx.refuse_at_once(error),
        };
        if !cx.joined {
            return cx.refuse_at_once(not_joined());
        }
        let call = cx.calls.wait();
        self.watches.wait(call, backend_id.clone(), until);
        self.watch_backend(&backend_id, cx);
        if let Some(hard) = terminate {
            let call = TerminateCall { client_id: self.client.clone(), backend_id: backend_id.clone(), hard };
            cx.out.send(TabToCoordinator::Terminate(call));
        }
        self.deliver(&backend_id, cx);
        call
    }

    /// The app's `statusStream` (see [`Tab::subscribe`](super::Tab::subscribe)).
    pub(super) fn subscribe(&mut self, backend: &str, cx: &mut Ctx<'_>) -> Result<SubscriptionId, CallError> {
        let backend_id = self::backend(backend)?.backend_id;
        if !cx.joined {
            return Err(CallError::new(ErrorCode::NotInitialized, "call initialize() first"));
        }
        let subscription = self.watches.subscribe(backend_id.clone());
        self.watch_backend(&backend_id, cx);
        self.deliver(&backend_id, cx);
        Ok(subscription)
    }

    /// Stops a subscription: it is given nothing more.
    pub(super) fn unsubscribe(&mut self, subscription: SubscriptionId) {
        self.watches.unsubscribe(subscription);
    }

    /// Asks the coordinator for the states of `backend_id` so far, then
    /// each new one, once (and only once joined).
    fn watch_backend(&mut self, backend_id: &BackendId, cx: &mut Ctx<'_>) {
        if cx.joined && self.watches.watch(backend_id) {
            cx.out.send(TabToCoordinator::Watch { backend_id: backend_id.clone() });
        }
    }

    /// A coordinator welcomed this tab: every backend it watches and does
    /// not know to be terminated is watched again there (after a
    /// coordinator died, the new one knows none of its watches).
    pub(super) fn watch_again(&mut self, out: &mut Outbox) {
        for backend_id in self.watches.to_renew() {
            out.send(TabToCoordinator::Watch { backend_id });
        }
    }

    /// Gives every subscriber and waiter of `backend_id` what it has not
    /// had; once it is terminated, its sessions are closed first.
    fn deliver(&mut self, backend_id: &BackendId, cx: &mut Ctx<'_>) {
        if self.watches.has_ended(backend_id) {
            cx.sessions.backend_ended(backend_id, cx.calls, cx.out);
        }
        for delivery in self.watches.deliver(backend_id) {
            match delivery {
                Delivery::Update { subscription, state } => {
                    cx.out.event(TabEvent::StatusUpdate { subscription, state })
                }
                Delivery::Settle { call, outcome } => cx.settle(call, outcome.map(CallValue::State)),
            }
        }
    }

    /// Refuses the calls whose deadline passed; a timed-out `open` gives
    /// its session back (a port granted later is not taken). A timed-out
    /// join is returned: the tab leaves.
    pub(super) fn expire(&mut self, now: Timestamp, cx: &mut Ctx<'_>) -> Option<CallId> {
        let mut join = None;
        for (call, expired) in cx.calls.expire(now) {
            let error = cx.calls.timeout_error();
            match expired {
                Expired::Join => join = Some(call),
                Expired::Connect => cx.out.event(TabEvent::Settled { call, outcome: Err(error) }),
                Expired::Open(session_id) => {
                    cx.out.event(TabEvent::Settled { call, outcome: Err(error.clone()) });
                    cx.sessions.end(&session_id, error, cx.calls, cx.out);
                }
            }
        }
        join
    }

    /// The tab is destroyed: every call still pending is refused with
    /// `not-initialized`, and no backend is watched any more.
    pub(super) fn leave(&mut self, cx: &mut Ctx<'_>) {
        let error = CallError::destroyed();
        for call in cx.calls.clear() {
            cx.out.event(TabEvent::Settled { call, outcome: Err(error.clone()) });
        }
        self.watches.clear();
    }

    /// A frame from the coordinator about this tab's keyed calls, sessions
    /// and watched backends.
    pub(super) fn frame(&mut self, message: CoordinatorToTab, cx: &mut Ctx<'_>) {
        match message {
            CoordinatorToTab::ProvidePort(grant) if grant.client_id == self.client => {
                cx.sessions.granted(grant, cx.out)
            }
            CoordinatorToTab::RefusePort(refusal) if refusal.client_id == self.client => {
                cx.sessions.refused(refusal, cx.calls, cx.out);
            }
            CoordinatorToTab::Connected(answer) if answer.client_id == self.client => {
                let token = match &answer.outcome {
                    ConnectOutcome::Response(response) => Some(response.token.as_str()),
                    ConnectOutcome::Refused { .. } => None,
                };
                match cx.calls.answered(answer.request_id, token) {
                    Some(call) => self.answered(call, answer.outcome, cx),
                    // The connect timed out: its answer is not taken.
                    None => cx.out.ignore(),
                }
            }
            CoordinatorToTab::History { backend_id, states } => {
                self.watches.history(&backend_id, states);
                self.deliver(&backend_id, cx);
            }
            CoordinatorToTab::Status { backend_id, state } => {
                self.watches.status(&backend_id, state);
                self.deliver(&backend_id, cx);
            }
            CoordinatorToTab::Unhosted { backend_id, time } => {
                self.watches.unhosted(&backend_id, time);
                self.deliver(&backend_id, cx);
            }
            // A refusal of one of ours, a frame for another tab or for a leader: nothing to act on.
            _ => cx.out.ignore(),
        }
    }

    /// The leader's answer to connect `call`: a backend reached is watched.
    fn answered(&mut self, call: CallId, outcome: ConnectOutcome, cx: &mut Ctx<'_>) {
        let outcome = match outcome {
            ConnectOutcome::Response(response) => {
                self.watch_backend(&response.backend_id, cx);
                Ok(CallValue::Connected(Box::new(response)))
            }
            ConnectOutcome::Refused { code, detail } => Err(CallError::new(code, detail)),
        };
        cx.out.event(TabEvent::Settled { call, outcome });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::connect::ConnectResponse;
    use crate::model::ids::SessionId;
    use crate::model::ids::{CoordinatorId, Epoch};
    use crate::model::locks::LockCommand;
    use crate::model::locks::{LockId, LockMode};
    use crate::model::status::{BackendState, BackendStatus, TerminationKind, TerminationReason};
    use crate::protocol::{BackendToTab, DecodeError, PortGrant, PortRequest};
    use crate::protocol::{ConnectAnswer, PortRefusal};
    use crate::tab::Tab;
    use crate::tab::TabOutput;
    use crate::tab::tests::{T0, client, drain, names, room, settled};

    fn sent(out: &[TabOutput]) -> Vec<TabToCoordinator> {
        out.iter()
            .filter_map(|o| match o {
                TabOutput::ToCoordinator(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// The code each settled call was refused with (`None`: resolved).
    fn codes(out: &[TabOutput]) -> Vec<(CallId, Option<ErrorCode>)> {
        settled(out).into_iter().map(|(call, outcome)| (call, outcome.err().map(|e| e.code))).collect()
    }

    fn refused(call: CallId, code: ErrorCode, detail: &str) -> TabOutput {
        TabOutput::Event(TabEvent::Settled { call, outcome: Err(CallError::new(code, detail)) })
    }

    /// A tab that joined with no leader known, its outputs drained.
    fn joined(n: u32) -> Tab {
        let mut tab = crate::tab::tests::joined(n, None);
        drain(&mut tab);
        tab
    }

    fn b1() -> BackendId {
        BackendId::new("b1").unwrap()
    }

    fn response(token: &str) -> ConnectResponse {
        ConnectResponse {
            backend_id: b1(),
            spawned: true,
            status: BackendStatus::Scheduled,
            token: token.into(),
            url: BackendUrl::session("app", &b1(), token),
            secret_token: None,
            status_url: BackendUrl::status("app", &b1()),
            ready_url: BackendUrl::ready("app", &b1()),
        }
    }

    fn answer(to: u32, call: CallId, outcome: ConnectOutcome) -> CoordinatorToTab {
        CoordinatorToTab::Connected(Box::new(ConnectAnswer { client_id: client(to), request_id: call.get(), outcome }))
    }

    fn terminated(time: Timestamp) -> BackendState {
        BackendState::Terminated {
            time,
            termination_reason: Some(TerminationReason::External),
            termination_kind: Some(TerminationKind::Soft),
            exit_error: Some(false),
        }
    }

    /// Opens a session with b1 by url and brings it to `open` posted on its
    /// port: the call, the session and the `open`.
    fn opening(tab: &mut Tab, token: &str) -> (CallId, SessionId, TabToBackend) {
        let call = tab.open(T0, &BackendUrl::session("app", &b1(), token));
        let out = drain(tab);
        let [TabOutput::Lock(LockCommand::Acquire { lock, mode: LockMode::Exclusive, .. })] = &out[..] else {
            panic!("{out:?}")
        };
        tab.lock_granted(T0, lock);
        let [TabToCoordinator::RequestPort(request)] = &sent(&drain(tab))[..] else { panic!("one request") };
        let grant = PortGrant {
            client_id: request.client_id.clone(),
            session_id: request.session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: Some(b1()),
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        let out = drain(tab);
        let [TabOutput::OpenKeyed { session_id, message }] = &out[..] else { panic!("{out:?}") };
        (call, session_id.clone(), message.clone())
    }

    #[test]
    fn a_connect_leaves_user_and_auth_behind_and_only_its_own_answer_is_an_event() {
        let mut unjoined = Tab::new(client(2), names());
        let early = unjoined.connect(T0, room(true));
        let out = drain(&mut unjoined);
        assert_eq!(codes(&out), [(early, Some(ErrorCode::NotInitialized))]);
        assert!(sent(&out).is_empty());
        let mut tab = joined(2);
        let call = tab.connect(T0, room(true));
        let [TabToCoordinator::Connect(connect)] = &sent(&drain(&mut tab))[..] else { panic!("one connect") };
        assert_eq!((connect.request_id, &connect.request), (call.get(), &room(false)));
        let text =
            serde_json::Value::from(crate::protocol::frame(&TabToCoordinator::Connect(connect.clone()))).to_string();
        assert!(!text.contains("ada") && !text.contains("pw"), "{text}");

        let no = || ConnectOutcome::Refused { code: ErrorCode::KeyNotHeld, detail: "no".into() };
        tab.from_coordinator(T0, Ok(answer(3, call, no())));
        assert_eq!(drain(&mut tab), []);
        tab.from_coordinator(T0, Ok(answer(2, call, no())));
        assert_eq!(drain(&mut tab), [refused(call, ErrorCode::KeyNotHeld, "no")]);
        tab.from_coordinator(T0, Ok(answer(2, call, no())));
        assert_eq!(drain(&mut tab), [], "answered once");
    }

    #[test]
    fn a_connect_whose_frame_the_coordinator_would_refuse_is_refused_at_once_and_not_sent() {
        use crate::model::connect::{Executable, MAX_KEY_LEN, Spawn, SpawnConfig};
        let mut tab = joined(2);
        let keyed = |key: String| ConnectRequest { key: Some(key), spawn: Some(Spawn::Enabled(true)), ..room(true) };
        for key in ["k".repeat(MAX_KEY_LEN + 1), "k".repeat(1 << 20), String::new(), "a\nb".into()] {
            let call = tab.connect(T0, keyed(key));
            let out = drain(&mut tab);
            assert_eq!(codes(&out), [(call, Some(ErrorCode::InvalidKey))]);
            assert!(sent(&out).is_empty(), "nothing sent");
        }
        let env = crate::model::map::Map::from([("BIG".to_owned(), "v".repeat(MAX_CONNECT_TEXT))]);
        let executable = Executable { env: Some(env), ..Executable::default() };
        let config = SpawnConfig { executable: Some(executable), ..SpawnConfig::default() };
        let call = tab.connect(T0, ConnectRequest { spawn: Some(Spawn::Config(config)), ..keyed("k".into()) });
        let out = drain(&mut tab);
        assert_eq!(codes(&out), [(call, Some(ErrorCode::InvalidArgument))]);
        assert!(sent(&out).is_empty(), "nothing sent");
        tab.connect(T0, keyed("k".repeat(MAX_KEY_LEN)));
        assert!(matches!(&sent(&drain(&mut tab))[..], [TabToCoordinator::Connect(_)]), "a key at the bound goes");
    }

    #[test]
    fn a_connect_that_reached_a_backend_watches_it_and_its_sessions_carry_its_credentials() {
        let mut tab = joined(2);
        let call = tab.connect(T0, room(true));
        drain(&mut tab);
        tab.from_coordinator(T0, Ok(answer(2, call, ConnectOutcome::Response(response("t1")))));
        let out = drain(&mut tab);
        assert_eq!(sent(&out), [TabToCoordinator::Watch { backend_id: b1() }]);
        assert_eq!(settled(&out), [(call, Ok(CallValue::Connected(Box::new(response("t1")))))]);

        let (_, _, open) = opening(&mut tab, "t1");
        let auth = crate::Value::from(serde_json::json!({"secret": "pw"})).as_object().cloned();
        assert_eq!(open, TabToBackend::Open { token: "t1".into(), user: Some("ada".into()), auth });
        // Another tab's token: no credentials of this tab go with it.
        let (_, _, open) = opening(&mut tab, "t9");
        assert_eq!(open, TabToBackend::Open { token: "t9".into(), user: None, auth: None });
    }

    #[test]
    fn a_keyed_session_takes_its_lock_before_asking_and_releases_it_when_closed_or_refused() {
        let mut tab = joined(2);
        let backend_id = b1();
        let call = tab.open(T0, &BackendUrl::session("app", &backend_id, "t"));
        let out = drain(&mut tab);
        let [TabOutput::Lock(LockCommand::Acquire { lock, mode: LockMode::Exclusive, .. })] = &out[..] else {
            panic!("{out:?}")
        };
        let lock = lock.clone();
        tab.lock_granted(T0, &lock);
        let [TabToCoordinator::RequestPort(request)] = &sent(&drain(&mut tab))[..] else { panic!("one request") };
        let session_id = request.session_id.clone();
        assert_eq!((&lock, &request.backend_id), (&LockId::Session(session_id.clone()), &Some(backend_id.clone())));
        tab.lock_granted(T0, &lock);
        assert_eq!(drain(&mut tab), [], "asked once");
        let grant = PortGrant {
            client_id: client(2),
            session_id: session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: Some(backend_id.clone()),
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant.clone())));
        let open = TabToBackend::Open { token: "t".into(), user: None, auth: None };
        assert_eq!(drain(&mut tab), [TabOutput::OpenKeyed { session_id: session_id.clone(), message: open }]);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant)));
        assert_eq!(drain(&mut tab), [], "a second port for one session is not taken");
        tab.open_answered(&session_id, Ok(BackendToTab::Opened));
        let session = CallValue::Session { session_id: session_id.clone(), backend_id: backend_id.clone() };
        assert_eq!(settled(&drain(&mut tab)), [(call, Ok(session))]);
        tab.open_answered(&session_id, Ok(BackendToTab::Opened));
        assert_eq!(drain(&mut tab), [], "opened once");
        tab.close_session(&session_id);
        assert_eq!(
            drain(&mut tab),
            [TabOutput::Lock(LockCommand::Release { lock }), TabOutput::CloseKeyed { session_id: session_id.clone() }]
        );

        let call = tab.open(T0, &BackendUrl::session("app", &backend_id, "t"));
        let out = drain(&mut tab);
        let [TabOutput::Lock(LockCommand::Acquire { lock, .. })] = &out[..] else { panic!("{out:?}") };
        let lock = lock.clone();
        tab.lock_granted(T0, &lock);
        drain(&mut tab);
        let LockId::Session(refused_session) = lock.clone() else { panic!("{lock:?} is no session lock") };
        let refusal = PortRefusal {
            client_id: client(2),
            session_id: refused_session,
            code: ErrorCode::UnknownBackend,
            detail: "none".into(),
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::RefusePort(refusal)));
        assert_eq!(
            drain(&mut tab),
            [TabOutput::Lock(LockCommand::Release { lock }), refused(call, ErrorCode::UnknownBackend, "none")],
            "no ports to close: none came"
        );
    }

    #[test]
    fn the_backends_answer_to_open_settles_the_call_and_a_refusal_ends_the_session() {
        let mut tab = joined(2);
        let (call, session_id, _) = opening(&mut tab, "forged");
        let refusal = BackendToTab::Refused { code: ErrorCode::BadToken, detail: "not admitted".into() };
        tab.open_answered(&session_id, Ok(refusal));
        assert_eq!(
            drain(&mut tab),
            [
                TabOutput::Lock(LockCommand::Release { lock: LockId::Session(session_id.clone()) }),
                TabOutput::CloseKeyed { session_id: session_id.clone() },
                refused(call, ErrorCode::BadToken, "not admitted"),
            ]
        );
        let (call, session_id, _) = opening(&mut tab, "t");
        tab.open_answered(&session_id, Err(DecodeError::NotAFrame { detail: "7".into() }));
        let out = drain(&mut tab);
        assert_eq!(codes(&out), [(call, Some(ErrorCode::NotAFrame))]);
        assert!(out.contains(&TabOutput::CloseKeyed { session_id }));
        let (call, session_id, _) = opening(&mut tab, "t");
        tab.open_unsent(&session_id, "DataCloneError".into());
        assert_eq!(codes(&drain(&mut tab)), [(call, Some(ErrorCode::BadToken))]);
    }

    #[test]
    fn open_refuses_what_is_not_a_session_url_and_every_call_before_the_tab_joined() {
        let mut tab = joined(2);
        let bad = tab.open(T0, "tabworker://app/nothing");
        let status_url = tab.open(T0, &BackendUrl::status("app", &b1()));
        let bare = tab.open(T0, "b1");
        let out = drain(&mut tab);
        assert_eq!(
            out,
            [
                refused(bad, ErrorCode::InvalidArgument, "`tabworker://app/nothing`: no `/backends/<id>` in the url"),
                refused(
                    status_url,
                    ErrorCode::InvalidArgument,
                    "`tabworker://app/backends/b1/status` is not a session url"
                ),
                refused(bare, ErrorCode::InvalidArgument, "`b1` is not a session url"),
            ]
        );
        let bad_wait = tab.status("tabworker://app/backends/b1/more");
        assert_eq!(codes(&drain(&mut tab)), [(bad_wait, Some(ErrorCode::InvalidArgument))]);
        assert_eq!(tab.subscribe("").map_err(|e| e.code), Err(ErrorCode::InvalidArgument));

        let mut unjoined = Tab::new(client(3), names());
        let calls = [
            unjoined.open(T0, &BackendUrl::session("app", &b1(), "t")),
            unjoined.status("b1"),
            unjoined.ready("b1"),
            unjoined.terminate("b1", false),
        ];
        let out = drain(&mut unjoined);
        assert_eq!(codes(&out), calls.map(|c| (c, Some(ErrorCode::NotInitialized))));
        assert!(out.iter().all(|o| matches!(o, TabOutput::Event(_))), "nothing is asked: {out:?}");
        assert_eq!(unjoined.subscribe("b1").map_err(|e| e.code), Err(ErrorCode::NotInitialized));
    }

    #[test]
    fn a_connect_and_an_open_time_out_at_their_deadline_and_not_before() {
        let mut tab = joined(2);
        tab.set_call_timeout(500);
        let connect = tab.connect(T0, room(false));
        let later = T0.plus_millis(100);
        let open = tab.open(later, &BackendUrl::session("app", &b1(), "t"));
        let out = drain(&mut tab);
        let [.., TabOutput::Lock(LockCommand::Acquire { lock, .. })] = &out[..] else { panic!("{out:?}") };
        let lock = lock.clone();
        assert_eq!(tab.poll_timeout(), Some(T0.plus_millis(500)));
        tab.timeout(T0.plus_millis(499));
        assert_eq!(drain(&mut tab), [], "not before");
        tab.timeout(T0.plus_millis(500));
        assert_eq!(drain(&mut tab), [refused(connect, ErrorCode::Timeout, "no answer within 500 ms")]);
        assert_eq!(tab.poll_timeout(), Some(later.plus_millis(500)));
        tab.timeout(later.plus_millis(499));
        assert_eq!(drain(&mut tab), []);
        tab.timeout(later.plus_millis(500));
        assert_eq!(
            drain(&mut tab),
            [
                refused(open, ErrorCode::Timeout, "no answer within 500 ms"),
                TabOutput::Lock(LockCommand::Release { lock })
            ],
            "a timed-out open gives its session back"
        );
        assert_eq!(tab.poll_timeout(), None);
        tab.from_coordinator(later, Ok(answer(2, connect, ConnectOutcome::Response(response("t1")))));
        assert_eq!(drain(&mut tab), [], "a late answer is not taken");
    }

    #[test]
    fn a_port_granted_after_the_open_timed_out_is_given_back() {
        let mut tab = joined(2);
        let call = tab.open(T0, &BackendUrl::session("app", &b1(), "t"));
        let out = drain(&mut tab);
        let [TabOutput::Lock(LockCommand::Acquire { lock, .. })] = &out[..] else { panic!("{out:?}") };
        let lock = lock.clone();
        tab.lock_granted(T0, &lock);
        let [TabToCoordinator::RequestPort(request)] = &sent(&drain(&mut tab))[..] else { panic!("one request") };
        let deadline = tab.poll_timeout().expect("the open's deadline");
        tab.timeout(deadline);
        assert_eq!(codes(&drain(&mut tab)), [(call, Some(ErrorCode::Timeout))]);
        let grant = PortGrant {
            client_id: client(2),
            session_id: request.session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: Some(b1()),
        };
        tab.from_coordinator(deadline, Ok(CoordinatorToTab::ProvidePort(grant)));
        assert_eq!(drain(&mut tab), [], "no open is posted: the port is not taken, so it is closed");
        assert!(
            tab.keyed_sessions().all(|(id, _, _)| *id != request.session_id),
            "and the session lock was given back"
        );

        // An open still waiting for the backend's answer at its deadline ends too.
        let (call, session_id, _) = opening(&mut tab, "t");
        let deadline = tab.poll_timeout().expect("the open's deadline");
        tab.timeout(deadline);
        assert_eq!(
            drain(&mut tab),
            [
                refused(call, ErrorCode::Timeout, "no answer within 10000 ms"),
                TabOutput::Lock(LockCommand::Release { lock: LockId::Session(session_id.clone()) }),
                TabOutput::CloseKeyed { session_id: session_id.clone() },
            ]
        );
        tab.open_answered(&session_id, Ok(BackendToTab::Opened));
        assert_eq!(drain(&mut tab), [], "a late answer opens nothing");
    }

    #[test]
    fn a_backends_terminated_state_closes_its_sessions_before_the_app_is_told() {
        let mut tab = joined(2);
        let (open_call, open_session, _) = opening(&mut tab, "t");
        tab.open_answered(&open_session, Ok(BackendToTab::Opened));
        assert_eq!(codes(&drain(&mut tab)), [(open_call, None)]);
        let (opening_call, opening_session, _) = opening(&mut tab, "t");
        let subscription = tab.subscribe("b1").unwrap();
        assert_eq!(sent(&drain(&mut tab)), [TabToCoordinator::Watch { backend_id: b1() }]);
        let history = vec![BackendState::Scheduled { time: T0 }, BackendState::Ready { time: T0 }];
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b1(), states: history }));
        assert_eq!(drain(&mut tab).len(), 2, "two states, no session closed");
        let end = terminated(T0.plus_millis(1));
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Status { backend_id: b1(), state: end.clone() }));
        let out = drain(&mut tab);
        let detail = "the backend `b1` terminated while the session opened";
        assert_eq!(
            out,
            [
                TabOutput::Lock(LockCommand::Release { lock: LockId::Session(open_session.clone()) }),
                TabOutput::CloseKeyed { session_id: open_session },
                TabOutput::Lock(LockCommand::Release { lock: LockId::Session(opening_session.clone()) }),
                TabOutput::CloseKeyed { session_id: opening_session },
                refused(opening_call, ErrorCode::BackendTerminated, detail),
                TabOutput::Event(TabEvent::StatusUpdate { subscription, state: end }),
            ]
        );
    }

    #[test]
    fn a_new_coordinator_is_asked_again_for_each_backend_followed_and_its_empty_answer_keeps_what_is_known() {
        let mut tab = joined(2);
        tab.subscribe("b1").unwrap();
        let ended = BackendId::new("b3").unwrap();
        tab.subscribe("b3").unwrap();
        drain(&mut tab);
        let ready = vec![BackendState::Scheduled { time: T0 }, BackendState::Ready { time: T0 }];
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b1(), states: ready.clone() }));
        let gone = vec![BackendState::Scheduled { time: T0 }, terminated(T0)];
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: ended.clone(), states: gone }));
        drain(&mut tab);

        // The coordinator dies; the tab joins a new one.
        let old = LockId::Coordinator(CoordinatorId::new("k").unwrap());
        tab.lock_granted(T0, &old);
        drain(&mut tab);
        let welcome =
            CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k2").unwrap(), leader: None, tabs: 1 };
        tab.from_coordinator(T0, Ok(welcome));
        let asked: Vec<TabToCoordinator> =
            sent(&drain(&mut tab)).into_iter().filter(|m| matches!(m, TabToCoordinator::Watch { .. })).collect();
        assert_eq!(asked, [TabToCoordinator::Watch { backend_id: b1() }], "not the terminated one");

        // It does not know b1 yet: what the tab knows stays, and later states come in.
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b1(), states: Vec::new() }));
        assert!(drain(&mut tab).is_empty());
        let states = |tab: &Tab| tab.watched().find(|(id, _)| **id == b1()).map(|(_, s)| s.to_vec());
        assert_eq!(states(&tab), Some(ready.clone()));
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Status { backend_id: b1(), state: ready[0].clone() }));
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Status { backend_id: b1(), state: terminated(T0) }));
        assert_eq!(states(&tab), Some(vec![ready[0].clone(), ready[1].clone(), terminated(T0)]));
    }

    #[test]
    fn a_keyed_request_lost_with_the_coordinator_is_asked_again_of_the_next_as_a_fresh_attempt() {
        let mut tab = joined(2);
        let url = BackendUrl::session("app", &b1(), "t");
        let call = tab.open(T0, &url);
        let [TabOutput::Lock(LockCommand::Acquire { lock: first, .. })] = &drain(&mut tab)[..] else { panic!() };
        let first = first.clone();
        tab.lock_granted(T0, &first);
        assert!(matches!(&sent(&drain(&mut tab))[..], [TabToCoordinator::RequestPort(_)]));
        // An open session with b1 is a direct channel: it lives on.
        let (_, open_session, _) = opening(&mut tab, "t2");
        tab.open_answered(&open_session, Ok(BackendToTab::Opened));
        drain(&mut tab);

        // The coordinator dies with the request: its lock is given back, a fresh attempt locks.
        tab.lock_granted(T0, &LockId::Coordinator(CoordinatorId::new("k").unwrap()));
        let out = drain(&mut tab);
        assert!(out.contains(&TabOutput::Lock(LockCommand::Release { lock: first.clone() })), "{out:?}");
        let renewed: Vec<LockId> = (out.iter())
            .filter_map(|o| match o {
                TabOutput::Lock(LockCommand::Acquire { lock: lock @ LockId::Session(_), .. }) => Some(lock.clone()),
                _ => None,
            })
            .collect();
        let [lock] = &renewed[..] else { panic!("one session lock asked for: {out:?}") };
        assert!(!sent(&out).iter().any(|m| matches!(m, TabToCoordinator::RequestPort(_))));
        // Granted before a coordinator welcomed the tab: it asks nobody yet.
        tab.lock_granted(T0, lock);
        assert!(sent(&drain(&mut tab)).is_empty());
        assert_eq!(tab.keyed_sessions().count(), 2);

        let welcome =
            CoordinatorToTab::Welcome { coordinator_id: CoordinatorId::new("k2").unwrap(), leader: None, tabs: 1 };
        tab.from_coordinator(T0, Ok(welcome));
        let requests: Vec<PortRequest> = (sent(&drain(&mut tab)).into_iter())
            .filter_map(|m| match m {
                TabToCoordinator::RequestPort(r) => Some(r),
                _ => None,
            })
            .collect();
        let [request] = &requests[..] else { panic!("{requests:?}") };
        assert_eq!((LockId::Session(request.session_id.clone()), &request.backend_id), (lock.clone(), &Some(b1())));
        // The old attempt's port, if it comes, is not taken; the new one opens the app's call.
        let grant = |session_id: &SessionId| PortGrant {
            client_id: client(2),
            session_id: session_id.clone(),
            epoch: Epoch::new(1).unwrap(),
            backend_id: Some(b1()),
        };
        let LockId::Session(old) = &first else { panic!() };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant(old))));
        assert_eq!(drain(&mut tab), []);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::ProvidePort(grant(&request.session_id))));
        assert!(matches!(&drain(&mut tab)[..], [TabOutput::OpenKeyed { .. }]));
        tab.open_answered(&request.session_id, Ok(BackendToTab::Opened));
        let session = CallValue::Session { session_id: request.session_id.clone(), backend_id: b1() };
        assert_eq!(settled(&drain(&mut tab)), [(call, Ok(session))]);
    }

    #[test]
    fn a_keyed_open_renewed_after_the_coordinator_died_keeps_its_deadline() {
        let mut tab = joined(2);
        tab.set_call_timeout(500);
        let call = tab.open(T0, &BackendUrl::session("app", &b1(), "t"));
        let [TabOutput::Lock(LockCommand::Acquire { lock, .. })] = &drain(&mut tab)[..] else { panic!() };
        tab.lock_granted(T0, &lock.clone());
        drain(&mut tab);
        tab.lock_granted(T0, &LockId::Coordinator(CoordinatorId::new("k").unwrap()));
        drain(&mut tab);
        let (session, ..) = tab.keyed_sessions().next().map(|(s, b, c)| (s.clone(), b.clone(), c)).unwrap();
        tab.timeout(T0.plus_millis(500));
        let out = drain(&mut tab);
        assert_eq!(codes(&out), [(call, Some(ErrorCode::Timeout))]);
        assert!(out.contains(&TabOutput::Lock(LockCommand::Release { lock: LockId::Session(session) })), "{out:?}");
        assert_eq!(tab.keyed_sessions().count(), 0);
    }

    #[test]
    fn an_unhosted_backend_known_live_ends_lost_closing_its_sessions_and_one_never_known_stays_unknown() {
        let mut tab = joined(2);
        let (open_call, open_session, _) = opening(&mut tab, "t");
        tab.open_answered(&open_session, Ok(BackendToTab::Opened));
        assert_eq!(codes(&drain(&mut tab)), [(open_call, None)]);
        let subscription = tab.subscribe("b1").unwrap();
        drain(&mut tab);
        let stopping = BackendState::Terminating { time: T0, termination_reason: TerminationReason::External };
        let history = vec![BackendState::Scheduled { time: T0 }, BackendState::Ready { time: T0 }, stopping];
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b1(), states: history.clone() }));
        drain(&mut tab);
        // Its leader died with the coordinator that knew it; the new one says no leader hosts it.
        let later = T0.plus_millis(40);
        tab.from_coordinator(later, Ok(CoordinatorToTab::Unhosted { backend_id: b1(), time: later }));
        // A termination under way keeps its reason and kind.
        let end = BackendState::Terminated {
            time: later,
            termination_reason: Some(TerminationReason::External),
            termination_kind: Some(TerminationKind::Soft),
            exit_error: Some(false),
        };
        assert_eq!(
            drain(&mut tab),
            [
                TabOutput::Lock(LockCommand::Release { lock: LockId::Session(open_session.clone()) }),
                TabOutput::CloseKeyed { session_id: open_session },
                TabOutput::Event(TabEvent::StatusUpdate { subscription, state: end.clone() }),
            ]
        );
        tab.from_coordinator(later, Ok(CoordinatorToTab::Unhosted { backend_id: b1(), time: later }));
        assert_eq!(drain(&mut tab), [], "once");
        let states = tab.watched().find(|(id, _)| **id == b1()).map(|(_, s)| s.to_vec());
        assert_eq!(states, Some([history, vec![end]].concat()));

        // Known live without a termination under way: `lost`, never before its last state.
        let b2 = BackendId::new("b2").unwrap();
        tab.subscribe("b2").unwrap();
        let ready = vec![BackendState::Scheduled { time: later }, BackendState::Ready { time: later }];
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b2.clone(), states: ready }));
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Unhosted { backend_id: b2.clone(), time: T0 }));
        let last = tab.watched().find(|(id, _)| **id == b2).and_then(|(_, s)| s.last().cloned());
        assert_eq!(last.as_ref().map(BackendState::time), Some(later));
        assert_eq!(last.and_then(|s| s.termination_reason()), Some(TerminationReason::Lost));

        // Never known: a wait on it is refused, as for a backend nobody knows.
        let b3 = BackendId::new("b3").unwrap();
        let status = tab.status("b3");
        drain(&mut tab);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Unhosted { backend_id: b3.clone(), time: T0 }));
        assert_eq!(codes(&drain(&mut tab)), [(status, Some(ErrorCode::UnknownBackend))]);
        assert!(tab.watched().all(|(id, _)| *id != b3), "no history is made up");
    }

    #[test]
    fn waits_settle_from_the_watched_history_and_an_unknown_backend_refuses_them() {
        let mut tab = joined(2);
        let status = tab.status(&BackendUrl::status("app", &b1()));
        let ready = tab.ready(&BackendUrl::ready("app", &b1()));
        let end = tab.terminate("b1", true);
        let subscription = tab.subscribe("b1").unwrap();
        let terminate = TerminateCall { client_id: client(2), backend_id: b1(), hard: true };
        assert_eq!(
            sent(&drain(&mut tab)),
            [TabToCoordinator::Watch { backend_id: b1() }, TabToCoordinator::Terminate(terminate)],
            "watched once"
        );
        let state = BackendState::Ready { time: T0 };
        let states = vec![state.clone()];
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b1(), states }));
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Status { backend_id: b1(), state: state.clone() }));
        let update = TabOutput::Event(TabEvent::StatusUpdate { subscription, state: state.clone() });
        let out = drain(&mut tab);
        assert_eq!(out[0], update, "a repeated state is given once");
        assert_eq!(
            settled(&out),
            [(status, Ok(CallValue::State(state.clone()))), (ready, Ok(CallValue::State(state.clone())))]
        );
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Status { backend_id: b1(), state: terminated(T0) }));
        assert_eq!(settled(&drain(&mut tab)), [(end, Ok(CallValue::State(terminated(T0))))]);

        let unknown = tab.ready("b2");
        let b2 = BackendId::new("b2").unwrap();
        assert_eq!(sent(&drain(&mut tab)), [TabToCoordinator::Watch { backend_id: b2.clone() }]);
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b2.clone(), states: Vec::new() }));
        assert_eq!(drain(&mut tab), [refused(unknown, ErrorCode::UnknownBackend, "no backend `b2` is known")]);
        tab.status("b2");
        assert_eq!(sent(&drain(&mut tab)), [TabToCoordinator::Watch { backend_id: b2 }], "asked again");
    }

    #[test]
    fn destroy_refuses_every_pending_call_with_not_initialized_and_closes_every_session() {
        let mut tab = joined(2);
        let connect = tab.connect(T0, room(true));
        let wait = tab.ready("b1");
        drain(&mut tab);
        let (open, session_id, _) = opening(&mut tab, "t");
        tab.subscribe("b1").unwrap();
        drain(&mut tab);
        tab.destroy(T0);
        let out = drain(&mut tab);
        let destroyed = |call| refused(call, ErrorCode::NotInitialized, "the client was destroyed");
        for expected in [
            destroyed(connect),
            destroyed(wait),
            destroyed(open),
            TabOutput::Lock(LockCommand::Release { lock: LockId::Session(session_id.clone()) }),
            TabOutput::CloseKeyed { session_id },
        ] {
            assert!(out.contains(&expected), "{expected:?} in {out:?}");
        }
        assert_eq!(settled(&out).len(), 3, "each once");
        assert_eq!(tab.poll_timeout(), None, "no deadline is left");
        let history = vec![BackendState::Ready { time: T0 }];
        tab.from_coordinator(T0, Ok(CoordinatorToTab::History { backend_id: b1(), states: history }));
        assert_eq!(drain(&mut tab), [], "no subscriber is left");
        let late = tab.status("b1");
        assert_eq!(codes(&drain(&mut tab)), [(late, Some(ErrorCode::NotInitialized))]);
    }
}
