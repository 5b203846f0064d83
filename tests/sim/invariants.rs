//! What the harness checks: after every event, and once the system is quiet.

use std::collections::{BTreeMap, BTreeSet};

use tabworker::{BackendId, BackendState, BackendStatus, ConnId, Lifecycle, LockMode};

use super::Sim;
use super::keyed::tab_of;
use super::locks::LockView;
use super::world::Ctx;

impl Sim {
    /// What must hold after every event.
    pub(super) fn check_always(&mut self) {
        // A leader whose lock was stolen leads no more, whether it heard yet or not.
        let leaders: Vec<usize> = self.leaders().into_iter().filter(|&i| !self.tabs[i].deposed).collect();
        if leaders.len() > 1 {
            self.violation(format!("two leaders at once: {leaders:?}"));
        }
        let ready: Vec<usize> = self.live_workers().into_iter().filter(|&w| self.workers[w].host.is_ready()).collect();
        if ready.len() > 1 {
            self.violation(format!("two ready workers at once: {ready:?}"));
        }
        self.check_one_backend_per_key();
    }

    /// At most one live backend per key: among the workers that live and
    /// hold their key's lock (each knows its key from its `init`), and on
    /// the coordinator's board.
    fn check_one_backend_per_key(&mut self) {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for w in (0..self.workers.len()).filter(|&w| self.workers[w].alive && self.workers[w].host.holds_key()) {
            if let Some(init) = self.workers[w].host.init() {
                by_key.entry(init.key.as_str()).or_default().push(w);
            }
        }
        let mut errors: Vec<String> = by_key
            .into_iter()
            .filter(|(_, workers)| workers.len() > 1)
            .map(|(key, workers)| format!("workers {workers:?} all live for key {key}"))
            .collect();
        if self.coordinator_alive {
            let mut live: BTreeMap<&str, Vec<&BackendId>> = BTreeMap::new();
            for (id, state) in self.coordinator.backends() {
                if state.status() != BackendStatus::Terminated {
                    let key = self.coordinator.backend_key(id).unwrap_or_default();
                    live.entry(key).or_default().push(id);
                }
            }
            errors.extend(
                live.into_iter()
                    .filter(|(_, ids)| ids.len() > 1)
                    .map(|(key, ids)| format!("the board has {ids:?} all live for key {key}")),
            );
        }
        for error in errors {
            self.violation(error);
        }
    }

    /// Runs until nothing is left to do (at most `max_us`), then checks
    /// [`Sim::check_settled`]: every violation, and not being idle, as text.
    pub fn settle_and_check(&mut self, max_us: u64) -> Vec<String> {
        let idle = self.settle(max_us);
        self.record_ends();
        let mut errors = self.check_settled().err().unwrap_or_default();
        if !idle {
            errors.push(format!("not idle after {} s", max_us / super::SEC));
        }
        errors
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
        self.check_keyed_settled(&mut fail);
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
            if !silent.is_empty() {
                fail(format!("the coordinator keeps connections of tabs {silent:?} that never said hello"));
            }
            if self.coordinator.connections() != live.len() {
                let (n, l) = (self.coordinator.connections(), live.len());
                fail(format!("the coordinator has {n} connections for {l} live tabs"));
            }
        }

