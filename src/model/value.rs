//! [`Value`]: data as JSON and `structuredClone` both hold it, and how every
//! type that crosses a context boundary is written to it ([`ToValue`]) and
//! read back from it ([`FromValue`]), refusing anything else with a
//! [`ValueError`] that says what and where.
//!
//! The browser layer turns a `JsValue` into a `Value` (and back) in one
//! place; everything else reads and writes `Value`s, natively tested. Each
//! type's reading and writing is written out here and beside the type
//! rather than derived: a derived serializer compiles one copy of its
//! machinery per type and per format (a third of the wasm module).

use std::fmt;

use crate::model::map::Map;

/// Largest integer a JavaScript number carries exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The deepest nesting read from another context. A structured clone may
/// even be cyclic; nothing tabworker reads nests this deep.
pub const MAX_DEPTH: usize = 32;
/// The most keys one object read from another context may have.
pub const MAX_OBJECT_KEYS: usize = 4_096;
/// The most fields one frame read from another context may have: every
/// object's keys and every array's items, at every depth ([`crate::model::bounds`]).
pub const MAX_FRAME_FIELDS: usize = 65_536;

/// A JSON-shaped value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Value {
    /// `null` (and `undefined`, read from JavaScript).
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A finite number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// A plain object, its keys in order.
    Object(Object),
}

/// A plain object: its fields by name.
pub type Object = Map<String, Value>;

/// A finite number (JSON has no `NaN` or infinity).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
pub struct Number(f64);

// Finite floats compare as an equivalence: no NaN is ever held.
impl Eq for Number {}

impl Number {
    /// `value`, if it is finite.
    pub fn new(value: f64) -> Option<Number> {
        value.is_finite().then_some(Number(value))
    }

    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&number_text(self.0))
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({})", number_text(self.0))
    }
}

/// `n` as an error message shows it: whole numbers exactly, others to six
/// decimals, and `NaN` and the infinities by name. The standard float
/// formatter is not used: it alone is about 15 KB of the wasm module, for
/// numbers that only ever appear in error messages.
pub fn number_text(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    let sign = if n < 0.0 { "-" } else { "" };
    let magnitude = n.abs();
    if magnitude.is_infinite() {
        return format!("{sign}Infinity");
    }
    if magnitude >= 1e19 {
        return format!("{sign}1e19 or more");
    }
    // Below 1e19: the whole part fits in a u64, the fraction in six digits.
    let mut whole = magnitude.trunc() as u64;
    let mut fraction = ((magnitude - magnitude.trunc()) * 1e6).round() as u64;
    if fraction == 1_000_000 {
        (whole, fraction) = (whole + 1, 0);
    }
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:06}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// Why a value was refused: what was wrong, led by the field it was in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    /// A refusal saying `detail`.
    pub fn new(detail: impl Into<String>) -> ValueError {
        ValueError(detail.into())
    }

    /// `found` is not the `expected` kind of value.
    pub fn expected(expected: &str, found: &Value) -> ValueError {
        ValueError(format!("expected {expected}, found {}", found.kind()))
    }

    /// The same refusal, said to be in field `name`.
    pub fn in_field(self, name: &str) -> ValueError {
        ValueError(format!("`{name}`: {}", self.0))
    }
}

impl Value {
    /// What kind of value this is, as an error message says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// The object's fields, if this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The string, or a refusal saying `expected` was expected.
    pub fn text(&self, expected: &str) -> Result<&str, ValueError> {
        self.as_str().ok_or_else(|| ValueError::expected(expected, self))
    }

    /// The object's fields, or a refusal saying an object was expected.
    pub fn fields(&self) -> Result<&Object, ValueError> {
        self.as_object().ok_or_else(|| ValueError::expected("an object", self))
    }

    /// A number value; `None` for a non-finite `value`.
    pub fn number(value: f64) -> Option<Value> {
        Number::new(value).map(Value::Number)
    }

