//! The indexer loop: take a batch of index events, read the current documents of their
//! resources from the store, apply them to the search index, and only then acknowledge.
//!
//! A failed batch is not acknowledged: its events come back after the visibility timeout
//! (and go to the dead letters after `max_attempts`), while the loop backs off exponentially.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;
use hearth_store::{
    Delivery, INDEX_QUEUE, IndexEvent, IndexSource, JobQueue, KeyIndex, ResourceKey, StoreError,
};
use hearth_tenancy::TenantId;

#[derive(Debug, Clone)]
pub struct IndexerOptions {
    /// Events taken per batch.
    pub batch: usize,
    /// How long a taken event stays hidden from other indexers.
    pub visibility: Duration,
    /// Deliveries of one event before it goes to the dead letters.
    pub max_attempts: u32,
    /// Wait when the queue is empty.
    pub idle: Duration,
    /// Longest back-off after repeated failures.
    pub max_backoff: Duration,
}

impl Default for IndexerOptions {
    fn default() -> IndexerOptions {
        IndexerOptions {
            batch: 100,
            visibility: Duration::from_secs(60),
            max_attempts: 8,
            idle: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The index lag: milliseconds between a resource's last update and its indexing, for the
/// most recent batch (`-1` before the first).
#[derive(Debug, Default)]
pub struct IndexLag(AtomicI64);

impl IndexLag {
    pub fn millis(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Told the index lag of every indexed batch (to publish it as a metric).
pub type LagObserver = Arc<dyn Fn(Duration) + Send + Sync>;

pub struct Indexer {
    source: Arc<dyn IndexSource>,
    index: Arc<dyn KeyIndex>,
    queue: Arc<dyn JobQueue>,
    options: IndexerOptions,
    lag: Arc<IndexLag>,
    observer: Option<LagObserver>,
}

impl Indexer {
    pub fn new(
        source: Arc<dyn IndexSource>,
        index: Arc<dyn KeyIndex>,
        queue: Arc<dyn JobQueue>,
        options: IndexerOptions,
    ) -> Indexer {
        Indexer {
            source,
            index,
            queue,
            options,
            lag: Arc::new(IndexLag(AtomicI64::new(-1))),
            observer: None,
        }
    }

    /// Also tells `observer` the lag of every batch indexed.
    pub fn with_lag_observer(mut self, observer: LagObserver) -> Indexer {
        self.observer = Some(observer);
        self
    }

    pub fn lag(&self) -> Arc<IndexLag> {
        Arc::clone(&self.lag)
    }

    /// Indexes until the task is dropped.
    pub async fn run(self) {
        let mut backoff = self.options.idle;
        loop {
            match self.step().await {
                Ok(0) => tokio::time::sleep(self.options.idle).await,
                Ok(_) => backoff = self.options.idle,
                Err(e) => {
                    backoff = (backoff * 2).min(self.options.max_backoff);
                    tracing::warn!(error = %e, retry_in = ?backoff, "indexing failed");
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// Takes and indexes one batch; returns how many events it took.
    pub async fn step(&self) -> Result<usize, StoreError> {
        let deliveries = self.take().await?;
        if deliveries.is_empty() {
            return Ok(0);
        }
        let mut by_tenant: BTreeMap<TenantId, Vec<ResourceKey>> = BTreeMap::new();
        for delivery in &deliveries {
            let event = serde_json::from_str::<IndexEvent>(&delivery.body).ok();
            match event.as_ref().and_then(IndexEvent::resource) {
                Some((tenant, key)) => by_tenant.entry(tenant).or_default().push(key),
                None => tracing::debug!(body = %delivery.body, "not an index event; dropped"),
            }
        }
        let mut oldest = None;
        for (tenant, mut keys) in by_tenant {
            keys.sort();
            keys.dedup();
            let docs = self.source.index_docs(&tenant, &keys).await?;
            self.index.apply(&tenant, &docs).await?;
            let first = docs.iter().map(|d| d.last_updated).min();
            oldest = oldest.min(first).or(first);
        }
        if let Some(oldest) = oldest {
            let lag = (Utc::now() - oldest).num_milliseconds().max(0);
            self.lag.0.store(lag, Ordering::Relaxed);
            if let Some(observer) = &self.observer {
                observer(Duration::from_millis(lag.unsigned_abs()));
            }
            tracing::debug!(events = deliveries.len(), lag_ms = lag, "indexed");
        }
        for delivery in &deliveries {
            self.queue.ack(INDEX_QUEUE, &delivery.receipt).await?;
        }
        Ok(deliveries.len())
    }

    async fn take(&self) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        while out.len() < self.options.batch {
            let next = self
                .queue
                .receive(
                    INDEX_QUEUE,
                    self.options.visibility,
                    self.options.max_attempts,
                )
                .await?;
            match next {
                Some(delivery) => out.push(delivery),
                None => break,
            }
        }
        Ok(out)
    }
}
