//! The backend workers in the simulation: spawned, adopted, replaced,
//! killed, crashed, and carrying out their hosts' outputs.

use tabworker::{BackendId, BackendOutput};

use super::world::Event;
use super::*;

impl Sim {
    /// Kills worker `w` (a crash, or `terminate()`): its locks are freed.
    pub fn kill_worker(&mut self, w: usize) {
        if !self.workers[w].alive {
            return;
        }
        trace!(self, "w{w} killed");
        // The tab keeps its `Worker` object until it terminates or replaces it.
        self.workers[w].alive = false;
        self.release_all(Ctx::Worker(w));
    }

    /// Crashes worker `w`: it dies and its tab gets the worker's `error`
    /// event (as `backend_error`).
    pub fn crash_worker(&mut self, w: usize) {
        if !self.workers[w].alive {
            return;
        }
        let tab = self.workers[w].owner;
        self.kill_worker(w);
        let latency = self.worker_latency();
        let at = self.channel_time(Ctx::Worker(w), Ctx::Tab(tab), latency);
        self.schedule(at, Event::WorkerError { worker: w, tab });
    }

    /// Tab `ix`'s own worker, if it runs `backend_id`.
    pub(super) fn own_worker(&self, ix: usize, backend_id: &BackendId) -> Option<usize> {
        self.tabs[ix].worker.filter(|&w| self.workers[w].default_of.as_ref() == Some(backend_id))
    }

    pub(super) fn spawn(&mut self, ix: usize, backend_id: BackendId) {
        let w = self.new_worker(ix, App::Plain, None, Some(backend_id));
        self.replace_own_worker(ix, w);
        self.stats.spawns += 1;
        trace!(self, "  w{w} spawned by tab{ix}");
        self.drain_worker(w);
    }

    /// Tab `ix` keeps a standby worker: loaded like its own, serving nothing.
    pub(super) fn spawn_standby(&mut self, ix: usize) {
        if let Some(old) = self.tabs[ix].standby.take() {
            self.violation(format!("tab{ix} spawns a standby over w{old}"));
            self.kill_worker(old);
        }
        let w = self.new_worker(ix, App::Plain, None, None);
        self.tabs[ix].standby = Some(w);
        self.stats.standby_spawns += 1;
        trace!(self, "  w{w} spawned by tab{ix} as its standby");
        self.drain_worker(w);
    }

    /// Tab `ix`'s standby worker becomes its own worker, of `backend_id`.
    pub(super) fn adopt_standby(&mut self, ix: usize, backend_id: BackendId) {
        let Some(w) = self.tabs[ix].standby.take() else {
            return self.violation(format!("tab{ix} adopts a standby it does not keep"));
        };
        self.workers[w].default_of = Some(backend_id);
        self.replace_own_worker(ix, w);
        self.stats.adoptions += 1;
        trace!(self, "  w{w} adopted by tab{ix}");
    }

    /// A new worker of tab `ix` running `app` (for keyed backend `backend`,
    /// or as the tab's own worker for `default_of`); nothing it says arrives
    /// before its script has loaded.
    pub(super) fn new_worker(
        &mut self,
        ix: usize,
        app: App,
        backend: Option<BackendId>,
        default_of: Option<BackendId>,
    ) -> usize {
        let w = self.workers.len();
        self.workers.push(WorkerCtx::new(w, ix, self.time.now_us(), app, backend, default_of));
        let ready_at = self.time.now_us() + self.cfg.spawn_latency_us;
        self.time.hold_channel(Ctx::Worker(w), Ctx::Tab(ix), ready_at);
        w
    }

    /// Worker `w` is tab `ix`'s own from now on; the one before it is killed.
    pub(super) fn replace_own_worker(&mut self, ix: usize, w: usize) {
        if let Some(old) = self.tabs[ix].worker.replace(w) {
            if self.workers[old].alive {
                self.stats.spawns_over_live_worker += 1;
            }
            self.kill_worker(old);
        }
    }

    pub(super) fn drain_worker(&mut self, w: usize) {
        let mut opened: Option<Port> = None;
        while let Some(out) = self.workers[w].host.poll_output() {
            trace!(self, "  w{w} -> {out:?}");
            match out {
                BackendOutput::ToLeader(msg) => {
                    let port = self.carry(&format!("w{w}"), &msg, &mut opened);
                    let tab = self.workers[w].owner;
                    let latency = self.worker_latency();
                    let at = self.channel_time(Ctx::Worker(w), Ctx::Tab(tab), latency);
                    self.schedule(at, Event::FromWorker { worker: w, tab, msg, port });
                }
                BackendOutput::OpenSession(request) => {
                    if opened.is_some() {
                        self.violation(format!("w{w} opened a session whose port no message carried"));
                    }
                    opened = Some(Port { worker: w, client: request.client_id, session: request.session_id });
                }
                BackendOutput::CloseSession(request) => self.workers[w].closed_sessions.push(request),
                // The app's start and stop code, as its tag says.
                BackendOutput::Start(_) => self.app_start(w),
                BackendOutput::Stop => self.app_stop(w),
                BackendOutput::Lock(command) => self.lock_command(Ctx::Worker(w), command),
                BackendOutput::Exit => {
                    // `close()`: it dies without an `error` event.
                    self.kill_worker(w);
                    break;
                }
            }
        }
        if opened.is_some() {
            self.violation(format!("w{w} opened a session whose port no message carried"));
        }
    }
}
