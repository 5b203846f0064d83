//! A tab's handle on one backend, whole: which backend it follows (the
//! app's default backend, a keyed one, or one in a Plane cluster), the
//! session it opens or is given, the states it is told, its requests and
//! events, how its session's end is decided and what follows it. The
//! handle's glue carries ports, sockets, promises and listeners, and does
//! what [`HandleOutput`]s say; every wait is a deadline of
//! [`Handle::poll_timeout`], served by its client's one timer.

use std::collections::VecDeque;

use super::caller::{Caller, CallerOutput, RequestError, RequestNumbers};
use super::frame::{ChannelError, ChannelFrame, RequestId};
use super::tracker::{Change, Closing, Ending, Reconnected, Tracker};
use crate::model::code::ErrorCode;
use crate::model::connect::{BackendUrl, ConnectRequest, ConnectResponse};
use crate::model::ids::BackendId;
use crate::model::status::{BackendState, BackendStatus};
use crate::model::time::Timestamp;
use crate::model::value::{Fields, FromValue, Value, ValueError};
use crate::plane::remote::{Remote, Reopen, is_remote};

/// How long a request waits for its answer unless `timeoutMs` says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Which backend a handle follows, and how it reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// The app's default backend: the session its client keeps with each
    /// leader's backend in turn. It never ends.
    Default,
    /// A keyed backend, opened by `url`; with `request`, connected again by
    /// it when the backend is lost with its tab.
    Keyed {
        /// The `url` of the `ConnectResponse` followed.
        url: String,
        /// The request connected again, for a handle that reconnects.
        request: Option<ConnectRequest>,
    },
    /// A backend in a Plane cluster, by the urls of its `ConnectResponse`.
    Remote(Remote),
}

impl Link {
    /// The link of a `ConnectResponse` of any tab: a remote backend's when
    /// its `url` is `http(s)://`, else a keyed backend's.
    pub fn of_response(response: &Value) -> Result<Link, ValueError> {
        let url = Fields::of(response)?.opt::<String>("url")?;
        if url.is_some_and(|url| is_remote(&url)) {
            Remote::from_value(response).map(Link::Remote)
        } else {
            let url = ConnectResponse::from_value(response)?.url;
            Ok(Link::Keyed { url, request: None })
        }
    }
}

/// A request's options (`RequestOptions`) other than its `signal`, read as
/// every setting is: a misspelt one is refused, not a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSettings {
    /// How long the answer may take (`timeoutMs`).
    pub timeout_ms: u64,
}

/// The options a request takes; `signal` is read by the glue.
pub const REQUEST_OPTIONS: &[&str] = &["timeoutMs", "signal"];

impl FromValue for RequestSettings {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        if matches!(value, Value::Null) {
            return Ok(RequestSettings { timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS });
        }
        let fields = Fields::of(value)?;
        fields.only(REQUEST_OPTIONS)?;
        let timeout = match fields.opt::<Value>("timeoutMs")? {
            None | Some(Value::Null) => DEFAULT_REQUEST_TIMEOUT_MS,
            Some(Value::Number(ms)) if ms.get().is_finite() && ms.get() >= 0.0 => ms.get() as u64,
            Some(_) => return Err(ValueError::new("timeoutMs must be a number of milliseconds")),
        };
        Ok(RequestSettings { timeout_ms: timeout })
    }
}

/// The options of `connectBackend` (`ConnectBackendOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendSettings {
    /// Whether the handle connects its request again when its backend is
    /// lost with its tab (`reconnect`).
    pub reconnect: bool,
}

impl FromValue for BackendSettings {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        if matches!(value, Value::Null) {
            return Ok(BackendSettings::default());
        }
        let fields = Fields::of(value)?;
        fields.only(&["reconnect"])?;
        Ok(BackendSettings { reconnect: fields.or_default("reconnect")? })
    }
}

