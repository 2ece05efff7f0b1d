//! FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): a `Parameters` resource of `add`,
//! `insert`, `delete`, `replace` and `move` operations addressed by FHIRPath.

mod apply;
mod edit;
mod params;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::Issue;

use super::{ElementModel, R4Model};
use apply::Patcher;

/// Applies the FHIRPath Patch `parameters` to `resource`, all or nothing, knowing nothing of
/// the element model. See [`apply_fhirpath_patch_with`] for the rules.
pub fn apply_fhirpath_patch(resource: &mut Value, parameters: &Value) -> Result<(), Issue> {
    apply_fhirpath_patch_with(resource, parameters, &R4Model)
}

/// Applies the FHIRPath Patch `parameters` to `resource`, all or nothing, asking `model` what
/// the JSON cannot say.
///
/// - `add`: `path` must match one element; `name` is appended to it if it is a list there, set
///   if absent (as a one-item list when `model` says it repeats), and an error if it already
///   holds a single value.
/// - `insert`: `path` ends in the list's name (`Patient.identifier`); the rest must match one
///   element; `index` may equal the length (append). An absent list is created.
/// - `delete`: matching nothing is fine; matching more than one is an error. Emptied lists are
///   dropped.
/// - `replace`: `path` must match one element. A choice element reached by its base name
///   (`Observation.value`) takes the new value's type (`valueQuantity` → `valueString`).
/// - `move`: `path` names the list, as for insert; `source` and `destination` are indexes into
///   it (the item is removed, then inserted at `destination`).
///
/// Choice names: without a model that says `name` is a choice element, the JSON key is `name`
/// as given, unless it ends in `[x]`: then `[x]` is replaced by the value's type, taken from
/// its `value[x]` key (`name` = `deceased[x]` with `valueBoolean` → `deceasedBoolean`). A
/// complex value given as nested parts becomes an object; a name given twice becomes a list,
/// and a name given once is a list only when `model` says it repeats — so without a model,
/// adding a `contact` with one `telecom` part yields `"telecom": {...}`, not a list.
///
/// A malformed `Parameters`, an unknown operation, a missing part or a FHIRPath syntax error is
/// `invalid`; a path matching no element (except for delete) or several, an index out of range
/// and similar mismatches with this resource are `processing`. The diagnostics name the
/// operation by its 1-based position. Whether the patched resource is still valid (types,
/// cardinalities, `id` and `resourceType` unchanged) is for the caller's validation.
pub fn apply_fhirpath_patch_with(
    resource: &mut Value,
    parameters: &Value,
    model: &dyn ElementModel,
) -> Result<(), Issue> {
    let operations = params::read_operations(parameters).map_err(Issue::from)?;
    let patcher = Patcher { model };
    let mut patched = resource.clone();
    for (i, operation) in operations.iter().enumerate() {
        patcher.apply(&mut patched, operation).map_err(|e| {
            let mut issue = Issue::from(e);
            issue.diagnostics = format!("operation {}: {}", i + 1, issue.diagnostics);
            issue
        })?;
    }
    *resource = patched;
    Ok(())
}
