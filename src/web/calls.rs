//! The promises behind the tab's calls: each call id's `resolve` and
//! `reject`, until the tab settles it ([`TabEvent::Settled`]).
//!
//! [`TabEvent::Settled`]: crate::TabEvent::Settled

use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::JsValue;

use super::client::Inner;
use super::error::TabworkerError;
use crate::tab::{CallError, CallId, CallValue};

/// The `resolve` and `reject` of each call the tab has not settled.
#[derive(Default)]
pub(super) struct Promises(BTreeMap<CallId, (js_sys::Function, js_sys::Function)>);

impl Promises {
    /// Forgets every promise (the client was destroyed and the tab settled
    /// every call).
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

/// The error thrown for a refusal of the tab.
pub(super) fn thrown(error: CallError) -> TabworkerError {
    TabworkerError::new(error.code, error.detail)
}

impl Inner {
    /// The promise of `call`, settled when the tab settles it (perhaps in
    /// the pump this starts).
    pub(super) fn promise(self: &Rc<Self>, call: CallId) -> Promise {
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        // The executor runs at once: the slot is filled.
        if let Some(settle) = slot {
            self.promises.borrow_mut().0.insert(call, settle);
        }
        self.pump();
        promise
    }

    /// The tab settled `call`.
    pub(super) fn settle(self: &Rc<Self>, call: CallId, outcome: Result<CallValue, CallError>) {
        let Some((resolve, reject)) = self.promises.borrow_mut().0.remove(&call) else { return };
        let settled = match outcome {
            Ok(CallValue::Joined) => Ok(JsValue::UNDEFINED),
            Ok(value) => self.keyed_value(value),
            Err(error) => Err(thrown(error).into()),
        };
        // What the app's reactions throw is reported by the browser, not here.
        let _ = match settled {
            Ok(value) => resolve.call1(&JsValue::NULL, &value),
            Err(error) => reject.call1(&JsValue::NULL, &error),
        };
    }
}
