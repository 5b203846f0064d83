//! What the browser layer holds for the ids the tab gives it: who waits
//! for each call ([`CallId`]), the callback of each `statusStream`
//! ([`SubscriptionId`]), the ports of each keyed session ([`SessionId`])
//! and the worker of each hosted backend ([`BackendId`]). The tab decides
//! what becomes of each; these tables only hold the browser's objects.

use std::cell::RefCell;
use std::rc::Rc;

use crate::model::map::Map;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use web_sys::{MessagePort, Worker};

use super::runtime::listener::Listener;
use crate::model::ids::{BackendId, SessionId};
use crate::model::status::BackendState;
use crate::tab::{CallError, CallId, CallValue, SubscriptionId};

/// Who waits for a call's outcome: the app's promise, or another part of
/// this crate (a `SessionBackend` handle), told in Rust values.
pub(super) enum Waiter {
    /// The promise's `resolve` and `reject`.
    Promise(js_sys::Function, js_sys::Function),
    /// Called with the outcome.
    Rust(Box<dyn FnOnce(Result<CallValue, CallError>)>),
}

/// Who waits for each call the tab has not settled.
#[derive(Default)]
pub(super) struct Promises(Map<CallId, Waiter>);

impl Promises {
    /// The promise of `call`, kept until [`Promises::settle`].
    pub(super) fn make(&mut self, call: CallId) -> Promise {
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        // The executor runs at once: the slot is filled.
        if let Some((resolve, reject)) = slot {
            self.0.insert(call, Waiter::Promise(resolve, reject));
        }
        promise
    }

    /// `then` is called with the outcome of `call`.
    pub(super) fn then(&mut self, call: CallId, then: Box<dyn FnOnce(Result<CallValue, CallError>)>) {
        self.0.insert(call, Waiter::Rust(then));
    }

    /// Who waits for `call`.
    pub(super) fn take(&mut self, call: CallId) -> Option<Waiter> {
        self.0.remove(&call)
    }

    /// Forgets every promise (the client was destroyed, and the tab settled
    /// every call).
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

/// The browser objects of a keyed session whose port arrived.
pub(super) struct Ports {
    /// The port the grant came with; the backend answers `open` on it.
    pub(super) control: MessagePort,
    /// The app's port.
    pub(super) app: MessagePort,
    /// Resolves `closed`.
    pub(super) close: js_sys::Function,
    pub(super) closed: Promise,
    /// Passes the backend's answers on `control` to the tab.
    pub(super) answers: Listener,
    /// Told when the session ends (the handles that follow it).
    pub(super) on_close: Vec<Box<dyn FnOnce()>>,
}

impl Ports {
    /// Closes both ports and resolves `closed`.
    pub(super) fn close(self) {
        self.control.close();
        self.app.close();
        let _ = self.close.call0(&JsValue::NULL);
        drop(self.answers);
        for told in self.on_close {
            told();
        }
    }
}

/// Who is told each state of a backend: the app's `statusStream` callback,
/// or a `SessionBackend` handle.
pub(super) type StatusCallback = Rc<dyn Fn(&BackendState)>;

/// The browser objects of one client's keyed backends.
#[derive(Default)]
pub(super) struct Keyed {
    /// The callback of each `statusStream`.
    pub(super) subscriptions: Map<SubscriptionId, StatusCallback>,
    /// The ports of each keyed session whose port arrived.
    pub(super) sessions: Map<SessionId, Ports>,
    /// The workers of the backends this tab hosts, with their listeners.
    pub(super) workers: Map<BackendId, (Worker, [Listener; 2])>,
    /// The standby worker, while this tab keeps one.
    pub(super) standby: Option<HostedWorker>,
    /// The backend module compiled once, for every worker this tab starts.
    pub(super) module: super::compiled::CompiledModule,
}

/// The backend whose frames a worker's listeners pass to the tab; none
/// while the worker is the standby.
pub(super) type Route = Rc<RefCell<Option<BackendId>>>;

/// A worker, its `message` and `error` listeners, and where they send.
pub(super) type HostedWorker = (Worker, [Listener; 2], Route);
