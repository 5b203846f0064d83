//! The Web Locks a state machine asked for, by its own id of each lock
//! (a [`LockId`](crate::LockId) for the core's machines).
//!
//! Each request gets a generation number; a grant is passed on only if the
//! request is still the current one for its name, so a grant that races a
//! release is never mistaken for a new one.

use crate::model::map::Map;
use std::cell::RefMut;
use std::future::Future;
use std::rc::{Rc, Weak};

use super::locks::{LockMode, LockRequest};
use crate::web::error::TabworkerError;

/// A request, identified by its lock and generation.
pub(crate) struct Ticket<K> {
    pub(crate) lock: K,
    pub(crate) generation: u64,
}

pub(crate) struct LockTable<K> {
    requests: Map<K, (u64, LockRequest)>,
    next: u64,
}

impl<K> Default for LockTable<K> {
    fn default() -> Self {
        LockTable { requests: Map::default(), next: 0 }
    }
}

#[cfg(any(feature = "tab", feature = "backend"))]
impl LockTable<crate::LockId> {
    /// Carries out a machine's `command` in the table that `table` finds in
    /// `owner`: a lock asked for is told to `granted` once granted (while
    /// it is still the current request), then to `lost` if another
    /// context steals it; a lock let go of is released.
    pub(crate) fn command<T: 'static>(
        owner: &Rc<T>,
        table: fn(&T) -> RefMut<'_, LockTable<crate::LockId>>,
        command: crate::LockCommand,
        who: &'static str,
        granted: fn(&Rc<T>, &crate::LockId),
        lost: fn(&Rc<T>, &crate::LockId),
    ) {
        match command {
            crate::LockCommand::Acquire { lock, name, mode } => {
                Self::acquire_then(owner, table, (lock, &name, mode), who, move |owner, lock| {
                    Self::when_lost(owner, table, lock, lost);
                    granted(owner, lock);
                });
            }
            crate::LockCommand::Release { lock } => table(owner).release(&lock),
        }
    }
}

impl<K: Ord + Clone + 'static> LockTable<K> {
    /// Requests `lock`, named `name`; the future resolves to the ticket once
    /// granted (and never if the request is withdrawn or refused).
    pub(crate) fn acquire(
        &mut self,
        lock: K,
        name: &str,
        mode: LockMode,
    ) -> Result<impl Future<Output = Option<Ticket<K>>> + use<K>, TabworkerError> {
        let request = LockRequest::new(name, mode, false)?;
        let granted = request.granted();
        self.next += 1;
        let generation = self.next;
        self.requests.insert(lock.clone(), (generation, request));
        Ok(async move { matches!(granted.await, Ok(true)).then_some(Ticket { lock, generation }) })
    }

    /// Whether `ticket` is still the current request for its lock.
    pub(crate) fn is_current(&self, ticket: &Ticket<K>) -> bool {
        self.requests.get(&ticket.lock).is_some_and(|(generation, _)| *generation == ticket.generation)
    }

    /// Releases `lock`, or withdraws its request.
    pub(crate) fn release(&mut self, lock: &K) {
        self.requests.remove(lock);
    }

    /// Requests `lock`, named `name`, in the table that `table` finds in
    /// `owner`; once it is granted, if `owner` still lives and the request
    /// is still the current one, calls `on_grant` with the owner and the
    /// lock. A request the browser refuses is said on the console in the
    /// name of `who`.
    pub(crate) fn acquire_then<T: 'static>(
        owner: &Rc<T>,
        table: fn(&T) -> RefMut<'_, LockTable<K>>,
        (lock, name, mode): (K, &str, LockMode),
        who: &str,
        on_grant: impl FnOnce(&Rc<T>, &K) + 'static,
    ) {
        let granted = match table(owner).acquire(lock, name, mode) {
            Ok(granted) => granted,
            Err(e) => return web_sys::console::warn_1(&format!("tabworker {who}: lock `{name}`: {e}").into()),
        };
        Self::when_granted(
            granted,
            Rc::downgrade(owner),
            move |owner, ticket| table(owner).is_current(ticket),
            on_grant,
        );
    }

    /// Waits for `granted` (from [`LockTable::acquire`]); if `owner` still
    /// lives and `is_current` finds the request still current in the
    /// owner's table, calls `on_grant` with the owner and the lock.
    pub(crate) fn when_granted<T: 'static>(
        granted: impl Future<Output = Option<Ticket<K>>> + 'static,
        owner: Weak<T>,
        is_current: impl FnOnce(&T, &Ticket<K>) -> bool + 'static,
        on_grant: impl FnOnce(&Rc<T>, &K) + 'static,
    ) {
        wasm_bindgen_futures::spawn_local(async move {
            let Some(ticket) = granted.await else { return };
            let Some(owner) = owner.upgrade() else { return };
            if is_current(&owner, &ticket) {
                on_grant(&owner, &ticket.lock);
            }
        });
    }

    /// Once the lock `lock` found in `owner`'s table, granted, is taken from
    /// it by another context's steal, and if `owner` still lives and holds
    /// that same request, calls `on_lost` with the owner and the lock.
    #[cfg(any(feature = "tab", feature = "backend"))]
    pub(crate) fn when_lost<T: 'static>(
        owner: &Rc<T>,
        table: fn(&T) -> RefMut<'_, LockTable<K>>,
        lock: &K,
        on_lost: impl FnOnce(&Rc<T>, &K) + 'static,
    ) {
        let Some((generation, lost)) = table(owner).requests.get(lock).map(|(g, r)| (*g, r.lost())) else { return };
        let (owner, lock) = (Rc::downgrade(owner), lock.clone());
        wasm_bindgen_futures::spawn_local(async move {
            lost.await;
            let Some(owner) = owner.upgrade() else { return };
            let ticket = Ticket { lock, generation };
            if table(&owner).is_current(&ticket) {
                on_lost(&owner, &ticket.lock);
            }
        });
    }

    /// Releases every lock.
    #[cfg(feature = "tab")]
    pub(crate) fn clear(&mut self) {
        self.requests.clear();
    }
}
