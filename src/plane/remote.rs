//! A `ConnectResponse` that a Plane cluster answered (to the app's server,
//! through `tabworker/server` or by hand), as the two urls a tab follows:
//! the WebSocket its session opens through Plane's proxy, and the status
//! stream. In-browser responses name `tabworker://` urls; a remote one
//! names `http(s)://` urls. Plane's own response (without `ready_url`,
//! with `drone` and `subdomain`) is read as well as the seed's.

use crate::model::ids::BackendId;
use crate::model::status::BackendStatus;
use crate::model::value::{Fields, FromValue, Value, ValueError};

/// A backend running in a Plane cluster, as a tab reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The backend.
    pub backend_id: BackendId,
    /// The WebSocket url of this connect's session (`url`, as `ws(s)://`).
    pub socket_url: String,
    /// Plane's status stream of the backend (`status_url` + `-stream`).
    pub status_stream_url: String,
}

/// Whether `url` names a backend outside the browser (an `http(s)://` url).
pub fn is_remote(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// `url` as a WebSocket url: `http` becomes `ws`, `https` becomes `wss`.
fn socket_url(url: &str) -> Result<String, ValueError> {
    let rest = |scheme: &str| url.strip_prefix(scheme).filter(|rest| !rest.is_empty() && !rest.starts_with('/'));
    match (rest("http://"), rest("https://")) {
        (Some(rest), _) => Ok(format!("ws://{rest}")),
        (_, Some(rest)) => Ok(format!("wss://{rest}")),
        _ => Err(ValueError::new("`url`: a remote backend's url must be http(s)://<host>/…")),
    }
}

/// Plane's status stream for its `status_url` (`…/pub/b/<id>/status`).
fn status_stream_url(status_url: &str) -> Result<String, ValueError> {
    if is_remote(status_url) && status_url.ends_with("/status") {
        Ok(format!("{status_url}-stream"))
    } else {
        Err(ValueError::new("`status_url`: a remote backend's status_url must be http(s)://…/status"))
    }
}

impl FromValue for Remote {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = Fields::of(value)?;
        let backend_id: BackendId = fields.req("backend_id")?;
        let url: String = fields.req("url")?;
        let status_url: String = fields.req("status_url")?;
        Ok(Remote { backend_id, socket_url: socket_url(&url)?, status_stream_url: status_stream_url(&status_url)? })
    }
}

/// The first wait before a remote session's WebSocket is opened again.
pub const REOPEN_FIRST_MS: u64 = 250;
/// How many times in a row it is opened again before the handle waits for
/// the status stream alone (each wait twice the one before).
pub const REOPEN_TRIES: u32 = 5;

/// When a remote session's WebSocket that closed is opened again: while
/// its backend goes on (a proxy restarted, the network dropped), after a
/// growing wait, a bounded number of times in a row; never once the
/// backend is stopping or ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reopen {
    tries: u32,
}

impl Reopen {
    /// The socket opened: the count starts again.
    pub fn opened(&mut self) {
        self.tries = 0;
    }

    /// The socket closed, the backend's last known status `last`. The wait
    /// before opening it again, if it is to be.
    pub fn closed(&mut self, last: Option<BackendStatus>) -> Option<u64> {
        let ending = last.is_some_and(|status| status >= BackendStatus::Terminating);
        if ending || self.tries >= REOPEN_TRIES {
            return None;
        }
        self.tries += 1;
        Some(REOPEN_FIRST_MS << (self.tries - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::from_json_text;

    fn read(json: &str) -> Result<Remote, ValueError> {
        Remote::from_value(&from_json_text::<Value>(json).unwrap())
    }

    #[test]
    fn plane_and_seed_responses_give_the_socket_and_the_stream() {
        let plane = r#"{"backend_id":"ba-1","spawned":true,"status":"scheduled","token":"ak-x",
            "url":"http://localhost:9090/ak-x/","subdomain":null,"secret_token":"st",
            "status_url":"http://127.0.0.1:8080/pub/b/ba-1/status","drone":"dr-1"}"#;
        let remote = read(plane).unwrap();
        assert_eq!(remote.backend_id.as_str(), "ba-1");
        assert_eq!(remote.socket_url, "ws://localhost:9090/ak-x/");
        assert_eq!(remote.status_stream_url, "http://127.0.0.1:8080/pub/b/ba-1/status-stream");
        let seed = r#"{"backend_id":"ba-2","spawned":false,"status":"ready","token":"t",
            "url":"https://c.example/t/","status_url":"https://ctl.example/pub/b/ba-2/status",
            "ready_url":"https://ctl.example/pub/b/ba-2/status"}"#;
        assert_eq!(read(seed).unwrap().socket_url, "wss://c.example/t/");
    }

    #[test]
    fn other_urls_are_refused() {
        let with = |url: &str, status: &str| format!(r#"{{"backend_id":"b","url":"{url}","status_url":"{status}"}}"#);
        let ok_status = "http://c/pub/b/b/status";
        for bad in [
            with("tabworker://app/backends/b/sessions/t", ok_status),
            with("http://", ok_status),
            with("http:///x", ok_status),
            with("ftp://c/t/", ok_status),
            with("http://c/t/", "http://c/pub/b/b/ready"),
            with("http://c/t/", "tabworker://app/backends/b/status"),
            r#"{"url":"http://c/t/","status_url":"http://c/pub/b/b/status"}"#.to_string(),
            with("http://c/t/", ok_status).replace(r#""b""#, r#""""#),
        ] {
            assert!(read(&bad).is_err(), "{bad}");
        }
        assert!(is_remote("https://x/") && !is_remote("tabworker://a/backends/b"));
    }

    #[test]
    fn a_closed_socket_is_opened_again_while_the_backend_goes_on() {
        let mut reopen = Reopen::default();
        let waits: Vec<Option<u64>> = (0..=REOPEN_TRIES).map(|_| reopen.closed(Some(BackendStatus::Ready))).collect();
        assert_eq!(waits, [Some(250), Some(500), Some(1000), Some(2000), Some(4000), None]);
        reopen.opened();
        assert_eq!(reopen.closed(None), Some(REOPEN_FIRST_MS), "nor before a status is known");
        for ending in [BackendStatus::Terminating, BackendStatus::HardTerminating, BackendStatus::Terminated] {
            assert_eq!(reopen.closed(Some(ending)), None, "never once the backend is stopping: {ending}");
        }
    }
}
