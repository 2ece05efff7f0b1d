//! Durable jobs and the workers that run them: Bulk Data `$export` to NDJSON and Parquet.
//!
//! Workers take jobs from the `JobQueue` port and keep their state in the `JobStore` port, so
//! the same code runs in-process under `hearth serve` and alone under `hearth worker`, on the
//! embedded backend or (with its adapters) on AWS.

mod embedded;
pub mod export;
pub mod index;

pub use embedded::{embedded_export, export_service, spawn_workers};
