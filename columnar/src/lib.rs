//! Typed, nested Parquet encoding of FHIR R4 resources (bulk export).
//!
//! One schema per resource type, generated from the R4 element model of `hearth-fhir`:
//! datatypes and backbone elements are Arrow structs, repeating elements lists, each branch of
//! a choice element its own field (`valueQuantity`, `valueString`), primitives Arrow scalars.
//! Recursive types and extensions are cut at the depths of [`Options`]; nested resources
//! (`contained`) are JSON text; `resource_json` keeps every resource whole. The rules, with the
//! type mapping, are in `docs/parquet.md`.
//!
//! [`schema`] gives the (cached) schema of a type, [`BatchEncoder`] turns resources into Arrow
//! record batches, [`ResourceWriter`] streams them into a Parquet file with bounded memory.
//!
//! Invariant: no I/O of its own; the writer writes to the `std::io::Write` it is given.

mod column;
mod encoder;
mod error;
mod options;
mod plan;
mod schema;
mod stream;
mod value;
mod writer;

pub use encoder::BatchEncoder;
pub use error::{Error, ErrorKind};
pub use options::{Compression, DEFAULT_OPEN_TYPES, DecimalAs, Options};
pub use schema::{META_FHIR_VERSION, META_RESOURCE_TYPE, RESOURCE_JSON, schema};
pub use writer::{Finished, ResourceWriter};
