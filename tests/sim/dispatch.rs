//! Each event of the timeline, delivered to the context it is for.

use tabworker::ConnId;
use tabworker::protocol::{TabToCoordinator, WireMessage};

use super::world::Event;
use super::*;

impl Sim {
    pub(super) fn dispatch(&mut self, event: Event) {
        match event {
            Event::Connect { conn, instance } => {
                let tab = self.conn_tab[&conn];
                if !self.coordinator_alive || instance != self.instances {
                    trace!(self, "connection c{conn} of tab{tab} reached a dead coordinator");
                    return;
                }
                trace!(self, "coord <- connection c{conn} from tab{tab}");
                self.open_conns.insert(conn);
                let now = self.now();
                self.coordinator.connect(now, ConnId(conn));
                self.drain_coordinator(None);
            }
            Event::ToCoordinator { conn, instance, msg, port } => {
                let tab = self.conn_tab[&conn];
                if !self.coordinator_alive || instance != self.instances || !self.open_conns.contains(&conn) {
                    trace!(self, "coord: connection c{conn} of tab{tab} is closed: {} dropped", msg.kind());
                    self.stats.undeliverable += 1;
                    self.frame_lost(keyed::Lost::Up(&msg), "sent on a closed connection");
                    return;
                }
                trace!(self, "coord <- tab{tab}: {msg:?}{}", port_note(&port));
                self.log_delivery(Ctx::Tab(tab), Ctx::Coordinator, msg.kind());
                if matches!(msg, TabToCoordinator::Hello { .. }) {
                    self.introduced.insert(conn);
                }
                let frame = self.transport(msg);
                let now = self.now();
                self.coordinator.handle(now, ConnId(conn), frame);
                self.drain_coordinator(port);
            }
            Event::ToTab { conn, msg, port } => {
                let tab = self.conn_tab[&conn];
                if !self.tabs[tab].alive || self.tabs[tab].conn != Some(conn) {
                    // A dead tab, or one that left this connection for a new coordinator.
                    self.stats.undeliverable += 1;
                    self.frame_lost(keyed::Lost::Down(&msg), "sent on a connection its tab left");
                    return;
                }
                trace!(self, "tab{tab} <- coord: {msg:?}{}", port_note(&port));
                self.log_delivery(Ctx::Coordinator, Ctx::Tab(tab), msg.kind());
                let frame = self.transport(msg);
                let now = self.now();
                self.tabs[tab].tab.from_coordinator(now, frame);
                self.after_tab_input(tab, port);
            }
            Event::ToWorker { worker, msg } => {
                if !self.workers[worker].alive {
                    self.stats.undeliverable += 1;
                    return;
                }
                let owner = self.workers[worker].owner;
                trace!(self, "w{worker} <- tab{owner}: {msg:?}");
                self.log_delivery(Ctx::Tab(owner), Ctx::Worker(worker), msg.kind());
                let frame = self.transport(msg);
                self.workers[worker].host.from_leader(frame);
                self.drain_worker(worker);
            }
            Event::FromWorker { worker, tab, msg, port } => {
                if !self.tabs[tab].alive || !self.workers[worker].alive || !self.has_worker(tab, worker) {
                    self.stats.undeliverable += 1;
                    return;
                }
                trace!(self, "tab{tab} <- w{worker}: {msg:?}{}", port_note(&port));
                self.log_delivery(Ctx::Worker(worker), Ctx::Tab(tab), msg.kind());
                let frame = self.transport(msg);
                let now = self.now();
                if let Some(backend_id) = self.serves(worker).cloned() {
                    self.tabs[tab].tab.from_worker(now, &backend_id, frame);
                } else if self.tabs[tab].standby == Some(worker) {
                    self.tabs[tab].tab.from_standby(frame);
                }
                self.after_tab_input(tab, port);
            }
            Event::Granted { owner, lock, request } => {
                let held = self.locks.get(&lock).is_some_and(|s| s.held.iter().any(|r| r.id == request));
                if !held {
                    // Released (or withdrawn) before the grant was heard of.
                    return;
                }
                if !self.ctx_alive(owner) {
                    let what = format!("{owner} is dead but holds {lock}");
                    self.violation(what);
                    return;
                }
                trace!(self, "{owner} <- granted {lock}");
                self.granted(owner, &lock);
            }
            Event::Lost { owner, lock, request } => {
                if !self.ctx_alive(owner) {
                    return;
                }
                trace!(self, "{owner} <- lost {lock} (request {request})");
                let Some(id) = self.lock_ids.get(&lock).cloned() else { return };
                match owner {
                    Ctx::Tab(ix) => {
                        let now = self.now();
                        self.tabs[ix].deposed = false;
                        self.tabs[ix].tab.lock_lost(now, &id);
                        self.after_tab_input(ix, None);
                    }
                    Ctx::Worker(w) => {
                        self.workers[w].host.lock_lost(&id);
                        self.drain_worker(w);
                    }
                    Ctx::Coordinator => {}
                }
            }
            Event::CoordinatorTimer { instance, at } => {
                if !self.coordinator_alive || instance != self.instances {
                    return;
                }
                if self.coordinator_timer == Some(at) {
                    self.coordinator_timer = None;
                }
                trace!(self, "coord <- timer {at}");
                let before = self.coordinator.connections();
                let now = self.now();
                self.coordinator.timeout(now);
                // Only silent connections close on a timer.
                self.stats.silent_closed += before.saturating_sub(self.coordinator.connections()) as u64;
                self.drain_coordinator(None);
            }
            Event::Timer { tab, at } => {
                if !self.tabs[tab].alive {
                    return;
                }
                if self.tabs[tab].timer == Some(at) {
                    self.tabs[tab].timer = None;
                }
                trace!(self, "tab{tab} <- timer {at}");
                let now = self.now();
                self.tabs[tab].tab.timeout(now);
                self.after_tab_input(tab, None);
            }
            Event::WorkerError { worker, tab } => {
                if !self.tabs[tab].alive || !self.has_worker(tab, worker) {
                    // The tab terminated or replaced that worker: its listener is gone.
                    trace!(self, "tab{tab}: error event of replaced w{worker} dropped");
                    return;
                }
                trace!(self, "tab{tab} <- error event of w{worker}");
                let now = self.now();
                if let Some(backend_id) = self.serves(worker).cloned() {
                    self.tabs[tab].tab.worker_error(now, &backend_id, format!("w{worker} crashed"));
                } else if self.tabs[tab].standby == Some(worker) {
                    self.tabs[tab].tab.standby_error();
                }
                self.after_tab_input(tab, None);
            }
            Event::Kill { tab } => self.kill_tab(tab),
            Event::App { worker, action } => self.app_action(worker, action),
            Event::Open { worker, tab, session, token } => self.open_on_port(worker, tab, &session, &token),
            Event::OpenAnswer { tab, session, answer } => self.open_answered(tab, &session, answer),
        }
    }

    pub(super) fn granted(&mut self, owner: Ctx, lock: &str) {
        match owner {
            Ctx::Tab(ix) => {
                let now = self.now();
                if let Some(id) = self.lock_ids.get(lock).cloned() {
                    self.tabs[ix].tab.lock_granted(now, &id);
                }
                self.after_tab_input(ix, None);
            }
            Ctx::Worker(w) => {
                if let Some(id) = self.lock_ids.get(lock).cloned() {
                    self.workers[w].host.lock_granted(&id);
                }
                self.drain_worker(w);
            }
            Ctx::Coordinator => {
                if *lock == self.names.coordinator_liveness(self.coordinator.id()) {
                    // Held for the coordinator's whole life.
                    return;
                }
                // The tab held its tab lock for its whole life: it is gone.
                let conns: Vec<u64> = self.watches.iter().filter(|(_, l)| *l == lock).map(|(c, _)| *c).collect();
                for conn in conns {
                    let now = self.now();
                    self.coordinator.tab_gone(now, ConnId(conn));
                    self.drain_coordinator(None);
                }
                self.release(Ctx::Coordinator, lock);
            }
        }
    }
}
