//! Applying FHIRPath Patch operations to a resource.

use serde_json::{Map, Value};

use super::super::fhirpath::{self, Expr, Location, capitalise};
use super::super::{ElementModel, PatchError};
use super::edit;
use super::params::{Operation, PatchValue};

pub(crate) struct Patcher<'m> {
    pub(crate) model: &'m dyn ElementModel,
}

impl Patcher<'_> {
    pub(crate) fn apply(
        &self,
        resource: &mut Value,
        operation: &Operation,
    ) -> Result<(), PatchError> {
        match operation {
            Operation::Add { path, name, value } => self.add(resource, path, name, value),
            Operation::Insert { path, index, value } => self.insert(resource, path, *index, value),
            Operation::Delete { path } => delete(resource, path),
            Operation::Replace { path, value } => self.replace(resource, path, value),
            Operation::Move {
                path,
                source,
                destination,
            } => move_within(resource, path, *source, *destination),
        }
    }

    /// Appends to the list `name` of the one element at `path`, or sets `name` when it is absent.
    fn add(
        &self,
        resource: &mut Value,
        path: &str,
        name: &str,
        value: &PatchValue,
    ) -> Result<(), PatchError> {
        let location = single(path, locate(resource, path, &parse(path)?)?)?;
        let parent_path = location.element_path(&resource_type(resource));
        let (key, base) = self.element_key(name, value, &parent_path)?;
        let element_path = format!("{parent_path}.{base}");
        let json = self.build(value, &element_path)?;
        let object = object_at(resource, &location, path)?;
        match object.get_mut(&key) {
            Some(Value::Array(items)) => items.push(json),
            Some(_) => {
                return Err(PatchError::NotApplicable(format!(
                    "'{key}' at '{path}' already has a value; use replace"
                )));
            }
            None if self.model.is_repeating(&element_path) == Some(true) => {
                object.insert(key, Value::Array(vec![json]));
            }
            None => {
                object.insert(key, json);
            }
        }
        Ok(())
    }

    /// Inserts into the list `path` names (created when absent) at `index`.
    fn insert(
        &self,
        resource: &mut Value,
        path: &str,
        index: usize,
        value: &PatchValue,
    ) -> Result<(), PatchError> {
        let (parent, key) = list_of(resource, path)?;
        let element_path = format!("{}.{key}", parent.element_path(&resource_type(resource)));
        let json = self.build(value, &element_path)?;
        let object = object_at(resource, &parent, path)?;
        let len = match object.get(&key) {
            None => 0,
            Some(Value::Array(items)) => items.len(),
            Some(_) => return Err(PatchError::NotApplicable(format!("'{path}' is not a list"))),
        };
        if index > len {
            return Err(PatchError::NotApplicable(format!(
                "index {index} is past the end of '{path}', which has {len} items"
            )));
        }
        edit::insert(object, &key, index, json);
        Ok(())
    }

    /// Replaces the one element at `path`; a choice element found by its base name is renamed
    /// to the new value's type (`valueQuantity` → `valueString`).
    fn replace(
        &self,
        resource: &mut Value,
        path: &str,
        value: &PatchValue,
    ) -> Result<(), PatchError> {
        let location = single(path, locate(resource, path, &parse(path)?)?)?;
        let element_path = location.element_path(&resource_type(resource));
        let json = self.build(value, &element_path)?;
        let Some((last, parent_steps)) = location.steps.split_last() else {
            return Err(PatchError::NotApplicable(
                "cannot replace the resource itself".into(),
            ));
        };
        let parent = Location {
            steps: parent_steps.to_vec(),
            choice_base: None,
        };
        let object = object_at(resource, &parent, path)?;
        let renamed = match (&location.choice_base, value) {
            (Some(base), PatchValue::Typed { type_name, .. }) if last.index.is_none() => {
                Some(format!("{base}{}", capitalise(type_name))).filter(|key| *key != last.key)
            }
            _ => None,
        };
        match renamed {
            Some(key) => edit::rename(object, &last.key, &key, json),
            None => {
                let target = object.get_mut(&last.key).and_then(|v| match last.index {
                    Some(i) => v.get_mut(i),
                    None => Some(v),
                });
                match target {
                    Some(target) => *target = json,
                    None => {
                        return Err(PatchError::NoMatch {
                            path: path.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The JSON key for `name` and its base name (without a choice type).
    fn element_key(
        &self,
        name: &str,
        value: &PatchValue,
        parent_path: &str,
    ) -> Result<(String, String), PatchError> {
        let (base, choice) = match name.strip_suffix("[x]") {
            Some(base) => (base, true),
            None => (
                name,
                self.model.is_choice(&format!("{parent_path}.{name}")) == Some(true),
            ),
        };
        if base.is_empty() || base.starts_with('_') || base.contains(['.', '[', ']']) {
            return Err(PatchError::Malformed(format!(
                "'{name}' is not an element name"
            )));
        }
        if !choice {
            return Ok((name.to_string(), name.to_string()));
        }
        match value {
            PatchValue::Typed { type_name, .. } => {
                Ok((format!("{base}{}", capitalise(type_name)), base.to_string()))
            }
            PatchValue::Parts(_) => Err(PatchError::Malformed(format!(
                "choice element '{name}' needs a value[x], not parts"
            ))),
        }
    }

    /// The JSON for a patch value; parts become an object, repeated or repeating names a list.
    fn build(&self, value: &PatchValue, element_path: &str) -> Result<Value, PatchError> {
        let fields = match value {
            PatchValue::Typed { json, .. } => return Ok(json.clone()),
            PatchValue::Parts(fields) => fields,
        };
        let mut object = Map::new();
        for (name, field) in fields {
            let (key, base) = self.element_key(name, field, element_path)?;
            let child_path = format!("{element_path}.{base}");
            let json = self.build(field, &child_path)?;
            match object.get_mut(&key) {
                Some(Value::Array(items)) => items.push(json),
                Some(existing) => *existing = Value::Array(vec![existing.take(), json]),
                None if self.model.is_repeating(&child_path) == Some(true) => {
                    object.insert(key, Value::Array(vec![json]));
                }
                None => {
                    object.insert(key, json);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// Deletes the element at `path` if there is one; more than one is an error.
fn delete(resource: &mut Value, path: &str) -> Result<(), PatchError> {
    let mut locations = locate(resource, path, &parse(path)?)?;
    let location = match locations.len() {
        0 => return Ok(()),
        1 => locations.remove(0),
        count => {
            return Err(PatchError::MultipleMatches {
                path: path.to_string(),
                count,
            });
        }
    };
    let Some((last, parent_steps)) = location.steps.split_last() else {
        return Err(PatchError::NotApplicable(
            "cannot delete the resource itself".into(),
        ));
    };
    let parent = Location {
        steps: parent_steps.to_vec(),
        choice_base: None,
    };
    edit::remove(object_at(resource, &parent, path)?, last);
    Ok(())
}

/// Moves an item of the list `path` names from `source` to `destination`.
fn move_within(
    resource: &mut Value,
    path: &str,
    source: usize,
    destination: usize,
) -> Result<(), PatchError> {
    let (parent, key) = list_of(resource, path)?;
    let object = object_at(resource, &parent, path)?;
    let len = match object.get(&key) {
        None => {
            return Err(PatchError::NoMatch {
                path: path.to_string(),
            });
        }
        Some(Value::Array(items)) => items.len(),
        Some(_) => return Err(PatchError::NotApplicable(format!("'{path}' is not a list"))),
    };
    if source >= len || destination >= len {
        return Err(PatchError::NotApplicable(format!(
            "move from {source} to {destination} is outside '{path}', which has {len} items"
        )));
    }
    edit::move_item(object, &key, source, destination);
    Ok(())
}

/// For insert and move: `path` must end in an element name; the rest must match one element.
fn list_of(resource: &Value, path: &str) -> Result<(Location, String), PatchError> {
    let (parent, key) = match parse(path)? {
        Expr::Member(parent, key) => (*parent, key),
        Expr::Ident(key) => (Expr::This, key),
        _ => {
            return Err(PatchError::Malformed(format!(
                "path '{path}' must end in the name of a list element"
            )));
        }
    };
    if key.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(PatchError::Malformed(format!(
            "path '{path}' must end in the name of a list element"
        )));
    }
    let parent = single(path, locate(resource, path, &parent)?)?;
    Ok((parent, key))
}

fn parse(path: &str) -> Result<Expr, PatchError> {
    fhirpath::parse(path).map_err(|source| PatchError::BadPath {
        path: path.to_string(),
        source,
    })
}

/// The locations `expr` selects; a computed value (e.g. `exists()`) is not an element.
fn locate(resource: &Value, path: &str, expr: &Expr) -> Result<Vec<Location>, PatchError> {
    let nodes = fhirpath::evaluate(expr, resource).map_err(|source| PatchError::BadPath {
        path: path.to_string(),
        source,
    })?;
    nodes
        .into_iter()
        .map(|node| {
            node.location.ok_or_else(|| {
                PatchError::Malformed(format!(
                    "path '{path}' selects a computed value, not an element"
                ))
            })
        })
        .collect()
}

fn single(path: &str, mut locations: Vec<Location>) -> Result<Location, PatchError> {
    match locations.len() {
        0 => Err(PatchError::NoMatch {
            path: path.to_string(),
        }),
        1 => Ok(locations.remove(0)),
        count => Err(PatchError::MultipleMatches {
            path: path.to_string(),
            count,
        }),
    }
}

fn object_at<'v>(
    resource: &'v mut Value,
    location: &Location,
    path: &str,
) -> Result<&'v mut Map<String, Value>, PatchError> {
    match edit::value_mut(resource, &location.steps) {
        Some(Value::Object(object)) => Ok(object),
        Some(_) => Err(PatchError::NotApplicable(format!(
            "'{path}' is a primitive, not an element with children"
        ))),
        None => Err(PatchError::NoMatch {
            path: path.to_string(),
        }),
    }
}

fn resource_type(resource: &Value) -> String {
    resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("Resource")
        .to_string()
}
