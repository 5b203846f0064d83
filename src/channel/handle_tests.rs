use super::*;
use crate::model::status::TerminationReason;
use crate::model::value::from_json_text;

type Out = HandleOutput<&'static str>;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + ms)
}

fn id(name: &str) -> BackendId {
    BackendId::try_from(name.to_string()).unwrap()
}

fn url(backend: &str) -> String {
    format!("tabworker://app/backends/{backend}/sessions/t-{backend}")
}

fn keyed(backend: &str, reconnect: bool) -> Handle<&'static str> {
    let request = reconnect.then(|| ConnectRequest { key: Some("k".into()), ..ConnectRequest::default() });
    Handle::new(Link::Keyed { url: url(backend), request }, 1, RequestNumbers::new(), reconnect).unwrap()
}

fn drain(handle: &mut Handle<&'static str>) -> Vec<Out> {
    std::iter::from_fn(|| handle.poll_output()).collect()
}

fn response(backend: &str) -> ConnectResponse {
    ConnectResponse {
        backend_id: id(backend),
        spawned: true,
        status: BackendStatus::Scheduled,
        token: format!("t-{backend}"),
        url: url(backend),
        secret_token: None,
        status_url: format!("tabworker://app/backends/{backend}/status"),
        ready_url: format!("tabworker://app/backends/{backend}/ready"),
    }
}

fn ready() -> BackendState {
    BackendState::Ready { time: at(1) }
}

fn ended(reason: TerminationReason) -> BackendState {
    BackendState::Terminated { time: at(2), termination_reason: Some(reason), termination_kind: None, exit_error: None }
}

fn settled(outputs: &[Out]) -> Vec<ErrorCode> {
    outputs
        .iter()
        .filter_map(|o| match o {
            HandleOutput::Call(CallerOutput::Settle { outcome: Err(e), .. }) => Some(e.code),
            _ => None,
        })
        .collect()
}

#[test]
fn a_keyed_handle_follows_its_backend_and_opens_its_url() {
    let mut handle = keyed("b1", false);
    assert_eq!(drain(&mut handle), [HandleOutput::Watch(id("b1")), HandleOutput::Open(url("b1"))]);
    let bad = Handle::<()>::new(Link::Keyed { url: String::new(), request: None }, 1, RequestNumbers::new(), false);
    assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidArgument);
}

