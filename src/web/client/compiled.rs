//! The backend module compiled once per tab: the first backend worker a tab
//! starts compiles the package's backend wasm and offers the tab its
//! `WebAssembly.Module`; every worker the tab starts after asks for it and
//! only instantiates it (the worker side is the package's backend entry,
//! `src/web/entry/backend.js`). These messages pass beside the protocol's
//! frames, before they are decoded.

use wasm_bindgen::prelude::*;
use web_sys::Worker;

/// A worker asks for the compiled module.
const ASK: &str = "tabworker:module?";
/// A worker offers the module it compiled; the tab answers an ask with it.
const OFFER: &str = "tabworker:module";

/// The module a tab hands its workers: the first one offered.
#[derive(Default)]
pub(super) struct CompiledModule(Option<js_sys::WebAssembly::Module>);

impl CompiledModule {
    /// Handles `data` from `worker` if it is an ask or an offer (and says
    /// whether it was): an ask is answered with the module, or `null` before
    /// the tab has one; the first offer is kept.
    pub(super) fn handle(&mut self, worker: &Worker, data: &JsValue) -> bool {
        let kind = js_sys::Reflect::get(data, &"type".into()).ok().and_then(|t| t.as_string());
        match kind.as_deref() {
            Some(ASK) => {
                let answer = js_sys::Object::new();
                let module = self.0.as_ref().map_or(JsValue::NULL, |m| m.into());
                let _ = js_sys::Reflect::set(&answer, &"type".into(), &OFFER.into());
                let _ = js_sys::Reflect::set(&answer, &"module".into(), &module);
                if let Err(e) = worker.post_message(&answer) {
                    web_sys::console::warn_2(&"tabworker client: the compiled module could not be posted:".into(), &e);
                }
                true
            }
            Some(OFFER) => {
                let offered = js_sys::Reflect::get(data, &"module".into()).ok();
                if let (None, Some(module)) = (&self.0, offered.and_then(|m| m.dyn_into().ok())) {
                    self.0 = Some(module);
                }
                true
            }
            _ => false,
        }
    }
}
