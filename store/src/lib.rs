//! Storage ports and their adapters.
//!
//! Ports are traits that take the tenant in every call and expose no SQLite or AWS types:
//! [`ResourceStore`] (versioned FHIR resources, and their [`SearchIndex`]) and [`BlobStore`] (opaque bytes). The
//! `embedded` adapters keep each tenant in its own SQLite file and blob folder.
//! `conformance` holds the one test suite every adapter of a port must pass.

mod blob;
pub mod conformance;
pub mod embedded;
mod error;
mod jobs;
mod resource;
mod search;

pub use blob::{BlobKey, BlobStore, ByteStream};
pub use error::{ErrorKind, StoreError};
pub use jobs::{Delivery, JobId, JobQueue, JobRecord, JobState, JobStore};
pub use resource::{
    ChangesPage, ChangesQuery, HistoryEntry, HistoryPage, HistoryQuery, HistoryScope, Method,
    Precondition, ResourceKey, ResourceStore, Snapshot, StoredVersion, WriteKind, WriteOp,
    WriteOutcome,
};
pub use search::{SearchIndex, SearchPage};
