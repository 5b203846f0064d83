//! A backend's OPFS mount: its directory, and `ctx.openSync(name)`, which
//! opens one of its files for synchronous access and tries a locked file
//! again by the core's rules ([`crate::backend::mount`]).

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::runtime::clock::now;
use super::super::runtime::js::{get, object};
use crate::backend::mount::{MountOpen, Retry};

/// The OPFS directory `tabworker/<app>/<key>/<name>`, created if missing.
pub(super) async fn mount_directory(app: &str, key: &str, name: &str) -> Result<JsValue, String> {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).map_err(|e| describe(&e))?;
    let storage = js_sys::Reflect::get(&navigator, &"storage".into()).map_err(|e| describe(&e))?;
    let mut dir = call_async(&storage, "getDirectory", &[]).await?;
    let create = object(&[("create", true.into())]);
    for part in ["tabworker", app, &crate::model::connect::opfs_name(key), name] {
        dir = call_async(&dir, "getDirectoryHandle", &[part.into(), create.clone()]).await?;
    }
    Ok(dir)
}

/// `ctx.openSync(name, { create })`: a `FileSystemSyncAccessHandle` on the
/// file `name` of the mount `dir`. Each failed try goes to the core's
/// [`MountOpen`], which says when to try again (a file locked by another
/// handle), or to give up as `mount-busy` or with the browser's own error.
pub(super) async fn open_sync(dir: JsValue, name: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let invalid = |detail: &str| JsValue::from(TabworkerError::new(ErrorCode::InvalidArgument, detail));
    let Some(name) = name.as_string() else { return Err(invalid("openSync(name): `name` must be a string")) };
    if dir.is_null() || dir.is_undefined() {
        return Err(invalid("openSync: this backend has no mount (connect with `executable: { mount: true }`)"));
    }
    let create = !options.is_undefined() && get(&options, "create").is_truthy();
    let file = call(&dir, "getFileHandle", &[name.clone().into(), object(&[("create", create.into())])]).await?;
    let mut open = MountOpen::new(&name);
    loop {
        let error = match call(&file, "createSyncAccessHandle", &[]).await {
            Ok(handle) => return Ok(handle),
            Err(error) => error,
        };
        let tried = now();
        match open.failed(tried, &get(&error, "name").as_string().unwrap_or_default()) {
            Retry::At(at) => sleep(at.millis_since(tried)).await,
            Retry::Busy(detail) => return Err(TabworkerError::new(ErrorCode::MountBusy, detail).into()),
            Retry::Fail => return Err(error),
        }
    }
}

/// Resolves after `ms` milliseconds (a wait of the core's [`MountOpen`]).
async fn sleep(ms: u64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let ms = crate::model::timers::timer_delay(ms);
        gloo_timers::callback::Timeout::new(ms, move || drop(resolve.call0(&JsValue::NULL))).forget();
    });
    let _ = JsFuture::from(promise).await;
}

/// Calls `target[method](...args)` and awaits the promise it returns; the
/// error is what was thrown or rejected.
async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: js_sys::Function = get(target, method).dyn_into().map_err(|_| {
        let detail = format!("`{method}` is not available here (OPFS needs a secure context and a dedicated worker)");
        JsValue::from(TabworkerError::new(ErrorCode::InvalidArgument, detail))
    })?;
    let args: js_sys::Array = args.iter().collect();
    let promise = function.apply(target, &args)?;
    JsFuture::from(js_sys::Promise::resolve(&promise)).await
}

/// [`call`], its error described.
async fn call_async(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    call(target, method, args).await.map_err(|e| describe(&e))
}
