//! A client's options, as the app gives them: where its workers come from
//! (script URLs or factories) and its settings.

use wasm_bindgen::{JsCast, JsValue};

use super::runtime::codec::read;
use super::runtime::js::get;
use super::workers::WorkerSource;
use crate::model::ids::AppName;
use crate::model::value::FromValue;
use crate::tab::ClientSettings;

/// A client's options: where its workers come from, and its settings.
pub(super) struct ClientOptions {
    pub(super) coordinator: WorkerSource,
    pub(super) backend: WorkerSource,
    pub(super) backends: crate::model::map::Map<String, WorkerSource>,
    /// The deployment's name: the app's and its build's.
    pub(super) app: AppName,
    pub(super) connect_timeout_ms: u32,
    pub(super) startup_timeout_ms: u32,
    pub(super) termination_grace_ms: u32,
}

impl ClientOptions {
    /// Reads the app's `ClientOptions`: the worker sources (URLs or
    /// factories) by hand, the settings as plain data.
    pub(super) fn read(options: JsValue) -> Result<Self, String> {
        if !options.is_object() {
            return Err("the options must be an object".into());
        }
        let get = |name: &str| get(&options, name);
        let coordinator = WorkerSource::read(&get("coordinator"), "coordinator")?;
        let backend = WorkerSource::read(&get("backend"), "backend")?;
        let mut backends = crate::model::map::Map::new();
        let listed = get("backends");
        if listed.is_object() {
            for entry in js_sys::Object::entries(listed.unchecked_ref()) {
                let pair: js_sys::Array = entry.unchecked_into();
                let tag = pair.get(0).as_string().unwrap_or_default();
                let source = WorkerSource::read(&pair.get(1), &format!("backends.{tag}"))?;
                backends.insert(tag, source);
            }
        } else if !listed.is_undefined() && !listed.is_null() {
            return Err("backends must be an object of script URLs or functions by tag".into());
        }
        // The rest, without the worker sources, is plain data.
        let rest = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
        for key in ["coordinator", "backend", "backends"] {
            let _ = js_sys::Reflect::delete_property(&rest, &key.into());
        }
        let settings = read(&rest.into()).and_then(|rest| ClientSettings::from_value(&rest));
        let settings = settings.map_err(|e| e.to_string())?;
        let app = settings.app().map_err(|e| e.to_string())?;
        let ClientSettings { connect_timeout_ms, startup_timeout_ms, termination_grace_ms, .. } = settings;
        Ok(ClientOptions {
            coordinator,
            backend,
            backends,
            app,
            connect_timeout_ms,
            startup_timeout_ms,
            termination_grace_ms,
        })
    }
}
