//! The object the app holds for a keyed session (`client.open(url)`).

use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use web_sys::MessagePort;

use super::driver::ClientDriver;
use super::types::VoidPromise;
use crate::model::ids::{BackendId, SessionId};

/// A session with a keyed backend, opened with `client.open(url)`.
#[wasm_bindgen]
pub struct KeyedSession {
    id: SessionId,
    backend_id: BackendId,
    port: MessagePort,
    closed: js_sys::Promise,
    client: Weak<ClientDriver>,
}

impl KeyedSession {
    /// The app's object for session `id` of `client`, if its ports are open.
    pub(super) fn of(client: &Rc<ClientDriver>, id: SessionId, backend_id: BackendId) -> Option<KeyedSession> {
        let (port, closed) = client.sessions.borrow().get(&id).map(|p| (p.app.clone(), p.closed.clone()))?;
        Some(KeyedSession { id, backend_id, port, closed, client: Rc::downgrade(client) })
    }
}

#[wasm_bindgen]
impl KeyedSession {
    /// The connect attempt.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.id.to_string()
    }

    /// The backend.
    #[wasm_bindgen(getter, js_name = backendId)]
    pub fn backend_id(&self) -> String {
        self.backend_id.to_string()
    }

    /// This tab's own port to the backend; post to it and listen on it.
    #[wasm_bindgen(getter)]
    pub fn port(&self) -> MessagePort {
        self.port.clone()
    }

    /// Resolves when the session ends: `close()`, or the backend terminated.
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> VoidPromise {
        self.closed.clone().unchecked_into()
    }

    /// Ends the session: the backend sees its `closed` resolve.
    pub fn close(&self) {
        if let Some(client) = self.client.upgrade() {
            client.close_session(&self.id);
        }
    }
}
