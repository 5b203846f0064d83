//! How each type of the standard library is written to a [`Value`] and
//! read back from it; the traits every other type implements beside it.

use super::data::{MAX_SAFE_INTEGER, Number, Value, ValueError, number_text};
use crate::model::map::Map;

/// A type written as a [`Value`].
pub trait ToValue {
    /// This as a value.
    fn to_value(&self) -> Value;
}

/// A type read from a [`Value`].
pub trait FromValue: Sized {
    /// Reads `value`, refusing what is not a well-formed `Self`.
    fn from_value(value: &Value) -> Result<Self, ValueError>;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Value, ValueError> {
        Ok(value.clone())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<bool, ValueError> {
        match value {
            Value::Bool(flag) => Ok(*flag),
            other => Err(ValueError::expected("a boolean", other)),
        }
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::String(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<String, ValueError> {
        value.text("a string").map(str::to_owned)
    }
}

impl ToValue for Number {
    fn to_value(&self) -> Value {
        Value::Number(*self)
    }
}

impl FromValue for Number {
    fn from_value(value: &Value) -> Result<Number, ValueError> {
        match value {
            Value::Number(n) => Ok(*n),
            other => Err(ValueError::expected("a number", other)),
        }
    }
}

/// The whole number `value` holds, from 0 to `max`.
fn whole(value: &Value, max: u64) -> Result<u64, ValueError> {
    let n = Number::from_value(value)?.get();
    if n.fract() != 0.0 || n < 0.0 || n > max as f64 {
        return Err(ValueError(format!("expected a whole number from 0 to {max}, found {}", number_text(n))));
    }
    Ok(n as u64)
}

impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Number(Number(f64::from(*self)))
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> Result<u32, ValueError> {
        // In range: `whole` checked it.
        whole(value, u64::from(u32::MAX)).map(|n| n as u32)
    }
}

impl ToValue for u64 {
    /// Exact up to `Number.MAX_SAFE_INTEGER`, which is all tabworker counts.
    fn to_value(&self) -> Value {
        Value::Number(Number(*self as f64))
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> Result<u64, ValueError> {
        whole(value, MAX_SAFE_INTEGER)
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
}

impl<T: ToValue + ?Sized> ToValue for Box<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: FromValue> FromValue for Box<T> {
    fn from_value(value: &Value) -> Result<Box<T>, ValueError> {
        T::from_value(value).map(Box::new)
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::Array(self.iter().map(T::to_value).collect())
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Vec<T>, ValueError> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| T::from_value(item).map_err(|e| e.in_field(&i.to_string())))
                .collect(),
            other => Err(ValueError::expected("an array", other)),
        }
    }
}

impl<T: ToValue> ToValue for Map<String, T> {
    fn to_value(&self) -> Value {
        Value::Object(self.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
    }
}

impl<T: FromValue> FromValue for Map<String, T> {
    fn from_value(value: &Value) -> Result<Map<String, T>, ValueError> {
        let object = value.fields()?;
        object.iter().map(|(k, v)| Ok((k.clone(), T::from_value(v).map_err(|e| e.in_field(k))?))).collect()
    }
}
