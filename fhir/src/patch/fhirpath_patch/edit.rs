//! Mutable access to located elements, keeping `_name` primitive-extension siblings in step.

use serde_json::{Map, Value};

use super::super::fhirpath::Step;

/// The value at `steps` from `root`, if it still exists.
pub(crate) fn value_mut<'v>(root: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    let mut current = root;
    for step in steps {
        current = current.get_mut(&step.key)?;
        if let Some(i) = step.index {
            current = current.get_mut(i)?;
        }
    }
    Some(current)
}

/// Removes the element at `step` from `object`; an emptied list is removed too (FHIR JSON has no
/// empty arrays), and so is the matching entry of the `_key` sibling.
pub(crate) fn remove(object: &mut Map<String, Value>, step: &Step) {
    let Some(i) = step.index else {
        object.shift_remove(&step.key);
        object.shift_remove(&shadow_key(&step.key));
        return;
    };
    if let Some(Value::Array(items)) = object.get_mut(&step.key) {
        if i < items.len() {
            items.remove(i);
        }
        if items.is_empty() {
            object.shift_remove(&step.key);
        }
    }
    edit_shadow(object, &step.key, |shadow| {
        if i < shadow.len() {
            shadow.remove(i);
        }
    });
}

/// Inserts `value` at `index` of the list `key` (created when absent; the caller checked bounds).
pub(crate) fn insert(object: &mut Map<String, Value>, key: &str, index: usize, value: Value) {
    match object.get_mut(key) {
        Some(Value::Array(items)) => items.insert(index.min(items.len()), value),
        _ => {
            object.insert(key.to_string(), Value::Array(vec![value]));
        }
    }
    edit_shadow(object, key, |shadow| {
        shadow.insert(index.min(shadow.len()), Value::Null)
    });
}

/// Moves the item at `source` of the list `key` to `destination` (both checked by the caller).
pub(crate) fn move_item(
    object: &mut Map<String, Value>,
    key: &str,
    source: usize,
    destination: usize,
) {
    let shift = |items: &mut Vec<Value>| {
        if source < items.len() && destination < items.len() {
            let item = items.remove(source);
            items.insert(destination, item);
        }
    };
    if let Some(Value::Array(items)) = object.get_mut(key) {
        shift(items);
    }
    edit_shadow(object, key, shift);
}

/// Renames `old` to `new` in place, keeping its position in the object.
pub(crate) fn rename(object: &mut Map<String, Value>, old: &str, new: &str, value: Value) {
    let position = object.keys().position(|k| k == old).unwrap_or(object.len());
    object.shift_remove(old);
    let position = position.min(object.len());
    object.shift_insert(position, new.to_string(), value);
}

fn shadow_key(key: &str) -> String {
    format!("_{key}")
}

/// Applies `edit` to the `_key` array that parallels a primitive list, dropping it when it no
/// longer carries anything.
fn edit_shadow(object: &mut Map<String, Value>, key: &str, edit: impl FnOnce(&mut Vec<Value>)) {
    let shadow = shadow_key(key);
    if let Some(Value::Array(items)) = object.get_mut(&shadow) {
        edit(items);
        if items.iter().all(Value::is_null) {
            object.shift_remove(&shadow);
        }
    }
}
