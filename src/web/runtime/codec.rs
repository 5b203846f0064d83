//! Converting between Rust values and JavaScript values.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;

use crate::protocol::FrameSource;

/// Serializes `value` as plain JavaScript data: objects (never `Map`s) and
/// numbers (never `BigInt`s), as `JSON.parse` would give.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, serde_wasm_bindgen::Error> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
}

/// Deserializes a JavaScript value; `undefined` and `null` read as absent.
/// Every value tabworker reads is an object or a primitive, so a top-level
/// array is refused rather than read field by field.
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, serde_wasm_bindgen::Error> {
    if js_sys::Array::is_array(&value) {
        return Err(serde_wasm_bindgen::Error::new("expected an object, found an array"));
    }
    serde_wasm_bindgen::from_value(value)
}

impl FrameSource for JsValue {
    type Error = serde_wasm_bindgen::Error;

    fn read<T: DeserializeOwned>(&self) -> Result<T, serde_wasm_bindgen::Error> {
        from_js(self.clone())
    }

    fn is_object(&self) -> bool {
        self.is_object() && !js_sys::Array::is_array(self)
    }
}
