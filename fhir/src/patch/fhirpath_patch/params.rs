//! Reading a FHIRPath Patch `Parameters` resource into a list of operations.

use serde_json::{Map, Value};

use super::super::PatchError;

/// One `operation` parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operation {
    Add {
        path: String,
        name: String,
        value: PatchValue,
    },
    Insert {
        path: String,
        index: usize,
        value: PatchValue,
    },
    Delete {
        path: String,
    },
    Replace {
        path: String,
        value: PatchValue,
    },
    Move {
        path: String,
        source: usize,
        destination: usize,
    },
}

/// The `value` part: a `value[x]` with its type, or a complex value given as nested parts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PatchValue {
    /// `valueQuantity: {...}` → type `Quantity`.
    Typed { type_name: String, json: Value },
    /// `part: [{name, value[x] | part}, ...]`, in order.
    Parts(Vec<(String, PatchValue)>),
}

pub(crate) fn read_operations(parameters: &Value) -> Result<Vec<Operation>, PatchError> {
    if parameters.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(malformed("a FHIRPath Patch must be a Parameters resource"));
    }
    let Some(entries) = optional_array(parameters, "parameter")? else {
        return Ok(Vec::new());
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| read_operation(entry).map_err(|e| in_operation(i, e)))
        .collect()
}

fn in_operation(i: usize, error: PatchError) -> PatchError {
    match error {
        PatchError::Malformed(message) => {
            PatchError::Malformed(format!("parameter {}: {message}", i + 1))
        }
        other => other,
    }
}

#[derive(Default)]
struct Parts {
    kind: Option<String>,
    path: Option<String>,
    name: Option<String>,
    value: Option<PatchValue>,
    index: Option<usize>,
    source: Option<usize>,
    destination: Option<usize>,
}

fn read_operation(entry: &Value) -> Result<Operation, PatchError> {
    let entry = entry
        .as_object()
        .ok_or_else(|| malformed("a parameter must be an object"))?;
    match entry.get("name").and_then(Value::as_str) {
        Some("operation") => {}
        Some(other) => {
            return Err(malformed(format!(
                "unexpected parameter '{other}', expected 'operation'"
            )));
        }
        None => return Err(malformed("a parameter has no name")),
    }
    let mut parts = Parts::default();
    for part in optional_array_in(entry, "part")?.into_iter().flatten() {
        let part = part
            .as_object()
            .ok_or_else(|| malformed("a part must be an object"))?;
        let name = part
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a part has no name"))?;
        let filled = match name {
            "type" => set(
                &mut parts.kind,
                primitive(part, name, &["valueCode", "valueString"])?,
            ),
            "path" => set(&mut parts.path, primitive(part, name, &["valueString"])?),
            "name" => set(&mut parts.name, primitive(part, name, &["valueString"])?),
            "value" => set(&mut parts.value, read_value(part, name)?),
            "index" => set(&mut parts.index, integer(part, name)?),
            "source" => set(&mut parts.source, integer(part, name)?),
            "destination" => set(&mut parts.destination, integer(part, name)?),
            _ => return Err(malformed(format!("unknown part '{name}'"))),
        };
        if !filled {
            return Err(malformed(format!("part '{name}' is repeated")));
        }
    }
    let kind = parts
        .kind
        .take()
        .ok_or_else(|| malformed("operation has no 'type'"))?;
    let need = |what: &str| malformed(format!("{kind} operation needs '{what}'"));
    let path = parts.path.take().ok_or_else(|| need("path"))?;
    Ok(match kind.as_str() {
        "add" => Operation::Add {
            path,
            name: parts.name.take().ok_or_else(|| need("name"))?,
            value: parts.value.take().ok_or_else(|| need("value"))?,
        },
        "insert" => Operation::Insert {
            path,
            index: parts.index.ok_or_else(|| need("index"))?,
            value: parts.value.take().ok_or_else(|| need("value"))?,
        },
        "delete" => Operation::Delete { path },
        "replace" => Operation::Replace {
            path,
            value: parts.value.take().ok_or_else(|| need("value"))?,
        },
        "move" => Operation::Move {
            path,
            source: parts.source.ok_or_else(|| need("source"))?,
            destination: parts.destination.ok_or_else(|| need("destination"))?,
        },
        other => return Err(malformed(format!("unknown operation type '{other}'"))),
    })
}

/// Stores `value` unless the slot is taken; false when it was.
fn set<T>(slot: &mut Option<T>, value: T) -> bool {
    let was_empty = slot.is_none();
    if was_empty {
        *slot = Some(value);
    }
    was_empty
}

fn primitive(part: &Map<String, Value>, name: &str, keys: &[&str]) -> Result<String, PatchError> {
    keys.iter()
        .find_map(|key| part.get(*key).and_then(Value::as_str))
        .map(str::to_string)
        .ok_or_else(|| malformed(format!("part '{name}' needs {}", keys.join(" or "))))
}

fn integer(part: &Map<String, Value>, name: &str) -> Result<usize, PatchError> {
    part.get("valueInteger")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| malformed(format!("part '{name}' needs a non-negative valueInteger")))
}

/// A part's value: its one `value[x]`, or its nested parts assembled recursively.
fn read_value(part: &Map<String, Value>, name: &str) -> Result<PatchValue, PatchError> {
    let mut typed = part.iter().filter_map(|(key, json)| {
        let type_name = key.strip_prefix("value")?;
        type_name
            .starts_with(|c: char| c.is_ascii_uppercase())
            .then_some((type_name, json))
    });
    let first = typed.next();
    if typed.next().is_some() {
        return Err(malformed(format!(
            "part '{name}' has more than one value[x]"
        )));
    }
    match (first, part.get("part")) {
        (Some(_), Some(_)) => Err(malformed(format!(
            "part '{name}' has both a value[x] and parts"
        ))),
        (Some((type_name, json)), None) => Ok(PatchValue::Typed {
            type_name: type_name.to_string(),
            json: json.clone(),
        }),
        (None, Some(_)) => {
            let mut fields = Vec::new();
            for sub in optional_array_in(part, "part")?.into_iter().flatten() {
                let sub = sub
                    .as_object()
                    .ok_or_else(|| malformed("a part must be an object"))?;
                let sub_name = sub
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("a part has no name"))?;
                fields.push((sub_name.to_string(), read_value(sub, sub_name)?));
            }
            Ok(PatchValue::Parts(fields))
        }
        (None, None) => Err(malformed(format!(
            "part '{name}' has no value[x] and no parts"
        ))),
    }
}

fn optional_array<'v>(value: &'v Value, key: &str) -> Result<Option<&'v Vec<Value>>, PatchError> {
    match value.as_object() {
        Some(object) => optional_array_in(object, key),
        None => Ok(None),
    }
}

fn optional_array_in<'v>(
    object: &'v Map<String, Value>,
    key: &str,
) -> Result<Option<&'v Vec<Value>>, PatchError> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(malformed(format!("'{key}' must be an array"))),
    }
}

fn malformed(message: impl Into<String>) -> PatchError {
    PatchError::Malformed(message.into())
}
