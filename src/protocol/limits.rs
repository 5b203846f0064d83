//! The bounds on the text of a message that another context keeps: a key,
//! a liveness key, a connect. Each message's
//! [`WireMessage::check`](super::WireMessage::check) applies the ones of
//! its fields, so a frame past them is refused at decode as malformed,
//! before anything keeps it.

use crate::model::connect::{ConnectRequest, MAX_CONNECT_TEXT, MAX_KEY_LEN};
use crate::model::locks::MAX_LOCK_NAME_LEN;
use crate::model::value::ValueError;

/// A backend's key: at most [`MAX_KEY_LEN`] bytes. (Whether it is a valid
/// key is the leader's answer, `invalid-key`.)
pub(super) fn key(key: &str) -> Result<(), ValueError> {
    if key.len() > MAX_KEY_LEN {
        return Err(
            ValueError::new(format!("a key of {} bytes; at most {MAX_KEY_LEN} are read", key.len())).in_field("key")
        );
    }
    Ok(())
}

/// A liveness key, the name of a Web Lock: 1 to [`MAX_LOCK_NAME_LEN`]
/// bytes, without control characters.
pub(super) fn liveness_key(name: &str) -> Result<(), ValueError> {
    let fault = if name.is_empty() || name.len() > MAX_LOCK_NAME_LEN {
        format!("a liveness key of {} bytes; 1 to {MAX_LOCK_NAME_LEN} are read", name.len())
    } else if name.chars().any(char::is_control) {
        "a liveness key with control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(ValueError::new(fault).in_field("liveness_key"))
}

/// A connect on its way to the leader: its key bounded, at most
/// [`MAX_CONNECT_TEXT`] bytes of text in all, and no `user` or `auth`,
/// which never leave the asking tab.
pub(super) fn connect_call(request: &ConnectRequest) -> Result<(), ValueError> {
    let in_request = |e: ValueError| e.in_field("request");
    if request.user.is_some() || request.auth.is_some() {
        return Err(in_request(ValueError::new("`user` and `auth` never leave the asking tab")));
    }
    request.key.as_deref().map_or(Ok(()), key).map_err(in_request)?;
    let text = request.text_len();
    if text > MAX_CONNECT_TEXT {
        let detail = format!("{text} bytes of key, tag, mount and env; at most {MAX_CONNECT_TEXT} are read");
        return Err(in_request(ValueError::new(detail)));
    }
    Ok(())
}
