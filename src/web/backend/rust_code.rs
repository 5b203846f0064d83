//! A backend written in Rust ([`crate::backend::rust`]), served in a browser
//! worker by `serve()`: the host runs it as it runs a JavaScript backend,
//! with the core's rules of what each frame reaches ([`Runs`]); payloads
//! cross as plain data ([`Value`]s).

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::super::error::{ErrorCode, TabworkerError};
use super::super::runtime::channel::Payload;
use super::super::runtime::codec::{from_js, to_js};
use super::host::{AppCode, BackendHandle, HostRef, serve};
use super::session::BackendSession;
use crate::backend::rust::{
    Context, ContextLink, Runs, RustBackend, Serve, Served, ServedLink, Session, SessionLink, Unstarted, plain_frame,
};
use crate::channel::ChannelFrame;
use crate::model::value::{Object, Value};
use crate::protocol::{BackendInit, TabToBackend};

/// A Rust backend in this worker, before and after its start. Clones share it.
#[derive(Clone)]
pub(crate) struct RustCode(Rc<RefCell<Stage>>);

enum Stage {
    Unstarted(Unstarted),
    Running(Box<dyn Runs>),
    /// Its start failed, or it was started already.
    Ended,
}

impl AppCode for RustCode {
    fn start(&self, host: HostRef, init: Option<BackendInit>, mount: JsValue) -> Result<JsValue, String> {
        let started = match std::mem::replace(&mut *self.0.borrow_mut(), Stage::Ended) {
            Stage::Unstarted(backend) => backend.start(&Context::new(Rc::new(RustContext { host, init, mount })))?,
            _ => return Err("the backend was started twice".into()),
        };
        *self.0.borrow_mut() = Stage::Running(started);
        Ok(JsValue::UNDEFINED)
    }

    /// `session` opened: its events and requests go to the backend's
    /// listeners and handlers from now on.
    fn opened(&self, session: &BackendSession, host: HostRef) {
        // The session as the backend's closures see it, made once for all its frames.
        let app = Session::new(Rc::new(session.clone()), Served::new(Rc::new(host)));
        let (code, reader_app) = (self.clone(), app.clone());
        session.read_with(Rc::new(move |session, frame| code.frame(session, &reader_app, frame)));
        self.with(move |running| running.opened(&app));
    }

    /// A soft stop: the backend's `stop` runs, then the host is told.
    fn stop(&self, host: HostRef) {
        if self.0.try_borrow().is_ok_and(|stage| !matches!(*stage, Stage::Running(_))) {
            return host.stopped();
        }
        let served = Served::new(Rc::new(host.clone()));
        self.with(move |running| {
            running.stop(&served);
            host.stopped();
        });
    }
}

impl RustCode {
    /// An event or a request from `session`'s tab: the backend's listener or
    /// handler runs, and a request's answer goes back.
    fn frame(&self, session: &BackendSession, app: &Session, frame: ChannelFrame<JsValue>) {
        let plain = match plain_frame(frame.map(|payload| from_js::<Value>(payload).map_err(|e| e.to_string()))) {
            Ok(plain) => plain,
            Err((why, answer)) => {
                web_sys::console::warn_1(&format!("tabworker backend: {why}").into());
                return answer.into_iter().for_each(|answer| answer_on(session, answer));
            }
        };
        let (link, app) = (session.clone(), app.clone());
        self.with(move |running| {
            if let Ok(Some(answer)) = link.with_responder(|responder| running.frame(&app, responder, plain)) {
                answer_on(&link, answer);
            }
        });
    }

    /// Runs `f` on the started backend now, or — when one of its own calls is
    /// running (it declared itself ready, and a waiting session opened at
    /// once) — as soon as that call returned.
    fn with(&self, f: impl FnOnce(&mut dyn Runs) + 'static) {
        match self.0.try_borrow_mut() {
            Ok(mut stage) => {
                if let Stage::Running(running) = &mut *stage {
                    f(running.as_mut());
                }
            }
            Err(_) => {
                let code = self.clone();
                wasm_bindgen_futures::spawn_local(async move { code.with(f) });
            }
        }
    }
}

/// Posts `answer` (a result or a failure) to `session`'s tab.
fn answer_on(session: &BackendSession, answer: ChannelFrame<Value>) {
    session.post(answer.map(|value| Payload::plain(to_js(&value))));
}

/// What a Rust backend's `start` is given, in a browser worker.
struct RustContext {
    host: HostRef,
    init: Option<BackendInit>,
    /// The OPFS directory of the key, or `null`.
    mount: JsValue,
}

impl ContextLink for RustContext {
    fn backend_id(&self) -> String {
        self.init.as_ref().map(|i| i.backend_id.to_string()).unwrap_or_default()
    }

    fn key(&self) -> String {
        self.init.as_ref().map(|i| i.key.clone()).unwrap_or_default()
    }

    fn env(&self, name: &str) -> Option<String> {
        self.init.as_ref()?.env.get(name).cloned()
    }

    fn ready(&self) {
        self.host.declare_ready();
    }

    fn is_secret_token(&self, secret: &str) -> bool {
        self.host.knows_secret(secret)
    }

    fn has_mount(&self) -> bool {
        !self.mount.is_null()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The OPFS directory of the backend's key (a `FileSystemDirectoryHandle`),
/// or `null` without a mount: what only a browser worker has.
pub fn mount(ctx: &Context) -> JsValue {
    ctx.layer().downcast_ref::<RustContext>().map_or(JsValue::NULL, |c| c.mount.clone())
}

impl SessionLink for BackendSession {
    fn client_id(&self) -> String {
        self.client_id()
    }

    fn session_id(&self) -> String {
        self.session_id()
    }

    fn user(&self) -> Option<String> {
        self.user()
    }

    fn auth(&self) -> Object {
        match self.opened() {
            Some(TabToBackend::Open { auth: Some(auth), .. }) => auth.clone(),
            _ => Object::new(),
        }
    }

    fn send(&self, event: &str, payload: &Value) -> Result<(), String> {
        self.send(event.to_string(), to_js(payload), None).map_err(|e| e.to_string())
    }
}

impl ServedLink for HostRef {
    fn broadcast(&self, event: &str, payload: &Value) {
        if let Err(e) = self.broadcast(event.to_string(), to_js(payload)) {
            web_sys::console::warn_1(&format!("tabworker backend: broadcast failed: {e}").into());
        }
    }

    fn sessions(&self) -> usize {
        self.sessions()
    }
}

thread_local! {
    /// The host of the Rust backend this worker serves, kept for as long as it lives.
    static SERVING: RefCell<Option<BackendHandle>> = const { RefCell::new(None) };
}

impl<S: 'static> Serve for RustBackend<S> {
    type Output = Result<Served, TabworkerError>;

    /// Serves sessions in this dedicated worker, for as long as it lives.
    /// Fails outside a dedicated worker, if this worker serves already, or
    /// for an event or method name no tab can send.
    fn serve(self) -> Result<Served, TabworkerError> {
        if SERVING.with(|s| s.borrow().is_some()) {
            return Err(TabworkerError::new(ErrorCode::InvalidArgument, "this worker serves a backend already"));
        }
        self.check_names()?;
        let backend = self.unstarted();
        let declares_ready = backend.declares_ready;
        let code = RustCode(Rc::new(RefCell::new(Stage::Unstarted(backend))));
        let handle = serve(Rc::new(code), declares_ready, Default::default())?;
        let served = Served::new(Rc::new(handle.host()));
        SERVING.with(|s| *s.borrow_mut() = Some(handle));
        Ok(served)
    }
}
