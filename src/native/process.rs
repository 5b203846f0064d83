//! The running process, as its connections share it: the backend's state
//! and context, the open sessions, the connection gate and the log.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tokio::sync::Notify;

use super::limits::{Gate, Limits};
use super::options::Options;
use super::outbox::Sessions;
use crate::backend::rust::{ContextLink, Running, Served};
use crate::plane::verified::Verified;

/// Where the process's log lines go (standard error when it serves).
pub(super) type Log = Rc<dyn Fn(&str)>;

/// What `start` and the handlers see of the process (its [`ContextLink`]).
pub(super) struct ProcessContext {
    options: Options,
    ready: Cell<bool>,
    became_ready: Notify,
    /// The session whose call (its opening, one of its frames) is running.
    asking: RefCell<Option<Rc<Verified>>>,
}

impl ProcessContext {
    pub(super) fn new(options: Options) -> Self {
        ProcessContext { options, ready: Cell::new(false), became_ready: Notify::new(), asking: RefCell::new(None) }
    }

    /// Whether the backend called `ready()`.
    pub(super) fn is_ready(&self) -> bool {
        self.ready.get()
    }

    /// Resolves once the backend calls `ready()`.
    pub(super) async fn became_ready(&self) {
        while !self.ready.get() {
            self.became_ready.notified().await;
        }
    }

    /// Runs `call` as `session`'s: the secret `is_secret_token` checks is its own.
    pub(super) fn asking<R>(&self, session: &Rc<Verified>, call: impl FnOnce() -> R) -> R {
        let before = self.asking.replace(Some(session.clone()));
        let result = call();
        self.asking.replace(before);
        result
    }
}

impl ContextLink for ProcessContext {
    fn backend_id(&self) -> String {
        self.options.backend_id.clone()
    }

    fn key(&self) -> String {
        self.options.key.clone()
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn ready(&self) {
        self.ready.set(true);
        self.became_ready.notify_one();
    }

    /// Natively, only the asking session's own secret (the proxy's
    /// `x-verified-secret` of its handshake); outside a session's call, none.
    fn is_secret_token(&self, secret: &str) -> bool {
        self.asking.borrow().as_ref().is_some_and(|session| session.is_secret(secret))
    }

    fn has_mount(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The running process, shared by its connections.
pub(super) struct Process<S: 'static> {
    pub(super) running: RefCell<Running<S>>,
    pub(super) sessions: Rc<Sessions>,
    pub(super) served: Served,
    pub(super) ctx: Rc<ProcessContext>,
    pub(super) next: Cell<u64>,
    pub(super) gate: Rc<RefCell<Gate>>,
    pub(super) log: Log,
}

impl<S: 'static> Process<S> {
    pub(super) fn limits(&self) -> &Limits {
        &self.ctx.options.limits
    }

    pub(super) fn backend_id(&self) -> &str {
        &self.ctx.options.backend_id
    }
}