#[test]
fn a_response_names_a_keyed_or_a_remote_link() {
    let keyed = r#"{"backend_id":"b1","spawned":true,"status":"ready","token":"t",
        "url":"tabworker://app/backends/b1/sessions/t","status_url":"tabworker://app/backends/b1/status",
        "ready_url":"tabworker://app/backends/b1/ready"}"#;
    let link = Link::of_response(&from_json_text::<Value>(keyed).unwrap()).unwrap();
    assert_eq!(link, Link::Keyed { url: "tabworker://app/backends/b1/sessions/t".into(), request: None });
    let remote = r#"{"backend_id":"ba-1","url":"http://localhost:9090/ak-x/",
        "status_url":"http://127.0.0.1:8080/pub/b/ba-1/status"}"#;
    assert!(matches!(Link::of_response(&from_json_text::<Value>(remote).unwrap()), Ok(Link::Remote(_))));
    assert!(Link::of_response(&from_json_text::<Value>(r#"{"url":"tabworker://x"}"#).unwrap()).is_err());
}

#[test]
fn request_options_default_to_thirty_seconds_and_refuse_what_they_do_not_know() {
    let read = |json: &str| RequestSettings::from_value(&from_json_text::<Value>(json).unwrap());
    assert_eq!(read("null").unwrap().timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
    assert_eq!(read("{}").unwrap().timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
    assert_eq!(read(r#"{"timeoutMs":500}"#).unwrap().timeout_ms, 500);
    for bad in [r#"{"timeoutMs":-1}"#, r#"{"timeoutMs":"soon"}"#, r#"{"timeout":5}"#, "3"] {
        assert!(read(bad).is_err(), "{bad}");
    }
}

#[test]
fn connect_backend_options_say_whether_to_reconnect_and_refuse_what_they_do_not_know() {
    let read = |json: &str| BackendSettings::from_value(&from_json_text::<Value>(json).unwrap());
    assert!(!read("null").unwrap().reconnect);
    assert!(!read("{}").unwrap().reconnect);
    assert!(read(r#"{"reconnect":true}"#).unwrap().reconnect);
    for bad in [r#"{"reconect":true}"#, r#"{"reconnect":"yes"}"#, "true"] {
        assert!(read(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_default_backends_handle_takes_each_session_and_never_ends() {
    let mut handle = Handle::<&'static str>::new(Link::Default, 1, RequestNumbers::new(), false).unwrap();
    assert!(drain(&mut handle).is_empty(), "it waits for its client's session");
    handle.request(at(0), "m".into(), "p", 10_000).unwrap();
    assert!(!handle.default_opened(None), "a session without a backend is not taken");
    assert!(handle.default_opened(Some(id("d1"))));
    let out = drain(&mut handle);
    assert_eq!(out[0], HandleOutput::Watch(id("d1")));
    assert!(matches!(out[1], HandleOutput::Call(CallerOutput::Post(_))), "what was queued goes out: {out:?}");
    handle.state(ended(TerminationReason::Lost));
    let out = drain(&mut handle);
    assert_eq!(settled(&out), [ErrorCode::BackendLost], "the request posted is lost with its backend");
    handle.send("e".into(), "q").expect("a default handle never ends: it waits for the next leader's backend");
    assert!(handle.default_opened(Some(id("d2"))));
    assert!(drain(&mut handle).contains(&HandleOutput::Watch(id("d2"))));
    let mut keyed = keyed("b1", false);
    assert!(!keyed.default_opened(Some(id("d2"))), "a keyed handle takes no default session");
}

#[test]
fn a_keyed_handle_ends_once_both_its_session_closed_and_its_backend_ended() {
    let mut handle = keyed("b1", false);
    handle.opened();
    handle.state(ready());
    handle.wait_ready();
    assert!(drain(&mut handle).contains(&HandleOutput::Ready(Ok(ready()))));
    handle.state(ended(TerminationReason::External));
    handle.send("e".into(), "p").expect("not yet ended: its session has not closed");
    handle.closed();
    drain(&mut handle);
    let refused = handle.send("e".into(), "p").unwrap_err();
    assert_eq!((refused.code, refused.state), (ErrorCode::BackendTerminated, Some(ended(TerminationReason::External))));
}

#[test]
fn a_reconnecting_handle_connects_again_waits_while_the_lost_backend_answers_and_follows_the_next() {
    let mut handle = keyed("b1", true);
    handle.opened();
    handle.request(at(0), "m".into(), "p", 60_000).unwrap();
    handle.state(ended(TerminationReason::Lost));
    handle.closed();
    let out = drain(&mut handle);
    assert_eq!(settled(&out), [ErrorCode::BackendLost]);
    let request = ConnectRequest { key: Some("k".into()), ..ConnectRequest::default() };
    assert_eq!(out.last(), Some(&HandleOutput::Connect(request.clone())));
    handle.request(at(1), "m".into(), "queued", 60_000).unwrap();
    handle.connected(at(10), Ok(response("b1")));
    assert_eq!(handle.poll_timeout(), Some(at(10 + crate::channel::RECONNECT_RETRY_MS)));
    handle.timeout(at(10 + crate::channel::RECONNECT_RETRY_MS));
    assert_eq!(drain(&mut handle), [HandleOutput::Connect(request)], "connected again once the wait is over");
    handle.connected(at(200), Ok(response("b2")));
    let out = drain(&mut handle);
    assert_eq!(
        out,
        [
            HandleOutput::Watch(id("b2")),
            HandleOutput::Open(url("b2")),
            HandleOutput::Reconnected(Box::new(response("b2")))
        ]
    );
    handle.opened();
    let posted = drain(&mut handle);
    assert!(matches!(posted[..], [HandleOutput::Call(CallerOutput::Post(ChannelFrame::Request { .. }))]), "{posted:?}");
}

#[test]
fn a_handle_that_cannot_open_its_session_ends_and_says_why() {
    let mut handle = keyed("b1", true);
    handle.request(at(0), "m".into(), "p", 60_000).unwrap();
    drain(&mut handle);
    handle.open_failed("open its session", "refused");
    let out = drain(&mut handle);
    assert!(matches!(&out[0], HandleOutput::Warn(text) if text.contains("refused")));
    assert_eq!(settled(&out), [ErrorCode::BackendTerminated]);
}

#[test]
fn a_remote_socket_that_closed_opens_again_on_the_handles_deadline_until_the_backend_ends() {
    let remote = Remote {
        backend_id: id("ba-1"),
        socket_url: "ws://c/ak/".into(),
        status_stream_url: "http://c/pub/b/ba-1/status-stream".into(),
    };
    let mut handle = Handle::<&'static str>::new(Link::Remote(remote), 1, RequestNumbers::new(), false).unwrap();
    assert_eq!(
        drain(&mut handle),
        [
            HandleOutput::OpenStream("http://c/pub/b/ba-1/status-stream".into()),
            HandleOutput::OpenSocket("ws://c/ak/".into())
        ]
    );
    handle.opened();
    handle.socket_closed(at(0));
    assert_eq!(handle.poll_timeout(), Some(at(crate::plane::remote::REOPEN_FIRST_MS)));
    drain(&mut handle);
    handle.timeout(at(crate::plane::remote::REOPEN_FIRST_MS));
    assert_eq!(drain(&mut handle), [HandleOutput::OpenSocket("ws://c/ak/".into())]);
    handle.state(ended(TerminationReason::External));
    assert!(drain(&mut handle).contains(&HandleOutput::CloseStream));
    handle.socket_closed(at(1_000));
    assert_eq!(handle.poll_timeout(), None, "never opened again once the backend ended");
    assert_eq!(handle.send("e".into(), "p").unwrap_err().code, ErrorCode::BackendTerminated);
}

#[test]
fn destroy_fails_requests_and_ready_and_closes_the_session_once() {
    let mut handle = keyed("b1", false);
    handle.request(at(0), "m".into(), "p", 60_000).unwrap();
    handle.wait_ready();
    drain(&mut handle);
    handle.destroy();
    let out = drain(&mut handle);
    assert_eq!(settled(&out), [ErrorCode::Destroyed]);
    assert!(out.iter().any(|o| matches!(o, HandleOutput::Ready(Err(e)) if e.code == ErrorCode::Destroyed)));
    assert_eq!(out.last(), Some(&HandleOutput::Close));
    handle.destroy();
    assert!(drain(&mut handle).is_empty());
    assert_eq!(handle.check_alive().unwrap_err().code, ErrorCode::Destroyed);
    handle.wait_ready();
    assert!(matches!(&drain(&mut handle)[..], [HandleOutput::Ready(Err(e))] if e.code == ErrorCode::Destroyed));
}

#[test]
fn a_bad_frame_from_the_backend_is_said_by_the_handle() {
    let mut handle = keyed("b1", false);
    drain(&mut handle);
    let undecoded = Err(ChannelError { code: ErrorCode::Malformed, detail: "a result needs a numeric id".into() });
    handle.from_backend(undecoded);
    let out = drain(&mut handle);
    let said = [HandleOutput::Warn("the backend sent a bad frame: malformed: a result needs a numeric id".into())];
    assert_eq!(out, said);
}
