//! What the current browser context offers.

use wasm_bindgen::prelude::*;

use super::runtime::codec::to_js;
use super::runtime::js::get;
use crate::model::value::{Record, ToValue, Value};

/// The browser features tabworker depends on, as found in the current
/// context (a page, a dedicated worker or a shared worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `SharedWorker` can be constructed here (pages only; missing on Chrome
    /// Android before 148).
    pub shared_worker: bool,
    /// `navigator.locks` exists (secure contexts only).
    pub web_locks: bool,
    /// The origin private file system (`navigator.storage.getDirectory`).
    pub opfs: bool,
    /// OPFS synchronous access handles (dedicated workers only).
    pub opfs_sync_access: bool,
    /// The context is secure (https or localhost).
    pub secure_context: bool,
}

impl Features {
    /// Looks at the current global scope.
    pub fn detect() -> Features {
        let global = js_sys::global();
        let navigator = get(&global, "navigator");
        let storage = get(&navigator, "storage");
        Features {
            shared_worker: get(&global, "SharedWorker").is_function(),
            web_locks: has_web_locks(),
            opfs: get(&storage, "getDirectory").is_function(),
            opfs_sync_access: get(&global, "FileSystemSyncAccessHandle").is_function(),
            secure_context: get(&global, "isSecureContext").is_truthy(),
        }
    }
}

impl ToValue for Features {
    /// `BrowserFeatures`: the same fields in camelCase.
    fn to_value(&self) -> Value {
        Record::new()
            .put("sharedWorker", &self.shared_worker)
            .put("webLocks", &self.web_locks)
            .put("opfs", &self.opfs)
            .put("opfsSyncAccess", &self.opfs_sync_access)
            .put("secureContext", &self.secure_context)
            .done()
    }
}

pub(crate) fn has_web_locks() -> bool {
    get(&get(&js_sys::global(), "navigator"), "locks").is_object()
}

#[wasm_bindgen]
extern "C" {
    /// `BrowserFeatures` in TypeScript.
    #[wasm_bindgen(typescript_type = "BrowserFeatures")]
    pub type BrowserFeaturesJs;
}

/// The browser features tabworker depends on, found in the calling context.
#[wasm_bindgen(js_name = features)]
pub fn features() -> BrowserFeaturesJs {
    to_js(&Features::detect()).unchecked_into()
}
