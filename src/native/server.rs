//! The process: a single-threaded runtime that owns the backend's state,
//! one task per WebSocket session and one writer per session.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::backend::rust::{Context, ContextLink, Running, RustBackend, Served, ServedLink, Session, SessionLink};
use crate::channel::text::{MAX_TEXT_BYTES, decode, encode};
use crate::channel::{ChannelFrame, Responder};
use crate::model::map::{Map, Set};
use crate::model::value::{Object, Value};
use crate::plane::verified::Verified;

/// How long a soft stop waits for every session's last frames to be written.
const FLUSH_MS: u64 = 2_000;

/// Why a native backend could not serve.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// `PORT` is not a port number.
    #[error("PORT must be a port number, not `{0}`")]
    Port(String),
    /// `HOST` is not an IP address.
    #[error("HOST must be an IP address, not `{0}`")]
    Host(String),
    /// The backend's `start` failed.
    #[error("start failed: {0}")]
    Start(String),
    /// The runtime, the listener or a signal handler could not be set up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where and as what the process serves, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The address it listens on: `$HOST:$PORT`; without them `0.0.0.0`
    /// (every interface, as in a container) and 8080.
    pub addr: SocketAddr,
    /// `PLANE_BACKEND_ID`, if given.
    pub backend_id: String,
    /// `PLANE_KEY`, if given.
    pub key: String,
}

impl Options {
    /// Reads `HOST`, `PORT`, `PLANE_BACKEND_ID` and `PLANE_KEY` through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, NativeError> {
        let port = match var("PORT") {
            None => 8080,
            Some(text) => text.parse::<u16>().map_err(|_| NativeError::Port(text))?,
        };
        let host = match var("HOST") {
            None => std::net::IpAddr::from([0, 0, 0, 0]),
            Some(text) => text.parse().map_err(|_| NativeError::Host(text))?,
        };
        Ok(Options {
            addr: SocketAddr::new(host, port),
            backend_id: var("PLANE_BACKEND_ID").unwrap_or_default(),
            key: var("PLANE_KEY").unwrap_or_default(),
        })
    }
}

struct ProcessContext {
    options: Options,
    ready: Cell<bool>,
    became_ready: Notify,
    secrets: Rc<RefCell<Set<String>>>,
}

impl ContextLink for ProcessContext {
    fn backend_id(&self) -> String {
        self.options.backend_id.clone()
    }

    fn key(&self) -> String {
        self.options.key.clone()
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn ready(&self) {
        self.ready.set(true);
        self.became_ready.notify_one();
    }

    fn is_secret_token(&self, secret: &str) -> bool {
        self.secrets.borrow().contains(secret)
    }

    fn has_mount(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

type Outbox = mpsc::UnboundedSender<Message>;

/// The open sessions' outboxes, by session number.
#[derive(Default)]
struct Sessions(RefCell<Map<u64, Outbox>>);

impl ServedLink for Sessions {
    fn broadcast(&self, event: &str, payload: &Value) {
        let text = encode(&ChannelFrame::Event { name: event.to_owned(), payload: payload.clone() });
        for outbox in self.0.borrow().values() {
            // A session whose writer ended is being closed: nothing to send it.
            let _ = outbox.send(Message::Text(text.clone()));
        }
    }

    fn sessions(&self) -> usize {
        self.0.borrow().len()
    }
}

struct ProcessSession {
    id: String,
    verified: Verified,
    outbox: Outbox,
}

impl SessionLink for ProcessSession {
    fn client_id(&self) -> String {
        String::new()
    }

    fn session_id(&self) -> String {
        self.id.clone()
    }

    fn user(&self) -> Option<String> {
        self.verified.user.clone()
    }

    fn auth(&self) -> Object {
        self.verified.auth.clone()
    }

    fn send(&self, event: &str, payload: &Value) -> Result<(), String> {
        let text = encode(&ChannelFrame::Event { name: event.to_owned(), payload: payload.clone() });
        self.outbox.send(Message::Text(text)).map_err(|_| "the session is closed".to_string())
    }
}

struct Process<S: 'static> {
    running: RefCell<Running<S>>,
    sessions: Rc<Sessions>,
    served: Served,
    secrets: Rc<RefCell<Set<String>>>,
    next: Cell<u64>,
}

impl<S: 'static> RustBackend<S> {
    /// Serves this backend as a native process until SIGTERM or SIGINT (see
    /// [`crate::native`]). Returns when it stopped; an `Err` when it could
    /// not start (the process should then exit with an error).
    pub fn serve(self) -> Result<(), NativeError> {
        let options = Options::from_vars(|name| std::env::var(name).ok())?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        tokio::task::LocalSet::new().block_on(&runtime, run(self, options))
    }
}

async fn run<S: 'static>(backend: RustBackend<S>, options: Options) -> Result<(), NativeError> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let secrets = Rc::new(RefCell::new(Set::new()));
    let ctx = Rc::new(ProcessContext {
        options: options.clone(),
        ready: Cell::new(false),
        became_ready: Notify::new(),
        secrets: secrets.clone(),
    });
    let running = Running::start(backend, &Context::new(ctx.clone())).map_err(NativeError::Start)?;
    if running.declares_ready() && !ctx.ready.get() {
        tokio::select! {
            () = ctx.became_ready.notified() => {}
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        }
    }
    let sessions = Rc::new(Sessions::default());
    let process = Rc::new(Process {
        running: RefCell::new(running),
        served: Served::new(sessions.clone()),
        sessions,
        secrets,
        next: Cell::new(1),
    });
    // Ready: Plane's drone sees the port accept.
    let listener = TcpListener::bind(options.addr).await?;
    let mut sessions = Vec::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => sessions.push(tokio::task::spawn_local(session(process.clone(), stream))),
                Err(e) => eprintln!("tabworker native backend: accept failed: {e}"),
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
        sessions.retain(|s| !s.is_finished());
    }
    // A soft stop: `stop` may still broadcast, then every session closes.
    process.running.borrow_mut().stop(&process.served);
    for outbox in process.sessions.0.borrow().values() {
        let _ = outbox.send(Message::Close(None));
    }
    drop(listener);
    let flushed = futures_util::future::join_all(sessions);
    let _ = tokio::time::timeout(Duration::from_millis(FLUSH_MS), flushed).await;
    Ok(())
}

