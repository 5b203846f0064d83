//! Backends written in Rust, once, for both places a backend runs: a
//! browser worker (served by the `web` layer) and a native process that
//! Plane runs (served by the `native` layer, feature `native`). The app's
//! crate builds its backend with [`RustBackend`] — its state, its start,
//! its sessions, events and request handlers, and its soft stop — over
//! payloads that are [`Value`]s, and calls `serve()` ([`Serve`]), which
//! each layer provides for its target:
//!
//! ```ignore
//! use tabworker::{RustBackend, Serve, Value};
//!
//! #[derive(Default)]
//! struct Counter { count: f64 }
//!
//! pub fn counter() -> RustBackend<Counter> {
//!     RustBackend::new(Counter::default())
//!         .start(|counter, ctx| {
//!             counter.count = ctx.env("START").and_then(|s| s.parse().ok()).unwrap_or(0.0);
//!             Ok(())
//!         })
//!         .on("increment", |counter, session, by| {
//!             counter.count += by.as_f64().unwrap_or(1.0);
//!             session.backend().broadcast("count", &counter.count.into());
//!         })
//!         .handle("read", |counter, _session, _payload| Ok(counter.count.into()))
//! }
//! ```
//!
//! What a request or an event reaches is decided here ([`Runs`]), so
//! both layers follow the same rules, tested natively.

use std::any::Any;
use std::rc::Rc;

use crate::channel::{ChannelFrame, Responder, Verdict};
use crate::model::code::ErrorCode;
use crate::model::map::Map;
use crate::model::value::{Object, Value};

/// What a layer gives [`Context`]: the backend's start.
pub trait ContextLink {
    /// The backend's id.
    fn backend_id(&self) -> String;
    /// The key it holds.
    fn key(&self) -> String;
    /// `executable.env[name]` of the connect that started it.
    fn env(&self, name: &str) -> Option<String>;
    /// Declares the backend ready.
    fn ready(&self);
    /// Whether `secret` is a `secret_token` of a connect that reached this
    /// backend (natively: only the asking session's own).
    fn is_secret_token(&self, secret: &str) -> bool;
    /// Whether the connect asked for a mount.
    fn has_mount(&self) -> bool;
    /// The layer's own context (the browser layer keeps the OPFS handle there).
    fn as_any(&self) -> &dyn Any;
}

/// What a layer gives [`Session`]: one session.
pub trait SessionLink {
    /// The client (tab) the session is for; empty for a remote session.
    fn client_id(&self) -> String;
    /// The session's id.
    fn session_id(&self) -> String;
    /// The connect's `user` (verified by Plane's proxy for a remote session).
    fn user(&self) -> Option<String>;
    /// The connect's `auth` (verified likewise), empty when it had none.
    fn auth(&self) -> Object;
    /// Sends event `event` to this session's tab.
    fn send(&self, event: &str, payload: &Value) -> Result<(), String>;
}

/// What a layer gives [`Served`]: the running backend.
pub trait ServedLink {
    /// Sends event `event` to every open session.
    fn broadcast(&self, event: &str, payload: &Value);
    /// How many sessions are open.
    fn sessions(&self) -> usize;
}

/// What `start` is given: the backend's id and key, the connect's `env`,
/// and `ready()` for a backend that declares it.
#[derive(Clone)]
pub struct Context {
    link: Rc<dyn ContextLink>,
}

impl Context {
    /// A context over a layer's `link`.
    pub fn new(link: Rc<dyn ContextLink>) -> Self {
        Context { link }
    }

    /// The backend's id.
    pub fn backend_id(&self) -> String {
        self.link.backend_id()
    }

    /// The key it holds (`tabworker:default` for the app's default backend).
    pub fn key(&self) -> String {
        self.link.key()
    }

    /// `executable.env[name]` of the connect that started it.
    pub fn env(&self, name: &str) -> Option<String> {
        self.link.env(name)
    }

    /// Declares the backend ready (with [`RustBackend::declares_ready`]).
    pub fn ready(&self) {
        self.link.ready();
    }

    /// Whether `secret` is the `secret_token` of a connect that reached this
    /// backend. Natively (behind Plane's proxy), only the asking session's
    /// own counts: the `x-verified-secret` of the session whose
    /// `on_session`, event listener or handler is running; outside a
    /// session's call, none.
    pub fn is_secret_token(&self, secret: &str) -> bool {
        self.link.is_secret_token(secret)
    }

    /// Whether the connect asked for a mount (an OPFS directory in the browser).
    pub fn has_mount(&self) -> bool {
        self.link.has_mount()
    }

