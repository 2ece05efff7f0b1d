//! Storing audit records as AuditEvents: a bounded channel and one background task per server
//! that writes them in batches through the `ResourceStore`, validated and indexed like any
//! other create. A full channel drops the record (warning and counter); a request never waits
//! for or fails because of its AuditEvent.
//!
//! The writes of AuditEvents are not requests, so they leave no audit record themselves; each
//! event goes to the tenant its request was authorized for, and nowhere else.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::index_entries;
use hearth_fhir::search::registry::Registry;
use hearth_fhir::{ResourceId, ResourceType};
use hearth_store::{Method, Precondition, ResourceKey, ResourceStore, WriteKind, WriteOp};
use hearth_tenancy::TenantId;
use serde_json::Value;
use tokio::sync::mpsc;

use super::event::audit_event;
use super::record::AuditRecord;

/// Events written in one atomic store call (well under DynamoDB's 33-op transaction).
const WRITE_BATCH: usize = 25;
/// Records taken from the channel per round.
const ROUND: usize = 500;

/// How AuditEvents are stored.
#[derive(Debug, Clone)]
pub struct AuditEventsConfig {
    /// Records waiting to be written before new ones are dropped.
    pub capacity: usize,
    /// `source.observer.display` of the events (e.g. `hearth ip-10-0-1-5`).
    pub observer: String,
}

impl Default for AuditEventsConfig {
    fn default() -> Self {
        AuditEventsConfig {
            capacity: 10_000,
            observer: "hearth".into(),
        }
    }
}

/// The sending side of the writer; the task ends when the last sender is dropped.
pub struct AuditEvents {
    tx: mpsc::Sender<AuditRecord>,
    dropped: AtomicU64,
    failed: Arc<AtomicU64>,
}

impl AuditEvents {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn ResourceStore>, config: AuditEventsConfig) -> AuditEvents {
        let (events, rx) = AuditEvents::channel(config.capacity);
        tokio::spawn(run(store, config.observer, rx, events.failed.clone()));
        events
    }

    fn channel(capacity: usize) -> (AuditEvents, mpsc::Receiver<AuditRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let events = AuditEvents {
            tx,
            dropped: AtomicU64::new(0),
            failed: Arc::new(AtomicU64::new(0)),
        };
        (events, rx)
    }

    /// Queues `record` without waiting; when the queue is full it is dropped and counted (the
    /// warning is logged for the 1st, 2nd, 4th, ... and every 1,000th drop, not for each).
    pub fn submit(&self, record: AuditRecord) {
        if self.tx.try_send(record).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() || dropped.is_multiple_of(1000) {
                tracing::warn!(dropped, "audit event queue full; audit events dropped");
            }
        }
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events that could not be built or written.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

async fn run(
    store: Arc<dyn ResourceStore>,
    observer: String,
    mut rx: mpsc::Receiver<AuditRecord>,
    failed: Arc<AtomicU64>,
) {
    let mut buffer = Vec::with_capacity(ROUND);
    while rx.recv_many(&mut buffer, ROUND).await > 0 {
        let mut by_tenant: BTreeMap<TenantId, Vec<WriteOp>> = BTreeMap::new();
        for record in buffer.drain(..) {
            let Some(tenant) = record.tenant.clone() else {
                continue;
            };
            match write_op(&record, &observer) {
                Ok(op) => by_tenant.entry(tenant).or_default().push(op),
                Err(issues) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%tenant, request_id = %record.request_id, issues, "build audit event");
                }
            }
        }
        for (tenant, ops) in by_tenant {
            let mut ops = ops.into_iter().peekable();
            while ops.peek().is_some() {
                let batch: Vec<WriteOp> = ops.by_ref().take(WRITE_BATCH).collect();
                let n = batch.len() as u64;
                if let Err(err) = store.write(&tenant, batch).await {
                    failed.fetch_add(n, Ordering::Relaxed);
                    tracing::warn!(%tenant, error = %err, events = n, "write audit events");
                }
            }
        }
    }
}

/// The create of `record`'s AuditEvent, validated against R4 and indexed for search.
fn write_op(record: &AuditRecord, observer: &str) -> Result<WriteOp, String> {
    let event = audit_event(record, observer).ok_or("no interaction")?;
    let rt: ResourceType = "AuditEvent".parse().map_err(|_| "no AuditEvent type")?;
    hearth_fhir::validate::validate_resource(&event).map_err(|issues| format!("{issues:?}"))?;
    let index = index_entries(&extract(Registry::r4(), &event), None);
    let Value::Object(body) = event else {
        return Err("not an object".into());
    };
    Ok(WriteOp {
        key: ResourceKey::new(rt, ResourceId::new_v4(uuid::Uuid::new_v4())),
        kind: WriteKind::Put {
            body,
            blob: None,
            method: Method::Post,
            index,
        },
        precondition: Precondition::MustNotExist,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::Interaction;

    fn record(tenant: &str) -> AuditRecord {
        AuditRecord {
            tenant: Some(tenant.parse().unwrap()),
            interaction: Some(Interaction::Create),
            subject: Some("alice".into()),
            client_id: None,
            source: Some("10.0.0.1".into()),
            request_id: "r".into(),
            entities: vec!["Patient/1/_history/1".into()],
            entity_count: 1,
            query: None,
            job: None,
            status: 201,
            issue_code: None,
            recorded: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (events, mut rx) = AuditEvents::channel(2);
        for _ in 0..5 {
            events.submit(record("a"));
        }
        assert_eq!(events.dropped(), 3);
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn events_are_indexed_creates() {
        let op = write_op(&record("a"), "hearth").unwrap();
        assert_eq!(op.key.rt.as_str(), "AuditEvent");
        assert_eq!(op.precondition, Precondition::MustNotExist);
        let WriteKind::Put { body, index, .. } = op.kind else {
            panic!("a put");
        };
        assert_eq!(body["subtype"][0]["code"], "create");
        assert!(!index.is_empty(), "indexed for search");
    }
}
