//! What the tab asks the browser layer to do, in order, and how many frames
//! or events it found out of place.

use std::collections::VecDeque;

use super::calls::{CallError, CallId, CallValue, Calls};
use super::output::{TabEvent, TabOutput};
use crate::model::locks::{LockCommand, LockId, LockMode, LockNames};
use crate::protocol::TabToCoordinator;

/// The outputs not taken yet.
#[derive(Debug)]
pub(super) struct Outbox {
    names: LockNames,
    outputs: VecDeque<TabOutput>,
    ignored: u64,
}

impl Outbox {
    /// An empty outbox, naming the locks of the app of `names`.
    pub(super) fn new(names: LockNames) -> Self {
        Outbox { names, outputs: VecDeque::new(), ignored: 0 }
    }

    /// Anything to do.
    pub(super) fn push(&mut self, output: TabOutput) {
        self.outputs.push_back(output);
    }

    /// Posts `message` to the coordinator.
    pub(super) fn send(&mut self, message: TabToCoordinator) {
        self.push(TabOutput::ToCoordinator(message));
    }

    /// Asks for the Web Lock `lock`.
    pub(super) fn acquire(&mut self, lock: LockId, mode: LockMode) {
        let name = self.names.name(&lock);
        self.push(TabOutput::Lock(LockCommand::Acquire { lock, name, mode }));
    }

    /// Releases `lock`, or withdraws its request.
    pub(super) fn release(&mut self, lock: LockId) {
        self.push(TabOutput::Lock(LockCommand::Release { lock }));
    }

    /// Tells the app.
    pub(super) fn event(&mut self, event: TabEvent) {
        self.push(TabOutput::Event(event));
    }

    /// A call of the app refused before anything was asked: a new call id,
    /// settled with `error` at the next poll.
    pub(super) fn refuse(&mut self, calls: &mut Calls, error: CallError) -> CallId {
        let call = calls.next_id();
        self.event(TabEvent::Settled { call, outcome: Err(error) });
        call
    }

    /// Settles the app's `call` with `outcome`, if it is still pending.
    pub(super) fn settle(&mut self, calls: &mut Calls, call: CallId, outcome: Result<CallValue, CallError>) {
        if calls.finish(call) {
            self.event(TabEvent::Settled { call, outcome });
        }
    }

    /// A frame or an event out of place: counted, nothing else.
    pub(super) fn ignore(&mut self) {
        self.ignored += 1;
    }

    /// How many frames or events were out of place so far.
    pub(super) fn ignored(&self) -> u64 {
        self.ignored
    }

    /// The next output, if any.
    pub(super) fn pop(&mut self) -> Option<TabOutput> {
        self.outputs.pop_front()
    }
}
