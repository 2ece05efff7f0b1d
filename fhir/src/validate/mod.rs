//! Validation of every write against the R4 model and the JSON format rules (json.html,
//! datatypes.html): known elements only, JSON shapes and cardinality, primitive formats,
//! one branch per choice, required code bindings, nested resources by their own type, and the
//! Resource / DomainResource / Extension invariants dom-2 .. dom-5 and ext-1.
//!
//! Issues are collected (up to [`MAX_ISSUES`]) with a FHIRPath-like `expression`
//! (`Patient.name[0].given[1]`); expressions are only rendered when something is reported.

mod datetime;
mod invariants;
mod path;
mod primitive;
mod walk;

use serde_json::Value;

use crate::ids::ResourceType;
use crate::model::type_definition;
use crate::outcome::{Issue, IssueCode};

pub use datetime::{check_date, check_date_time, check_instant, check_time};
pub use primitive::{check_primitive, check_string};
pub use walk::MAX_ISSUES;

/// Validates a resource; returns its type, or every issue found (all of severity error).
pub fn validate_resource(value: &Value) -> Result<ResourceType, Vec<Issue>> {
    let mut walker = walk::Walker::new();
    let resource_type = walker.root(value);
    match resource_type {
        Some(rt) if walker.issues.is_empty() => Ok(rt),
        _ => Err(walker.issues),
    }
}

/// Validates a resource that must be of type `expected` (e.g. the type in the request URL).
pub fn validate_resource_as(value: &Value, expected: ResourceType) -> Result<(), Vec<Issue>> {
    let actual = validate_resource(value)?;
    if actual == expected {
        Ok(())
    } else {
        Err(vec![
            Issue::error(
                IssueCode::Invalid,
                format!("expected a {expected} resource, got {actual}"),
            )
            .at("resourceType"),
        ])
    }
}

/// Validates a value of a complex datatype (`HumanName`, `Quantity`, `Extension`...).
/// Expressions start with the type name.
pub fn validate_datatype(value: &Value, type_code: &str) -> Result<(), Vec<Issue>> {
    let Some(def) =
        type_definition(type_code).filter(|d| d.primitive.is_none() && !d.is_resource())
    else {
        return Err(vec![Issue::error(
            IssueCode::NotSupported,
            format!("'{type_code}' is not a complex datatype"),
        )]);
    };
    let mut walker = walk::Walker::new();
    walker.datatype(value, &def.name, def.elements());
    if walker.issues.is_empty() {
        Ok(())
    } else {
        Err(walker.issues)
    }
}

#[cfg(test)]
mod tests;
