//! How a client starts its workers: the coordinator's SharedWorker and each
//! backend's dedicated worker come from a script URL, or from a factory the
//! app passes — `(name) => new Worker(new URL('./backend.js',
//! import.meta.url), { type: 'module', name })` — which is the pattern
//! bundlers (Vite, webpack) follow to bundle each worker with its imports.

use wasm_bindgen::prelude::*;
use web_sys::{SharedWorker, Worker, WorkerOptions, WorkerType};

use super::error::describe;

/// Where a worker comes from.
#[derive(Clone)]
pub(super) enum WorkerSource {
    /// A module script's URL.
    Url(String),
    /// The app's factory, called with the worker's name.
    Factory(js_sys::Function),
}

impl WorkerSource {
    /// Reads `value`: a URL string or a function; `what` names it in the error.
    pub(super) fn read(value: &JsValue, what: &str) -> Result<Self, String> {
        if let Some(url) = value.as_string() {
            return Ok(WorkerSource::Url(url));
        }
        value
            .dyn_ref::<js_sys::Function>()
            .map(|f| WorkerSource::Factory(f.clone()))
            .ok_or_else(|| format!("{what} must be a script URL or a function (name) => worker"))
    }

    fn options(name: &str) -> WorkerOptions {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        options.set_name(name);
        options
    }

    fn call(factory: &js_sys::Function, name: &str) -> Result<JsValue, String> {
        factory.call1(&JsValue::NULL, &name.into()).map_err(|e| format!("the worker factory threw: {}", describe(&e)))
    }

    /// A SharedWorker named `name`.
    pub(super) fn shared_worker(&self, name: &str) -> Result<SharedWorker, String> {
        match self {
            WorkerSource::Url(url) => {
                SharedWorker::new_with_worker_options(url, &Self::options(name)).map_err(|e| describe(&e))
            }
            WorkerSource::Factory(factory) => Self::call(factory, name)?
                .dyn_into()
                .map_err(|_| "the coordinator factory must return a SharedWorker".to_string()),
        }
    }

    /// A dedicated worker named `name`.
    pub(super) fn worker(&self, name: &str) -> Result<Worker, String> {
        match self {
            WorkerSource::Url(url) => Worker::new_with_options(url, &Self::options(name)).map_err(|e| describe(&e)),
            WorkerSource::Factory(factory) => {
                Self::call(factory, name)?.dyn_into().map_err(|_| "a backend factory must return a Worker".to_string())
            }
        }
    }
}
