//! The two PATCH formats of FHIR R4 (http://hl7.org/fhir/R4/http.html#patch) as pure functions
//! over JSON: JSON Patch (RFC 6902) and FHIRPath Patch, with the small FHIRPath evaluator the
//! latter needs.
//!
//! Both apply all or nothing and report failures as an [`crate::Issue`]: `invalid` when the
//! patch document is malformed (HTTP 400), `processing` when it does not apply to this resource
//! (HTTP 422).

mod error;
pub mod fhirpath;
mod fhirpath_patch;
mod json_patch;
mod model;

pub use error::PatchError;
pub use fhirpath_patch::{apply_fhirpath_patch, apply_fhirpath_patch_with};
pub use json_patch::apply_json_patch;
pub use model::{ElementModel, NoModel, R4Model};