/// What the handle asks its glue to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleOutput<P> {
    /// Follow the states of this backend, instead of any followed before.
    Watch(BackendId),
    /// Open a session with the keyed backend of this `url`.
    Open(String),
    /// Connect this request again (the backend was lost with its tab).
    Connect(ConnectRequest),
    /// Follow the remote backend's status stream at this url.
    OpenStream(String),
    /// The remote backend ended: stop following its status stream.
    CloseStream,
    /// Open the remote session's WebSocket at this url.
    OpenSocket(String),
    /// The session was lost: let go of its port.
    Detach,
    /// The handle was destroyed: close its session and stop every listener.
    Close,
    /// What the caller asks: post a frame, settle a request, pass on an event.
    Call(CallerOutput<P>),
    /// Tell the lifecycle listeners of this change.
    Lifecycle(Change),
    /// The key was connected again: tell the `onReconnect` listeners.
    Reconnected(Box<ConnectResponse>),
    /// `ready()` settles: with the ready state, or why it never will be.
    Ready(Result<BackendState, RequestError>),
    /// Something went wrong that only the console hears of.
    Warn(String),
}

/// A tab's handle on one backend.
#[derive(Debug)]
pub struct Handle<P> {
    link: Link,
    caller: Caller<P>,
    tracker: Tracker,
    /// How a keyed or remote session's end is decided.
    closing: Closing,
    /// When a remote session's socket that closed opens again.
    reopen: Reopen,
    reopen_at: Option<Timestamp>,
    /// Whether `ready()` was asked and has not settled.
    ready_asked: bool,
    destroyed: bool,
    outputs: VecDeque<HandleOutput<P>>,
}

impl<P> Handle<P> {
    /// A handle on `link`, numbered `number` among its tab's handles, whose
    /// requests take their numbers from `numbers`. With `reconnect`, a
    /// keyed backend lost with its tab is connected again. Its first steps
    /// are among its outputs; a keyed `url` that is not one is refused.
    pub fn new(link: Link, number: u32, numbers: RequestNumbers, reconnect: bool) -> Result<Handle<P>, RequestError> {
        let mut handle = Handle {
            link,
            caller: Caller::with_numbers(number, numbers),
            tracker: Tracker::new(),
            closing: Closing::new(reconnect),
            reopen: Reopen::default(),
            reopen_at: None,
            ready_asked: false,
            destroyed: false,
            outputs: VecDeque::new(),
        };
        match handle.link.clone() {
            Link::Default => {}
            Link::Keyed { url, .. } => handle.open_keyed(&url)?,
            Link::Remote(remote) => {
                handle.tracker.follow(remote.backend_id);
                handle.outputs.push_back(HandleOutput::OpenStream(remote.status_stream_url));
                handle.outputs.push_back(HandleOutput::OpenSocket(remote.socket_url));
            }
        }
        Ok(handle)
    }

    /// Which backend it follows.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The backend followed (for the default backend, the current leader's).
    pub fn backend(&self) -> Option<&BackendId> {
        self.tracker.backend()
    }

    /// The backend's last known state.
    pub fn last(&self) -> Option<&BackendState> {
        self.tracker.last()
    }

    /// Whether the backend is ready now.
    pub fn is_ready(&self) -> bool {
        self.tracker.is_ready()
    }

    /// Whether the backend ended.
    pub fn is_terminated(&self) -> bool {
        self.tracker.is_terminated()
    }

    /// `Err(destroyed)` once the handle was destroyed.
    pub fn check_alive(&self) -> Result<(), RequestError> {
        if self.destroyed { Err(destroyed()) } else { Ok(()) }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<HandleOutput<P>> {
        self.outputs.pop_front()
    }

    /// The earliest deadline: a request's, a reconnect's, a socket's reopening.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        [self.caller.poll_timeout(), self.closing.poll_timeout(), self.reopen_at].into_iter().flatten().min()
    }

    /// Time passed: requests past their deadline fail, a reconnect that
    /// waited connects again, a socket that waited opens again.
    pub fn timeout(&mut self, now: Timestamp) {
        self.caller.timeout(now);
        self.drain();
        let ending = self.closing.timeout(now);
        self.finish(ending);
        if self.reopen_at.is_some_and(|at| at <= now) {
            self.reopen_at = None;
            if let (Link::Remote(remote), false) = (&self.link, self.destroyed) {
                self.outputs.push_back(HandleOutput::OpenSocket(remote.socket_url.clone()));
            }
        }
    }

    // ---- the app's calls ----