/// One WebSocket session, from its handshake to its close.
// The handshake's refusal type is tungstenite's own.
#[allow(clippy::result_large_err)]
async fn session<S: 'static>(process: Rc<Process<S>>, stream: TcpStream) {
    let verified = Rc::new(RefCell::new(None));
    let seen = verified.clone();
    let check = move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let headers = request.headers().iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        match Verified::from_headers(headers) {
            Ok(verified) => {
                *seen.borrow_mut() = Some(verified);
                Ok(response)
            }
            Err(e) => {
                let mut refusal = ErrorResponse::new(Some(e.to_string()));
                *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::BAD_REQUEST;
                Err(refusal)
            }
        }
    };
    let config = WebSocketConfig {
        max_message_size: Some(MAX_TEXT_BYTES),
        max_frame_size: Some(MAX_TEXT_BYTES),
        ..Default::default()
    };
    let socket = match tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config)).await {
        Ok(socket) => socket,
        // Not a WebSocket (a plain request, a probe), or refused above.
        Err(_) => return,
    };
    let Some(verified) = verified.borrow_mut().take() else { return };
    if let Some(secret) = &verified.secret {
        process.secrets.borrow_mut().insert(secret.clone());
    }
    let (mut sink, mut source) = socket.split();
    let (outbox, mut queued) = mpsc::unbounded_channel::<Message>();
    let number = process.next.replace(process.next.get() + 1);
    process.sessions.0.borrow_mut().insert(number, outbox.clone());
    let writer = tokio::task::spawn_local(async move {
        while let Some(message) = queued.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
    });
    let link = ProcessSession { id: format!("ws-{number}"), verified, outbox: outbox.clone() };
    let session = Session::new(Rc::new(link), process.served.clone());
    process.running.borrow_mut().opened(&session);
    let mut responder = Responder::new();
    let mut refused = 0u64;
    while let Some(Ok(message)) = source.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Binary(_) => {
                refused += 1;
                continue;
            }
        };
        let answer = decode(&text)
            .map_err(|e| e.code)
            .and_then(|frame| process.running.borrow_mut().frame(&session, &mut responder, frame));
        match answer {
            Ok(Some(frame)) => drop(outbox.send(Message::Text(encode(&frame)))),
            Ok(None) => {}
            Err(_) => refused += 1,
        }
    }
    if refused > 0 {
        eprintln!("tabworker native backend: session ws-{number} sent {refused} frame(s) that were not channel frames");
    }
    responder.close();
    process.sessions.0.borrow_mut().remove(&number);
    drop(outbox);
    drop(session);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_from_the_environment() {
        let vars = |port: Option<&'static str>| {
            move |name: &str| match name {
                "PORT" => port.map(String::from),
                "HOST" if port == Some("9002") => Some("127.0.0.1".to_string()),
                "HOST" if port == Some("9003") => Some("localhost".to_string()),
                "PLANE_BACKEND_ID" => Some("ba-1".to_string()),
                _ => None,
            }
        };
        let options = Options::from_vars(vars(Some("9001"))).unwrap();
        assert_eq!(options.addr.port(), 9001);
        assert_eq!((options.backend_id.as_str(), options.key.as_str()), ("ba-1", ""));
        assert_eq!(Options::from_vars(vars(None)).unwrap().addr.port(), 8080);
        assert!(matches!(Options::from_vars(vars(Some("99999"))), Err(NativeError::Port(_))));
        assert!(options.addr.ip().is_unspecified(), "every interface without HOST");
        assert_eq!(Options::from_vars(vars(Some("9002"))).unwrap().addr.to_string(), "127.0.0.1:9002");
        assert!(matches!(Options::from_vars(vars(Some("9003"))), Err(NativeError::Host(_))));
    }
}
