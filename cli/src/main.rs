//! The `hearth` binary: reads configuration, wires the adapters, runs subcommands.

mod auth_env;
mod backend;
mod config;
mod serve;
mod signing;
mod tenant;
mod token;
mod worker;

use clap::{Parser, Subcommand};

use crate::config::GlobalArgs;

/// Hearth: a multi-tenant FHIR R4 server.
#[derive(Parser)]
#[command(name = "hearth", version, about = "Hearth: a multi-tenant FHIR R4 server", long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the FHIR server (embedded backend by default: one SQLite file and blob folder per
    /// tenant; `backend = "aws"` for DynamoDB, S3, SQS, KMS and OpenSearch).
    Serve(serve::ServeArgs),
    /// Manage tenants of the configured backend.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Print a bearer token signed with the local key (data dir, or the AWS deployment's).
    Token(token::TokenArgs),
    /// Run the queue workers without the API (bulk export; on AWS also the stream indexer),
    /// or the local stream pump, or rebuild a tenant's search index.
    Worker(worker::WorkerArgs),
    /// Rebuild a tenant's search index from the resource table (AWS backend).
    Reindex(worker::ReindexArgs),
    /// Print the OpenAPI 3.1 document (the one served at /openapi.json).
    Openapi,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = config::load(&cli.global)?;
    match cli.command {
        Command::Serve(args) => serve::run(config, args),
        Command::Tenant(command) => tenant::run(&config, command),
        Command::Token(args) => token::run(&config, args),
        Command::Worker(args) => worker::run(config, args),
        Command::Reindex(args) => worker::reindex_command(config, args),
        Command::Openapi => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(hearth_openapi::document_json())?;
            out.write_all(b"\n")?;
            Ok(())
        }
    }
}
