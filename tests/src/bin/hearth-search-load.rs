//! `hearth-search-load`: a small load driver for search on a running Hearth server on
//! loopback: concurrent GETs of one search URL (or of the URLs of a file, in turn) for a while,
//! then requests/s and latency percentiles; with `--follow-next`, each task pages through the
//! whole result set by its `next` links and the figure is resources/s. Load data first (e.g.
//! with `hearth-load` or `scripts/bench-search.sh`).

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool whose output is its figures"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::json;

/// Sends `GET {base-url}/{query}` from --concurrency tasks for --duration seconds.
#[derive(Parser, Debug)]
#[command(name = "hearth-search-load", version)]
#[command(group = clap::ArgGroup::new("queries").required(true).args(["query", "queries_file"]))]
struct Args {
    /// FHIR base URL of a tenant (loopback only).
    #[arg(long, env = "HEARTH_BASE_URL")]
    base_url: String,
    /// Bearer token sent with every request.
    #[arg(long, env = "HEARTH_TOKEN", hide_env_values = true)]
    token: String,
    /// The search, relative to the base, e.g. `Patient?gender=female&_count=20`.
    #[arg(long)]
    query: Option<String>,
    /// A file of searches relative to the base, one per line (blank lines and `#` comments are
    /// skipped); each task cycles through them, starting at a different line.
    #[arg(long)]
    queries_file: Option<std::path::PathBuf>,
    /// Follow each answer's `next` link to the end of the result set before the next search;
    /// the main figure becomes Bundle entries per second.
    #[arg(long)]
    follow_next: bool,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Name shown in the output (default: the query, or the file name).
    #[arg(long)]
    label: Option<String>,
    /// Print one JSON object with the figures instead of a line of text.
    #[arg(long)]
    json: bool,
}

/// What one task measured.
#[derive(Default)]
struct TaskStats {
    latencies: Vec<Duration>,
    entries: u64,
    errors: u64,
    first_error: Option<String>,
}

impl TaskStats {
    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

fn check_loopback(url: &reqwest::Url) -> anyhow::Result<()> {
    if !matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        bail!("only loopback servers are accepted, not {url}");
    }
    Ok(())
}

fn read_queries(args: &Args) -> anyhow::Result<Vec<String>> {
    let queries: Vec<String> = match (&args.query, &args.queries_file) {
        (Some(q), _) => vec![q.clone()],
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("read {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        (None, None) => bail!("give --query or --queries-file"),
    };
    if queries.is_empty() {
        bail!("no queries to send");
    }
    Ok(queries)
}

/// What the driver reads of a searchset Bundle: its links and how many entries it has (the
/// entries are skipped over, not built: the driver shares the machine with the server, and a
/// document tree of a 1,000-entry page costs it more than the server spends on the page).
#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    link: Vec<Link>,
    #[serde(default)]
    entry: Vec<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct Link {
    relation: String,
    url: String,
}

impl Page {
    /// The `next` link, if any.
    fn next(&self) -> Option<&str> {
        self.link
            .iter()
            .find(|l| l.relation == "next")
            .map(|l| l.url.as_str())
    }
}

/// GETs `url`; on success returns the body and the time it took, the body read in full.
async fn get(
    client: &reqwest::Client,
    token: &str,
    url: reqwest::Url,
) -> Result<(bytes::Bytes, Duration), String> {
    let t = Instant::now();
    let reply = client
        .get(url.clone())
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = reply.status();
    let body = reply
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: read body: {e}"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("GET {url}: {status}: {text}"));
    }
    Ok((body, t.elapsed()))
}

/// One task: searches in turn from `start` until `until`; with `follow_next`, every page of each.
async fn task(
    client: reqwest::Client,
    token: Arc<String>,
    urls: Arc<Vec<reqwest::Url>>,
    start: usize,
    follow_next: bool,
    until: Instant,
) -> TaskStats {
    let mut stats = TaskStats::default();
    let mut i = start;
    while Instant::now() < until {
        let mut url = urls[i % urls.len()].clone();
        i += 1;
        loop {
            let body = match get(&client, &token, url).await {
                Ok((body, took)) => {
                    stats.latencies.push(took);
                    body
                }
                Err(e) => {
                    stats.error(e);
                    break;
                }
            };
            if !follow_next {
                break;
            }
            let bundle: Page = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    stats.error(format!("parse a search page: {e}"));
                    break;
                }
            };
            stats.entries += bundle.entry.len() as u64;
            let Some(next) = bundle.next() else {
                break;
            };
            match reqwest::Url::parse(next) {
                Ok(u) if check_loopback(&u).is_ok() => url = u,
                _ => {
                    stats.error(format!("unusable next link {next}"));
                    break;
                }
            }
            if Instant::now() >= until {
                break;
            }
        }
    }
    stats
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let queries = read_queries(&args)?;
    let base = args.base_url.trim_end_matches('/');
    let urls = queries
        .iter()
        .map(|q| {
            let url = reqwest::Url::parse(&format!("{base}/{q}"))
                .with_context(|| format!("parse the search URL of {q}"))?;
            check_loopback(&url)?;
            Ok(url)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| match &args.queries_file {
            Some(path) if args.query.is_none() => {
                format!("{} ({} queries)", path.display(), urls.len())
            }
            _ => queries[0].clone(),
        });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let token = Arc::new(args.token.clone());
    let urls = Arc::new(urls);
    let until = Instant::now() + Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|n| {
            tokio::spawn(task(
                client.clone(),
                Arc::clone(&token),
                Arc::clone(&urls),
                n * urls.len() / args.concurrency.max(1),
                args.follow_next,
                until,
            ))
        })
        .collect();
    let mut all = TaskStats::default();
    for t in tasks {
        let s = t.await?;
        all.latencies.extend(s.latencies);
        all.entries += s.entries;
        all.errors += s.errors;
        if let Some(e) = s.first_error {
            all.first_error.get_or_insert(e);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let latencies = &mut all.latencies;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let (rps, p50, p99) = (latencies.len() as f64 / elapsed, pct(0.5), pct(0.99));
    let resources_per_s = all.entries as f64 / elapsed;
    if args.json {
        println!(
            "{}",
            json!({
                "label": label,
                "queries": urls.len(),
                "concurrency": args.concurrency,
                "seconds": elapsed,
                "requests": latencies.len(),
                "requests_per_s": rps,
                "p50_ms": p50,
                "p99_ms": p99,
                "resources": all.entries,
                "resources_per_s": resources_per_s,
                "failed": all.errors,
                "first_error": all.first_error,
            })
        );
    } else if args.follow_next {
        println!(
            "{label}: {resources_per_s:.0} resources/s ({} in {elapsed:.1} s), {rps:.1} pages/s, \
             page p50 {p50:.2} ms, p99 {p99:.2} ms, {} failed",
            all.entries, all.errors
        );
    } else {
        println!(
            "{label}: {rps:.0} requests/s, p50 {p50:.2} ms, p99 {p99:.2} ms, {} done, {} failed",
            latencies.len(),
            all.errors
        );
    }
    if let Some(e) = &all.first_error {
        eprintln!("hearth-search-load: first failure: {e}");
    }
    Ok(())
}
