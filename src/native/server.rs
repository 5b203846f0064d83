//! The process: a single-threaded runtime that owns the backend's state,
//! the listener and its bounds, and one task per connection (see
//! [`session`](super::session)) until a soft stop.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// How long a soft stop waits for every session's last frames to be written.
const FLUSH_MS: u64 = 2_000;

use super::limits::{Admission, Backoff, Gate};
use super::options::{NativeError, Options};
use super::outbox::Sessions;
use super::process::{Log, Process, ProcessContext};
use super::session::connection;
use crate::backend::rust::{Context, Running, Runs, RustBackend, Serve, Served};

/// What a connection past the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

impl<S: 'static> Serve for RustBackend<S> {
    type Output = Result<(), NativeError>;

    /// Serves this backend as a native process until SIGTERM or SIGINT (see
    /// [`crate::native`]). Returns when it stopped; an `Err` when it could
    /// not start (the process should then exit with an error).
    fn serve(self) -> Result<(), NativeError> {
        let options = Options::from_vars(|name| std::env::var(name).ok())?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let log: Log = Rc::new(|line| eprintln!("tabworker native backend: {line}"));
        tokio::task::LocalSet::new().block_on(&runtime, async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut terminate = signal(SignalKind::terminate())?;
            let mut interrupt = signal(SignalKind::interrupt())?;
            let stop = async move {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            };
            run(self, options, log, stop, |_| {}).await
        })
    }
}

/// Serves `backend` as `options` say until `stop` resolves; `listening`
/// is told the address once the listener is bound (the backend is ready).
pub(super) async fn run<S: 'static>(
    backend: RustBackend<S>,
    options: Options,
    log: Log,
    stop: impl Future<Output = ()>,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), NativeError> {
    let mut stop = std::pin::pin!(stop);
    backend.check_names().map_err(|e| NativeError::Name(e.detail))?;
    let ctx = Rc::new(ProcessContext::new(options.clone()));
    let running = Running::start(backend, &Context::new(ctx.clone())).map_err(NativeError::Start)?;
    if running.declares_ready() && !ctx.is_ready() {
        tokio::select! {
            () = ctx.became_ready() => {}
            () = &mut stop => return Ok(()),
        }
    }
    let sessions = Rc::new(Sessions::default());
    let process = Rc::new(Process {
        running: RefCell::new(running),
        served: Served::new(sessions.clone()),
        sessions,
        ctx,
        next: Cell::new(1),
        gate: Rc::new(RefCell::new(Gate::new(options.limits.connections))),
        log: log.clone(),
    });
    // Ready: Plane's drone sees the port accept.
    let listener = TcpListener::bind(options.addr).await?;
    listening(listener.local_addr()?);
    let mut backoff = Backoff::default();
    let mut connections = Vec::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Some(line) = backoff.succeeded() {
                        log(&line);
                    }
                    let admission = process.gate.borrow_mut().admit();
                    match admission {
                        Admission::Held => connections.push(tokio::task::spawn_local(connection(process.clone(), stream, peer))),
                        Admission::Refused { log: line } => {
                            if let Some(line) = line {
                                log(&line);
                            }
                            refuse(stream);
                        }
                    }
                }
                Err(e) => {
                    let (wait, first) = backoff.failed();
                    if first {
                        log(&format!(
                            "accept failed: {e}; trying again after {} ms, doubling up to 1 s, until one succeeds \
                             (the failures meanwhile are counted, not logged)",
                            wait.as_millis()
                        ));
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut stop => break,
                    }
                }
            },
            () = &mut stop => break,
        }
        connections.retain(|c| !c.is_finished());
    }
    // A soft stop: `stop` may still broadcast, then every session closes.
    process.running.borrow_mut().stop(&process.served);
    process.sessions.close_all();
    drop(listener);
    let flushed = futures_util::future::join_all(connections);
    let _ = tokio::time::timeout(Duration::from_millis(FLUSH_MS), flushed).await;
    Ok(())
}

/// Answers a connection past the cap `503` (as far as its socket takes it
/// at once, without waiting) and closes it.
fn refuse(stream: TcpStream) {
    use std::io::Write;
    if let Ok(mut stream) = stream.into_std() {
        let _ = stream.write(BUSY);
    }
}
