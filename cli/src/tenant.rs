//! `hearth tenant create|list|delete`: tenant lifecycle on the configured data dir.

use clap::Subcommand;
use hearth_tenancy::{TenantId, TenantRegistry};

use crate::config::Config;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; a running server on the same data dir serves it at once.
    Create {
        /// Tenant id: [a-z0-9][a-z0-9-]{0,62}.
        id: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants as JSON lines.
    List,
    /// Delete a tenant and every partition it owns.
    Delete { id: String },
}

#[allow(clippy::print_stdout)]
pub fn run(config: &Config, command: TenantCommand) -> anyhow::Result<()> {
    let registry = TenantRegistry::new(&config.data_dir);
    match command {
        TenantCommand::Create { id, name } => {
            let tenant: TenantId = id.parse()?;
            let record = registry.create(&tenant, name.as_deref().unwrap_or(&id))?;
            println!("{}", serde_json::to_string(&record)?);
        }
        TenantCommand::List => {
            for tenant in registry.list()? {
                println!("{}", serde_json::to_string(&tenant)?);
            }
        }
        TenantCommand::Delete { id } => {
            let tenant: TenantId = id.parse()?;
            registry.delete(&tenant)?;
            println!("deleted tenant {tenant}");
        }
    }
    Ok(())
}
