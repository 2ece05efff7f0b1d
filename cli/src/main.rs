//! The `hearth` binary: reads configuration, wires the adapters, runs subcommands.

mod config;
mod serve;
mod tenant;

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
    /// Run the FHIR server (embedded backend: one SQLite file and blob folder per tenant).
    Serve(serve::ServeArgs),
    /// Manage tenants of the configured backend.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = config::load(&cli.global)?;
    match cli.command {
        Command::Serve(args) => serve::run(config, args),
        Command::Tenant(command) => tenant::run(&config, command),
    }
}
