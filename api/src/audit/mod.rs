//! The audit trail of requests: every request leaves one structured record (who, tenant,
//! interaction, resources touched, outcome, source address), logged at its end and, when
//! configured, also stored as an R4 AuditEvent in the request's tenant.
//!
//! Handlers report what they touched to a small per-request collector (a task-local set by
//! [`layer`]); nothing re-reads response bodies. Calls outside a request (tests, workers)
//! are no-ops.

mod event;
mod record;
mod writer;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hearth_auth::Principal;
use hearth_tenancy::TenantId;

pub use record::{AuditRecord, Interaction, MAX_ENTITIES, classify, job_of};
pub use writer::{AuditEvents, AuditEventsConfig};

use crate::state::AppState;

tokio::task_local! {
    static NOTES: Arc<Mutex<Notes>>;
}

/// What the handler of a request reported.
#[derive(Debug, Default)]
struct Notes {
    subject: Option<String>,
    client_id: Option<String>,
    tenant: Option<TenantId>,
    interaction: Option<Interaction>,
    entities: Vec<String>,
    entity_count: usize,
    query: Option<String>,
    job: Option<String>,
}

fn with_notes(f: impl FnOnce(&mut Notes)) {
    let _ = NOTES.try_with(|notes| {
        if let Ok(mut notes) = notes.lock() {
            f(&mut notes);
        }
    });
}

/// The caller's token was verified.
pub(crate) fn note_caller(principal: &Principal) {
    with_notes(|n| {
        n.subject = Some(principal.subject.clone());
        n.client_id = principal.client_id.clone();
    });
}

/// The request was authorized for `tenant` (its token names it and it is active): only then
/// may its record be stored there.
pub(crate) fn note_tenant(tenant: &TenantId) {
    with_notes(|n| n.tenant = Some(tenant.clone()));
}

/// The handler knows the interaction better than the path (batch or transaction).
pub(crate) fn note_interaction(interaction: Interaction) {
    with_notes(|n| n.interaction = Some(interaction));
}

/// A resource the request touched (`Type/id` or `Type/id/_history/vid`).
pub(crate) fn note_touched(reference: impl FnOnce() -> String) {
    with_notes(|n| {
        n.entity_count += 1;
        if n.entities.len() < MAX_ENTITIES {
            n.entities.push(reference());
        }
    });
}

/// The export job a kick-off started.
pub(crate) fn note_job(id: &str) {
    with_notes(|n| n.job = Some(id.to_owned()));
}

/// The parameters of a search.
pub(crate) fn note_query(query: &str) {
    with_notes(|n| n.query = Some(query.to_owned()));
}

/// The OperationOutcome issue code of a failed response, set where errors become responses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IssueCodeExt(pub &'static str);

/// The middleware around every request: collects the handler's notes, then logs the record
/// and hands it to the AuditEvent writer when there is one and the request had a tenant.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let classified = classify(request.method(), request.uri().path());
    let path_job = job_of(request.uri().path());
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let notes = Arc::new(Mutex::new(Notes::default()));
    let response = NOTES.scope(notes.clone(), next.run(request)).await;
    let notes = match notes.lock() {
        Ok(mut notes) => std::mem::take(&mut *notes),
        Err(_) => Notes::default(),
    };
    let (path_interaction, target) = classified.unzip();
    let interaction = notes.interaction.or(path_interaction);
    let (entities, entity_count) = match (notes.entities.is_empty(), target.flatten()) {
        (true, Some(target)) => (vec![target], 1),
        _ => (notes.entities, notes.entity_count),
    };
    let record = AuditRecord {
        tenant: notes.tenant,
        interaction,
        subject: notes.subject,
        client_id: notes.client_id,
        source,
        request_id,
        entities,
        entity_count,
        query: notes
            .query
            .filter(|_| interaction.is_some_and(Interaction::is_search)),
        job: notes.job.or(path_job),
        status: response.status().as_u16(),
        issue_code: response.extensions().get::<IssueCodeExt>().map(|c| c.0),
        recorded: chrono::Utc::now(),
    };
    record.log(started.elapsed().as_millis());
    if let Some(events) = &state.audit_events
        && record.tenant.is_some()
        && record.interaction.is_some()
    {
        events.submit(record);
    }
    response
}
