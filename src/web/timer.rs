//! One runtime timer, re-armed to the state machine's earliest deadline
//! (quinn's pattern): a single `setTimeout` at a time, one callback for the
//! timer's whole life. It is the only `setTimeout` of the browser layer:
//! every deadline is the core's.

use std::cell::Cell;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `setTimeout(callback, ms)`; its id.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

pub(crate) struct Timer {
    callback: Closure<dyn FnMut()>,
    armed: Cell<Option<f64>>,
}

impl Timer {
    /// A timer that calls `on_fire` when it fires.
    pub(crate) fn new(on_fire: impl FnMut() + 'static) -> Timer {
        Timer { callback: Closure::new(on_fire), armed: Cell::new(None) }
    }

    /// Fires once, `in_ms` from now; `None` disarms. Replaces any earlier arming.
    pub(crate) fn arm(&self, in_ms: Option<u64>) {
        if let Some(id) = self.armed.take() {
            clear_timeout(&id.into());
        }
        if let Some(ms) = in_ms {
            let id = set_timeout(self.callback.as_ref().unchecked_ref(), ms as f64);
            self.armed.set(id.as_f64());
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.arm(None);
    }
}
