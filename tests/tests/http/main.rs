//! The black-box HTTP tests: one test binary (one link of the whole server) with a module per
//! interaction group, each driving a server on a loopback socket as a client would.

mod admin;
mod audit;
mod auth;
mod binary;
mod bundle;
mod conditional;
mod crud;
mod encryption;
mod errors;
mod examples;
mod export;
mod export_dead_letters;
mod export_parallel;
mod export_presigned;
mod history;
mod isolation;
mod metadata;
mod negotiation;
mod openapi_routes;
mod patch;
mod rate_limit;
mod robustness;
mod search_bundle;
mod search_many;
mod search_params;
mod search_special;
mod summary;
