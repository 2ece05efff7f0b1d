//! `hearth-search-load`: a small load driver for search on a running Hearth server on
//! loopback: concurrent GETs of one search URL for a while, then requests/s and latency
//! percentiles. Load data first (e.g. with `hearth-load`).

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool whose output is its figures"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

/// Sends `GET {base-url}/{query}` from --concurrency tasks for --duration seconds.
#[derive(Parser, Debug)]
#[command(name = "hearth-search-load", version)]
struct Args {
    /// FHIR base URL of a tenant (loopback only).
    #[arg(long, env = "HEARTH_BASE_URL")]
    base_url: String,
    /// Bearer token sent with every request.
    #[arg(long, env = "HEARTH_TOKEN", hide_env_values = true)]
    token: String,
    /// The search, relative to the base, e.g. `Patient?gender=female&_count=20`.
    #[arg(long)]
    query: String,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = reqwest::Url::parse(&format!(
        "{}/{}",
        args.base_url.trim_end_matches('/'),
        args.query
    ))
    .context("parse the search URL")?;
    if !matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        bail!("only loopback servers are accepted");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let token = Arc::new(args.token);
    let until = Instant::now() + Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), Arc::clone(&token));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < until {
                    let t = Instant::now();
                    match client
                        .get(url.clone())
                        .bearer_auth(token.as_str())
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} done, {errors} failed",
        args.query,
        latencies.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        latencies.len()
    );
    Ok(())
}
