//! The TypeScript types of the client's JavaScript API, as wasm-bindgen
//! names them in the signatures it writes (declared in `../types/tab.d.ts`).

use wasm_bindgen::prelude::*;

use super::super::error::{ErrorCode, TabworkerError};
use super::super::runtime::codec::from_js;
use crate::model::connect::ConnectRequest;

#[wasm_bindgen]
extern "C" {
    /// `ClientOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientOptions")]
    pub type ClientOptionsJs;
    /// `Role` in TypeScript.
    #[wasm_bindgen(typescript_type = "Role")]
    pub type RoleJs;
    /// `ClientMode` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientMode")]
    pub type ModeJs;
    /// `Session` in TypeScript.
    #[wasm_bindgen(typescript_type = "Session")]
    pub type SessionJs;
    /// `Promise<Session>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<Session>")]
    pub type SessionPromise;
    /// `Promise<void>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<void>")]
    pub type VoidPromise;
    /// `keyof ClientEventMap` in TypeScript.
    #[wasm_bindgen(typescript_type = "keyof ClientEventMap")]
    pub type ClientEventType;
    /// `AddEventListenerOptions | boolean` in TypeScript.
    #[wasm_bindgen(typescript_type = "AddEventListenerOptions | boolean")]
    pub type ListenerOptions;
    /// `ClientEventListener` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientEventListener")]
    pub type ClientEventListener;
    /// `ConnectRequest` in TypeScript.
    #[wasm_bindgen(typescript_type = "ConnectRequest")]
    pub type ConnectRequestJs;
    /// `ConnectResponse` in TypeScript.
    #[wasm_bindgen(typescript_type = "ConnectResponse")]
    pub type ConnectResponseJs;
    /// `Promise<ConnectResponse>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<ConnectResponse>")]
    pub type ConnectResponsePromise;
    /// `ConnectBackendOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ConnectBackendOptions")]
    pub type ConnectBackendOptionsJs;
    /// `Promise<BackendState>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<BackendState>")]
    pub type BackendStatePromise;
    /// `Promise<KeyedSession>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<KeyedSession>")]
    pub type KeyedSessionPromise;
    /// `(state: BackendState) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(state: BackendState) => void")]
    pub type StatusCallback;
    /// `() => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "() => void")]
    pub type Unsubscribe;
    /// `TerminateOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "TerminateOptions")]
    pub type TerminateOptionsJs;
}

/// The `ConnectRequest` the app gave, read; refused as `invalid-argument`.
pub(crate) fn connect_request(request: ConnectRequestJs) -> Result<ConnectRequest, TabworkerError> {
    from_js(request.into())
        .map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, format!("invalid ConnectRequest: {e}")))
}
