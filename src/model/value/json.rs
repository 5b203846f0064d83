//! Values as JSON text, natively: what tests and tools read and write.

use super::convert::{FromValue, ToValue};
use super::data::{MAX_SAFE_INTEGER, Number, Value, ValueError};

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(flag) => Value::Bool(flag),
            // serde_json holds only finite numbers.
            serde_json::Value::Number(n) => Value::Number(Number(n.as_f64().unwrap_or(f64::MAX))),
            serde_json::Value::String(text) => Value::String(text),
            serde_json::Value::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(fields) => {
                Value::Object(fields.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<Value> for serde_json::Value {
    fn from(value: Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(flag) => serde_json::Value::Bool(flag),
            Value::Number(n) => {
                let n = n.get();
                if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 {
                    // A whole number in the exact range is written as an integer, like JSON.stringify.
                    serde_json::Value::from(n as i64)
                } else {
                    serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
                }
            }
            Value::String(text) => serde_json::Value::String(text),
            Value::Array(items) => serde_json::Value::Array(items.into_iter().map(Into::into).collect()),
            Value::Object(fields) => {
                serde_json::Value::Object(fields.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

/// `value` as a JSON value.
pub fn to_json<T: ToValue + ?Sized>(value: &T) -> serde_json::Value {
    value.to_value().into()
}

/// A `T` read from a JSON value.
pub fn from_json<T: FromValue>(json: serde_json::Value) -> Result<T, ValueError> {
    T::from_value(&json.into())
}

/// A `T` read from JSON text.
pub fn from_json_text<T: FromValue>(text: &str) -> Result<T, ValueError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| ValueError::new(e.to_string()))?;
    from_json(json)
}
