//! The Arrow schema of a resource type: built once per type and schema-relevant options, then
//! shared (`Arc`) by every encoder and writer of that type.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hearth_fhir::ResourceType;
use hearth_fhir::model::model;

use crate::error::Error;
use crate::options::{Options, SchemaKey};
use crate::plan::{StructPlan, resource_plan};

/// The column holding each resource's JSON text when [`Options::keep_json`] is set.
pub const RESOURCE_JSON: &str = "resource_json";

/// Schema metadata key: the resource type of the rows.
pub const META_RESOURCE_TYPE: &str = "fhir.resourceType";
/// Schema metadata key: the FHIR version of the rows (`4.0.1`).
pub const META_FHIR_VERSION: &str = "fhir.version";

/// The schema of a resource type with what encoding needs.
#[derive(Debug)]
pub(crate) struct Plan {
    pub schema: SchemaRef,
    pub root: Arc<StructPlan>,
    pub keep_json: bool,
}

type Cache = Mutex<HashMap<(ResourceType, SchemaKey), Arc<Plan>>>;

static CACHE: LazyLock<Cache> = LazyLock::new(Cache::default);

/// The Arrow schema of the rows of `rt`: one column per element of the resource (see
/// `docs/parquet.md` for the rules), then `resource_json` if [`Options::keep_json`] is set.
///
/// Cached: the first call per type and option set walks the model, later calls are a lookup.
/// Fails with [`Error::Options`] if an [`Options::open_types`] entry is not a datatype.
pub fn schema(rt: ResourceType, options: &Options) -> Result<SchemaRef, Error> {
    plan(rt, options).map(|p| p.schema.clone())
}

pub(crate) fn plan(rt: ResourceType, options: &Options) -> Result<Arc<Plan>, Error> {
    let key = options.schema_key();
    let cache_key = (rt, key);
    if let Some(plan) = lock(&CACHE).get(&cache_key) {
        return Ok(plan.clone());
    }
    check_open_types(options)?;
    let plan = Arc::new(build(rt, &cache_key.1));
    // Two threads may build the same plan; both are equal, the first one stays.
    Ok(lock(&CACHE).entry(cache_key).or_insert(plan).clone())
}

fn build(rt: ResourceType, key: &SchemaKey) -> Plan {
    let root = resource_plan(rt, key);
    let mut fields: Vec<Arc<Field>> = root.fields.iter().cloned().collect();
    if key.keep_json {
        fields.push(Arc::new(Field::new(RESOURCE_JSON, DataType::Utf8, true)));
    }
    let metadata = HashMap::from([
        (META_RESOURCE_TYPE.to_owned(), rt.as_str().to_owned()),
        (META_FHIR_VERSION.to_owned(), "4.0.1".to_owned()),
    ]);
    Plan {
        schema: Arc::new(Schema::new_with_metadata(fields, metadata)),
        root: Arc::new(root),
        keep_json: key.keep_json,
    }
}

/// Every open type must be a type of an open choice element (as `Extension.value[x]`).
fn check_open_types(options: &Options) -> Result<(), Error> {
    let value = model()
        .extension_type()
        .elements()
        .element_named("value[x]");
    for code in &options.open_types {
        let known = value.is_some_and(|e| e.types().iter().any(|t| &t.code == code));
        if !known {
            return Err(Error::Options(format!(
                "open type '{code}' is not a datatype of Extension.value[x]"
            )));
        }
    }
    Ok(())
}

/// The cache holds no invariant a panicking thread could break: a poisoned lock is still usable.
fn lock(cache: &Cache) -> std::sync::MutexGuard<'_, HashMap<(ResourceType, SchemaKey), Arc<Plan>>> {
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