    /// The layer's own context, for what only one place has.
    pub fn layer(&self) -> &dyn Any {
        self.link.as_any()
    }
}

/// One session, as the closures see it.
#[derive(Clone)]
pub struct Session {
    link: Rc<dyn SessionLink>,
    backend: Served,
}

impl Session {
    /// A session over a layer's `link`, served by `backend`.
    pub fn new(link: Rc<dyn SessionLink>, backend: Served) -> Self {
        Session { link, backend }
    }

    /// The client (tab) the session is for; empty for a remote session.
    pub fn client_id(&self) -> String {
        self.link.client_id()
    }

    /// The session's id.
    pub fn session_id(&self) -> String {
        self.link.session_id()
    }

    /// The connect's `user`.
    pub fn user(&self) -> Option<String> {
        self.link.user()
    }

    /// The connect's `auth`.
    pub fn auth(&self) -> Object {
        self.link.auth()
    }

    /// Sends event `event` to this session's tab.
    pub fn send(&self, event: &str, payload: &Value) -> Result<(), String> {
        self.link.send(event, payload)
    }

    /// The backend serving it (to broadcast to every session).
    pub fn backend(&self) -> &Served {
        &self.backend
    }
}

/// A running backend. Clones share it.
#[derive(Clone)]
pub struct Served {
    link: Rc<dyn ServedLink>,
}

impl Served {
    /// The backend a layer's `link` runs.
    pub fn new(link: Rc<dyn ServedLink>) -> Self {
        Served { link }
    }

    /// Sends event `event` to every open session.
    pub fn broadcast(&self, event: &str, payload: &Value) {
        self.link.broadcast(event, payload);
    }

    /// How many sessions are open.
    pub fn sessions(&self) -> usize {
        self.link.sessions()
    }
}

type StartFn<S> = Box<dyn FnMut(&mut S, &Context) -> Result<(), String>>;
type SessionFn<S> = Box<dyn FnMut(&mut S, &Session)>;
type EventFn<S> = Box<dyn FnMut(&mut S, &Session, Value)>;
type HandlerFn<S> = Box<dyn FnMut(&mut S, &Session, Value) -> Result<Value, String>>;
type StopFn<S> = Box<dyn FnMut(&mut S, &Served)>;

/// Serving a [`RustBackend`] where this build runs: in a browser worker
/// (wasm32, by the `web` layer) or as a process behind Plane (feature
/// `native`, by the `native` layer). Each layer implements it for its
/// target; `use tabworker::Serve` brings `serve()` into scope.
pub trait Serve {
    /// What serving gives: the running backend in a worker; in a process,
    /// how it stopped.
    type Output;
    /// Serves the backend for as long as the worker or the process lives.
    fn serve(self) -> Self::Output;
}

/// A backend written in Rust, over its state `S`: each closure gets the
/// state mutably, one at a time.
pub struct RustBackend<S: 'static> {
    pub(crate) state: S,
    pub(crate) declares_ready: bool,
    pub(crate) start: Option<StartFn<S>>,
    pub(crate) session: Option<SessionFn<S>>,
    pub(crate) events: Map<String, EventFn<S>>,
    pub(crate) handlers: Map<String, HandlerFn<S>>,
    pub(crate) stop: Option<StopFn<S>>,
}

impl<S: 'static> RustBackend<S> {
    /// A backend over `state`; it serves nothing until `serve()`.
    pub fn new(state: S) -> Self {
        RustBackend {
            state,
            declares_ready: false,
            start: None,
            session: None,
            events: Map::new(),
            handlers: Map::new(),
            stop: None,
        }
    }

    /// Runs once, before any session. An `Err` ends the backend with `exit_error`.
    pub fn start(mut self, start: impl FnMut(&mut S, &Context) -> Result<(), String> + 'static) -> Self {
        self.start = Some(Box::new(start));
        self
    }

    /// The backend is ready only once it calls [`Context::ready`] (by
    /// default: when `start` returns).
    pub fn declares_ready(mut self) -> Self {
        self.declares_ready = true;
        self
    }

    /// Called once per session, when it opens.
    pub fn on_session(mut self, session: impl FnMut(&mut S, &Session) + 'static) -> Self {
        self.session = Some(Box::new(session));
        self
    }

    /// Called with each event `event` a tab sends, and its payload. A later
    /// listener for the same name replaces an earlier one.
    pub fn on(mut self, event: &str, listener: impl FnMut(&mut S, &Session, Value) + 'static) -> Self {
        self.events.insert(event.to_string(), Box::new(listener));
        self
    }

    /// Answers requests for `method`: `Ok` is the result, `Err` reaches the
    /// caller as a `handler-error` with its text.
    pub fn handle(
        mut self,
        method: &str,
        handler: impl FnMut(&mut S, &Session, Value) -> Result<Value, String> + 'static,
    ) -> Self {
        self.handlers.insert(method.to_string(), Box::new(handler));
        self
    }

    /// Runs on a soft termination, before the backend ends (to tell the
    /// sessions, with [`Served::broadcast`]).
    pub fn stop(mut self, stop: impl FnMut(&mut S, &Served) + 'static) -> Self {
        self.stop = Some(Box::new(stop));
        self
    }
}

