//! One runtime timer, re-armed to the state machine's earliest deadline
//! (quinn's pattern): a single `setTimeout` at a time (gloo-timers'
//! `Timeout`, cleared when dropped), set again only when the deadline moves
//! earlier (or once it fired).
//! It is the browser layer's one timer of the core's deadlines; the only
//! other is `ctx.openSync`'s wait between tries of a locked file
//! (`web::backend::mount`), whose waits the core gives too.
//!
//! A deadline is waited for as the core's [`timer_wake`] says: in arms no
//! longer than a `setTimeout` keeps (2^31 − 1 ms; a longer delay would fire
//! at once, and the timer would be armed again and again), and a wake
//! before the deadline arms again for what is left instead of firing.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;

use crate::model::time::Timestamp;
use crate::model::timers::{TimerWake, timer_wake};

/// A timer that calls one callback whenever its deadline is reached.
pub struct Timer {
    inner: Rc<Inner>,
}

struct Inner {
    on_fire: RefCell<Box<dyn FnMut()>>,
    /// The clock a wake is checked against.
    clock: Box<dyn Fn() -> Timestamp>,
    /// The deadline armed, until it fires.
    armed_for: Cell<Option<Timestamp>>,
    /// The armed `setTimeout`; dropping it clears it.
    armed: RefCell<Option<Timeout>>,
    /// How many `setTimeout`s were set.
    arms: Cell<u64>,
}

impl Timer {
    /// A timer that calls `on_fire` when it fires, reading the wall clock.
    pub fn new(on_fire: impl FnMut() + 'static) -> Timer {
        Timer::with_clock(on_fire, super::clock::now)
    }

    /// A timer that calls `on_fire` when it fires, and checks each wake
    /// against `clock`.
    pub fn with_clock(on_fire: impl FnMut() + 'static, clock: impl Fn() -> Timestamp + 'static) -> Timer {
        let inner = Inner {
            on_fire: RefCell::new(Box::new(on_fire)),
            clock: Box::new(clock),
            armed_for: Cell::new(None),
            armed: RefCell::new(None),
            arms: Cell::new(0),
        };
        Timer { inner: Rc::new(inner) }
    }

    /// Fires once at `deadline` (`now` is the clock now); `None` disarms.
    /// Replaces an earlier arming only when `deadline` comes before it: an
    /// arming for an earlier instant is kept (the core, asked then, finds
    /// nothing due, and the timer is armed again to its deadline). So a
    /// deadline that moves later — a request made, or one answered — costs
    /// no `clearTimeout`/`setTimeout` pair.
    pub fn arm(&self, deadline: Option<Timestamp>, now: Timestamp) {
        let armed = self.inner.armed_for.get();
        if armed.is_some_and(|armed| deadline.is_none_or(|d| d >= armed)) || armed == deadline {
            return;
        }
        self.inner.armed_for.set(deadline);
        match deadline {
            Some(at) => Inner::set(&self.inner, at, now),
            // The old arming is cleared as it drops.
            None => drop(self.inner.armed.replace(None)),
        }
    }

    /// Clears the timer, whatever it was armed for.
    pub fn disarm(&self) {
        self.inner.armed_for.set(None);
        drop(self.inner.armed.replace(None));
    }

    /// How many `setTimeout`s this timer set so far: one per arming, and
    /// one more per wake before its deadline.
    pub fn arms(&self) -> u64 {
        self.inner.arms.get()
    }
}

impl Inner {
    /// Sets a `setTimeout` towards `at`, replacing (and clearing) the one
    /// before.
    fn set(self: &Rc<Self>, at: Timestamp, now: Timestamp) {
        let ms = match timer_wake(at, now) {
            TimerWake::Fire => 0,
            TimerWake::Wait(ms) => ms,
        };
        let weak: Weak<Inner> = Rc::downgrade(self);
        let timeout = Timeout::new(ms, move || {
            if let Some(inner) = weak.upgrade() {
                inner.woke(at);
            }
        });
        self.arms.set(self.arms.get() + 1);
        drop(self.armed.replace(Some(timeout)));
    }

    /// The `setTimeout` towards `at` ran: fire, or arm again for what is left.
    fn woke(self: &Rc<Self>, at: Timestamp) {
        let now = (self.clock)();
        match timer_wake(at, now) {
            TimerWake::Fire => {
                self.armed_for.set(None);
                (self.on_fire.borrow_mut())();
            }
            TimerWake::Wait(_) => self.set(at, now),
        }
    }
}
