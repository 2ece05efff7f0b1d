//! FHIR interactions independent of how they arrived: a single HTTP request or a Bundle entry.
//!
//! Writes are *planned* first (validation, conditional matching, patching), giving a
//! [`WriteOp`] for the store, then *finished* from the store's outcome. A single request plans
//! and writes one op; a transaction plans every entry and writes them all atomically.

mod binary;
mod execute;
mod index;
mod outcome;
mod plan;
mod read;
mod validate;

pub use binary::{binary_json_with_data, is_binary, new_blob_key};
pub use execute::{check_planned, execute_guarded};
pub use outcome::{Done, Kind};
pub use plan::{
    PatchFormat, Planned, Target, finish, plan_conditional_delete, plan_create, plan_delete,
    plan_patch, plan_update,
};
pub use read::{read_current, read_version, resolve_conditional, url_pairs};
