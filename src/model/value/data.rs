//! The value itself: [`Value`], its numbers, its objects, and the error
//! that says why a value was refused.

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
/// object's keys and every array's items, at every depth (see `model/bounds.rs`).
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
pub struct Number(pub(super) f64);

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
pub struct ValueError(pub(super) String);

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
