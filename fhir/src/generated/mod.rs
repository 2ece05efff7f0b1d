//! Code generated from the official R4 4.0.1 definitions by `fhir/codegen/extract.py`.

pub(crate) mod patient_compartment;
pub mod resource_types;
