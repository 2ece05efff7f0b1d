//! Storage ports and their adapters.
//!
//! Ports are traits that take the tenant in every call and expose no SQLite or AWS types:
//! [`ResourceStore`] (versioned FHIR resources, and their [`SearchIndex`]) and [`BlobStore`] (opaque bytes). The
//! `embedded` adapters keep each tenant in its own SQLite file and blob folder.
//! `conformance` holds the one test suite every adapter of a port must pass.

mod blob;
pub mod conformance;
pub mod embedded;
mod envelope;
mod error;
mod index_event;
mod indexed;
mod jobs;
mod key_index;
mod keys;
mod resource;
mod sealed_jobs;
mod search;
mod search_terminology;
mod stamp;
mod tenant_partitions;

pub use blob::{BlobKey, BlobStore, BlobUrls, ByteStream};
pub use envelope::Envelope;
pub use error::{ErrorKind, StoreError};
pub use index_event::{INDEX_QUEUE, IndexEvent};
pub use indexed::IndexedStore;
pub use jobs::{Delivery, JobId, JobQueue, JobRecord, JobState, JobStore};
pub use key_index::{
    IndexDoc, IndexSource, KeyIndex, KeyPage, docs_of_write, index_inline, search_via_keys,
};
pub use keys::{DataKey, KeyService};
pub use resource::{
    ChangesPage, ChangesQuery, HistoryEntry, HistoryPage, HistoryQuery, HistoryScope, Method,
    Precondition, ResourceKey, ResourceStore, Snapshot, StoredVersion, WriteKind, WriteOp,
    WriteOutcome,
};
pub use sealed_jobs::SealedJobs;
pub use search::{SearchIndex, SearchPage};
pub use search_terminology::resolve_terminology;
pub use stamp::{format_instant, stamp};
pub use tenant_partitions::{Partitions, Progress, TenantPartitions};
