//! One runtime timer, re-armed to the state machine's earliest deadline
//! (quinn's pattern): a single `setTimeout` at a time (gloo-timers'
//! `Timeout`, cleared when dropped), set again only when the deadline moves
//! earlier (or once it fired).
//! It is the browser layer's one timer of the core's deadlines; the only
//! other is `ctx.openSync`'s wait between tries of a locked file
//! (`web::mount`), whose waits the core gives too.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::callback::Timeout;

use crate::model::time::Timestamp;

/// A timer that calls one callback whenever it fires.
pub(crate) struct Timer {
    on_fire: Rc<RefCell<dyn FnMut()>>,
    /// The deadline armed, until it fires.
    armed_for: Rc<Cell<Option<Timestamp>>>,
    /// The armed `setTimeout`; dropping it clears it.
    armed: RefCell<Option<Timeout>>,
}

impl Timer {
    /// A timer that calls `on_fire` when it fires.
    pub(crate) fn new(on_fire: impl FnMut() + 'static) -> Timer {
        Timer { on_fire: Rc::new(RefCell::new(on_fire)), armed_for: Rc::default(), armed: RefCell::new(None) }
    }

    /// Fires once at `deadline` (`now` is the clock now); `None` disarms.
    /// Replaces an earlier arming only when `deadline` comes before it: an
    /// arming for an earlier instant is kept (the core, asked then, finds
    /// nothing due, and the timer is armed again to its deadline). So a
    /// deadline that moves later — a request made, or one answered — costs
    /// no `clearTimeout`/`setTimeout` pair.
    pub(crate) fn arm(&self, deadline: Option<Timestamp>, now: Timestamp) {
        let armed = self.armed_for.get();
        if armed.is_some_and(|armed| deadline.is_none_or(|d| d >= armed)) || armed == deadline {
            return;
        }
        self.armed_for.set(deadline);
        let timeout = deadline.map(|at| {
            let (on_fire, armed_for) = (Rc::clone(&self.on_fire), Rc::clone(&self.armed_for));
            // A deadline past `u32::MAX` ms (49 days) fires then, and is re-armed.
            let ms = u32::try_from(at.millis_since(now)).unwrap_or(u32::MAX);
            Timeout::new(ms, move || {
                armed_for.set(None);
                (on_fire.borrow_mut())();
            })
        });
        // The old arming, replaced here, is cleared as it drops.
        drop(self.armed.replace(timeout));
    }

    /// Clears the timer, whatever it was armed for.
    pub(crate) fn disarm(&self) {
        self.armed_for.set(None);
        drop(self.armed.replace(None));
    }
}
