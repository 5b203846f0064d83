//! The browser layer (`wasm32` only): carries browser events into the pure
//! core and the core's commands out, and exports the JavaScript API.
//!
//! Everything here is thin on purpose; the logic lives in the core, which is
//! tested natively.

mod backend;
mod client;
mod codec;
mod coordinator;
mod error;
mod features;
mod keyed;
mod listener;
mod lock_table;
pub mod locks;
mod tables;
mod timer;
mod typescript;

pub use backend::{BackendHandle, serve_backend};
pub use client::Client;
pub use codec::{from_js, to_js};
pub use coordinator::{CoordinatorHandle, run_coordinator};
pub use error::{ErrorCode, TabworkerError};
pub use features::{Features, features};
pub use keyed::{KeyedSession, StatusSubscription};

use wasm_bindgen::{JsCast, JsValue};

/// A plain object with `entries` as its properties.
pub(crate) fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in entries {
        // Setting properties on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// A random id for ids that must be unique across contexts.
pub(crate) fn random_id<T: TryFrom<String>>() -> T
where
    T::Error: std::fmt::Debug,
{
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).unwrap_or(JsValue::UNDEFINED);
    let uuid = js_sys::Reflect::get(&crypto, &"randomUUID".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(&crypto).ok())
        .and_then(|v| v.as_string());
    // randomUUID exists only in secure contexts; elsewhere Math.random is unique enough for ids.
    let text =
        uuid.unwrap_or_else(|| format!("{:x}{:x}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e16) as u64));
    // A UUID or two hex numbers: non-empty, short, no control characters.
    T::try_from(text).expect("generated ids are valid")
}