/// What a started Rust backend does with its sessions, whatever its state's
/// type: the decisions of what each frame reaches, the same for every layer.
pub trait Runs {
    /// A session opened.
    fn opened(&mut self, session: &Session);

    /// A frame from `session`, whose requests `responder` keeps: the answer
    /// to send back, if any. An event without a listener is dropped; a
    /// frame a tab never sends (a result or failure) is refused as malformed.
    fn frame(
        &mut self,
        session: &Session,
        responder: &mut Responder,
        frame: ChannelFrame<Value>,
    ) -> Result<Option<ChannelFrame<Value>>, ErrorCode>;

    /// A soft stop: runs `stop`, which may still broadcast.
    fn stop(&mut self, served: &Served);
}

/// A frame from a tab whose payload a layer could not read as plain data
/// (the `Err`: why): a request is answered `invalid-argument`, an event is
/// dropped; either way the backend's code does not see it. The frame to run,
/// or why not and the answer to send.
pub fn plain_frame(
    frame: ChannelFrame<Result<Value, String>>,
) -> Result<ChannelFrame<Value>, (String, Option<ChannelFrame<Value>>)> {
    match frame {
        ChannelFrame::Request { id, method, payload: Err(e) } => {
            let message = format!("the payload of `{method}` is not plain data: {e}");
            Err((message.clone(), Some(ChannelFrame::Failure { id, code: ErrorCode::InvalidArgument, message })))
        }
        ChannelFrame::Event { name, payload: Err(e) } => {
            Err((format!("the payload of event `{name}` is not plain data: {e}"), None))
        }
        ChannelFrame::Request { id, method, payload: Ok(payload) } => Ok(ChannelFrame::Request { id, method, payload }),
        ChannelFrame::Event { name, payload: Ok(payload) } => Ok(ChannelFrame::Event { name, payload }),
        ChannelFrame::Result { .. } | ChannelFrame::Failure { .. } => Err(("a tab sent an answer".into(), None)),
    }
}

/// A started Rust backend.
pub struct Running<S: 'static> {
    backend: RustBackend<S>,
}

impl<S: 'static> Running<S> {
    /// Runs `backend`'s `start` with `ctx`; its error ends the backend.
    pub fn start(mut backend: RustBackend<S>, ctx: &Context) -> Result<Self, String> {
        if let Some(start) = backend.start.as_mut() {
            start(&mut backend.state, ctx)?;
        }
        Ok(Running { backend })
    }

    /// Whether the backend declares itself ready (otherwise it is ready once started).
    pub fn declares_ready(&self) -> bool {
        self.backend.declares_ready
    }
}

impl<S: 'static> Runs for Running<S> {
    fn opened(&mut self, session: &Session) {
        if let Some(on_session) = self.backend.session.as_mut() {
            on_session(&mut self.backend.state, session);
        }
    }

    fn frame(
        &mut self,
        session: &Session,
        responder: &mut Responder,
        frame: ChannelFrame<Value>,
    ) -> Result<Option<ChannelFrame<Value>>, ErrorCode> {
        match frame {
            ChannelFrame::Event { name, payload } => {
                if let Some(listener) = self.backend.events.get_mut(&name) {
                    listener(&mut self.backend.state, session, payload);
                }
                Ok(None)
            }
            ChannelFrame::Request { id, method, payload } => {
                let handler = self.backend.handlers.get_mut(&method);
                match responder.request::<Value>(id, &method, handler.is_some()) {
                    Verdict::Refuse(failure) => Ok(Some(failure)),
                    Verdict::Handle => {
                        // Checked just above: the handler is there.
                        let Some(handler) = handler else { return Ok(None) };
                        let outcome = handler(&mut self.backend.state, session, payload);
                        Ok(responder.answer(id, outcome))
                    }
                }
            }
            ChannelFrame::Result { .. } | ChannelFrame::Failure { .. } => Err(ErrorCode::Malformed),
        }
    }

    fn stop(&mut self, served: &Served) {
        if let Some(stop) = self.backend.stop.as_mut() {
            stop(&mut self.backend.state, served);
        }
    }
}

