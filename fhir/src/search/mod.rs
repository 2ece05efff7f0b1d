//! Search: the typed criteria the storage ports understand.

mod criteria;

pub use criteria::*;
