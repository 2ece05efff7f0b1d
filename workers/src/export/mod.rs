//! Bulk Data `$export`: kick-off parameters, durable jobs, the worker that writes NDJSON and
//! Parquet files to the `BlobStore`, and the service the API calls.

mod associated;
mod audit;
mod commit;
mod context;
mod dead_letters;
mod job;
mod links;
mod page;
mod request;
mod runner;
mod service;
mod shared_buf;
mod sink;
mod worker;

pub use context::{EXPORT_QUEUE, ExportContext, ExportOptions};
pub use dead_letters::{fail_dead_lettered, watch_dead_letters};
pub use job::{FileKind, FileRecord, Owner, Status};
pub use links::{MAX_LINK_TTL, PresignedLinks};
pub use request::{
    Associated, ExportRequest, Format, Level, RequestError, TypeFilter, form_pairs, parse_request,
};
pub use service::{ExportService, JobStatus, KickoffError};
pub use worker::{ExportWorker, Message, sweep_expired, sweep_once};
