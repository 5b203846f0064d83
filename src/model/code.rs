//! The stable codes of every refusal, rejection and error, in one enum.
//!
//! The coordinator's `rejected` frames, the leader's refused connects and
//! ports, a backend's refused sessions, the lifecycle's and the decoder's
//! errors all carry an [`ErrorCode`], and JavaScript sees the same code as
//! `TabworkerError.code`. Each code is written once, in the list below: the
//! enum, its text, its parsing, its `Value` form and the TypeScript union
//! `TabworkerErrorCode` are all made from it.

use std::fmt;
use std::str::FromStr;

use crate::model::value::{FromValue, ToValue, Value, ValueError};

/// Declares [`ErrorCode`] from one list of `Variant = "text"` pairs, each
/// with its documentation (which the TypeScript union carries too).
macro_rules! error_codes {
    ($( #[doc = $doc:literal] $variant:ident = $text:literal, )+) => {
        /// A stable code, as every context and JavaScript see it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( #[doc = $doc] $variant, )+
        }

        impl ErrorCode {
            /// Every code, in the order of its declaration.
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$variant, )+];

            /// The TypeScript declaration of the union of every code.
            pub const TYPESCRIPT: &'static str = concat!(
                "/** The stable codes of the errors tabworker throws. */\nexport type TabworkerErrorCode =",
                $( "\n  /**", $doc, " */\n  | '", $text, "'", )+
                "\n"
            );

            /// The code as it travels and as JavaScript sees it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $text, )+
                }
            }
        }

        impl FromStr for ErrorCode {
            type Err = UnknownCode;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                // A search of the list rather than a `match` on strings, whose
                // compiled comparisons cost every module 1.8 KB.
                ErrorCode::ALL
                    .iter()
                    .copied()
                    .find(|code| code.as_str() == text)
                    .ok_or_else(|| UnknownCode(text.chars().take(64).collect()))
            }
        }
    };
}

