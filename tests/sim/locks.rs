//! Web Locks as the browser keeps them: per name a set of holders and a FIFO
//! queue, exclusive and shared modes, a queued request withdrawn by
//! `Release`, and stealing (the holders lose the lock and hear of it, the
//! thief goes first). Grants and losses reach their owner as events, after
//! a small delay.

use std::collections::VecDeque;

use tabworker::{LockCommand, LockMode};

use super::Sim;
use super::world::{Ctx, Event};

#[derive(Debug, Clone)]
pub(super) struct LockRequest {
    pub(super) id: u64,
    pub(super) owner: Ctx,
    pub(super) mode: LockMode,
}

#[derive(Debug, Default)]
pub(super) struct LockState {
    pub(super) held: Vec<LockRequest>,
    pub(super) queue: VecDeque<LockRequest>,
}

impl LockState {
    pub(super) fn remove(&mut self, owner: Ctx) -> bool {
        let before = self.held.len() + self.queue.len();
        self.held.retain(|r| r.owner != owner);
        self.queue.retain(|r| r.owner != owner);
        before != self.held.len() + self.queue.len()
    }

    pub(super) fn has(&self, owner: Ctx) -> bool {
        self.held.iter().chain(&self.queue).any(|r| r.owner == owner)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty() && self.queue.is_empty()
    }
}

/// A snapshot of one lock: who holds it and who waits, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockView {
    /// The holders, with their modes.
    pub held: Vec<(Ctx, LockMode)>,
    /// The queue, first first.
    pub queued: Vec<(Ctx, LockMode)>,
}

impl Sim {
    /// Carries out a machine's lock `command` for `owner` (a tab or a worker):
    /// the lock is asked for by its name, remembered with its id.
    pub(super) fn lock_command(&mut self, owner: Ctx, command: LockCommand) {
        match command {
            LockCommand::Acquire { lock, name, mode } => {
                self.lock_ids.insert(name.clone(), lock);
                self.acquire(owner, name, mode);
            }
            LockCommand::Release { lock } => {
                let name = self.names.name(&lock);
                self.release(owner, &name);
            }
        }
    }

    pub(super) fn acquire(&mut self, owner: Ctx, lock: String, mode: LockMode) {
        let state = self.locks.entry(lock.clone()).or_default();
        if state.has(owner) {
            // As a browser layer keeping one request per name would: the old
            // one is dropped. Only a takeover's steal means to replace it.
            if mode != LockMode::Steal {
                self.stats.duplicate_acquires += 1;
            }
            state.remove(owner);
        }
        self.next_lock_request += 1;
        let id = self.next_lock_request;
        if mode == LockMode::Steal {
            let robbed = std::mem::take(&mut state.held);
            state.queue.push_front(LockRequest { id, owner, mode });
            // The holders hear of it before the thief does: a browser rejects
            // their requests as it grants the steal.
            let leader = lock == self.names.leader();
            for request in robbed {
                if let (true, Ctx::Tab(ix)) = (leader, request.owner) {
                    self.tabs[ix].deposed = true;
                }
                let at = self.time.now_us() + self.cfg.lock_latency_us;
                self.schedule(at, Event::Lost { owner: request.owner, lock: lock.clone(), request: request.id });
            }
        } else {
            state.queue.push_back(LockRequest { id, owner, mode });
        }
        self.pump(&lock);
    }

    pub(super) fn release(&mut self, owner: Ctx, lock: &str) {
        if let Some(state) = self.locks.get_mut(lock) {
            if state.remove(owner) {
                self.pump(lock);
            }
        }
    }

    pub(super) fn release_all(&mut self, owner: Ctx) {
        let names: Vec<String> = self.locks.iter().filter(|(_, s)| s.has(owner)).map(|(n, _)| n.clone()).collect();
        for name in names {
            self.release(owner, &name);
        }
    }

    /// Grants what can be granted of `lock`, first come first served.
    fn pump(&mut self, lock: &str) {
        let mut granted = Vec::new();
        if let Some(state) = self.locks.get_mut(lock) {
            while let Some(front) = state.queue.front() {
                let free = match front.mode {
                    LockMode::Exclusive | LockMode::Steal => state.held.is_empty(),
                    LockMode::Shared => state.held.iter().all(|r| r.mode == LockMode::Shared),
                };
                if !free {
                    break;
                }
                let request = state.queue.pop_front().expect("the front exists");
                granted.push((request.owner, request.id));
                state.held.push(request);
            }
            if state.is_empty() {
                self.locks.remove(lock);
            }
        }
        for (owner, request) in granted {
            let mut at = self.time.now_us() + self.cfg.lock_latency_us + self.jitter();
            if let Ctx::Tab(ix) = owner {
                at = at.max(self.tabs[ix].grants_from_us);
            }
            self.schedule(at, Event::Granted { owner, lock: lock.to_owned(), request });
        }
    }
}
