//! FHIR R4 (4.0.1) knowledge: typed ids, the resource model generated from the official
//! definitions, validation of writes, patches, and OperationOutcome / Bundle builders.
//!
//! Invariant: this crate does no I/O and knows nothing of HTTP or storage.

pub mod bundle;
pub mod compartment;
pub mod fhirpath;
pub mod generated;
pub mod ids;
pub mod model;
pub mod outcome;
pub mod patch;
pub mod search;
pub mod subset;
pub mod validate;

pub use ids::{IdError, ResourceId, ResourceType, VersionId};
pub use outcome::{Issue, IssueCode, Severity};
pub use validate::validate_resource;
