//! Small JavaScript values: plain objects, their properties and methods, and
//! random ids.

use wasm_bindgen::{JsCast, JsValue};

/// A plain object with `entries` as its properties.
#[cfg(any(feature = "tab", feature = "backend"))]
pub(crate) fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in entries {
        // Setting properties on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// Property `key` of `target`, or `undefined` (also when `target` is not an object).
pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    if !target.is_object() && !target.is_function() {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(target, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A random id for ids that must be unique across contexts.
pub(crate) fn random_id<T: TryFrom<String>>() -> T {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).unwrap_or(JsValue::UNDEFINED);
    let uuid = js_sys::Reflect::get(&crypto, &"randomUUID".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(&crypto).ok())
        .and_then(|v| v.as_string());
    // randomUUID exists only in secure contexts; elsewhere Math.random is unique enough for ids.
    let text =
        uuid.unwrap_or_else(|| format!("{:x}{:x}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e16) as u64));
    // A UUID or two hex numbers: non-empty, short, no control characters.
    T::try_from(text).unwrap_or_else(|_| unreachable!("generated ids are valid"))
}
