//! Tests of the native server itself: the server runs in this process on
//! 127.0.0.1:0 (or, for the descriptor limit, in a child process), and
//! clients forge its headers, stall its handshakes, open too many
//! connections and leave its frames unread.

mod bounds;
mod forged_headers;
mod out_of_descriptors;

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::limits::Limits;
use super::options::{NativeError, Options};
use super::process::Log;
use super::server::run;
use crate::backend::rust::{Context, RustBackend};
use crate::channel::text::{decode, encode};
use crate::channel::{ChannelFrame, RequestId};
use crate::model::value::Value;

/// The id the server under test is started with.
const BACKEND: &str = "ba-test";
/// How long any one condition of these tests is waited for.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the tests ask the backend: who a session is, whether a secret is
/// its own, how many sessions are open, and a text of `n` bytes.
struct Probe {
    ctx: Option<Context>,
}

fn probe() -> RustBackend<Probe> {
    RustBackend::new(Probe { ctx: None })
        .start(|probe, ctx| {
            probe.ctx = Some(ctx.clone());
            Ok(())
        })
        .handle("whoami", |_, session, _| {
            let user = session.user().map_or(Value::Null, Value::from);
            Ok(Value::object([("user", user), ("auth", Value::Object(session.auth()))]))
        })
        .handle("is_secret", |probe, _, secret| {
            let secret = secret.as_str().unwrap_or_default();
            Ok(probe.ctx.as_ref().is_some_and(|ctx| ctx.is_secret_token(secret)).into())
        })
        .handle("sessions", |_, session, _| Ok((session.backend().sessions() as f64).into()))
        .handle("text", |_, _, n| Ok("x".repeat(n.as_f64().unwrap_or(0.0) as usize).into()))
}

/// Runs `test` on a single-threaded runtime, as the process does, failing
/// it if it takes more than a minute.
fn local<F: Future>(test: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let bounded = async { tokio::time::timeout(Duration::from_secs(60), test).await.expect("the test took over 60 s") };
    tokio::task::LocalSet::new().block_on(&runtime, bounded)
}

/// A server under test, and what it logged.
struct Server {
    addr: SocketAddr,
    lines: Rc<RefCell<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), NativeError>>,
}

impl Server {
    /// Serves [`probe`] as backend [`BACKEND`] within `limits`.
    async fn start(limits: Limits) -> Server {
        let options = Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            backend_id: BACKEND.into(),
            key: "key".into(),
            limits,
        };
        let lines = Rc::new(RefCell::new(Vec::new()));
        let kept = lines.clone();
        let log: Log = Rc::new(move |line| kept.borrow_mut().push(line.to_string()));
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, listening) = oneshot::channel();
        let until = async {
            let _ = stopped.await;
        };
        let task = tokio::task::spawn_local(run(probe(), options, log, until, move |addr| {
            let _ = bound.send(addr);
        }));
        let addr = tokio::time::timeout(PATIENCE, listening).await.expect("listening in time").expect("listening");
        Server { addr, lines, stop: Some(stop), task }
    }

    /// The log lines that contain `part`.
    fn logged(&self, part: &str) -> Vec<String> {
        self.lines.borrow().iter().filter(|line| line.contains(part)).cloned().collect()
    }

    /// Waits until a line containing `part` is logged; returns it.
    async fn until_logged(&self, part: &str) -> String {
        let found = eventually(&format!("a log line with {part:?}"), || self.logged(part).into_iter().next()).await;
        found.unwrap_or_else(|| panic!("logged: {:#?}", self.lines.borrow()))
    }

    /// A soft stop; the server must end in time.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let ended = tokio::time::timeout(PATIENCE, self.task).await.expect("stopped in time");
        ended.expect("the server task").expect("served");
    }
}

