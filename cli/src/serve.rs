//! `hearth serve`: the API on the configured backend, with in-process export workers.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use hearth_api::{AppState, Auth, AuthSetup, app};
use hearth_tenancy::{RegistryError, TenantId, TenantRegistry};
use tracing_subscriber::EnvFilter;

use crate::backend::Backend;
use crate::config::Config;
use crate::signing::SigningKeys;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "HEARTH_LISTEN")]
    listen: Option<String>,
}

pub fn init_logging(config: &Config) {
    let filter =
        EnvFilter::try_from_env("HEARTH_LOG").unwrap_or_else(|_| EnvFilter::new(&config.log_level));
    // Colours only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

pub fn run(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    init_logging(&config);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the runtime")?
        .block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("create data dir {}", config.data_dir.display()))?;
    let registry = TenantRegistry::new(&config.data_dir);
    let default_tenant: TenantId = config
        .default_tenant
        .parse()
        .context("parse default_tenant")?;
    let backend = Backend::open(&config, &registry).await?;
    match backend
        .tenants
        .create(&default_tenant, "Default tenant")
        .await
    {
        Ok(_) => tracing::info!(tenant_id = %default_tenant, "created the default tenant"),
        Err(RegistryError::AlreadyExists(_)) => {}
        Err(err) => return Err(err).context("create the default tenant"),
    }
    backend
        .partitions
        .provision(&default_tenant)
        .await
        .context("provision the default tenant")?;
    let (export_ctx, export_queue) = backend.export(&config);
    let (store, blobs) = (backend.store.clone(), backend.blobs.clone());
    let export = backend.export_service(&config, &export_ctx, &export_queue);
    let workers = if config.export.workers > 0 {
        hearth_workers::spawn_workers(&export_ctx, &export_queue, config.export.workers)
    } else {
        Vec::new()
    };
    let keys = SigningKeys::of_backend(&config, &backend);
    let signer = Arc::new(keys.token_signer().await?);
    let auth = Auth::new(AuthSetup {
        signer,
        validator: config.auth.validator()?,
        rbac: config.auth.rbac(),
        token_lifetime_secs: config.auth.token_lifetime_secs,
        clients: backend.clients.clone(),
        replay: backend.replay.clone(),
        ca_file: config.auth.ca_file.clone(),
        admin_key: config.auth.admin_key()?,
    })
    .context("configure authentication")?;
    let mut state = AppState::new(
        store,
        blobs,
        backend.tenants.clone(),
        (&config.limits).into(),
        config.public_url.clone(),
        auth,
    )
    .with_export(export)
    .with_partitions(backend.partitions.clone());
    if config.export.signed_urls {
        state = state.with_signed_export_urls(Arc::new(keys.url_signer().await?));
    }
    if config.audit.store_events {
        let observer = match std::env::var("HOSTNAME") {
            Ok(node) if !node.is_empty() => format!("hearth {node}"),
            _ => "hearth".to_owned(),
        };
        let events = hearth_api::AuditEvents::start(
            state.store.clone(),
            hearth_api::AuditEventsConfig {
                observer,
                ..hearth_api::AuditEventsConfig::default()
            },
        );
        state = state.with_audit_events(Arc::new(events));
    }
    let addr: SocketAddr = config
        .listen
        .parse()
        .with_context(|| format!("parse listen address '{}'", config.listen))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr}"))?;
    tracing::info!(address = %listener.local_addr()?, backend = %config.backend, data_dir = %config.data_dir.display(), "hearth is serving FHIR R4 at /tenant/{{id}}");
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serve")?;
    for worker in workers {
        worker.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
