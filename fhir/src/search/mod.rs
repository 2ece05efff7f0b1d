//! FHIR search knowledge: the search-parameter registry, the extraction of typed index values
//! from resources, and the typed criteria the storage ports understand.

mod criteria;
pub mod extract;
pub mod registry;

pub use criteria::*;
