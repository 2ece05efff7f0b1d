//! `hearth-load`: a bounded load driver for a running Hearth server on loopback; prints create,
//! read-by-id and transaction-bundle throughput (with latency percentiles) per run and the median.

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool whose output is its table"
)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

/// Drives a Hearth server with concurrent FHIR requests and prints a table of figures.
///
/// Each run has three phases, each bounded by --duration and by a request count:
/// (a) create Patient (POST), (b) read Patient by id (GET) over the ids created in (a),
/// (c) transaction Bundles of --bundle-size Patient entries with urn:uuid fullUrls.
/// Only loopback servers are accepted.
#[derive(Parser, Debug)]
#[command(name = "hearth-load", version)]
struct Args {
    /// FHIR base URL of a tenant, e.g. http://127.0.0.1:8080/tenant/default (loopback only).
    #[arg(long, env = "HEARTH_BASE_URL")]
    base_url: String,
    /// Bearer token sent with every request, e.g. from
    /// `hearth token --tenant default --scope 'system/*.cruds'`.
    #[arg(long, env = "HEARTH_TOKEN", hide_env_values = true)]
    token: String,
    /// Concurrent requests in the create and read phases (one connection each).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Concurrent transaction bundles in flight.
    #[arg(long, default_value_t = 4)]
    tx_concurrency: usize,
    /// Entries per transaction bundle.
    #[arg(long, default_value_t = 100)]
    bundle_size: usize,
    /// Wall-clock limit of each phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Request limit of the create phase (per run).
    #[arg(long, default_value_t = 100_000)]
    max_creates: u64,
    /// Request limit of the read phase (per run).
    #[arg(long, default_value_t = 500_000)]
    max_reads: u64,
    /// Bundle limit of the transaction phase (per run).
    #[arg(long, default_value_t = 2_000)]
    max_bundles: u64,
    /// Number of runs; the last column is the median over runs.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// A phase stops early after this many failed requests.
    #[arg(long, default_value_t = 100)]
    max_errors: u64,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Skip the transaction phase.
    #[arg(long)]
    no_transactions: bool,
}

/// What one phase measured.
#[derive(Debug, Default, Clone)]
struct PhaseStats {
    ok: u64,
    errors: u64,
    resources: u64,
    elapsed: Duration,
    /// Latencies of successful requests, sorted ascending.
    latencies: Vec<Duration>,
    first_error: Option<String>,
}

impl PhaseStats {
    fn requests_per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn resources_per_sec(&self) -> f64 {
        self.resources as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Nearest-rank percentile in milliseconds; NaN when nothing succeeded.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1e3
    }
}

/// The outcome of one successful request: resources written or read, and an id worth keeping.
struct Done {
    resources: u64,
    id: Option<String>,
}

/// Runs `op(i)` from `concurrency` workers until `max_ops` calls were started, the deadline
/// passed or `max_errors` calls failed. Returns the stats and the ids the calls reported.
async fn run_phase<F, Fut>(
    concurrency: usize,
    duration: Duration,
    max_ops: u64,
    max_errors: u64,
    op: F,
) -> (PhaseStats, Vec<String>)
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Done, String>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (next, errors, op) = (next.clone(), errors.clone(), op.clone());
        workers.push(tokio::spawn(async move {
            let mut stats = PhaseStats::default();
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max_ops
                    || Instant::now() >= deadline
                    || errors.load(Ordering::Relaxed) >= max_errors
                {
                    break;
                }
                let sent = Instant::now();
                match op(i).await {
                    Ok(done) => {
                        stats.latencies.push(sent.elapsed());
                        stats.ok += 1;
                        stats.resources += done.resources;
                        ids.extend(done.id);
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        stats.errors += 1;
                        stats.first_error.get_or_insert(e);
                    }
                }
            }
            (stats, ids)
        }));
    }
    let mut total = PhaseStats::default();
    let mut all_ids = Vec::new();
    for worker in workers {
        match worker.await {
            Ok((stats, ids)) => {
                total.ok += stats.ok;
                total.errors += stats.errors;
                total.resources += stats.resources;
                total.latencies.extend(stats.latencies);
                if total.first_error.is_none() {
                    total.first_error = stats.first_error;
                }
                all_ids.extend(ids);
            }
            Err(e) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert(format!("worker panicked: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total.latencies.sort_unstable();
    (total, all_ids)
}

fn patient(i: u64) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{ "system": "urn:hearth:load", "value": format!("p-{i}") }],
        "active": true,
        "name": [{ "use": "official", "family": format!("Load{}", i % 997), "given": ["Pat", "Q"] }],
        "telecom": [{ "system": "phone", "value": "+1 555 0100", "use": "home" }],
        "gender": if i.is_multiple_of(2) { "female" } else { "male" },
        "birthDate": format!("19{:02}-0{}-1{}", 30 + i % 70, 1 + i % 9, i % 10),
        "address": [{ "line": ["1 Load Street"], "city": "Loopback", "postalCode": "12700", "country": "NZ" }]
    })
}

