//! A session's outbox: its unsent frames, bounded by
//! [`OutboxBound`](super::limits::OutboxBound), and the open sessions'
//! outboxes, which a broadcast reaches.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;

use super::limits::{Limits, OutboxBound, Overflow};
use crate::backend::rust::ServedLink;
use crate::channel::ChannelFrame;
use crate::channel::text::encode;
use crate::model::map::Map;
use crate::model::value::Value;

/// A session's unsent frames, bounded by [`OutboxBound`]: a frame that
/// would pass the bound closes the session instead.
pub(super) struct Outbox {
    queue: RefCell<Option<mpsc::UnboundedSender<Message>>>,
    bound: RefCell<OutboxBound>,
    overflow: Cell<Option<Overflow>>,
    overflowed: Notify,
}

impl Outbox {
    pub(super) fn new(limits: &Limits) -> (Rc<Self>, mpsc::UnboundedReceiver<Message>) {
        let (queue, queued) = mpsc::unbounded_channel();
        let outbox = Outbox {
            queue: RefCell::new(Some(queue)),
            bound: RefCell::new(OutboxBound::new(limits)),
            overflow: Cell::new(None),
            overflowed: Notify::new(),
        };
        (Rc::new(outbox), queued)
    }

    /// Queues `message`, or says why not: the session is closed, or this
    /// frame would pass the bound (and the session is being closed for it).
    pub(super) fn push(&self, message: Message) -> Result<(), String> {
        let queue = self.queue.borrow();
        let Some(queue) = queue.as_ref().filter(|_| self.overflow.get().is_none()) else {
            return Err("the session is closed".to_string());
        };
        let len = message.len();
        if let Err(overflow) = self.bound.borrow_mut().push(len) {
            self.overflow.set(Some(overflow));
            self.overflowed.notify_one();
            return Err(format!("the session is closed: {overflow}"));
        }
        queue.send(message).map_err(|_| "the session is closed".to_string())
    }

    /// Takes nothing more; the writer ends once it sent what is queued.
    pub(super) fn close(&self) {
        self.queue.borrow_mut().take();
    }

    /// A frame of `len` bytes was taken by the socket.
    pub(super) fn sent(&self, len: usize) {
        self.bound.borrow_mut().sent(len);
    }

    /// Resolves once a frame would have passed the bound, with why.
    pub(super) async fn overflowed(&self) -> Overflow {
        loop {
            if let Some(overflow) = self.overflow.get() {
                return overflow;
            }
            self.overflowed.notified().await;
        }
    }
}

/// The open sessions' outboxes, by session number.
#[derive(Default)]
pub(super) struct Sessions(RefCell<Map<u64, Rc<Outbox>>>);

impl Sessions {
    /// Session `number` opened, with `outbox`.
    pub(super) fn insert(&self, number: u64, outbox: Rc<Outbox>) {
        self.0.borrow_mut().insert(number, outbox);
    }

    /// Session `number` ended.
    pub(super) fn remove(&self, number: u64) {
        self.0.borrow_mut().remove(&number);
    }

    /// Sends every session a close (a soft stop).
    pub(super) fn close_all(&self) {
        for outbox in self.0.borrow().values() {
            let _ = outbox.push(Message::Close(None));
        }
    }
}

impl ServedLink for Sessions {
    fn broadcast(&self, event: &str, payload: &Value) {
        let text = encode(&ChannelFrame::Event { name: event.to_owned(), payload: payload.clone() });
        for outbox in self.0.borrow().values() {
            // A session that cannot take it is closed, or being closed.
            let _ = outbox.push(Message::Text(text.clone()));
        }
    }

    fn sessions(&self) -> usize {
        self.0.borrow().len()
    }
}