    /// The number, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.get()),
            _ => None,
        }
    }

    /// Field `name` of an object; `None` for a missing field or a value that is no object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(name))
    }

    /// An object of `fields`, in their order.
    pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

/// A number; `null` for `NaN` and the infinities, as `JSON.stringify` writes them.
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::number(n).unwrap_or(Value::Null)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

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

/// The fields of an object being read.
pub struct Fields<'a>(&'a Object);

impl<'a> Fields<'a> {
    /// The fields of `value`, which must be an object.
    pub fn of(value: &'a Value) -> Result<Fields<'a>, ValueError> {
        value.fields().map(Fields)
    }

    /// Field `name`, which must be there and not `null`.
    pub fn req<T: FromValue>(&self, name: &str) -> Result<T, ValueError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(ValueError(format!("missing field `{name}`"))),
            Some(value) => T::from_value(value).map_err(|e| e.in_field(name)),
        }
    }

    /// Field `name`; absent or `null` is `None`.
    pub fn opt<T: FromValue>(&self, name: &str) -> Result<Option<T>, ValueError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::from_value(value).map(Some).map_err(|e| e.in_field(name)),
        }
    }

    /// Field `name`; absent or `null` is the default.
    pub fn or_default<T: FromValue + Default>(&self, name: &str) -> Result<T, ValueError> {
        Ok(self.opt(name)?.unwrap_or_default())
    }

    /// The string field `name` that says which kind of message or state the
    /// object is.
    pub fn tag(&self, name: &str) -> Result<&'a str, ValueError> {
        match self.0.get(name) {
            Some(Value::String(tag)) => Ok(tag),
            Some(other) => Err(ValueError::expected("a string", other).in_field(name)),
            None => Err(ValueError(format!("missing field `{name}`"))),
        }
    }

    /// Refuses every field not named in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ValueError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => {
                Err(ValueError(format!("unknown field `{unknown}`, expected one of `{}`", known.join("`, `"))))
            }
            None => Ok(()),
        }
    }
}

/// An object being written, field by field.
#[derive(Default)]
pub struct Record(Object);

impl Record {
    /// An empty object.
    pub fn new() -> Record {
        Record::default()
    }

    /// An object whose field `name` is `tag`: the kind of message or state
    /// it is.
    pub fn tagged(name: &str, tag: &str) -> Record {
        Record::new().put(name, tag)
    }

    /// Adds field `name`.
    pub fn put<T: ToValue + ?Sized>(mut self, name: &str, value: &T) -> Record {
        self.0.insert(name.to_owned(), value.to_value());
        self
    }

    /// Adds field `name` when `value` is `Some`.
    pub fn put_opt<T: ToValue>(self, name: &str, value: &Option<T>) -> Record {
        match value {
            Some(value) => self.put(name, value),
            None => self,
        }
    }

    /// Adds the fields of `value`, an object (anything else adds nothing).
    pub fn merge(mut self, value: Value) -> Record {
        if let Value::Object(fields) = value {
            self.0.extend(fields);
        }
        self
    }

    /// The object.
    pub fn done(self) -> Value {
        Value::Object(self.0)
    }
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

/// Writes and reads a fieldless enum as its strings: `$variant => $text`.
macro_rules! string_enum {
    ($type:ty, $what:literal, { $($variant:path => $text:literal),+ $(,)? }) => {
        impl $type {
            /// The value as it travels (and as messages name it).
            pub fn as_str(&self) -> &'static str {
                match self { $($variant => $text),+ }
            }
        }

        impl $crate::model::value::ToValue for $type {
            fn to_value(&self) -> $crate::model::value::Value {
                $crate::model::value::Value::String(self.as_str().to_owned())
            }
        }

        impl $crate::model::value::FromValue for $type {
            fn from_value(
                value: &$crate::model::value::Value,
            ) -> Result<Self, $crate::model::value::ValueError> {
                match value.as_str() {
                    $(Some($text) => Ok($variant),)+
                    _ => Err($crate::model::value::ValueError::expected($what, value)),
                }
            }
        }
    };
}
pub(crate) use string_enum;