fn transaction(first: u64, size: usize) -> Value {
    let entries: Vec<Value> = (0..size as u64)
        .map(|k| {
            json!({
                "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
                "resource": patient(first + k),
                "request": { "method": "POST", "url": "Patient" }
            })
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries })
}

/// Sends a FHIR JSON body and returns the status and body; `Err` on transport errors.
async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<(u16, Vec<u8>), String> {
    let body = serde_json::to_vec(body).map_err(|e| format!("encode body: {e}"))?;
    let reply = client
        .post(url)
        .header("content-type", "application/fhir+json")
        .header("accept", "application/fhir+json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = reply.status().as_u16();
    let bytes = reply
        .bytes()
        .await
        .map_err(|e| format!("read reply of POST {url}: {e}"))?;
    Ok((status, bytes.to_vec()))
}

fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()
}

async fn create_phase(
    client: &reqwest::Client,
    args: &Args,
    run: usize,
) -> (PhaseStats, Vec<String>) {
    let url = format!("{}/Patient", args.base_url);
    let client = client.clone();
    let offset = run as u64 * 10_000_000;
    run_phase(
        args.concurrency,
        secs(args.duration),
        args.max_creates,
        args.max_errors,
        move |i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let (status, body) = post(&client, &url, &patient(offset + i)).await?;
                if status != 201 {
                    return Err(format!("POST Patient: status {status}: {}", snippet(&body)));
                }
                let created: Value = serde_json::from_slice(&body)
                    .map_err(|e| format!("POST Patient: bad JSON: {e}"))?;
                let id = created["id"]
                    .as_str()
                    .ok_or("POST Patient: reply has no id")?
                    .to_owned();
                Ok(Done {
                    resources: 1,
                    id: Some(id),
                })
            }
        },
    )
    .await
}

async fn read_phase(client: &reqwest::Client, args: &Args, ids: Arc<Vec<String>>) -> PhaseStats {
    let base = format!("{}/Patient/", args.base_url);
    let client = client.clone();
    let (stats, _) = run_phase(
        args.concurrency,
        secs(args.duration),
        args.max_reads,
        args.max_errors,
        move |i| {
            let (client, ids) = (client.clone(), ids.clone());
            // Stride through the ids with a large odd step so that concurrent reads spread out.
            let url = format!(
                "{base}{}",
                ids[(i.wrapping_mul(7_919) % ids.len() as u64) as usize]
            );
            async move {
                let reply = client
                    .get(&url)
                    .header("accept", "application/fhir+json")
                    .send()
                    .await
                    .map_err(|e| format!("GET {url}: {e}"))?;
                let status = reply.status().as_u16();
                let body = reply
                    .bytes()
                    .await
                    .map_err(|e| format!("read reply of GET {url}: {e}"))?;
                if status != 200 {
                    return Err(format!("GET {url}: status {status}: {}", snippet(&body)));
                }
                Ok(Done {
                    resources: 1,
                    id: None,
                })
            }
        },
    )
    .await;
    stats
}

async fn transaction_phase(client: &reqwest::Client, args: &Args, run: usize) -> PhaseStats {
    let url = args.base_url.clone();
    let client = client.clone();
    let size = args.bundle_size;
    let offset = 5_000_000 + run as u64 * 10_000_000;
    let (stats, _) = run_phase(
        args.tx_concurrency,
        secs(args.duration),
        args.max_bundles,
        args.max_errors,
        move |i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let (status, body) =
                    post(&client, &url, &transaction(offset + i * size as u64, size)).await?;
                if status != 200 {
                    return Err(format!(
                        "POST transaction: status {status}: {}",
                        snippet(&body)
                    ));
                }
                let reply: Value = serde_json::from_slice(&body)
                    .map_err(|e| format!("POST transaction: bad JSON: {e}"))?;
                let entries = reply["entry"].as_array().map(Vec::len).unwrap_or(0);
                if reply["type"] != "transaction-response" || entries != size {
                    return Err(format!(
                        "POST transaction: type {} with {entries} entries, wanted {size}",
                        reply["type"]
                    ));
                }
                Ok(Done {
                    resources: size as u64,
                    id: None,
                })
            }
        },
    )
    .await;
    stats
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Refuses anything but a loopback http URL: this driver never sends load elsewhere.
fn check_loopback(base_url: &str) -> anyhow::Result<()> {
    let url =
        reqwest::Url::parse(base_url).with_context(|| format!("parse base url '{base_url}'"))?;
    if url.scheme() != "http" {
        bail!("base url must be http://, got '{base_url}'");
    }
    let host = url.host_str().unwrap_or_default();
    let loopback = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if !loopback {
        bail!("refusing to load a non-loopback host in '{base_url}'");
    }
    Ok(())
}

/// One run's figures, in table order.
struct RunFigures {
    rows: Vec<(String, f64)>,
    errors: Vec<String>,
}