/// The start of a started backend: its running part, or why it failed.
type StartBoxed = Box<dyn FnOnce(&Context) -> Result<Box<dyn Runs>, String>>;

/// A Rust backend not started yet, its state's type put away: what the
/// browser layer holds from `serve()` until the worker's start.
pub struct Unstarted {
    /// Whether the backend declares itself ready (otherwise it is ready once started).
    pub declares_ready: bool,
    start: StartBoxed,
}

impl Unstarted {
    /// Runs the backend's `start` with `ctx`; its error ends the backend.
    pub fn start(self, ctx: &Context) -> Result<Box<dyn Runs>, String> {
        (self.start)(ctx)
    }
}

impl<S: 'static> RustBackend<S> {
    /// Checks every event and method name the backend answers, as a tab's
    /// would be: a name no tab can send is the app's mistake, said at `serve()`.
    pub fn check_names(&self) -> Result<(), crate::channel::ChannelError> {
        let events = self.events.keys().map(|name| ("an event name", name));
        let methods = self.handlers.keys().map(|name| ("a method", name));
        events.chain(methods).try_for_each(|(what, name)| crate::channel::check_name(what, name))
    }

    /// This backend with its state's type put away, to start later.
    pub fn unstarted(self) -> Unstarted {
        let declares_ready = self.declares_ready;
        let start: StartBoxed =
            Box::new(move |ctx| Running::start(self, ctx).map(|running| Box::new(running) as Box<dyn Runs>));
        Unstarted { declares_ready, start }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::RequestId;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Sent(RefCell<Vec<(String, Value)>>);

    impl SessionLink for Sent {
        fn client_id(&self) -> String {
            String::new()
        }
        fn session_id(&self) -> String {
            "s-1".into()
        }
        fn user(&self) -> Option<String> {
            Some("alice".into())
        }
        fn auth(&self) -> Object {
            Object::new()
        }
        fn send(&self, event: &str, payload: &Value) -> Result<(), String> {
            self.0.borrow_mut().push((event.into(), payload.clone()));
            Ok(())
        }
    }

    impl ServedLink for Sent {
        fn broadcast(&self, event: &str, payload: &Value) {
            self.0.borrow_mut().push((format!("all:{event}"), payload.clone()));
        }
        fn sessions(&self) -> usize {
            1
        }
    }

    struct Start(Map<String, String>);

    impl ContextLink for Start {
        fn backend_id(&self) -> String {
            "ba-1".into()
        }
        fn key(&self) -> String {
            "doc".into()
        }
        fn env(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn ready(&self) {}
        fn is_secret_token(&self, _: &str) -> bool {
            false
        }
        fn has_mount(&self) -> bool {
            false
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    fn counter() -> RustBackend<f64> {
        RustBackend::new(0.0)
            .start(|n, ctx| {
                *n = ctx.env("START").map_or(Ok(0.0), |s| s.parse().map_err(|_| format!("bad START {s}")))?;
                Ok(())
            })
            .on_session(|n, session| drop(session.send("welcome", &(*n).into())))
            .on("increment", |n, session, by| {
                *n += by.as_f64().unwrap_or(1.0);
                session.backend().broadcast("count", &(*n).into());
            })
            .handle("read", |n, _, _| Ok((*n).into()))
            .handle("whoami", |_, session, _| {
                Ok(session.user().into_iter().map(Value::from).next().unwrap_or_default())
            })
            .handle("fail", |_, _, _| Err("asked to fail".into()))
            .stop(|n, served| served.broadcast("stopping", &(*n).into()))
    }

    fn ctx(start: &str) -> Context {
        Context::new(Rc::new(Start(Map::from([("START".to_string(), start.to_string())]))))
    }

    #[test]
    fn frames_reach_their_listener_or_handler_once() {
        let sent = Rc::new(Sent::default());
        let served = Served::new(sent.clone());
        let session = Session::new(sent.clone(), served.clone());
        let mut running = Running::start(counter(), &ctx("5")).unwrap();
        let mut responder = Responder::new();
        running.opened(&session);
        let event = ChannelFrame::Event { name: "increment".into(), payload: Value::from(2.0) };
        assert_eq!(running.frame(&session, &mut responder, event), Ok(None));
        let ask = |seq, method: &str| ChannelFrame::Request {
            id: RequestId::new(1, seq).unwrap(),
            method: method.into(),
            payload: Value::Null,
        };
        let id = |seq| RequestId::new(1, seq).unwrap();
        let answer = running.frame(&session, &mut responder, ask(1, "read")).unwrap();
        assert_eq!(answer, Some(ChannelFrame::Result { id: id(1), payload: Value::from(7.0) }));
        let answer = running.frame(&session, &mut responder, ask(2, "whoami")).unwrap();
        assert_eq!(answer, Some(ChannelFrame::Result { id: id(2), payload: Value::from("alice") }));
        let failed = running.frame(&session, &mut responder, ask(3, "fail")).unwrap();
        assert!(matches!(failed, Some(ChannelFrame::Failure { code: ErrorCode::HandlerError, .. })));
        let missing = running.frame(&session, &mut responder, ask(4, "nope")).unwrap();
        assert!(matches!(missing, Some(ChannelFrame::Failure { code: ErrorCode::NoHandler, .. })));
        let again = running.frame(&session, &mut responder, ask(4, "read")).unwrap();
        assert!(matches!(again, Some(ChannelFrame::Failure { code: ErrorCode::DuplicateRequest, .. })));
        let stray = ChannelFrame::Result { id: id(9), payload: Value::Null };
        assert_eq!(running.frame(&session, &mut responder, stray), Err(ErrorCode::Malformed));
        let unheard = ChannelFrame::Event { name: "unknown".into(), payload: Value::Null };
        assert_eq!(running.frame(&session, &mut responder, unheard), Ok(None));
        running.stop(&served);
        let names: Vec<String> = sent.0.borrow().iter().map(|(name, _)| name.clone()).collect();
        assert_eq!(names, ["welcome", "all:count", "all:stopping"]);
        assert_eq!(sent.0.borrow()[2].1, Value::from(7.0));
    }

    #[test]
    fn an_unstarted_backend_starts_later_with_its_rules() {
        let unstarted = counter().declares_ready().unstarted();
        assert!(unstarted.declares_ready);
        let sent = Rc::new(Sent::default());
        let session = Session::new(sent.clone(), Served::new(sent.clone()));
        let mut running = unstarted.start(&ctx("1")).unwrap();
        let read =
            ChannelFrame::Request { id: RequestId::new(1, 1).unwrap(), method: "read".into(), payload: Value::Null };
        let answer = running.frame(&session, &mut Responder::new(), read).unwrap();
        assert_eq!(answer, Some(ChannelFrame::Result { id: RequestId::new(1, 1).unwrap(), payload: Value::from(1.0) }));
        assert_eq!(counter().unstarted().start(&ctx("x")).err().as_deref(), Some("bad START x"));
    }

    #[test]
    fn names_no_tab_can_send_are_refused() {
        assert!(counter().check_names().is_ok());
        let empty = counter().handle("", |_, _, _| Ok(Value::Null)).check_names().unwrap_err();
        assert_eq!(empty.code, ErrorCode::Malformed);
        assert!(empty.detail.starts_with("a method must be"), "{}", empty.detail);
        let long = "e".repeat(crate::channel::MAX_NAME_BYTES + 1);
        let long = counter().on(&long, |_, _, _| {}).check_names().unwrap_err();
        assert!(long.detail.starts_with("an event name must be"), "{}", long.detail);
    }

    #[test]
    fn a_payload_that_is_not_plain_data_never_reaches_the_backend() {
        let id = RequestId::new(1, 1).unwrap();
        let request = ChannelFrame::Request { id, method: "read".into(), payload: Err("a function".into()) };
        let (why, answer) = plain_frame(request).unwrap_err();
        assert_eq!(why, "the payload of `read` is not plain data: a function");
        assert!(matches!(answer, Some(ChannelFrame::Failure { code: ErrorCode::InvalidArgument, .. })));
        let event = ChannelFrame::Event { name: "increment".into(), payload: Err("a symbol".into()) };
        assert_eq!(plain_frame(event).unwrap_err().1, None);
        let read = ChannelFrame::Event { name: "increment".into(), payload: Ok(Value::from(2.0)) };
        assert_eq!(plain_frame(read), Ok(ChannelFrame::Event { name: "increment".into(), payload: Value::from(2.0) }));
    }

    #[test]
    fn a_failing_start_is_the_backends_end() {
        assert_eq!(Running::start(counter(), &ctx("five")).err().as_deref(), Some("bad START five"));
    }
}
