//! The Web Locks a state machine asked for, by name.
//!
//! Each request gets a generation number; a grant is passed on only if the
//! request is still the current one for its name, so a grant that races a
//! release is never mistaken for a new one.

use std::collections::HashMap;
use std::future::Future;
use std::rc::{Rc, Weak};

use super::locks::{LockMode, LockRequest};
use crate::web::error::TabworkerError;

/// A request, identified by name and generation.
pub(crate) struct Ticket {
    pub(crate) name: String,
    pub(crate) generation: u64,
}

#[derive(Default)]
pub(crate) struct LockTable {
    requests: HashMap<String, (u64, LockRequest)>,
    next: u64,
}

impl LockTable {
    /// Requests `name`; the future resolves to the ticket once granted (and
    /// never if the request is withdrawn or refused).
    pub(crate) fn acquire(
        &mut self,
        name: &str,
        mode: LockMode,
    ) -> Result<impl Future<Output = Option<Ticket>> + use<>, TabworkerError> {
        let request = LockRequest::new(name, mode, false)?;
        let granted = request.granted();
        self.next += 1;
        let generation = self.next;
        self.requests.insert(name.to_owned(), (generation, request));
        let name = name.to_owned();
        Ok(async move { matches!(granted.await, Ok(true)).then_some(Ticket { name, generation }) })
    }

    /// Whether `ticket` is still the current request for its name.
    pub(crate) fn is_current(&self, ticket: &Ticket) -> bool {
        self.requests.get(&ticket.name).is_some_and(|(generation, _)| *generation == ticket.generation)
    }

    /// Releases the lock `name`, or withdraws its request.
    pub(crate) fn release(&mut self, name: &str) {
        self.requests.remove(name);
    }

    /// Waits for `granted` (from [`LockTable::acquire`]); if `owner` still
    /// lives and `is_current` finds the request still current in the
    /// owner's table, calls `on_grant` with the owner and the lock's name.
    pub(crate) fn when_granted<T: 'static>(
        granted: impl Future<Output = Option<Ticket>> + 'static,
        owner: Weak<T>,
        is_current: impl FnOnce(&T, &Ticket) -> bool + 'static,
        on_grant: impl FnOnce(&Rc<T>, &str) + 'static,
    ) {
        wasm_bindgen_futures::spawn_local(async move {
            let Some(ticket) = granted.await else { return };
            let Some(owner) = owner.upgrade() else { return };
            if is_current(&owner, &ticket) {
                on_grant(&owner, &ticket.name);
            }
        });
    }

    /// Releases every lock.
    pub(crate) fn clear(&mut self) {
        self.requests.clear();
    }
}