error_codes! {
    /// A value given by the app did not have the expected shape.
    InvalidArgument = "invalid-argument",
    /// The context has no Web Locks (an insecure context, or an old browser).
    WebLocksUnavailable = "web-locks-unavailable",
    /// The context has no `SharedWorker` (e.g. Chrome Android before 148).
    SharedWorkerUnavailable = "shared-worker-unavailable",
    /// The browser refused a Web Lock request.
    LockRefused = "lock-refused",
    /// The coordinator could not be started or did not answer in time.
    CoordinatorUnavailable = "coordinator-unavailable",
    /// The operation needs `initialize()` first, or the client was destroyed.
    NotInitialized = "not-initialized",
    /// No answer within `connectTimeoutMs`.
    Timeout = "timeout",
    /// `connect`: the key has no live backend and `spawn` was not asked.
    KeyNotHeld = "key-not-held",
    /// `connect`: the key's live backend runs another tag (the message names both).
    TagMismatch = "tag-mismatch",
    /// `connect`: the tag has no script in the leader's `backends` option.
    UnknownTag = "unknown-tag",
    /// `connect`: a `resource_limits` field a browser worker cannot enforce (the message names it).
    UnsupportedResourceLimit = "unsupported-resource-limit",
    /// `connect`: the key is empty, longer than 256 bytes, has control characters, or is reserved.
    InvalidKey = "invalid-key",
    /// No backend of that id is known.
    UnknownBackend = "unknown-backend",
    /// The backend is terminated (or terminating) and takes no new session.
    BackendTerminated = "backend-terminated",
    /// `open`: the backend did not accept the session's token.
    BadToken = "bad-token",
    /// A frame that is not an object with a protocol version.
    NotAFrame = "not-a-frame",
    /// A frame of another protocol version (another deployed build).
    ProtocolMismatch = "protocol-mismatch",
    /// A frame whose message does not have the expected shape.
    Malformed = "malformed",
    /// A frame with more or fewer ports than its message carries.
    PortCount = "port-count",
    /// The coordinator: `hello` twice on one connection.
    DuplicateHello = "duplicate-hello",
    /// The coordinator: a frame before `hello`.
    NoHello = "no-hello",
    /// The coordinator: a frame speaking for another client than the connection's.
    WrongClient = "wrong-client",
    /// The coordinator: no epoch is left to give.
    EpochsExhausted = "epochs-exhausted",
    /// The coordinator: a frame only the leader may send, from a tab that does not lead.
    NotLeader = "not-leader",
    /// The coordinator: a frame of a leader's term that has passed.
    StaleEpoch = "stale-epoch",
    /// The coordinator: an epoch far above every epoch it knows (see `MAX_EPOCH_LEAP`).
    EpochOutOfRange = "epoch-out-of-range",
    /// The coordinator: no tab of that client id is connected.
    UnknownClient = "unknown-client",
    /// A backend state after `terminated`.
    AlreadyTerminated = "already-terminated",
    /// A backend state that goes back in the lifecycle.
    NotForward = "not-forward",
    /// A termination reason other than the one the termination under way has.
    ReasonMismatch = "reason-mismatch",
    /// A termination kind other than the one the termination under way has.
    KindMismatch = "kind-mismatch",
    /// A request: the backend was lost (its tab closed or crashed) after the request was sent, before it answered; it carries the backend's last state.
    BackendLost = "backend-lost",
    /// A request: the backend has no handler for its method.
    NoHandler = "no-handler",
    /// A request: the backend's handler threw (the message is what it threw).
    HandlerError = "handler-error",
    /// A request whose id the session had seen already: it is not handled again.
    DuplicateRequest = "duplicate-request",
    /// A request sent again by a handle the session no longer remembers (it remembers the last `MAX_CALLERS` handles that sent on it): numbered at or below what it forgot, it could be a duplicate, and is not handled.
    ForgottenCaller = "forgotten-caller",
    /// A request aborted by its `AbortSignal`.
    Aborted = "aborted",
    /// A backend handle used after `destroy()`.
    Destroyed = "destroyed",
    /// A tab of another build (tabworker version, protocol or app build id) reached this coordinator.
    VersionMismatch = "version-mismatch",
    /// Too much waiting at once: a tab's connects and sessions at the coordinator (see `MAX_PENDING_PER_TAB`), or a session's requests running in its backend (see `MAX_RUNNING`).
    TooManyPending = "too-many-pending",
    /// `ctx.openSync`: the mount's file stayed locked by another handle through every retry.
    MountBusy = "mount-busy",
    /// The coordinator: a `hello` for a client id another connection holds, without that tab's proof.
    ClientIdTaken = "client-id-taken",
    /// `connect`: the leader hosts as many backends as it may at once (see `MAX_HOSTED`).
    TooManyBackends = "too-many-backends",
}

/// A code that is not one of [`ErrorCode`]'s (another build's, or garbage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an error code")]
pub struct UnknownCode(String);

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToValue for ErrorCode {
    fn to_value(&self) -> Value {
        self.as_str().to_value()
    }
}

impl FromValue for ErrorCode {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let text = value.text("an error code")?;
        text.parse().map_err(|e: UnknownCode| ValueError::new(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::{from_json_text, to_json};

    #[test]
    fn every_code_is_kebab_case_unique_and_parses_back_to_itself() {
        let mut seen = std::collections::BTreeSet::new();
        for &code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{text}");
            assert!(seen.insert(text), "{text} twice");
            assert_eq!(text.parse::<ErrorCode>(), Ok(code));
            let json = to_json(&code).to_string();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(from_json_text::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn an_unknown_code_is_an_error_not_a_guess() {
        assert!("nope".parse::<ErrorCode>().is_err());
        assert!("".parse::<ErrorCode>().is_err());
        assert!(from_json_text::<ErrorCode>("\"Invalid-Argument\"").is_err());
        assert!(from_json_text::<ErrorCode>("7").is_err());
    }

    #[test]
    fn the_typescript_union_lists_every_code_once() {
        for &code in ErrorCode::ALL {
            let entry = format!("| '{}'\n", code.as_str());
            assert_eq!(ErrorCode::TYPESCRIPT.matches(&entry).count(), 1, "{entry}");
        }
        assert_eq!(ErrorCode::TYPESCRIPT.matches("| '").count(), ErrorCode::ALL.len());
    }
}
