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

pub(crate) mod convert;
pub(crate) mod data;
pub(crate) mod fields;
#[cfg(any(test, not(target_arch = "wasm32")))]
mod json;

pub use convert::{FromValue, ToValue};
pub use data::{
    MAX_DEPTH, MAX_FRAME_FIELDS, MAX_OBJECT_KEYS, MAX_SAFE_INTEGER, Number, Object, Value, ValueError, number_text,
};
pub use fields::{Fields, Record};
pub(crate) use fields::{record, string_enum};
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
