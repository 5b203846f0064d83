//! What the harness checks: after every event, and once the system is quiet.

use std::collections::{BTreeMap, BTreeSet};

use tabworker::LockMode;

use super::Sim;
use super::locks::LockView;
use super::world::Ctx;

impl Sim {
    /// What must hold after every event.
    pub(super) fn check_always(&mut self) {
        let leaders = self.leaders();
        if leaders.len() > 1 {
            self.violation(format!("two leaders at once: {leaders:?}"));
        }
        let ready: Vec<usize> =
            (0..self.workers.len()).filter(|&w| self.workers[w].alive && self.workers[w].host.is_ready()).collect();
        if ready.len() > 1 {
            self.violation(format!("two ready workers at once: {ready:?}"));
        }
    }

    /// Checks, once the system is quiet, everything that must then hold:
    /// one leader leading the coordinator's epoch with one ready worker,
    /// every live tab connected to it, and no lock, session or connection
    /// left over by anything gone. Returns every violation found.
    pub fn check_settled(&self) -> Result<(), Vec<String>> {
        let mut errors = self.violations.clone();
        let mut fail = |e: String| errors.push(e);
        let live = self.live_tabs();
        let workers = self.live_workers();

        // Nothing dead holds or waits for a lock.
        for (name, state) in &self.locks {
            for r in state.held.iter().chain(&state.queue) {
                if !self.ctx_alive(r.owner) {
                    fail(format!("dead {} holds or waits for {name}", r.owner));
                }
            }
        }
        // Workers belong to live tabs, one each.
        for &w in &workers {
            let owner = self.workers[w].owner;
            if !self.tabs[owner].alive || self.tabs[owner].worker != Some(w) {
                fail(format!("w{w} outlived its place with tab{owner}"));
            }
        }
        if !live.is_empty() && !self.coordinator_alive {
            fail("tabs live but no coordinator does".into());
        }
        for &i in &live {
            let conn = self.tabs[i].conn;
            if !conn.is_some_and(|c| self.open_conns.contains(&c) && self.introduced.contains(&c)) {
                fail(format!("tab{i}'s connection {conn:?} is not open and introduced at the coordinator"));
            }
        }
        // A dead coordinator's state is frozen: only a live one must match the tabs.
        if self.coordinator_alive {
            let clients: BTreeSet<String> = self.coordinator.clients().map(ToString::to_string).collect();
            let live_ids: BTreeSet<String> = live.iter().map(|&i| self.tabs[i].tab.id().to_string()).collect();
            if clients != live_ids {
                fail(format!("the coordinator knows {clients:?}, the live tabs are {live_ids:?}"));
            }
            let silent = self.silent_connections();
            if !silent.is_empty() && !self.cfg.allow_silent_connections {
                fail(format!("the coordinator keeps the connections of {silent:?}, which died before their hello"));
            }
            let allowed = if self.cfg.allow_silent_connections { silent.len() } else { 0 };
            if self.coordinator.connections() != live.len() + allowed {
                let (n, l) = (self.coordinator.connections(), live.len());
                fail(format!("the coordinator has {n} connections for {l} live tabs and {allowed} silent ones"));
            }
        }

        if live.is_empty() {
            if !workers.is_empty() {
                fail(format!("no tab lives but workers {workers:?} do"));
            }
            let coordinator_lock = self.names.coordinator_liveness(self.coordinator.id());
            for name in self.locks.keys().filter(|&n| *n != coordinator_lock) {
                fail(format!("no tab lives but {name} is in use: {:?}", self.lock(name)));
            }
            return if errors.is_empty() { Ok(()) } else { Err(errors) };
        }

        let leaders = self.leaders();
        let [leader] = leaders[..] else {
            fail(format!("{} leaders among live tabs {live:?}: {leaders:?}", leaders.len()));
            return Err(errors);
        };
        let Some(epoch) = self.tabs[leader].tab.leading() else {
            fail(format!("leader tab{leader} is not leading"));
            return Err(errors);
        };
        let leader_id = self.tabs[leader].tab.id().clone();
        match self.coordinator.leadership() {
            Some(l) if l.leader_id == leader_id && l.epoch == epoch => {}
            other => fail(format!("tab{leader} leads in epoch {epoch}, the coordinator says {other:?}")),
        }
        let [worker] = workers[..] else {
            fail(format!("{} live workers: {workers:?}", workers.len()));
            return Err(errors);
        };
        let host = &self.workers[worker].host;
        if self.workers[worker].owner != leader || !host.is_ready() || host.leader() != Some(&leader_id) {
            fail(format!("w{worker} is not the ready worker of leader tab{leader}"));
        }

        let mut expected_locks: BTreeMap<String, LockView> = BTreeMap::new();
        expected_locks.insert(
            self.names.coordinator_liveness(self.coordinator.id()),
            LockView {
                held: vec![(Ctx::Coordinator, LockMode::Exclusive)],
                queued: live.iter().map(|&i| (Ctx::Tab(i), LockMode::Shared)).collect(),
            },
        );
        let others: Vec<(Ctx, LockMode)> =
            live.iter().filter(|&&i| i != leader).map(|&i| (Ctx::Tab(i), LockMode::Exclusive)).collect();
        expected_locks.insert(
            self.names.leader(),
            LockView { held: vec![(Ctx::Tab(leader), LockMode::Exclusive)], queued: others },
        );
        expected_locks.insert(
            self.names.liveness(&self.workers[worker].id),
            LockView {
                held: vec![(Ctx::Worker(worker), LockMode::Exclusive)],
                queued: live.iter().map(|&i| (Ctx::Tab(i), LockMode::Shared)).collect(),
            },
        );
        for &i in &live {
            let tab = &self.tabs[i].tab;
            if !tab.is_joined() {
                fail(format!("tab{i} is not joined"));
            }
            if tab.leadership().map(|l| l.epoch) != Some(epoch) {
                fail(format!("tab{i} knows epoch {:?}, the leader leads {epoch}", tab.leadership().map(|l| l.epoch)));
            }
            expected_locks.insert(
                self.names.tab(tab.id()),
                LockView {
                    held: vec![(Ctx::Tab(i), LockMode::Exclusive)],
                    queued: vec![(Ctx::Coordinator, LockMode::Exclusive)],
                },
            );
            let Some((session, session_epoch)) = tab.session() else {
                fail(format!("tab{i} is not connected"));
                continue;
            };
            if session_epoch != epoch {
                fail(format!("tab{i} is connected in epoch {session_epoch}, the leader leads {epoch}"));
            }
            match &self.tabs[i].port {
                Some(port) if port.worker == worker && port.session == *session => {}
                other => fail(format!("tab{i}'s session {session} has port {other:?}, not one of w{worker}")),
            }
            if host.session(session).map(|r| &r.client_id) != Some(tab.id()) {
                fail(format!("w{worker} has no session {session} for tab{i}"));
            }
            expected_locks.insert(
                self.names.session(session),
                LockView {
                    held: vec![(Ctx::Tab(i), LockMode::Exclusive)],
                    queued: vec![(Ctx::Worker(worker), LockMode::Exclusive)],
                },
            );
        }
        if host.sessions().count() != live.len() {
            let open: Vec<String> = host.sessions().map(|r| format!("{}:{}", r.client_id, r.session_id)).collect();
            fail(format!("w{worker} has {} sessions {open:?} for {} live tabs", open.len(), live.len()));
        }
        for name in self.locks.keys() {
            if !expected_locks.contains_key(name) {
                fail(format!("leaked lock {name}: {:?}", self.lock(name)));
            }
        }
        for (name, expected) in &expected_locks {
            let actual = self.lock(name);
            if normalized(&actual) != normalized(expected) {
                fail(format!("lock {name} is {actual:?}, expected {expected:?}"));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Contexts with whether each is exclusive, sorted.
type Members = Vec<(Ctx, bool)>;

/// A lock's holders and queue as sorted lists, ignoring the queue's order.
fn normalized(view: &LockView) -> (Members, Members) {
    let set = |v: &[(Ctx, LockMode)]| {
        let mut v: Members = v.iter().map(|(c, m)| (*c, *m == LockMode::Exclusive)).collect();
        v.sort();
        v
    };
    (set(&view.held), set(&view.queued))
}
