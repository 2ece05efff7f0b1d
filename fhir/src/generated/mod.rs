//! Code generated from the official R4 4.0.1 definitions by `fhir/codegen/extract.py`.

pub mod resource_types;