/// Checks `found` every 10 ms until it gives something or [`PATIENCE`]
/// runs out (then `None`, and the caller fails saying `what`).
async fn eventually<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(it) = found() {
            return Some(it);
        }
        if Instant::now() > deadline {
            eprintln!("waited {PATIENCE:?} for {what}");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

type Socket = WebSocketStream<TcpStream>;

/// What Plane's proxy sends for a connect to [`BACKEND`] with `secret`.
fn from_proxy(secret: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("x-verified-backend", BACKEND.into()),
        ("x-verified-secret", secret.into()),
        ("x-verified-path", b"/t/".into()),
    ]
}

/// Why a handshake was not taken: the HTTP status it was answered with,
/// or how it ended without one.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    Status(u16),
    Closed(String),
}

/// A WebSocket handshake to `addr` with `headers`, their values written as
/// the raw bytes given (tungstenite's client writes only ASCII ones).
async fn open(addr: SocketAddr, headers: &[(&str, Vec<u8>)]) -> Result<Socket, Refused> {
    open_with(addr, headers, None).await
}

/// [`open`] for a peer that will not read: its socket's receive buffer is
/// 64 KiB (fixed, not grown by the kernel), so what the server sends it
/// soon waits in the server.
async fn open_unread(addr: SocketAddr, headers: &[(&str, Vec<u8>)]) -> Result<Socket, Refused> {
    open_with(addr, headers, Some(64 << 10)).await
}

async fn open_with(addr: SocketAddr, headers: &[(&str, Vec<u8>)], receive: Option<u32>) -> Result<Socket, Refused> {
    let closed = |e: std::io::Error| Refused::Closed(e.to_string());
    let socket = tokio::net::TcpSocket::new_v4().map_err(closed)?;
    if let Some(size) = receive {
        socket.set_recv_buffer_size(size).map_err(closed)?;
    }
    let mut stream = socket.connect(addr).await.map_err(closed)?;
    let mut head = format!(
        "GET /t/ HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    .into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let answered = async {
        stream.write_all(&head).await.map_err(closed)?;
        // The answer's head, byte by byte: nothing after it is read here.
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            match stream.read(&mut byte).await.map_err(closed)? {
                0 => return Err(Refused::Closed(format!("closed after {:?}", String::from_utf8_lossy(&answer)))),
                _ => answer.push(byte[0]),
            }
        }
        let status = String::from_utf8_lossy(&answer).split_whitespace().nth(1).and_then(|s| s.parse().ok());
        match status {
            Some(101) => Ok(()),
            Some(status) => Err(Refused::Status(status)),
            None => Err(Refused::Closed(format!("answered {:?}", String::from_utf8_lossy(&answer)))),
        }
    };
    tokio::time::timeout(PATIENCE, answered).await.expect("the handshake ended in time")?;
    Ok(WebSocketStream::from_raw_socket(stream, Role::Client, None).await)
}

/// The HTTP status a refused handshake was answered with.
fn refused_with(opened: Result<Socket, Refused>) -> u16 {
    match opened {
        Err(Refused::Status(status)) => status,
        Err(other) => panic!("refused otherwise: {other:?}"),
        Ok(_) => panic!("the handshake was taken"),
    }
}

/// A request frame, `seq` of caller 1.
fn request(seq: u64, method: &str, payload: Value) -> Message {
    let id = RequestId::new(1, seq).expect("a request id");
    Message::Text(encode(&ChannelFrame::Request { id, method: method.into(), payload }))
}

/// Asks `method` on `socket` and waits for its result (events meanwhile are skipped).
async fn ask(socket: &mut Socket, seq: u64, method: &str, payload: Value) -> Value {
    socket.send(request(seq, method, payload)).await.expect("sent");
    let answered = async {
        while let Some(message) = socket.next().await {
            let Message::Text(text) = message.expect("a message") else { continue };
            match decode(&text).expect("a channel frame") {
                ChannelFrame::Result { id, payload } if id.seq() == seq => return payload,
                ChannelFrame::Failure { id, code, message } if id.seq() == seq => {
                    panic!("{method} failed: {code:?} {message}")
                }
                _ => {}
            }
        }
        panic!("the session closed before answering {method}")
    };
    tokio::time::timeout(PATIENCE, answered).await.expect("answered in time")
}
