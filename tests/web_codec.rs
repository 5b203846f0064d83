//! The browser's codec against objects of many keys: one past the bound is
//! refused before its fields are read, one within it is read in key order.
#![cfg(target_arch = "wasm32")]

use tabworker::web::from_js;
use tabworker::{MAX_FRAME_FIELDS, MAX_OBJECT_KEYS, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A plain object of `keys` keys, `k<n>` set to `n`, made in descending order.
fn object(keys: usize) -> js_sys::Object {
    let object = js_sys::Object::new();
    for n in (0..keys).rev() {
        js_sys::Reflect::set(&object, &format!("k{n:06}").into(), &JsValue::from_f64(n as f64)).unwrap();
    }
    object
}

#[wasm_bindgen_test]
fn an_object_of_100_000_keys_is_refused_by_its_bound() {
    let refused = match from_js::<Value>(object(100_000).into()) {
        Ok(value) => panic!("{} keys were read", value.as_object().map_or(0, |o| o.len())),
        Err(refused) => refused,
    };
    assert!(refused.to_string().contains(&format!("at most {MAX_OBJECT_KEYS}")), "{refused}");
}

#[wasm_bindgen_test]
fn an_object_at_the_bound_is_read_whole_and_in_key_order() {
    let value = from_js::<Value>(object(MAX_OBJECT_KEYS).into()).unwrap();
    let fields = value.as_object().unwrap();
    assert_eq!(fields.len(), MAX_OBJECT_KEYS);
    assert!(fields.keys().zip(fields.keys().skip(1)).all(|(a, b)| a < b), "in key order");
    assert_eq!(fields.get("k000007").and_then(Value::as_f64), Some(7.0));
}

#[wasm_bindgen_test]
fn a_frame_of_more_fields_than_its_bound_is_refused() {
    let one = object(MAX_OBJECT_KEYS);
    let many: js_sys::Array = (0..=MAX_FRAME_FIELDS / MAX_OBJECT_KEYS).map(|_| JsValue::from(&one)).collect();
    let Err(refused) = from_js::<Value>(many.into()) else { panic!("a frame past its fields was read") };
    assert!(refused.to_string().contains(&format!("more than {MAX_FRAME_FIELDS} fields")), "{refused}");
}
