//! The tab side: `Client`.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{MessageEvent, MessagePort, SharedWorker, WorkerOptions, WorkerType};

use super::codec::{from_js, to_js};
use super::error::{ErrorCode, TabworkerError, describe};
use super::features::Features;
use super::listener::Listener;
use super::locks::{LockMode, LockRequest};
use super::random_id;
use crate::ids::{ClientId, CoordinatorId};
use crate::protocol::{BUILD, CoordinatorToTab, Leadership, TabToCoordinator, WireMessage, decode, frame};

#[wasm_bindgen]
extern "C" {
    /// `ClientOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientOptions")]
    pub type ClientOptionsJs;
    /// `Role` in TypeScript.
    #[wasm_bindgen(typescript_type = "Role")]
    pub type RoleJs;
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientOptions {
    coordinator: String,
    #[serde(default = "default_name")]
    name: String,
    #[serde(default = "default_timeout")]
    connect_timeout_ms: u32,
}

fn default_name() -> String {
    "default".into()
}

fn default_timeout() -> u32 {
    10_000
}

#[derive(Default)]
struct State {
    port: Option<MessagePort>,
    listeners: Vec<Listener>,
    /// Resolves the wait for `welcome`; the outcome is read from `state`.
    welcome: Option<js_sys::Function>,
    /// Why the wait for `welcome` ended without one.
    welcome_error: Option<TabworkerError>,
    coordinator_id: Option<CoordinatorId>,
    leadership: Option<Leadership>,
    leader_lock: Option<LockRequest>,
    is_leader: bool,
    destroyed: bool,
}

impl State {
    /// Ends the wait for `welcome`, once: with `Ok` when it came, with the
    /// error that ended it otherwise.
    fn end_welcome(&mut self, outcome: Result<(), TabworkerError>) {
        if let Some(resolve) = self.welcome.take() {
            self.welcome_error = outcome.err();
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

struct Inner {
    id: ClientId,
    options: ClientOptions,
    state: RefCell<State>,
}

/// One tab's membership of an app: it joins the app's coordinator and takes
/// part in the election of the leader tab.
#[wasm_bindgen]
pub struct Client {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl Client {
    /// A client for `options.name` (default `"default"`) whose coordinator
    /// is the SharedWorker script at `options.coordinator`. Nothing happens
    /// until `initialize()`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: ClientOptionsJs) -> Result<Client, TabworkerError> {
        let options: ClientOptions = from_js(options.into())
            .map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, format!("invalid ClientOptions: {e}")))?;
        Ok(Client { inner: Rc::new(Inner { id: random_id(), options, state: RefCell::default() }) })
    }

    /// This client's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id.to_string()
    }

    /// `'leader'` while this tab holds the app's leader lock, else `'follower'`.
    #[wasm_bindgen(getter)]
    pub fn role(&self) -> RoleJs {
        let leader = self.inner.state.borrow().is_leader;
        JsValue::from_str(if leader { "leader" } else { "follower" }).unchecked_into()
    }

    /// The id of the coordinator this client joined, once initialized.
    #[wasm_bindgen(getter, js_name = coordinatorId)]
    pub fn coordinator_id(&self) -> Option<String> {
        self.inner.state.borrow().coordinator_id.as_ref().map(ToString::to_string)
    }

    /// Joins the coordinator and enters the leader election. Resolves once
    /// the coordinator answered; the election goes on in the background.
    #[wasm_bindgen(js_name = initialize)]
    pub fn initialize(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            initialize(&inner).await.map_err(|e| {
                inner.shut_down();
                JsValue::from(e)
            })?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Leaves: releases the leader lock (if held), says goodbye to the
    /// coordinator and removes every listener.
    #[wasm_bindgen(js_name = destroy)]
    pub fn destroy(&self) -> js_sys::Promise {
        self.inner.shut_down();
        js_sys::Promise::resolve(&JsValue::UNDEFINED)
    }
}

impl Inner {
    fn leader_lock_name(&self) -> String {
        format!("tabworker:{}:leader", self.options.name)
    }

    fn send(&self, message: &TabToCoordinator) {
        let state = self.state.borrow();
        if let (Some(port), Ok(data)) = (&state.port, to_js(&frame(message))) {
            if let Err(e) = port.post_message(&data) {
                web_sys::console::warn_2(&"tabworker client: postMessage failed".into(), &e);
            }
        }
    }

    fn shut_down(&self) {
        if self.state.borrow().destroyed {
            return;
        }
        self.send(&TabToCoordinator::Goodbye { client_id: self.id.clone() });
        let mut state = self.state.borrow_mut();
        state.destroyed = true;
        state.is_leader = false;
        state.leader_lock = None;
        state.listeners.clear();
        state.end_welcome(Err(TabworkerError::new(ErrorCode::NotInitialized, "the client was destroyed")));
        if let Some(port) = state.port.take() {
            port.close();
        }
    }

    fn on_message(&self, event: MessageEvent) {
        match decode::<CoordinatorToTab>(&event.data(), event.ports().length() as usize) {
            Ok(CoordinatorToTab::Welcome { coordinator_id, leader, .. }) => {
                let mut state = self.state.borrow_mut();
                state.coordinator_id = Some(coordinator_id);
                state.leadership = leader;
                state.end_welcome(Ok(()));
            }
            Ok(CoordinatorToTab::NewLeader(leadership)) => self.state.borrow_mut().leadership = Some(leadership),
            Ok(CoordinatorToTab::Rejected { code, detail }) => {
                web_sys::console::warn_1(
                    &format!("tabworker client: the coordinator refused a frame ({code}): {detail}").into(),
                );
            }
            Ok(other) => {
                // This client sends no request-port yet, so no port should come back.
                web_sys::console::warn_1(&format!("tabworker client: unexpected `{}`", other.kind()).into());
            }
            Err(error) => {
                web_sys::console::warn_1(
                    &format!("tabworker client: refused a frame ({}): {error}", error.code()).into(),
                );
            }
        }
    }
}

async fn initialize(inner: &Rc<Inner>) -> Result<(), TabworkerError> {
    let features = Features::detect();
    if !features.shared_worker {
        return Err(TabworkerError::new(ErrorCode::SharedWorkerUnavailable, "this browser has no SharedWorker"));
    }
    if inner.state.borrow().port.is_some() || inner.state.borrow().destroyed {
        return Err(TabworkerError::new(ErrorCode::NotInitialized, "initialize() may be called once per client"));
    }
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    options.set_name(&format!("tabworker:{}", inner.options.name));
    let worker = SharedWorker::new_with_worker_options(&inner.options.coordinator, &options)
        .map_err(|e| TabworkerError::new(ErrorCode::CoordinatorUnavailable, describe(&e)))?;
    let port = worker.port();

    let mut welcome_slot = None;
    let welcome = js_sys::Promise::new(&mut |resolve, _| welcome_slot = Some(resolve));
    let timeout = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(set_timeout) = js_sys::Reflect::get(&global, &"setTimeout".into()) {
            let set_timeout: js_sys::Function = set_timeout.unchecked_into();
            let _ = set_timeout.call2(&global, &resolve, &inner.options.connect_timeout_ms.into());
        }
    });
    {
        let mut state = inner.state.borrow_mut();
        state.welcome = welcome_slot;
        let weak = Rc::downgrade(inner);
        state.listeners.push(Listener::new(&port, "message", move |event: MessageEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.on_message(event);
            }
        }));
        let weak = Rc::downgrade(inner);
        state.listeners.push(Listener::new(&worker, "error", move |_: web_sys::Event| {
            if let Some(inner) = weak.upgrade() {
                inner.state.borrow_mut().end_welcome(Err(TabworkerError::new(
                    ErrorCode::CoordinatorUnavailable,
                    "the coordinator script failed to load or threw",
                )));
            }
        }));
        port.start();
        state.port = Some(port);
    }
    inner.send(&TabToCoordinator::Hello { client_id: inner.id.clone(), build: BUILD.into() });

    // Neither promise rejects: the outcome is in `state`.
    let _ = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&welcome, &timeout))).await;
    if let Some(error) = inner.state.borrow_mut().welcome_error.take() {
        return Err(error);
    }
    if inner.state.borrow().coordinator_id.is_none() {
        return Err(TabworkerError::new(
            ErrorCode::CoordinatorUnavailable,
            format!("the coordinator did not answer within {} ms", inner.options.connect_timeout_ms),
        ));
    }

    let request = LockRequest::new(&inner.leader_lock_name(), LockMode::Exclusive, false)?;
    let granted = request.granted();
    inner.state.borrow_mut().leader_lock = Some(request);
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        // A follower waits for as long as it takes; an error means the request was withdrawn.
        if let Ok(true) = granted.await {
            if let Some(inner) = weak.upgrade() {
                let mut state = inner.state.borrow_mut();
                state.is_leader = state.leader_lock.is_some();
            }
        }
    });
    Ok(())
}
