//! An event listener that is removed when dropped.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

/// A listener attached to `target` for as long as this value lives.
pub(crate) struct Listener {
    target: EventTarget,
    event: &'static str,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    /// Attaches `callback` to `target` for `event`, as a `T` (an `Event`
    /// subtype; any other event is passed over).
    pub(crate) fn new<T: JsCast + 'static>(
        target: &EventTarget,
        event: &'static str,
        mut callback: impl FnMut(T) + 'static,
    ) -> Listener {
        let callback = Closure::new(move |e: web_sys::Event| {
            if let Ok(e) = e.dyn_into::<T>() {
                callback(e);
            }
        });
        // addEventListener only throws for a non-callable listener, and a Closure is callable.
        let _ = target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref());
        Listener { target: target.clone(), event, callback }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.event, self.callback.as_ref().unchecked_ref());
    }
}
