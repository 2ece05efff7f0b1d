//! `hearth worker`: the queue workers alone (bulk export), against the configured backend and
//! data dir, for running them apart from the API.

use anyhow::Context;
use clap::Args;
use hearth_tenancy::TenantRegistry;

use crate::config::Config;
use crate::serve::{embedded_stores, init_logging, shutdown_signal};

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Export workers to run (default: `export.workers` of the configuration, at least 1).
    #[arg(long, env = "HEARTH_EXPORT_WORKERS")]
    workers: Option<usize>,
}

pub fn run(config: Config, args: WorkerArgs) -> anyhow::Result<()> {
    init_logging(&config);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the runtime")?
        .block_on(work(config, args))
}

async fn work(config: Config, args: WorkerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("create data dir {}", config.data_dir.display()))?;
    let registry = TenantRegistry::new(&config.data_dir);
    let (store, blobs) = embedded_stores(&registry);
    let (ctx, queue) =
        hearth_workers::embedded_export(&config.data_dir, store, blobs, (&config.export).into())
            .context("open the export job store")?;
    let workers = args.workers.unwrap_or(config.export.workers).max(1);
    let handles = hearth_workers::spawn_workers(&ctx, &queue, workers);
    tracing::info!(workers, data_dir = %config.data_dir.display(), "hearth worker is running export jobs");
    shutdown_signal().await;
    for handle in handles {
        handle.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
