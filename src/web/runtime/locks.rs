//! Web Locks, as Rust values: a granted lock is held until its [`WebLock`] is
//! dropped, and a request dropped before it is granted leaves the queue.
//!
//! Works in every context that has `navigator.locks`: pages, dedicated
//! workers and shared workers. A request waits as long as it takes; there is
//! no timeout (a follower's wait for the leader lock must never time out).

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::web::error::{ErrorCode, TabworkerError, describe};
use crate::web::features::has_web_locks;

#[wasm_bindgen(inline_js = r#"
export function lockRequest(name, exclusive, ifAvailable, steal) {
  const controller = ifAvailable || steal ? undefined : new AbortController();
  let release, lose, got = false;
  const held = new Promise((resolve) => { release = resolve; });
  const lost = new Promise((resolve) => { lose = resolve; });
  const options = { mode: exclusive ? 'exclusive' : 'shared', ifAvailable, steal };
  if (controller) options.signal = controller.signal;
  const granted = new Promise((resolve, reject) => {
    globalThis.navigator.locks
      .request(name, options, (lock) => {
        got = lock !== null;
        resolve(got);
        return got ? held : undefined;
      })
      .catch((error) => (got ? lose() : reject(error)));
  });
  return {
    granted,
    lost,
    release: () => release(),
    abort: () => { if (controller) controller.abort(); },
  };
}
"#)]
extern "C" {
    /// One `navigator.locks.request` in flight or granted.
    type LockHandle;

    #[wasm_bindgen(catch, js_name = lockRequest)]
    fn lock_request(name: &str, exclusive: bool, if_available: bool, steal: bool) -> Result<LockHandle, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn granted(this: &LockHandle) -> js_sys::Promise;

    #[wasm_bindgen(method, getter)]
    fn lost(this: &LockHandle) -> js_sys::Promise;

    #[wasm_bindgen(method)]
    fn release(this: &LockHandle);

    #[wasm_bindgen(method)]
    fn abort(this: &LockHandle);
}

pub use crate::LockMode;

/// A Web Lock request: queued until granted, then held. Dropping it
/// withdraws a queued request or releases a granted lock.
pub struct LockRequest {
    name: String,
    handle: LockHandle,
    granted: js_sys::Promise,
}

impl LockRequest {
    /// Queues a request for the lock `name`. With `if_available`, the request
    /// is answered at once: granted if no one holds the lock, refused if not.
    /// With [`LockMode::Steal`], it is granted at once, taken from its
    /// holder (whose [`LockRequest::lost`] then resolves).
    pub fn new(name: &str, mode: LockMode, if_available: bool) -> Result<LockRequest, TabworkerError> {
        if !has_web_locks() {
            return Err(TabworkerError::new(
                ErrorCode::WebLocksUnavailable,
                "navigator.locks is missing: Web Locks need a secure context (https or localhost)",
            ));
        }
        let (exclusive, steal) = (mode != LockMode::Shared, mode == LockMode::Steal);
        let handle = lock_request(name, exclusive, if_available && !steal, steal).map_err(refused)?;
        let granted = handle.granted();
        Ok(LockRequest { name: name.to_owned(), handle, granted })
    }

    /// Resolves to `true` once the lock is granted, `false` if an
    /// `if_available` request found it held. Fails if the browser refused the
    /// request or it was withdrawn.
    pub fn granted(&self) -> impl Future<Output = Result<bool, TabworkerError>> + use<> {
        let granted = JsFuture::from(self.granted.clone());
        async move { Ok(granted.await.map_err(refused)?.as_bool().unwrap_or(false)) }
    }

    /// Resolves once the lock, granted, was taken from this holder by a
    /// request with [`LockMode::Steal`]; never if it is released here.
    pub fn lost(&self) -> impl Future<Output = ()> + use<> {
        let lost = JsFuture::from(self.handle.lost());
        async move {
            let _ = lost.await;
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for LockRequest {
    fn drop(&mut self) {
        // Withdraws a queued request; releases a granted lock (and one granted
        // after this point, at once).
        self.handle.abort();
        self.handle.release();
    }
}

impl std::fmt::Debug for LockRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockRequest").field("name", &self.name).finish()
    }
}

/// A granted Web Lock, released when dropped.
#[derive(Debug)]
pub struct WebLock(LockRequest);

impl WebLock {
    /// Waits until the lock `name` is granted, however long that takes.
    /// Dropping the future before then withdraws the request.
    pub async fn acquire(name: &str, mode: LockMode) -> Result<WebLock, TabworkerError> {
        let request = LockRequest::new(name, mode, false)?;
        match request.granted().await? {
            true => Ok(WebLock(request)),
            // Only `if_available` requests are answered with no lock.
            false => Err(TabworkerError::new(ErrorCode::LockRefused, format!("lock `{name}` was not granted"))),
        }
    }

    /// Takes the lock `name` if no one holds it now; `None` otherwise.
    pub async fn try_acquire(name: &str, mode: LockMode) -> Result<Option<WebLock>, TabworkerError> {
        let request = LockRequest::new(name, mode, true)?;
        Ok(request.granted().await?.then_some(WebLock(request)))
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }
}

fn refused(error: JsValue) -> TabworkerError {
    TabworkerError::new(ErrorCode::LockRefused, describe(&error))
}
