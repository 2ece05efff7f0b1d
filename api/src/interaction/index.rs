//! The search index entries of a resource about to be written: extraction with the R4
//! registry, done while planning (on the request's task, outside the store's writer).

use hearth_fhir::ResourceType;
use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::{IndexEntry, index_entries};
use hearth_fhir::search::registry::Registry;
use serde_json::{Map, Value};

use crate::context::Ctx;

/// The index entries of `body` (a resource of `rt`), absolute references under this tenant's
/// base counting as local.
pub fn index_of(
    ctx: &Ctx,
    rt: ResourceType,
    body: Map<String, Value>,
) -> (Map<String, Value>, Vec<IndexEntry>) {
    let mut value = Value::Object(body);
    if value.get("resourceType").is_none() {
        value["resourceType"] = Value::String(rt.as_str().to_owned());
    }
    let entries = index_entries(&extract(Registry::r4(), &value), Some(&ctx.base));
    match value {
        Value::Object(map) => (map, entries),
        _ => (Map::new(), entries),
    }
}
