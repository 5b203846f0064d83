//! A backend written in JavaScript: `serveBackend(handler | config)` reads
//! the app's functions and serves them with the host. `start(ctx)` gets the
//! `BackendContext`; `session(session)` each session; `stop()` a soft stop.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::runtime::codec::to_js;
use super::super::runtime::js::{get, object};
use super::host::{AppCode, BackendHandle, HostRef, serve};
use super::session::BackendSession;
use crate::model::map::Map;
use crate::protocol::BackendInit;

#[wasm_bindgen]
extern "C" {
    /// `BackendHandler | BackendConfig` in TypeScript.
    #[wasm_bindgen(typescript_type = "BackendHandler | BackendConfig")]
    pub type BackendHandlerJs;
}

/// The app's functions: its session handler, and its optional start and stop.
struct JsCode {
    session: js_sys::Function,
    start: Option<js_sys::Function>,
    stop: Option<js_sys::Function>,
}

/// Serves sessions in the calling dedicated worker (documented in `types/backend.d.ts`).
#[wasm_bindgen(js_name = serveBackend, skip_typescript)]
pub fn serve_backend(handler: BackendHandlerJs) -> Result<BackendHandle, TabworkerError> {
    let (code, declares_ready, handlers) = app_code(handler.into())?;
    serve(Rc::new(code), declares_ready, handlers)
}

/// This worker's compiled module, which the package's backend entry offers
/// the tab that started it, for the next worker it starts (see
/// `src/web/entry/backend.js`).
#[wasm_bindgen(js_name = compiledModule, skip_typescript)]
pub fn compiled_module() -> JsValue {
    wasm_bindgen::module()
}

/// Reads `serveBackend`'s argument: a function, or a `BackendConfig`.
fn app_code(value: JsValue) -> Result<(JsCode, bool, Map<String, js_sys::Function>), TabworkerError> {
    let invalid = |what: &str| {
        TabworkerError::new(
            ErrorCode::InvalidArgument,
            format!("serveBackend() needs a session handler function or {{ session, start?, stop? }}: {what}"),
        )
    };
    if let Some(session) = value.dyn_ref::<js_sys::Function>() {
        return Ok((JsCode { session: session.clone(), start: None, stop: None }, false, Map::new()));
    }
    if !value.is_object() {
        return Err(invalid("got neither"));
    }
    let get = |name: &str| get(&value, name);
    let function = |name: &str| -> Result<Option<js_sys::Function>, TabworkerError> {
        match get(name) {
            v if v.is_undefined() || v.is_null() => Ok(None),
            v => v.dyn_into().map(Some).map_err(|_| invalid(&format!("`{name}` is not a function"))),
        }
    };
    // Without a session function, sessions are served by handlers and events alone.
    let session = function("session")?.unwrap_or_else(|| js_sys::Function::new_no_args(""));
    let declares_ready = get("declaresReady").as_bool().unwrap_or(false);
    let mut handlers = Map::new();
    match get("handlers") {
        v if v.is_undefined() || v.is_null() => {}
        v if v.is_object() => {
            for entry in js_sys::Object::entries(v.unchecked_ref()) {
                let pair: js_sys::Array = entry.unchecked_into();
                let method = pair.get(0).as_string().unwrap_or_default();
                let handler =
                    pair.get(1).dyn_into().map_err(|_| invalid(&format!("handler `{method}` is not a function")))?;
                crate::channel::check_name("a method name", &method)?;
                handlers.insert(method, handler);
            }
        }
        _ => return Err(invalid("`handlers` is not an object")),
    }
    let code = JsCode { session, start: function("start")?, stop: function("stop")? };
    Ok((code, declares_ready, handlers))
}

impl AppCode for JsCode {
    fn start(&self, host: HostRef, init: Option<BackendInit>, mount: JsValue) -> Result<JsValue, String> {
        let Some(start) = &self.start else { return Ok(JsValue::UNDEFINED) };
        start.call1(&JsValue::NULL, &context(host, init.as_ref(), mount)).map_err(|e| describe(&e))
    }

    fn opened(&self, session: &BackendSession, _: HostRef) {
        if let Err(e) = self.session.call1(&JsValue::NULL, &session.js()) {
            let text = format!("tabworker backend: the session handler threw: {}", describe(&e));
            web_sys::console::error_1(&text.into());
        }
    }

    fn stop(&self, host: HostRef) {
        let Some(stop) = self.stop.clone() else { return host.stopped() };
        wasm_bindgen_futures::spawn_local(async move {
            if let Ok(returned) = stop.call0(&JsValue::NULL) {
                // A stop that rejects has still stopped.
                let _ = JsFuture::from(js_sys::Promise::resolve(&returned)).await;
            }
            host.stopped();
        });
    }
}

/// The `BackendContext` given to `start`: its functions live as long as
/// JavaScript holds them.
fn context(host: HostRef, init: Option<&BackendInit>, mount: JsValue) -> JsValue {
    let link = host.clone();
    let ready = Closure::<dyn FnMut()>::new(move || link.declare_ready());
    let is_secret = Closure::<dyn FnMut(JsValue) -> bool>::new(move |secret: JsValue| {
        secret.as_string().is_some_and(|secret| host.knows_secret(&secret))
    });
    let dir = mount.clone();
    let open_sync = Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(move |name: JsValue, options: JsValue| {
        wasm_bindgen_futures::future_to_promise(super::mount::open_sync(dir.clone(), name, options)).into()
    });
    let env = init.map(|i| to_js(&i.env)).unwrap_or_else(|| js_sys::Object::new().into());
    object(&[
        ("backendId", init.map_or(JsValue::NULL, |i| i.backend_id.as_str().into())),
        ("key", init.map_or(JsValue::NULL, |i| i.key.as_str().into())),
        ("env", env),
        ("mount", mount),
        ("ready", ready.into_js_value()),
        ("isSecretToken", is_secret.into_js_value()),
        ("openSync", open_sync.into_js_value()),
    ])
}
