//! How much of a frame from another context is read: nested at most
//! [`MAX_DEPTH`] deep, at most [`MAX_OBJECT_KEYS`] keys per object and
//! [`MAX_FRAME_FIELDS`] fields in all (every object's keys and every
//! array's items, at every depth).
//!
//! The browser layer counts a frame's fields with a [`FieldBudget`] while it
//! reads it, so that an object of a million keys is refused before one of
//! them is read; [`check`] walks a value already read (a frame decoded
//! natively, or by the browser layer: every frame decoded passes it).

use crate::model::value::{MAX_DEPTH, MAX_FRAME_FIELDS, MAX_OBJECT_KEYS, Value, ValueError};

/// The fields one frame may still have.
#[derive(Debug)]
pub struct FieldBudget {
    left: usize,
}

impl Default for FieldBudget {
    fn default() -> Self {
        FieldBudget { left: MAX_FRAME_FIELDS }
    }
}

impl FieldBudget {
    /// The budget of a whole frame: [`MAX_FRAME_FIELDS`].
    pub fn new() -> Self {
        FieldBudget::default()
    }

    /// An object of `keys` keys is read next: refused past
    /// [`MAX_OBJECT_KEYS`] or past what is left of the frame's fields.
    pub fn object(&mut self, keys: usize) -> Result<(), ValueError> {
        if keys > MAX_OBJECT_KEYS {
            return Err(ValueError::new(format!("an object of {keys} keys; at most {MAX_OBJECT_KEYS} are read")));
        }
        self.take(keys)
    }

    /// An array of `items` items is read next: refused past what is left of
    /// the frame's fields.
    pub fn array(&mut self, items: usize) -> Result<(), ValueError> {
        self.take(items)
    }

    fn take(&mut self, fields: usize) -> Result<(), ValueError> {
        self.left = self.left.checked_sub(fields).ok_or_else(|| {
            ValueError::new(format!("more than {MAX_FRAME_FIELDS} fields in one frame; no more are read"))
        })?;
        Ok(())
    }
}

/// Refuses `value` if it nests deeper than [`MAX_DEPTH`] or has more
/// fields than a [`FieldBudget`] allows.
pub fn check(value: &Value) -> Result<(), ValueError> {
    check_at(value, 0, &mut FieldBudget::new())
}

fn check_at(value: &Value, depth: usize, budget: &mut FieldBudget) -> Result<(), ValueError> {
    if !matches!(value, Value::Array(_) | Value::Object(_)) {
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Err(ValueError::new(format!("nested deeper than {MAX_DEPTH}")));
    }
    match value {
        Value::Array(items) => {
            budget.array(items.len())?;
            items.iter().try_for_each(|inner| check_at(inner, depth + 1, budget))
        }
        Value::Object(fields) => {
            budget.object(fields.len())?;
            fields.values().try_for_each(|inner| check_at(inner, depth + 1, budget))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::map::Map;

    fn object(keys: usize) -> Value {
        Value::Object(Map::from_entries((0..keys).map(|k| (format!("k{k}"), Value::Null)).collect()))
    }

    #[test]
    fn an_object_of_more_keys_than_the_bound_is_refused() {
        assert_eq!(check(&object(MAX_OBJECT_KEYS)), Ok(()));
        let refused = check(&object(100_000)).unwrap_err();
        assert!(refused.to_string().contains("at most 4096"), "{refused}");
        assert!(FieldBudget::new().object(MAX_OBJECT_KEYS + 1).is_err());
    }

    #[test]
    fn a_frame_of_more_fields_than_the_bound_is_refused_whatever_their_shape() {
        let each = MAX_OBJECT_KEYS;
        let objects = MAX_FRAME_FIELDS / (each + 1);
        let within = Value::Array((0..objects).map(|_| object(each)).collect());
        assert_eq!(check(&within), Ok(()));
        let past = Value::Array((0..=objects).map(|_| object(each)).collect());
        assert!(check(&past).unwrap_err().to_string().contains("fields in one frame"));
        let items = Value::Array(vec![Value::Null; MAX_FRAME_FIELDS + 1]);
        assert!(check(&items).is_err(), "array items count too");
        let mut budget = FieldBudget::new();
        assert!(budget.array(MAX_FRAME_FIELDS).is_ok() && budget.object(1).is_err(), "one budget per frame");
    }

    #[test]
    fn a_value_nested_deeper_than_the_bound_is_refused() {
        let nest = |depth| (0..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]));
        assert_eq!(check(&nest(MAX_DEPTH)), Ok(()));
        assert!(check(&nest(MAX_DEPTH + 1)).unwrap_err().to_string().contains("nested deeper"));
    }
}
