//! The workers of the backends a leader tab hosts, and its standby worker:
//! created, posted to, adopted and terminated when the tab says so. What
//! they say goes to the client, by the backend each runs.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker};

use super::super::runtime::frames::{Received, post_frame, receive};
use super::super::runtime::listener::Listener;
use super::super::workers::WorkerSource;
use super::compiled::CompiledModule;
use crate::model::ids::BackendId;
use crate::model::map::Map;
use crate::protocol::{BackendToLeader, LeaderToBackend};

/// What a hosted worker said.
pub(super) enum FromWorker {
    /// A frame, with the port that came with it.
    Frame(Received<BackendToLeader>),
    /// Its script failed to load, or threw.
    Failed(String),
}

/// Where a worker's words go: to the client, with the backend it runs
/// (`None` while it is the standby).
pub(super) type Tell = Rc<dyn Fn(Option<BackendId>, FromWorker)>;

/// The backend a worker runs, which its listeners read; none while it is the standby.
type Route = Rc<RefCell<Option<BackendId>>>;

/// A worker, its `message` and `error` listeners, and where they send.
type HostedWorker = (Worker, [Listener; 2], Route);

/// The workers a tab hosts.
#[derive(Default)]
pub(super) struct Hosted {
    workers: Map<BackendId, HostedWorker>,
    standby: Option<HostedWorker>,
    /// The backend module compiled once, for every worker this tab starts.
    module: Rc<RefCell<CompiledModule>>,
}

impl Hosted {
    /// Creates the worker named `name` of backend `backend` from `source`.
    pub(super) fn spawn(
        &mut self,
        source: &WorkerSource,
        name: &str,
        backend: BackendId,
        tell: Tell,
    ) -> Result<(), String> {
        let worker = self.start(source, name, Rc::new(RefCell::new(Some(backend.clone()))), tell)?;
        self.workers.insert(backend, worker);
        Ok(())
    }

    /// Creates the standby worker named `name`: the default backend's script,
    /// loaded and waiting for an `init` it gets only if this tab comes to lead.
    pub(super) fn spawn_standby(&mut self, source: &WorkerSource, name: &str, tell: Tell) -> Result<(), String> {
        self.standby = Some(self.start(source, name, Rc::new(RefCell::new(None)), tell)?);
        Ok(())
    }

    /// The standby worker becomes the worker of backend `backend`; `false` if there is none.
    pub(super) fn adopt_standby(&mut self, backend: BackendId) -> bool {
        let Some(standby) = self.standby.take() else { return false };
        *standby.2.borrow_mut() = Some(backend.clone());
        self.workers.insert(backend, standby);
        true
    }

    /// `terminate()`s the standby worker.
    pub(super) fn kill_standby(&mut self) {
        if let Some((worker, ..)) = self.standby.take() {
            worker.terminate();
        }
    }

    /// Posts to the worker of backend `backend`.
    pub(super) fn post(&self, backend: &BackendId, message: &LeaderToBackend) {
        if let Some((worker, ..)) = self.workers.get(backend) {
            post_frame("client", worker, message, None);
        }
    }

    /// `terminate()`s the worker of backend `backend`.
    pub(super) fn kill(&mut self, backend: &BackendId) {
        if let Some((worker, ..)) = self.workers.remove(backend) {
            worker.terminate();
        }
    }

    /// `terminate()`s every worker.
    pub(super) fn kill_all(&mut self) {
        self.kill_standby();
        for (worker, ..) in std::mem::take(&mut self.workers).into_values() {
            worker.terminate();
        }
    }

    /// Creates a worker named `name` from `source`, whose frames and failure
    /// go to `tell` as those of the backend `route` names.
    fn start(&self, source: &WorkerSource, name: &str, route: Route, tell: Tell) -> Result<HostedWorker, String> {
        let worker = source.worker(name)?;
        let (module, target, to, told) = (self.module.clone(), worker.clone(), route.clone(), tell.clone());
        let on_message = Listener::new(&worker, "message", move |event: MessageEvent| {
            if module.borrow_mut().handle(&target, &event.data()) {
                return;
            }
            let received = receive::<BackendToLeader>("client", "a backend", &event);
            told(to.borrow().clone(), FromWorker::Frame(received));
        });
        let to = route.clone();
        let on_error = Listener::new(&worker, "error", move |event: web_sys::Event| {
            let detail = match event.dyn_ref::<web_sys::ErrorEvent>() {
                Some(error) => error.message(),
                None => "the script failed to load".to_owned(),
            };
            let id = to.borrow().clone();
            let named = id.as_ref().map_or("standby", |id| id.as_str());
            web_sys::console::warn_1(&format!("tabworker client: backend `{named}` failed: {detail}").into());
            tell(id, FromWorker::Failed(detail));
        });
        Ok((worker, [on_message, on_error], route))
    }
}