async fn one_run(client: &reqwest::Client, args: &Args, run: usize) -> anyhow::Result<RunFigures> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let c = args.concurrency;

    println!("run {}: create Patient, concurrency {c} ...", run + 1);
    let (create, ids) = create_phase(client, args, run).await;
    report_errors("create", &create, &mut errors);
    rows.push((
        format!("create Patient c={c}  resources/s"),
        create.resources_per_sec(),
    ));
    rows.push(("  create p50 ms".into(), create.percentile_ms(50.0)));
    rows.push(("  create p99 ms".into(), create.percentile_ms(99.0)));
    rows.push(("  creates done".into(), create.ok as f64));
    if ids.is_empty() {
        bail!(
            "no Patient was created; first error: {}",
            create.first_error.unwrap_or_default()
        );
    }

    println!(
        "run {}: read Patient by id over {} ids, concurrency {c} ...",
        run + 1,
        ids.len()
    );
    let read = read_phase(client, args, Arc::new(ids)).await;
    report_errors("read", &read, &mut errors);
    rows.push((
        format!("read by id c={c}  requests/s"),
        read.requests_per_sec(),
    ));
    rows.push(("  read p50 ms".into(), read.percentile_ms(50.0)));
    rows.push(("  read p99 ms".into(), read.percentile_ms(99.0)));
    rows.push(("  reads done".into(), read.ok as f64));

    let mut failed = create.errors + read.errors;
    if !args.no_transactions {
        let (n, tc) = (args.bundle_size, args.tx_concurrency);
        println!(
            "run {}: transaction bundles of {n} Patients, {tc} in flight ...",
            run + 1
        );
        let tx = transaction_phase(client, args, run).await;
        report_errors("transaction", &tx, &mut errors);
        failed += tx.errors;
        rows.push((
            format!("transaction {n}/bundle c={tc}  resources/s"),
            tx.resources_per_sec(),
        ));
        rows.push(("  bundle p50 ms".into(), tx.percentile_ms(50.0)));
        rows.push(("  bundle p99 ms".into(), tx.percentile_ms(99.0)));
        rows.push(("  bundles done".into(), tx.ok as f64));
    }
    rows.push(("failed requests".into(), failed as f64));
    Ok(RunFigures { rows, errors })
}

fn report_errors(phase: &str, stats: &PhaseStats, errors: &mut Vec<String>) {
    if stats.errors > 0 {
        errors.push(format!(
            "{phase}: {} failed; first: {}",
            stats.errors,
            stats.first_error.as_deref().unwrap_or("?")
        ));
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn print_table(runs: &[RunFigures]) {
    let Some(first) = runs.first() else { return };
    let label_width = first.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(10) + 2;
    let mut header = format!("{:<label_width$}", "figure");
    for r in 1..=runs.len() {
        header.push_str(&format!("{:>12}", format!("run {r}")));
    }
    if runs.len() > 1 {
        header.push_str(&format!("{:>12}", "median"));
    }
    println!();
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for (row, (label, _)) in first.rows.iter().enumerate() {
        let mut line = format!("{label:<label_width$}");
        let mut values: Vec<f64> = runs
            .iter()
            .map(|r| r.rows.get(row).map_or(f64::NAN, |(_, v)| *v))
            .collect();
        for v in &values {
            line.push_str(&format!("{:>12}", fmt(*v)));
        }
        if runs.len() > 1 {
            line.push_str(&format!("{:>12}", fmt(median(&mut values))));
        }
        println!("{line}");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.base_url = args.base_url.trim_end_matches('/').to_owned();
    check_loopback(&args.base_url)?;
    if args.runs == 0 || args.runs > 20 {
        bail!("--runs must be between 1 and 20");
    }

    let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", args.token))
        .context("--token is not a valid header value")?;
    auth.set_sensitive(true);
    let client = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            auth,
        )]))
        .pool_max_idle_per_host(args.concurrency.max(args.tx_concurrency))
        .timeout(secs(args.timeout))
        .build()
        .context("build http client")?;

    let metadata = format!("{}/metadata", args.base_url);
    let reply = client
        .get(&metadata)
        .send()
        .await
        .with_context(|| format!("GET {metadata}"))?;
    if !reply.status().is_success() {
        bail!("GET {metadata}: status {}", reply.status());
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "hearth-load: {} | {cores} cores visible | {} run(s) | {} s per phase",
        args.base_url, args.runs, args.duration
    );
    let mut runs = Vec::with_capacity(args.runs);
    for run in 0..args.runs {
        runs.push(one_run(&client, &args, run).await?);
    }
    print_table(&runs);
    let mut failed = false;
    for (i, run) in runs.iter().enumerate() {
        for e in &run.errors {
            failed = true;
            println!("run {}: {e}", i + 1);
        }
    }
    if failed {
        bail!("some requests failed; see above");
    }
    Ok(())
}
