//! `hearth tenant create|list|delete`: tenant lifecycle on the configured backend: the
//! directory entry (in the data dir, or DynamoDB on AWS) and the tenant's partitions (on AWS its KMS key, items,
//! objects, job records and search index).

use anyhow::Context;
use clap::Subcommand;
use hearth_api::deletion;
use hearth_tenancy::{TenantId, TenantRegistry};

use crate::backend::Backend;
use crate::config::Config;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; a running server on the same data dir (on AWS: every API task) serves
    /// it at once.
    Create {
        /// Tenant id: [a-z0-9][a-z0-9-]{0,62}.
        id: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants as JSON lines.
    List,
    /// Delete a tenant: release its client ids, then every partition it owns (its key first:
    /// crypto-shredding), then its record. Run it again to finish a deletion that failed.
    Delete { id: String },
}

pub fn run(config: &Config, command: TenantCommand) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the runtime")?
        .block_on(tenant(config, command))
}

#[allow(clippy::print_stdout)]
async fn tenant(config: &Config, command: TenantCommand) -> anyhow::Result<()> {
    let backend = Backend::open(config, &TenantRegistry::new(&config.data_dir)).await?;
    let registry = backend.tenants.as_ref();
    match command {
        TenantCommand::Create { id, name } => {
            let tenant: TenantId = id.parse()?;
            let record = registry
                .create(&tenant, name.as_deref().unwrap_or(&id))
                .await?;
            if let Err(e) = backend.partitions.provision(&tenant).await {
                registry.delete(&tenant).await?;
                return Err(e).context("provision the tenant's partitions");
            }
            println!("{}", serde_json::to_string(&record)?);
        }
        TenantCommand::List => {
            for tenant in registry.list().await? {
                println!("{}", serde_json::to_string(&tenant)?);
            }
        }
        TenantCommand::Delete { id } => {
            let tenant: TenantId = id.parse()?;
            deletion::begin(registry, &tenant).await?;
            let progress = |step: &str| eprintln!("{tenant}: {step}");
            deletion::finish(
                registry,
                backend.clients.as_ref(),
                backend.partitions.as_ref(),
                &tenant,
                &progress,
            )
            .await
            .context("delete the tenant (deleting it again resumes)")?;
            println!("deleted tenant {tenant}");
        }
    }
    Ok(())
}
