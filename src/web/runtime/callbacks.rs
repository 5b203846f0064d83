//! The app's callbacks, by the name they listen to.

use crate::model::map::Map;

/// The app's callbacks by name (an event's, or `status`, `ready`…), each
/// with the id its unsubscribe names.
#[derive(Default)]
pub(crate) struct Callbacks {
    next: u32,
    by_name: Map<String, Vec<(u32, js_sys::Function)>>,
}

impl Callbacks {
    /// Adds `listener` for `name`; its id.
    pub(crate) fn add(&mut self, name: String, listener: js_sys::Function) -> u32 {
        self.next += 1;
        self.by_name.entry(name).or_default().push((self.next, listener));
        self.next
    }

    /// Removes the listener `id` of `name`.
    pub(crate) fn remove(&mut self, name: &str, id: u32) {
        if let Some(list) = self.by_name.get_mut(name) {
            list.retain(|(i, _)| *i != id);
            if list.is_empty() {
                self.by_name.remove(name);
            }
        }
    }

    /// The listeners of `name`, in the order they were added.
    pub(crate) fn of(&self, name: &str) -> Vec<js_sys::Function> {
        self.by_name.get(name).map(|l| l.iter().map(|(_, f)| f.clone()).collect()).unwrap_or_default()
    }

    /// Removes every listener.
    pub(crate) fn clear(&mut self) {
        self.by_name.clear();
    }
}
