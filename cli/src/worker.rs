//! `hearth worker`: the queue workers without the API — bulk export, and on the AWS backend
//! with stream indexing the stream indexer — or, as subcommands, the local stream pump and
//! the reindexing of a tenant.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use hearth_aws::stream::StreamPump;
use hearth_tenancy::{TenantId, TenantRegistry};
use hearth_workers::index::{Indexer, IndexerOptions, LagObserver, metric, reindex};

use crate::backend::Backend;
use crate::config::Config;
use crate::serve::{init_logging, shutdown_signal};

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Export workers to run (default: `export.workers` of the configuration; 0 for a worker
    /// that only indexes).
    #[arg(long, env = "HEARTH_EXPORT_WORKERS")]
    workers: Option<usize>,
    /// Stream indexers to run on the AWS backend with `indexing = "stream"` (0 for a worker
    /// that only exports).
    #[arg(long, env = "HEARTH_INDEXERS", default_value_t = 1)]
    indexers: usize,
    #[command(subcommand)]
    command: Option<WorkerCommand>,
}

#[derive(Subcommand, Debug)]
enum WorkerCommand {
    /// Read the resource table's DynamoDB stream into the index queue (AWS backend without an
    /// EventBridge Pipe, such as on an emulator).
    StreamPump,
    /// Rebuild one tenant's search index from the resource table (AWS backend); the same as
    /// `hearth reindex`.
    Reindex(ReindexArgs),
}

#[derive(Args, Debug)]
pub struct ReindexArgs {
    /// The tenant to reindex.
    #[arg(long)]
    tenant: String,
}

/// `hearth reindex --tenant ID`.
pub fn reindex_command(config: Config, args: ReindexArgs) -> anyhow::Result<()> {
    run(
        config,
        WorkerArgs {
            workers: None,
            indexers: 0,
            command: Some(WorkerCommand::Reindex(args)),
        },
    )
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
    let backend = Backend::open(&config, &registry).await?;
    match args.command {
        Some(WorkerCommand::StreamPump) => return stream_pump(&backend).await,
        Some(WorkerCommand::Reindex(args)) => return reindex_tenant(&backend, &args.tenant).await,
        None => {}
    }
    let (ctx, queue) = backend.export(&config);
    let indexers = match &backend.aws {
        Some(_) if config.search.indexing == "stream" => args.indexers,
        _ => 0,
    };
    let workers = args.workers.unwrap_or(config.export.workers);
    if workers + indexers == 0 {
        anyhow::bail!("nothing to run: set --workers or --indexers above 0");
    }
    let mut handles = if workers > 0 {
        hearth_workers::spawn_workers(&ctx, &queue, workers)
    } else {
        Vec::new()
    };
    if let Some(aws) = &backend.aws {
        for _ in 0..indexers {
            let mut indexer = Indexer::new(
                aws.backend.store.clone(),
                aws.index.clone(),
                backend.queue.clone(),
                IndexerOptions::default(),
            );
            if config.log_format == "json" {
                indexer = indexer.with_lag_observer(lag_metric(&config.aws.prefix));
            }
            handles.push(tokio::spawn(indexer.run()));
        }
    }
    tracing::info!(workers, indexers, backend = %config.backend, "hearth worker is running");
    shutdown_signal().await;
    for handle in handles {
        handle.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Publishes each batch's index lag as a CloudWatch Embedded Metric Format line on stderr,
/// next to the JSON logs (CloudWatch Logs extracts `Hearth/IndexLagSeconds`, dimension
/// `Environment` = the deployment's prefix, which the infra alarm watches).
fn lag_metric(environment: &str) -> LagObserver {
    let environment = environment.to_owned();
    Arc::new(move |lag| {
        let line = metric::index_lag_line(&environment, lag);
        // One write of the whole line, so it never interleaves with a log line.
        if let Err(e) = std::io::stderr().lock().write_all(line.as_bytes()) {
            tracing::debug!(error = %e, "could not write the index-lag metric");
        }
    })
}

fn aws_only<'a>(backend: &'a Backend, what: &str) -> anyhow::Result<&'a crate::backend::AwsParts> {
    backend
        .aws
        .as_ref()
        .with_context(|| format!("{what} needs the AWS backend (backend = \"aws\")"))
}

async fn stream_pump(backend: &Backend) -> anyhow::Result<()> {
    let aws = aws_only(backend, "the stream pump")?;
    let pump = StreamPump::new(
        aws.backend.clients.dynamodb.clone(),
        aws.backend.clients.dynamodbstreams.clone(),
        &aws.backend.config.resources_table_name(),
        backend.queue.clone(),
    );
    tracing::info!(table = %aws.backend.config.resources_table_name(), "stream pump is running");
    tokio::select! {
        () = pump.run(Duration::from_millis(200)) => {},
        () = shutdown_signal() => {},
    }
    Ok(())
}

async fn reindex_tenant(backend: &Backend, tenant: &str) -> anyhow::Result<()> {
    let aws = aws_only(backend, "reindexing")?;
    let tenant: TenantId = tenant.parse().context("parse --tenant")?;
    let started = std::time::Instant::now();
    let done = reindex(
        aws.backend.store.as_ref(),
        aws.backend.store.as_ref(),
        aws.index.as_ref(),
        &tenant,
        |rt, done| tracing::info!(%tenant, resource_type = %rt, indexed = done, "reindexing"),
    )
    .await
    .with_context(|| format!("reindex tenant {tenant}"))?;
    tracing::info!(%tenant, indexed = done, seconds = started.elapsed().as_secs_f64(), "reindexed");
    Ok(())
}
