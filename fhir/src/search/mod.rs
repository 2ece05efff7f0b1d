//! FHIR search knowledge: the search-parameter registry, the extraction of typed index values
//! from resources and their flat index entries, the typed search AST, and the older typed
//! criteria (`_id`, `identifier`, `_lastUpdated`), and the resolution of terminology modifiers
//! into code sets.

mod criteria;
pub mod extract;
pub mod index;
pub mod query;
pub mod registry;
pub mod terminology;

pub use criteria::*;
