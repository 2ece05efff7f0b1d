//! The OpenSearch adapter of the `KeyIndex` port: one index per tenant, mappings derived
//! from the search parameter types, queries compiled from the typed search AST.
//!
//! Layout: `config` (where and how to connect), `http` (requests and error mapping),
//! `mapping` and `document` (what an index holds), `bulk` (versioned writes), `query` (the
//! pure compiler from [`hearth_fhir::search::query::SearchQuery`] to query DSL, sort and
//! cursors), `search` (running a search: chains and `_has` first, then the page, then
//! includes) and `index` (the [`hearth_store::KeyIndex`] implementation).

mod bulk;
mod config;
mod document;
mod http;
mod index;
mod mapping;
mod query;
mod search;

pub use config::{AwsSigning, DEFAULT_PREFIX, MAX_INNER_LIMIT, OpenSearchConfig};
pub use index::OpenSearchIndex;