/// Writes and reads a struct as an object of its fields, named as in Rust:
/// `record!(Type { required, … ; optional a, … ; defaulted b, … })`.
/// Required fields must be there; optional ones (`Option`s) are left out
/// when `None` and read as `None` when absent or `null`; defaulted ones are
/// always written and read as their default when absent or `null`.
macro_rules! record {
    ($type:ident { $($req:ident),* $(; optional $($opt:ident),+)? $(; defaulted $($def:ident),+)? }) => {
        impl $crate::model::value::ToValue for $type {
            fn to_value(&self) -> $crate::model::value::Value {
                $crate::model::value::Record::new()
                    $(.put(stringify!($req), &self.$req))*
                    $($(.put_opt(stringify!($opt), &self.$opt))+)?
                    $($(.put(stringify!($def), &self.$def))+)?
                    .done()
            }
        }

        impl $crate::model::value::FromValue for $type {
            fn from_value(
                value: &$crate::model::value::Value,
            ) -> Result<Self, $crate::model::value::ValueError> {
                let _fields = $crate::model::value::Fields::of(value)?;
                Ok($type {
                    $($req: _fields.req(stringify!($req))?,)*
                    $($($opt: _fields.opt(stringify!($opt))?,)+)?
                    $($($def: _fields.or_default(stringify!($def))?,)+)?
                })
            }
        }
    };
}
pub(crate) use record;

#[cfg(any(test, not(target_arch = "wasm32")))]
mod json {
    //! Values as JSON text, natively: what tests and tools read and write.

    use super::{FromValue, MAX_SAFE_INTEGER, Number, ToValue, Value, ValueError};

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
}

#[cfg(any(test, not(target_arch = "wasm32")))]
pub use json::{from_json, from_json_text, to_json};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_by_name_with_absent_and_null_alike() {
        let value = Value::from(serde_json::json!({"a": 1, "b": null, "s": "x"}));
        let fields = Fields::of(&value).unwrap();
        assert_eq!(fields.req::<u32>("a"), Ok(1));
        assert_eq!(fields.opt::<u32>("b"), Ok(None));
        assert_eq!(fields.opt::<u32>("c"), Ok(None));
        assert_eq!(fields.req::<u32>("b").unwrap_err().to_string(), "missing field `b`");
        assert_eq!(fields.req::<u32>("s").unwrap_err().to_string(), "`s`: expected a number, found a string");
        assert_eq!(fields.or_default::<Vec<u32>>("c"), Ok(vec![]));
        assert!(fields.only(&["a", "b"]).unwrap_err().to_string().contains("unknown field `s`"));
        assert!(Fields::of(&Value::Array(vec![])).is_err());
    }

    #[test]
    fn whole_numbers_are_refused_out_of_range_or_with_a_fraction() {
        for (json, ok) in [("0", true), ("4294967295", true), ("4294967296", false), ("-1", false), ("1.5", false)] {
            assert_eq!(from_json_text::<u32>(json).is_ok(), ok, "{json}");
        }
        assert!(from_json_text::<u64>("9007199254740991").is_ok());
        assert!(from_json_text::<u64>("9007199254740992").is_err());
        assert!(Number::new(f64::NAN).is_none());
        assert!(Number::new(f64::INFINITY).is_none());
    }

    #[test]
    fn numbers_are_shown_without_the_float_formatter() {
        for (n, text) in [
            (0.0, "0"),
            (7.0, "7"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (2.0f64.powi(53), "9007199254740992"),
            (0.9999999, "1"),
            (1e300, "1e19 or more"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(number_text(n), text, "{n}");
        }
    }

    #[test]
    fn a_record_writes_only_the_fields_it_has() {
        let value = Record::tagged("type", "t").put("n", &7u32).put_opt::<String>("absent", &None).done();
        assert_eq!(to_json(&value).to_string(), r#"{"n":7,"type":"t"}"#);
    }
}
