//! The AWS adapters against the emulators (moto, and OpenSearch where search is involved), in
//! one test binary: each module's tests run when `HEARTH_TEST_EMULATORS=1` and print "skipped"
//! otherwise.

mod blob;
mod common;
mod deletion;
mod deployment_keys;
mod jobs;
mod kms;
mod registry;
mod resources;
mod staged;
mod tenant;
mod throttling;