    /// The app sends event `name`: posted now, or queued until a session opens.
    pub fn send(&mut self, name: String, payload: P) -> Result<(), RequestError> {
        let sent = self.caller.send(name, payload);
        self.drain();
        sent
    }

    /// The app asks `method`; its answer is due within `timeout_ms`.
    pub fn request(
        &mut self,
        now: Timestamp,
        method: String,
        payload: P,
        timeout_ms: u64,
    ) -> Result<RequestId, RequestError> {
        let made = self.caller.request(now, method, payload, timeout_ms);
        self.drain();
        made
    }

    /// The app aborted request `id`.
    pub fn abort(&mut self, id: RequestId, reason: &str) {
        self.caller.abort(id, reason);
        self.drain();
    }

    /// Request `id` fails with `error` (the glue could not post it).
    pub fn fail(&mut self, id: RequestId, error: RequestError) {
        self.caller.fail(id, error);
        self.drain();
    }

    /// The app waits for `ready()`: it settles as soon as the outcome is known.
    pub fn wait_ready(&mut self) {
        self.ready_asked = true;
        if self.destroyed {
            self.ready_asked = false;
            self.outputs.push_back(HandleOutput::Ready(Err(destroyed())));
        }
        self.settle_ready();
    }

    /// The app destroyed the handle: its requests and `ready()` fail with
    /// `destroyed`, and its session is closed (the backend goes on).
    pub fn destroy(&mut self) {
        if std::mem::replace(&mut self.destroyed, true) {
            return;
        }
        self.caller.destroy();
        self.drain();
        if std::mem::take(&mut self.ready_asked) {
            self.outputs.push_back(HandleOutput::Ready(Err(destroyed())));
        }
        self.reopen_at = None;
        self.outputs.push_back(HandleOutput::Close);
    }

    // ---- what the glue saw ----

    /// The client's default session opened with `backend` (the default
    /// backend's handle takes it; `false`: it is not this handle's).
    pub fn default_opened(&mut self, backend: Option<BackendId>) -> bool {
        let (Link::Default, Some(backend), false) = (&self.link, backend, self.destroyed) else { return false };
        self.follow(backend);
        self.opened();
        true
    }

    /// The client's default session ended (the default backend's handle
    /// waits for the next one).
    pub fn default_closed(&mut self) {
        if self.link == Link::Default {
            self.lost();
        }
    }

    /// The session (a keyed session, a remote socket) opened.
    pub fn opened(&mut self) {
        if self.destroyed {
            return;
        }
        match self.link {
            Link::Default => {}
            Link::Keyed { .. } => self.closing.opened(),
            Link::Remote(_) => {
                self.reopen.opened();
                self.closing.opened();
            }
        }
        self.caller.opened();
        self.drain();
    }

    /// The session could not be opened (or connected again): the handle ends.
    pub fn open_failed(&mut self, what: &str, detail: &str) {
        self.outputs.push_back(HandleOutput::Warn(format!("a SessionBackend could not {what}: {detail}")));
        let ending = self.closing.failed(self.tracker.last().cloned());
        self.finish(ending);
    }

    /// The keyed session closed.
    pub fn closed(&mut self) {
        self.lost();
        let ending = self.closing.closed();
        self.finish(ending);
    }

    /// The remote session's socket closed (or could not be opened): it
    /// opens again after a wait while the backend goes on.
    pub fn socket_closed(&mut self, now: Timestamp) {
        let Link::Remote(_) = self.link else { return };
        let wait = self.reopen.closed(self.tracker.last().map(BackendState::status));
        self.lost();
        match wait {
            Some(ms) if !self.destroyed => self.reopen_at = Some(now.plus_millis(ms)),
            Some(_) => {}
            None => {
                let ending = self.closing.closed();
                self.finish(ending);
            }
        }
    }

    /// The answer to a reconnect's `Connect`.
    pub fn connected(&mut self, now: Timestamp, answer: Result<ConnectResponse, String>) {
        if self.destroyed {
            return;
        }
        let response = match answer {
            Ok(response) => response,
            Err(detail) => return self.open_failed("reconnect", &detail),
        };
        match self.closing.answered(now, &response.backend_id) {
            // Its deadline is `poll_timeout`'s.
            Reconnected::Later => {}
            Reconnected::GiveUp(state) => self.finish(Some(Ending::End(state))),
            Reconnected::Follow => match self.open_keyed(&response.url) {
                Ok(()) => self.outputs.push_back(HandleOutput::Reconnected(Box::new(response))),
                Err(e) => self.open_failed("reconnect", &e.message),
            },
        }
    }

