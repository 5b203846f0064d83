//! What the coordinator's SharedWorker does in the simulation: its
//! instances, its connections, and carrying out its outputs.

use tabworker::protocol::{TabToCoordinator, WireMessage};
use tabworker::{Coordinator, CoordinatorId, CoordinatorOutput, LockMode};

use super::world::Event;
use super::*;

impl Sim {
    /// Kills the coordinator (its SharedWorker dies): its connections and
    /// locks go with it; tabs learn of it from its liveness lock.
    pub fn kill_coordinator(&mut self) {
        if !self.coordinator_alive {
            return;
        }
        trace!(self, "coordinator k{} killed", self.instances);
        self.record_ends();
        self.coordinator_alive = false;
        self.excuse_all("the coordinator died");
        self.open_conns.clear();
        self.watches.clear();
        self.release_all(Ctx::Coordinator);
    }

    /// A new coordinator instance, holding its liveness lock.
    pub(super) fn start_coordinator(&mut self) {
        self.instances += 1;
        let id = CoordinatorId::new(format!("k{}", self.instances)).expect("a valid id");
        trace!(self, "coordinator {id} started");
        // Epochs live only in the contexts that know them: when none that
        // lives knows one, a new coordinator counts from 1 again, and an
        // epoch may then name a second leader (long after the first, whose
        // tab and workers are gone). One leader per epoch holds per era.
        if self.tabs.iter().all(|t| !t.alive || t.max_epoch.is_none()) {
            self.epoch_leaders.clear();
        }
        let lock = self.names.coordinator_liveness(&id);
        self.coordinator = Coordinator::new(id, self.names.clone());
        // A new instance's liveness lock is free (the last holder died with
        // the last instance): it reads its connections at once.
        self.coordinator.liveness_held(self.now());
        self.coordinator_alive = true;
        self.coordinator_timer = None;
        self.acquire(Ctx::Coordinator, lock, LockMode::Exclusive);
    }

    /// `new SharedWorker(...)` in tab `ix`: a new connection, to a new
    /// coordinator instance if the last one died.
    pub(super) fn connect(&mut self, ix: usize) {
        if !self.coordinator_alive {
            self.start_coordinator();
        }
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conn_tab.insert(conn, ix);
        self.tabs[ix].conn = Some(conn);
        let at = self.channel_time(Ctx::Tab(ix), Ctx::Coordinator, self.cfg.coordinator_latency_us);
        self.schedule(at, Event::Connect { conn, instance: self.instances });
    }

    pub(super) fn send_to_coordinator(&mut self, ix: usize, msg: TabToCoordinator, port: Option<Port>) {
        self.sent.push(Delivered {
            at_us: self.time.now_us(),
            from: Ctx::Tab(ix),
            to: Ctx::Coordinator,
            kind: msg.kind(),
        });
        if self.drops(Ctx::Tab(ix), Ctx::Coordinator, msg.kind()) {
            trace!(self, "  LOST tab{ix} -> coord {}", msg.kind());
            self.stats.dropped_messages += 1;
            self.frame_lost(keyed::Lost::Up(&msg), "dropped");
            return;
        }
        let Some(conn) = self.tabs[ix].conn else {
            self.frame_lost(keyed::Lost::Up(&msg), "sent before any connection");
            return;
        };
        let at = self.channel_time(Ctx::Tab(ix), Ctx::Coordinator, self.cfg.coordinator_latency_us);
        self.schedule(at, Event::ToCoordinator { conn, instance: self.instances, msg, port });
    }

    pub(super) fn drain_coordinator(&mut self, mut carried: Option<Port>) {
        while let Some(out) = self.coordinator.poll_output() {
            trace!(self, "  coord -> {out:?}");
            match out {
                CoordinatorOutput::Send { to, message } => {
                    let conn = to.0;
                    let tab = self.conn_tab[&conn];
                    let port = self.carry("coord", &message, &mut carried);
                    if self.closed_conns.contains(&conn) {
                        // Whatever it keeps for a tab it let go of is left behind.
                        self.violation(format!("coord posts {} on c{conn}, which it closed", message.kind()));
                    }
                    if !self.open_conns.contains(&conn) {
                        self.stats.undeliverable += 1;
                        self.frame_lost(keyed::Lost::Down(&message), "posted on a closed connection");
                        continue;
                    }
                    if self.drops(Ctx::Coordinator, Ctx::Tab(tab), message.kind()) {
                        trace!(self, "  LOST coord -> tab{tab} {}", message.kind());
                        self.stats.dropped_messages += 1;
                        self.frame_lost(keyed::Lost::Down(&message), "dropped");
                        continue;
                    }
                    let at = self.channel_time(Ctx::Coordinator, Ctx::Tab(tab), self.cfg.coordinator_latency_us);
                    self.schedule(at, Event::ToTab { conn, msg: message, port });
                }
                CoordinatorOutput::WatchTab { conn, name, .. } => {
                    let previous = self.watches.insert(conn.0, name.clone());
                    if previous.is_some() {
                        self.violation(format!("coord watches connection {} twice", conn.0));
                    }
                    self.acquire(Ctx::Coordinator, name, LockMode::Exclusive);
                }
                // Its connections are read as the coordinator starts (see `start_coordinator`).
                CoordinatorOutput::Listen { .. } => {}
                CoordinatorOutput::Close { conn } => {
                    self.closed_conns.insert(conn.0);
                    self.open_conns.remove(&conn.0);
                    if let Some(lock) = self.watches.remove(&conn.0) {
                        self.release(Ctx::Coordinator, &lock);
                    }
                }
            }
        }
        if carried.is_some() {
            self.stats.dropped_ports += 1;
        }
        // Arm the timer.
        if let Some(at) = self.coordinator.poll_timeout() {
            if self.coordinator_timer != Some(at) {
                self.coordinator_timer = Some(at);
                let at_us = (at.unix_millis().saturating_sub(T0_MS) * MS).max(self.time.now_us());
                self.schedule(at_us, Event::CoordinatorTimer { instance: self.instances, at });
            }
        }
    }
}
