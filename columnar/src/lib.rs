//! Typed, nested Parquet encoding of FHIR R4 resources (bulk export).