    /// A state of the backend followed.
    pub fn state(&mut self, state: BackendState) {
        let ended = state.status() == BackendStatus::Terminated;
        let changes = self.tracker.update(state);
        let mut ending = None;
        for change in changes {
            if let (Change::Terminated(state), Some(backend)) = (&change, self.tracker.backend().cloned()) {
                // Its session is gone with it: what is sent from now on waits
                // for the next one (or fails, if none follows).
                self.lost();
                if self.link != Link::Default {
                    ending = self.closing.terminated(backend, state.clone());
                }
            }
            self.outputs.push_back(HandleOutput::Lifecycle(change));
        }
        if ended && matches!(self.link, Link::Remote(_)) {
            self.outputs.push_back(HandleOutput::CloseStream);
        }
        self.settle_ready();
        self.finish(ending);
    }

    /// A frame from the backend over the open session, or why what came
    /// is not one: a bad frame is said once, here, and changes nothing.
    pub fn from_backend(&mut self, frame: Result<ChannelFrame<P>, ChannelError>) {
        if let Err(e) = frame.and_then(|frame| self.caller.from_backend(frame)) {
            self.outputs.push_back(HandleOutput::Warn(format!("the backend sent a bad frame: {e}")));
        }
        self.drain();
    }

    // ---- its own steps ----

    /// Follows the keyed backend of `url` and opens a session with it.
    fn open_keyed(&mut self, url: &str) -> Result<(), RequestError> {
        let backend = BackendUrl::parse(url)
            .map_err(|e| RequestError::new(ErrorCode::InvalidArgument, e.to_string()))?
            .backend_id;
        self.follow(backend);
        self.outputs.push_back(HandleOutput::Open(url.to_owned()));
        Ok(())
    }

    /// Follows `backend`, whose states start afresh if it is another one.
    fn follow(&mut self, backend: BackendId) {
        if self.tracker.follow(backend.clone()) {
            self.outputs.push_back(HandleOutput::Watch(backend));
        }
    }

    /// The session is gone: what was posted and not answered fails.
    fn lost(&mut self) {
        self.outputs.push_back(HandleOutput::Detach);
        self.caller.lost(self.tracker.last().cloned());
        self.drain();
    }

    /// What follows a session's end: the end of the handle, or the same
    /// key connected again.
    fn finish(&mut self, ending: Option<Ending>) {
        if self.destroyed {
            return;
        }
        match ending {
            None => {}
            Some(Ending::End(state)) => {
                self.caller.ended(state);
                self.drain();
            }
            Some(Ending::Reconnect) => match &self.link {
                Link::Keyed { request: Some(request), .. } => {
                    self.outputs.push_back(HandleOutput::Connect(request.clone()));
                }
                _ => self.finish(Some(Ending::End(self.tracker.last().cloned()))),
            },
        }
    }

    fn settle_ready(&mut self) {
        if !self.ready_asked {
            return;
        }
        let Some(outcome) = self.tracker.ready_outcome() else { return };
        self.ready_asked = false;
        self.outputs.push_back(HandleOutput::Ready(outcome.map_err(|state| ended_before_ready(&state))));
    }

    /// The caller's outputs, in order among the handle's.
    fn drain(&mut self) {
        while let Some(output) = self.caller.poll_output() {
            self.outputs.push_back(HandleOutput::Call(output));
        }
    }
}

fn destroyed() -> RequestError {
    RequestError::new(ErrorCode::Destroyed, "this SessionBackend was destroyed")
}

fn ended_before_ready(state: &BackendState) -> RequestError {
    let reason = state.termination_reason().map_or("none", |r| r.as_str());
    RequestError {
        state: Some(state.clone()),
        ..RequestError::new(
            ErrorCode::BackendTerminated,
            format!("the backend ended (reason: {reason}) before it was ready"),
        )
    }
}

#[cfg(test)]
#[path = "handle_tests.rs"]
mod tests;
