//! Errors thrown to JavaScript: `Error` objects with `name`
//! `"TabworkerError"` and a stable `code` to branch on.

use wasm_bindgen::prelude::*;

pub use crate::model::code::ErrorCode;

/// An error of this crate's browser layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TabworkerError {
    /// What kind of error.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
}

impl TabworkerError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        TabworkerError { code, message: message.into() }
    }
}

impl From<TabworkerError> for JsValue {
    fn from(error: TabworkerError) -> JsValue {
        let js = js_sys::Error::new(&error.message);
        js.set_name("TabworkerError");
        // Setting a property on a fresh, unfrozen Error object cannot fail.
        let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code.as_str().into());
        js.into()
    }
}

impl From<crate::tab::CallError> for TabworkerError {
    /// The tab's refusal of a call, as thrown to the app.
    fn from(error: crate::tab::CallError) -> Self {
        TabworkerError::new(error.code, error.detail)
    }
}

impl From<crate::channel::ChannelError> for TabworkerError {
    /// A name the app gave that no channel frame may carry.
    fn from(error: crate::channel::ChannelError) -> Self {
        TabworkerError::new(ErrorCode::InvalidArgument, error.detail)
    }
}

/// The message of a JavaScript exception, for wrapping it.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return format!("{}: {}", String::from(error.name()), String::from(error.message()));
    }
    if let Some(text) = value.as_string() {
        return text;
    }
    if let Some(n) = value.as_f64() {
        return crate::model::value::number_text(n);
    }
    // Anything else as JSON if it has that form, else by its type.
    let json = js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string());
    json.unwrap_or_else(|| format!("a thrown {}", value.js_typeof().as_string().unwrap_or_default()))
}
