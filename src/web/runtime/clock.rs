//! The wall clock, as the core sees it.

use crate::model::time::Timestamp;

/// Now, in milliseconds since the epoch.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_millis(js_sys::Date::now() as u64)
}
