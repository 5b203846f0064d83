//! Errors thrown to JavaScript: `Error` objects with `name`
//! `"TabworkerError"` and a stable `code` to branch on.

use wasm_bindgen::prelude::*;

/// The stable codes of [`TabworkerError`], as JavaScript sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A value given by the app did not have the expected shape.
    InvalidArgument,
    /// The context has no Web Locks (an insecure context, or an old browser).
    WebLocksUnavailable,
    /// The context has no `SharedWorker` (e.g. Chrome Android before 148).
    SharedWorkerUnavailable,
    /// The browser refused a Web Lock request.
    LockRefused,
    /// The coordinator could not be started or did not answer in time.
    CoordinatorUnavailable,
    /// The operation needs `initialize()` first, or the client was destroyed.
    NotInitialized,
    /// `connect`: the key has no live backend and no spawn was asked.
    KeyNotHeld,
    /// `connect`: the key's live backend runs another tag.
    TagMismatch,
    /// `connect`: the tag has no script in the leader's options.
    UnknownTag,
    /// `connect`: a resource limit a browser worker cannot enforce.
    UnsupportedResourceLimit,
    /// `connect`: the key is not valid.
    InvalidKey,
    /// No backend of that id is known.
    UnknownBackend,
    /// The backend is terminated or terminating.
    BackendTerminated,
    /// The backend did not accept the session's token.
    BadToken,
    /// No answer in time.
    Timeout,
}

impl ErrorCode {
    /// The code as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::WebLocksUnavailable => "web-locks-unavailable",
            ErrorCode::SharedWorkerUnavailable => "shared-worker-unavailable",
            ErrorCode::LockRefused => "lock-refused",
            ErrorCode::CoordinatorUnavailable => "coordinator-unavailable",
            ErrorCode::NotInitialized => "not-initialized",
            ErrorCode::KeyNotHeld => "key-not-held",
            ErrorCode::TagMismatch => "tag-mismatch",
            ErrorCode::UnknownTag => "unknown-tag",
            ErrorCode::UnsupportedResourceLimit => "unsupported-resource-limit",
            ErrorCode::InvalidKey => "invalid-key",
            ErrorCode::UnknownBackend => "unknown-backend",
            ErrorCode::BackendTerminated => "backend-terminated",
            ErrorCode::BadToken => "bad-token",
            ErrorCode::Timeout => "timeout",
        }
    }

    /// The code named `code` (as another context sent it); `None` if unknown.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            InvalidArgument,
            WebLocksUnavailable,
            SharedWorkerUnavailable,
            LockRefused,
            CoordinatorUnavailable,
            NotInitialized,
            KeyNotHeld,
            TagMismatch,
            UnknownTag,
            UnsupportedResourceLimit,
            InvalidKey,
            UnknownBackend,
            BackendTerminated,
            BadToken,
            Timeout,
        ]
        .into_iter()
        .find(|c| c.as_str() == code)
    }
}

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

/// The message of a JavaScript exception, for wrapping it.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return format!("{}: {}", String::from(error.name()), String::from(error.message()));
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
