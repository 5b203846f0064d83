//! The counter backend as a native process, as a Plane cluster runs it:
//! it listens on `$PORT` once started, takes each session as a WebSocket
//! through Plane's proxy, and stops softly on SIGTERM.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use tabworker::Serve;
    match counter_backend::counter().serve() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("counter-backend: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The browser build starts from `lib.rs`; this executable is native only.
#[cfg(target_arch = "wasm32")]
fn main() {}