        if live.is_empty() {
            if !workers.is_empty() {
                fail(format!("no tab lives but workers {workers:?} do"));
            }
            let keyed = self.live_keyed_workers();
            if !keyed.is_empty() {
                fail(format!("no tab lives but keyed workers {keyed:?} do"));
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
        // At most one standby, kept by the follower the coordinator named.
        let standbys = self.live_standbys();
        if standbys.len() > 1 {
            fail(format!("{} standby workers: {standbys:?}", standbys.len()));
        }
        for &w in &standbys {
            let owner = self.workers[w].owner;
            let named = self.coordinator.standby() == self.tabs[owner].conn.map(ConnId);
            if owner == leader || self.tabs[owner].standby != Some(w) || !self.tabs[owner].tab.has_standby() || !named {
                fail(format!("standby w{w} of tab{owner} is not the one the coordinator named"));
            }
        }
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
            // Awaited by the coordinator, and by each backend that keeps
            // the capabilities of the tab's connects until the tab is gone.
            let admitting = (0..self.workers.len())
                .filter(|&w| self.workers[w].alive && self.workers[w].host.admitting_tabs().any(|c| c == tab.id()))
                .map(|w| (Ctx::Worker(w), LockMode::Exclusive));
            expected_locks.insert(
                self.names.tab(tab.id()),
                LockView {
                    held: vec![(Ctx::Tab(i), LockMode::Exclusive)],
                    queued: std::iter::once((Ctx::Coordinator, LockMode::Exclusive)).chain(admitting).collect(),
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
        // Its sessions by token (the default backend reached by key) are keyed sessions.
        let default_path: Vec<String> = host
            .sessions()
            .filter(|r| r.backend_id.is_none())
            .map(|r| format!("{}:{}", r.client_id, r.session_id))
            .collect();
        if default_path.len() != live.len() {
            let n = default_path.len();
            fail(format!("w{worker} has {n} sessions {default_path:?} for {} live tabs", live.len()));
        }
        // Keyed workers hold their liveness lock, which nobody waits on;
        // each keyed session's lock is its tab's, waited on by the worker
        // that has it open.
        for w in self.live_keyed_workers() {
            let held = vec![(Ctx::Worker(w), LockMode::Exclusive)];
            expected_locks.insert(self.names.liveness(&self.workers[w].id), LockView { held, queued: Vec::new() });
        }
        // Every live worker of a key (the default backend's among them) holds
        // the key's lock, which it took by stealing it.
        // Each also shares its leader's hosted lock with the leader's other workers.
        for w in (0..self.workers.len()).filter(|&w| self.workers[w].alive) {
            if let Some(init) = self.workers[w].host.init() {
                let held = vec![(Ctx::Worker(w), LockMode::Steal)];
                expected_locks.insert(self.names.key(&init.key), LockView { held, queued: Vec::new() });
            }
            if let Some(leader) = self.workers[w].host.leader() {
                let hosted = expected_locks.entry(self.names.hosted(leader)).or_default();
                hosted.held.push((Ctx::Worker(w), LockMode::Shared));
            }
        }
        // A connect's capabilities end with the tab that made it.
        for w in (0..self.workers.len()).filter(|&w| self.workers[w].alive) {
            for client in self.workers[w].host.admitting_tabs() {
                if !live.iter().any(|&i| self.tabs[i].tab.id() == client) {
                    fail(format!("w{w} keeps the tokens of {client}, which is gone"));
                }
            }
        }
        for &i in &live {
            for (session, ..) in self.tabs[i].tab.keyed_sessions() {
                let queued = (0..self.workers.len())
                    .filter(|&w| self.workers[w].alive && self.workers[w].host.session(session).is_some())
                    .map(|w| (Ctx::Worker(w), LockMode::Exclusive))
                    .collect();
                let held = vec![(Ctx::Tab(i), LockMode::Exclusive)];
                expected_locks.insert(self.names.session(session), LockView { held, queued });
            }
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
        let mut v: Members = v.iter().map(|(c, m)| (*c, *m != LockMode::Shared)).collect();
        v.sort();
        v
    };
    (set(&view.held), set(&view.queued))
}

impl Sim {
    /// Once quiet, for keyed backends: every connect and open answered (or
    /// excused), every history a valid lifecycle and the same wherever it is
    /// kept, no backend, worker or session left without its owner, and
    /// nothing kept at the coordinator for a tab that is gone.
    fn check_keyed_settled(&self, fail: &mut impl FnMut(String)) {
        let live = self.live_tabs();
        let k = &self.coordinator;

        // Every connect and every open is settled (by its deadline at the
        // latest; one settled by it with no frame of it lost is a violation
        // when it happens).
        for &i in &live {
            for (call, ask) in &self.tabs[i].app.calls {
                let (at, asked) = (ask.at_us / super::MS, &ask.asked);
                fail(format!("tab{i}'s {call} (at {at} ms: {asked:?}) was never settled"));
            }
        }

        // Every history is a lifecycle: at the coordinator, in the fleets, in the apps.
        let mut histories: Vec<(String, &[BackendState])> = Vec::new();
        if self.coordinator_alive {
            for (id, _) in k.backends() {
                histories.push((format!("the board's {id}"), k.history(id).unwrap_or_default()));
            }
        }
        for &i in &live {
            let fleet = self.tabs[i].tab.fleet();
            for id in fleet.hosted() {
                histories.push((format!("tab{i}'s fleet's {id}"), fleet.history(id)));
            }
            for (id, states) in self.tabs[i].tab.watched() {
                histories.push((format!("tab{i}'s watched {id}"), states));
            }
        }
        for (what, history) in histories {
            if let Err(e) = replay(history) {
                fail(format!("{what}: {e}: {history:?}"));
            }
        }

        if !self.coordinator_alive {
            return;
        }
        // Every tab that watches a backend sees the board's history: after a
        // coordinator died, the tab watches again at the new one, which
        // tells it each state once the backend's leader reported it. A
        // backend the new coordinator never heard of (its leader went with
        // the old one) has no history there to compare with.
        for &i in &live {
            for (id, states) in self.tabs[i].tab.watched() {
                let here = self.tabs[i].app.watched_on.get(id) == Some(&self.tabs[i].conn);
                let ended = states.last().is_some_and(|s| s.status() == BackendStatus::Terminated);
                if !here && !ended {
                    fail(format!("tab{i} follows {id}, which it watched at a coordinator that is gone"));
                }
                if !here || k.history(id).is_none() {
                    continue;
                }
                let board = k.history(id).unwrap_or_default();
                if states != board {
                    fail(format!("tab{i} sees {id} as {states:?}, the board as {board:?}"));
                }
            }
        }

        // No tab follows a dead backend as live: every watched backend not
        // known terminated is hosted by a live leader's fleet (a backend whose
        // leader died with the coordinator that knew it ends as `lost` too).
        let hosted_anywhere: BTreeSet<&BackendId> =
            live.iter().flat_map(|&l| self.tabs[l].tab.fleet().hosted()).collect();
        for &i in &live {
            for (id, states) in self.tabs[i].tab.watched() {
                let ended = states.last().is_some_and(|s| s.status() == BackendStatus::Terminated);
                if !ended && !hosted_anywhere.contains(id) {
                    let last = states.last().map(|s| s.status().as_str());
                    fail(format!("tab{i} follows {id} as {last:?}, which no live tab hosts"));
                }
            }
        }

        // The leader's fleet and the board agree; the board's live backends
        // are all hosted by it.
        let leaders: Vec<usize> =
            self.leaders().into_iter().filter(|&l| self.tabs[l].tab.leading().is_some()).collect();
        let hosted: BTreeSet<&BackendId> = leaders.iter().flat_map(|&l| self.tabs[l].tab.fleet().hosted()).collect();
        if let [leader] = leaders[..] {
            let fleet = self.tabs[leader].tab.fleet();
            for id in fleet.hosted() {
                let board = k.history(id).unwrap_or_default();
                if fleet.history(id) != board {
                    fail(format!("tab{leader}'s fleet has {id} as {:?}, the board as {board:?}", fleet.history(id)));
                }
            }
            for (id, state) in k.backends() {
                if state.status() != BackendStatus::Terminated && !hosted.contains(id) {
                    fail(format!("the board has {id} {}, which no leader hosts", state.status()));
                }
            }
        }

        // Workers: each keyed worker is the one of a backend its live tab hosts.
        for w in self.live_keyed_workers() {
            let (owner, backend) = (self.workers[w].owner, self.workers[w].backend.as_ref());
            let placed =
                self.tabs[owner].alive && backend.is_some_and(|b| self.tabs[owner].app.workers.get(b) == Some(&w));
            if !placed || !backend.is_some_and(|b| self.tabs[owner].tab.fleet().hosted().any(|h| h == b)) {
                fail(format!("w{w} (of {backend:?}) outlived its place with tab{owner}"));
            }
        }
        for &i in &live {
            let fleet = self.tabs[i].tab.fleet();
            for id in fleet.hosted().filter(|&id| fleet.default_backend() != Some(id)) {
                if !self.tabs[i].app.workers.get(id).is_some_and(|&w| self.workers[w].alive) {
                    fail(format!("tab{i} hosts {id} with no live worker"));
                }
            }
        }

        // Keyed sessions: every one a worker has open belongs to a live tab
        // that still has it; the fleet counts every session of its workers
        // (the default backend's too); every open one of a live tab is open
        // at its worker, or its backend ended and the tab was told (then the
        // glue closed it).
        for w in (0..self.workers.len()).filter(|&w| self.workers[w].alive) {
            let Some(backend) = self.serves(w) else { continue };
            let keyed: Vec<_> = self.workers[w].host.sessions().filter(|r| r.backend_id.is_some()).collect();
            for r in &keyed {
                let has = tab_of(&r.client_id)
                    .filter(|&t| self.tabs[t].alive && !self.tabs[t].closed)
                    .and_then(|t| self.tabs[t].app.sessions.get(&r.session_id))
                    .is_some_and(|s| Some(&s.backend_id) == r.backend_id.as_ref());
                if !has {
                    fail(format!(
                        "w{w} keeps session {} of {}, which that tab no longer has",
                        r.session_id, r.client_id
                    ));
                }
            }
            let owner = self.workers[w].owner;
            let counted = self.tabs[owner].tab.fleet().sessions(backend);
            let open = self.workers[w].host.sessions().count();
            if counted != open {
                fail(format!("tab{owner}'s fleet counts {counted} sessions of {backend}, w{w} has {open}"));
            }
        }
        for &i in &live {
            let app = &self.tabs[i].app;
            for (session, keyed) in &app.sessions {
                let port = &keyed.port;
                let worker = &self.workers[port.worker];
                if worker.alive && worker.host.session(session).is_none() {
                    fail(format!("tab{i}'s session {session} is not open at w{}", port.worker));
                }
                let watched_here = app.watched_on.get(&keyed.backend_id) == Some(&self.tabs[i].conn)
                    && self.tabs[i].tab.watched().any(|(id, _)| *id == keyed.backend_id);
                if !worker.alive && watched_here {
                    fail(format!("tab{i} keeps session {session} with {}, whose worker is gone", keyed.backend_id));
                }
            }
        }

        // Nothing waits at the coordinator for a tab that is gone: only
        // connects whose frames were lost may still be pending there.
        let excused: usize = live.iter().map(|&i| self.tabs[i].app.excused_connects).sum();
        if k.pending_connects() > excused {
            fail(format!(
                "the coordinator keeps {} connects, {excused} of live tabs may be pending",
                k.pending_connects()
            ));
        }
    }
}

/// Replays `history` through a [`Lifecycle`]: it starts `scheduled`, every
/// move is one the lifecycle accepts, and time never goes back.
fn replay(history: &[BackendState]) -> Result<(), String> {
    let Some(BackendState::Scheduled { time }) = history.first() else {
        return Err("does not start with `scheduled`".into());
    };
    let mut lifecycle = Lifecycle::new(*time);
    for pair in history.windows(2) {
        if pair[1].time() < pair[0].time() {
            return Err(format!("time goes back from {} to {}", pair[0].time(), pair[1].time()));
        }
        lifecycle
            .apply(pair[1].clone())
            .map_err(|e| format!("{} after {}: {e}", pair[1].status(), pair[0].status()))?;
    }
    Ok(())
}
