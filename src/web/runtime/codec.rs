//! Converting between [`Value`]s and JavaScript values: the one place where
//! data from another context is read, bounded in depth and refused unless
//! it is plain data.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::model::bounds::FieldBudget;
use crate::model::value::{FromValue, MAX_DEPTH, ToValue, Value, ValueError, number_text};

thread_local! {
    /// `Object.prototype`, a plain object's prototype: read once, not per object read.
    static OBJECT_PROTOTYPE: Object = Object::get_prototype_of(&Object::new());
}

/// `value` as plain JavaScript data: objects (never `Map`s) and numbers
/// (never `BigInt`s), as `JSON.parse` would give.
pub fn to_js<T: ToValue + ?Sized>(value: &T) -> JsValue {
    write(&value.to_value())
}

fn write(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(flag) => JsValue::from_bool(*flag),
        Value::Number(n) => JsValue::from_f64(n.get()),
        Value::String(text) => JsValue::from_str(text),
        Value::Array(items) => items.iter().map(write).collect::<Array>().into(),
        Value::Object(fields) => {
            let object = Object::new();
            for (name, value) in fields {
                // Setting a data property on a fresh plain object cannot fail.
                let _ = Reflect::set(&object, &JsValue::from_str(name), &write(value));
            }
            object.into()
        }
    }
}

/// Reads a `T` from a JavaScript value; `undefined` reads as `null`, and a
/// field that is `undefined` as absent.
pub fn from_js<T: FromValue>(value: JsValue) -> Result<T, ValueError> {
    T::from_value(&read(&value)?)
}

/// Reads plain data: `null`, booleans, finite numbers, strings, arrays and
/// plain objects, nested at most [`MAX_DEPTH`] deep (a structured clone may
/// even be cyclic), with at most [`MAX_OBJECT_KEYS`] keys per object and
/// [`MAX_FRAME_FIELDS`] fields in all: an object or array past them is
/// refused before any of its fields is read. Anything else is refused.
///
/// [`MAX_OBJECT_KEYS`]: crate::model::value::MAX_OBJECT_KEYS
/// [`MAX_FRAME_FIELDS`]: crate::model::value::MAX_FRAME_FIELDS
pub fn read(value: &JsValue) -> Result<Value, ValueError> {
    read_at(value, 0, &mut FieldBudget::new())
}

fn read_at(value: &JsValue, depth: usize, budget: &mut FieldBudget) -> Result<Value, ValueError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Value::Null);
    }
    if let Some(flag) = value.as_bool() {
        return Ok(Value::Bool(flag));
    }
    if let Some(n) = value.as_f64() {
        return Value::number(n)
            .ok_or_else(|| ValueError::new(format!("expected a finite number, found {}", number_text(n))));
    }
    if let Some(text) = value.as_string() {
        return Ok(Value::String(text));
    }
    if depth >= MAX_DEPTH {
        return Err(ValueError::new(format!("nested deeper than {MAX_DEPTH}")));
    }
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        budget.array(array.length() as usize)?;
        return array.iter().map(|item| read_at(&item, depth + 1, budget)).collect::<Result<_, _>>().map(Value::Array);
    }
    let prototype =
        if value.is_object() && !value.is_function() { Some(Object::get_prototype_of(value)) } else { None };
    match prototype {
        Some(prototype) if prototype.is_null() || OBJECT_PROTOTYPE.with(|plain| prototype == *plain) => {
            let names = Object::keys(value.unchecked_ref::<Object>());
            budget.object(names.length() as usize)?;
            let mut fields = Vec::with_capacity(names.length() as usize);
            for name in names {
                let field = Reflect::get(value, &name).unwrap_or(JsValue::UNDEFINED);
                if field.is_undefined() {
                    continue;
                }
                let name = name.as_string().unwrap_or_default();
                let read = read_at(&field, depth + 1, budget).map_err(|e| e.in_field(&name))?;
                fields.push((name, read));
            }
            // Sorted once: an insert per key would shift the map once per key.
            Ok(Value::Object(crate::model::value::Object::from_entries(fields)))
        }
        _ => Err(ValueError::new(format!("expected plain data, found {}", describe(value)))),
    }
}

/// What kind of JavaScript value `value` is, for an error message.
fn describe(value: &JsValue) -> String {
    if value.is_function() {
        return "a function".into();
    }
    let constructor = Reflect::get(value, &"constructor".into()).unwrap_or(JsValue::UNDEFINED);
    match Reflect::get(&constructor, &"name".into()).ok().and_then(|n| n.as_string()) {
        Some(name) if value.is_object() => format!("a {name}"),
        _ => value.js_typeof().as_string().unwrap_or_default(),
    }
}
