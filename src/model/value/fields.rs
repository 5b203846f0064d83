//! Reading an object field by field ([`Fields`]) and writing one
//! ([`Record`]), and the macros that do both for a struct or a fieldless
//! enum.

use super::convert::{FromValue, ToValue};
use super::data::{Object, Value, ValueError};

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

/// Writes and reads a fieldless enum as its strings: `$variant => $text`.
macro_rules! string_enum {
    ($type:ty, $what:literal, { $($variant:path => $text:literal),+ $(,)? }) => {
        impl $type {
            /// The value as it travels (and as messages name it).
            pub fn as_str(&self) -> &'static str {
                match self { $($variant => $text),+ }
            }
        }

        impl $crate::model::value::convert::ToValue for $type {
            fn to_value(&self) -> $crate::model::value::data::Value {
                $crate::model::value::data::Value::String(self.as_str().to_owned())
            }
        }

        impl $crate::model::value::convert::FromValue for $type {
            fn from_value(
                value: &$crate::model::value::data::Value,
            ) -> Result<Self, $crate::model::value::data::ValueError> {
                match value.as_str() {
                    $(Some($text) => Ok($variant),)+
                    _ => Err($crate::model::value::data::ValueError::expected($what, value)),
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
        impl $crate::model::value::convert::ToValue for $type {
            fn to_value(&self) -> $crate::model::value::data::Value {
                $crate::model::value::fields::Record::new()
                    $(.put(stringify!($req), &self.$req))*
                    $($(.put_opt(stringify!($opt), &self.$opt))+)?
                    $($(.put(stringify!($def), &self.$def))+)?
                    .done()
            }
        }

        impl $crate::model::value::convert::FromValue for $type {
            fn from_value(
                value: &$crate::model::value::data::Value,
            ) -> Result<Self, $crate::model::value::data::ValueError> {
                let _fields = $crate::model::value::fields::Fields::of(value)?;
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
