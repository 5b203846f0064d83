//! What a tab's page does in the simulation: carrying out its tab's
//! outputs and events, as the browser glue does.

use tabworker::protocol::{TabToCoordinator, WireMessage};
use tabworker::{ClientId, TabEvent, TabOutput};

use super::world::Event;
use super::*;

impl Sim {
    /// Drains tab `ix`'s outputs after an input that carried `carried`, then
    /// arms its timer.
    pub(super) fn after_tab_input(&mut self, ix: usize, mut carried: Option<Port>) {
        while let Some(out) = self.tabs[ix].tab.poll_output() {
            trace!(self, "  tab{ix} -> {out:?}");
            match out {
                // The tab's own worker (its default backend) and the keyed
                // backends' workers travel the same outputs; the harness
                // keeps the own one apart to check the default path.
                TabOutput::SpawnWorker { backend_id, tag } => {
                    let own = self.tabs[ix].tab.fleet().default_backend() == Some(&backend_id);
                    if own && tag.is_none() {
                        self.spawn(ix, backend_id);
                    } else {
                        self.spawn_keyed(ix, backend_id, tag);
                    }
                }
                TabOutput::SpawnStandby => self.spawn_standby(ix),
                TabOutput::AdoptStandby { backend_id } => self.adopt_standby(ix, backend_id),
                TabOutput::KillStandby => {
                    if let Some(w) = self.tabs[ix].standby.take() {
                        self.kill_worker(w);
                    }
                }
                TabOutput::ToWorker { backend_id, message } if self.own_worker(ix, &backend_id).is_some() => {
                    let worker = self.own_worker(ix, &backend_id).unwrap_or_default();
                    let latency = self.worker_latency();
                    let at = self.channel_time(Ctx::Tab(ix), Ctx::Worker(worker), latency);
                    self.schedule(at, Event::ToWorker { worker, msg: message });
                }
                TabOutput::ToWorker { backend_id, message } => self.post_keyed(ix, &backend_id, message),
                TabOutput::KillWorker { backend_id } if self.own_worker(ix, &backend_id).is_some() => {
                    if let Some(w) = self.tabs[ix].worker.take() {
                        self.kill_worker(w);
                    }
                }
                TabOutput::KillWorker { backend_id } => self.kill_keyed(ix, &backend_id),
                TabOutput::OpenKeyed { session_id, message } => {
                    self.open_keyed_port(ix, session_id, message, &mut carried)
                }
                TabOutput::CloseKeyed { session_id } => self.close_keyed_ports(ix, &session_id),
                TabOutput::ToCoordinator(msg) => {
                    let port = self.carry(&format!("tab{ix}"), &msg, &mut carried);
                    if matches!(msg, TabToCoordinator::RequestPort(_)) {
                        self.stats.port_requests += 1;
                    }
                    if let TabToCoordinator::Watch { backend_id } = &msg {
                        self.watch_sent(ix, backend_id);
                    }
                    self.send_to_coordinator(ix, msg, port);
                }
                TabOutput::ReconnectCoordinator => self.connect(ix),
                TabOutput::Lock(command) => self.lock_command(Ctx::Tab(ix), command),
                TabOutput::Event(event) => self.tab_event(ix, event, &mut carried),
            }
        }
        if let Some(port) = carried {
            trace!(self, "  tab{ix}: port of {} dropped", port.session);
            self.stats.dropped_ports += 1;
        }
        // Arm the timer.
        if let Some(at) = self.tabs[ix].tab.poll_timeout() {
            if self.tabs[ix].timer != Some(at) {
                self.tabs[ix].timer = Some(at);
                let at_us = (at.unix_millis().saturating_sub(T0_MS) * MS).max(self.time.now_us());
                self.schedule(at_us, Event::Timer { tab: ix, at });
            }
        }
        // Epochs never go back.
        if let Some(epoch) = self.tabs[ix].tab.leadership().map(|l| l.epoch) {
            if self.tabs[ix].max_epoch.is_some_and(|max| epoch < max) {
                self.violation(format!("tab{ix}'s known epoch went back to {epoch}"));
            }
            self.tabs[ix].max_epoch = self.tabs[ix].max_epoch.max(Some(epoch));
        }
        // One leader per epoch (per era: see `start_coordinator`).
        if let Some(epoch) = self.tabs[ix].tab.leading() {
            let id = self.tabs[ix].tab.id().clone();
            // An epoch whose leader died unknown to every coordinator since
            // (frozen while its coordinator died, then killed) may come again:
            // nothing of that leader is left to confuse with the new one.
            let alive = |other: &ClientId| keyed::tab_of(other).is_some_and(|t| self.tabs[t].alive);
            match self.epoch_leaders.get(&epoch) {
                Some(other) if *other != id && alive(other) => {
                    self.violation(format!("tab{ix} leads epoch {epoch}, which {other} led"));
                }
                Some(other) if *other == id => {}
                _ => {
                    self.epoch_leaders.insert(epoch, id);
                }
            }
        }
    }

    pub(super) fn tab_event(&mut self, ix: usize, event: TabEvent, carried: &mut Option<Port>) {
        match &event {
            TabEvent::Connected { session_id, epoch, .. } => {
                let client = self.tabs[ix].tab.id().clone();
                match carried.take() {
                    None => self.violation(format!("tab{ix} connected {session_id} without a port")),
                    Some(port) if port.session != *session_id || port.client != client => {
                        self.violation(format!("tab{ix} connected {session_id} with the port of {port:?}"));
                    }
                    Some(port) => {
                        let worker = port.worker;
                        self.tabs[ix].port = Some(port);
                        self.connections.push(Connection {
                            at_us: self.time.now_us(),
                            tab: ix,
                            session: session_id.clone(),
                            epoch: *epoch,
                            worker,
                        });
                    }
                }
                if self.tabs[ix].max_connected_epoch.is_some_and(|max| *epoch < max) {
                    self.violation(format!("tab{ix} connected in epoch {epoch}, after a later one"));
                }
                self.tabs[ix].max_connected_epoch = self.tabs[ix].max_connected_epoch.max(Some(*epoch));
            }
            TabEvent::Disconnected { session_id, .. } => {
                if self.tabs[ix].port.as_ref().is_some_and(|p| p.session == *session_id) {
                    self.tabs[ix].port = None;
                } else {
                    self.violation(format!("tab{ix} disconnected {session_id}, which it was not connected to"));
                }
            }
            TabEvent::Settled { .. } => self.keyed_event(ix, &event),
            _ => {}
        }
        self.tabs[ix].events.push(event);
    }

    /// The port `message` from `sender` takes from `carried`, if it carries
    /// one; a message that should carry a port but has none is a violation.
    pub(super) fn carry(
        &mut self,
        sender: &str,
        message: &impl WireMessage,
        carried: &mut Option<Port>,
    ) -> Option<Port> {
        if message.ports() != 1 {
            return None;
        }
        let port = carried.take();
        if port.is_none() {
            self.violation(format!("{sender} sent {} without a port to carry", message.kind()));
        }
        port
    }

    pub(super) fn drops(&mut self, from: Ctx, to: Ctx, kind: &'static str) -> bool {
        if let Some(i) = self.cfg.lose.iter().position(|l| *l == Loss { from, to, kind }) {
            self.cfg.lose.remove(i);
            return true;
        }
        self.cfg.drop_probability > 0.0
            && self.cfg.droppable.as_ref().is_none_or(|kinds| kinds.contains(&kind))
            && self.rng.chance(self.cfg.drop_probability)
    }
}
