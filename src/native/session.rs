//! One connection: its handshake (bounded in time, taken only with the
//! proxy's headers for this backend), then its session — a reader that
//! hands each frame to the core, and a writer that drains a bounded outbox.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::limits::Gate;
use super::outbox::Outbox;
use super::process::{Log, Process};
use crate::backend::rust::{Runs, Session, SessionLink};
use crate::channel::text::{MAX_TEXT_BYTES, decode, encode};
use crate::channel::{ChannelFrame, Responder};
use crate::model::value::{Object, Value};
use crate::plane::verified::{Verified, VerifiedError};

struct ProcessSession {
    id: String,
    verified: Rc<Verified>,
    outbox: Rc<Outbox>,
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
        self.outbox.push(Message::Text(text))
    }
}

/// A connection the gate holds, until it ends.
struct Held {
    gate: Rc<RefCell<Gate>>,
    log: Log,
}

impl Drop for Held {
    fn drop(&mut self) {
        let line = self.gate.borrow_mut().ended();
        if let Some(line) = line {
            (self.log)(&line);
        }
    }
}

/// One connection, from its handshake to its close.
pub(super) async fn connection<S: 'static>(process: Rc<Process<S>>, stream: TcpStream, peer: SocketAddr) {
    let _held = Held { gate: process.gate.clone(), log: process.log.clone() };
    if let Some((socket, verified)) = handshake(&process, stream, peer).await {
        session(process, socket, verified).await;
    }
}

/// The WebSocket handshake, within the handshake timeout, taken only with
/// the proxy's headers for this backend (see [`Verified::from_headers`]).
async fn handshake<S: 'static>(
    process: &Process<S>,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(WebSocketStream<TcpStream>, Verified)> {
    let read: Rc<RefCell<Option<Result<Verified, VerifiedError>>>> = Rc::default();
    let seen = read.clone();
    let backend_id = process.backend_id().to_owned();
    // The refusal type is tungstenite's own.
    #[allow(clippy::result_large_err)]
    let check = move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let headers = request.headers().iter().map(|(name, value)| (name.as_str(), value.as_bytes()));
        let verified = Verified::from_headers(headers, &backend_id);
        let refusal = verified.as_ref().err().map(|e| {
            let mut refusal = ErrorResponse::new(Some(e.to_string()));
            *refusal.status_mut() = if e.is_forbidden() { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
            refusal
        });
        *seen.borrow_mut() = Some(verified);
        refusal.map_or(Ok(response), Err)
    };
    let config = WebSocketConfig {
        max_message_size: Some(MAX_TEXT_BYTES),
        max_frame_size: Some(MAX_TEXT_BYTES),
        ..Default::default()
    };
    let limit = process.limits().handshake;
    let accepted =
        tokio::time::timeout(limit, tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config)));
    let log = &process.log;
    match (accepted.await, read.borrow_mut().take()) {
        (Ok(Ok(socket)), Some(Ok(verified))) => Some((socket, verified)),
        (Err(_), _) => {
            log(&format!("{peer}: no WebSocket handshake within {} ms: closed", limit.as_millis()));
            None
        }
        (_, Some(Err(refused))) => {
            log(&format!("{peer}: handshake refused ({}): {refused}", refused.code()));
            None
        }
        // Not a WebSocket (a plain request, a port probe that hung up).
        _ => None,
    }
}

/// An open session: frames in to the core, answers and events out through
/// its outbox, until the peer closes, the process stops, or the outbox
/// overflows.
async fn session<S: 'static>(process: Rc<Process<S>>, socket: WebSocketStream<TcpStream>, verified: Verified) {
    let verified = Rc::new(verified);
    let (sink, mut source) = socket.split();
    let (outbox, queued) = Outbox::new(process.limits());
    let number = process.next.replace(process.next.get() + 1);
    process.sessions.insert(number, outbox.clone());
    let writer = tokio::task::spawn_local(write(sink, queued, outbox.clone()));
    let link = ProcessSession { id: format!("ws-{number}"), verified: verified.clone(), outbox: outbox.clone() };
    let session = Session::new(Rc::new(link), process.served.clone());
    process.ctx.asking(&verified, || process.running.borrow_mut().opened(&session));
    let mut responder = Responder::new();
    let mut refused = 0u64;
    let overflow = loop {
        let message = tokio::select! {
            message = source.next() => message,
            overflow = outbox.overflowed() => break Some(overflow),
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                refused += 1;
                continue;
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
        };
        let answer = decode(&text).map_err(|e| e.code).and_then(|frame| {
            process.ctx.asking(&verified, || process.running.borrow_mut().frame(&session, &mut responder, frame))
        });
        match answer {
            // An answer that overflows the outbox ends the session at the next turn.
            Ok(Some(frame)) => drop(outbox.push(Message::Text(encode(&frame)))),
            Ok(None) => {}
            Err(_) => refused += 1,
        }
    };
    if refused > 0 {
        (process.log)(&format!("session ws-{number} sent {refused} frame(s) that were not channel frames"));
    }
    responder.close();
    process.sessions.remove(number);
    outbox.close();
    drop(session);
    match overflow {
        Some(overflow) => {
            (process.log)(&format!("session ws-{number} closed: {overflow}"));
            // Nothing more is written to a reader this slow: its connection is dropped.
            writer.abort();
            let _ = writer.await;
        }
        None => {
            let _ = writer.await;
        }
    }
}

/// Writes the outbox to the socket, counting each frame out once the socket took it.
async fn write(
    mut sink: SplitSink<WebSocketStream<TcpStream>, Message>,
    mut queued: mpsc::UnboundedReceiver<Message>,
    outbox: Rc<Outbox>,
) {
    while let Some(message) = queued.recv().await {
        let (len, closing) = (message.len(), matches!(message, Message::Close(_)));
        let sent = sink.send(message).await;
        outbox.sent(len);
        if sent.is_err() || closing {
            break;
        }
    }
}
