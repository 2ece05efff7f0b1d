//! The stream indexer: resource changes arrive on the index queue (from DynamoDB Streams, by an
//! EventBridge Pipe in AWS or `hearth worker stream-pump` locally), and the indexer brings the
//! search index up to the current version of each changed resource; `reindex` rebuilds a
//! tenant's index from the store.
//!
//! Every step is idempotent: the indexer reads the *current* version from the store whatever
//! the event says, and the index keeps the highest version it has seen, so redelivered,
//! duplicated or reordered events are harmless.

mod indexer;
pub mod metric;
mod reindex;

pub use indexer::{IndexLag, Indexer, IndexerOptions, LagObserver};
pub use reindex::reindex;
