//! HTTP handlers of the FHIR REST API, one file per group of interactions.

mod binary;
mod bundle;
mod export;
mod history;
mod instance;
mod params;
mod render;
mod search;
mod search_subset;
mod type_level;

pub use bundle::batch_or_transaction;
pub use export::{
    export_cancel, export_file, export_group, export_patient, export_status, export_system,
};
pub use history::{history_instance, history_system, history_type};
pub use instance::{delete, patch, read, update, vread};
pub use search::{search_system, search_system_post, search_type, search_type_post};
pub use type_level::{conditional_delete, conditional_patch, conditional_update, create};

pub(crate) use render::render_json;
