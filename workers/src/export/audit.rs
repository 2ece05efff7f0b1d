//! Audit records of export jobs: one INFO event (target `hearth::audit`, the same fields as a
//! request's record) when a worker starts a job, when it completes (files, resource count),
//! fails, is interrupted or cancelled, naming the tenant, the job and who requested it. The
//! kick-off itself is a request and has its own record.

use hearth_store::JobId;
use hearth_tenancy::TenantId;

use super::job::ExportJob;

/// The span of one job's work: `tenant_id` and `job_id` on everything logged inside it.
pub(crate) fn job_span(tenant: &TenantId, id: &JobId) -> tracing::Span {
    tracing::info_span!("job", kind = "export", tenant_id = %tenant, job_id = %id)
}

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobEvent {
    Started,
    Completed,
    Failed,
    Interrupted,
    Cancelled,
}

impl JobEvent {
    fn as_str(self) -> &'static str {
        match self {
            JobEvent::Started => "started",
            JobEvent::Completed => "completed",
            JobEvent::Failed => "failed",
            JobEvent::Interrupted => "interrupted",
            JobEvent::Cancelled => "cancelled",
        }
    }

    /// `AuditEvent.outcome`-style code: 0 success, 4 stopped on request, 8 failed.
    fn outcome(self) -> &'static str {
        match self {
            JobEvent::Started | JobEvent::Completed => "0",
            JobEvent::Cancelled | JobEvent::Interrupted => "4",
            JobEvent::Failed => "8",
        }
    }
}

/// Logs the audit record of `event` on job `id` (`job`: its document, when it could be read).
pub(crate) fn record(
    tenant: &TenantId,
    id: &JobId,
    event: JobEvent,
    job: Option<&ExportJob>,
    message: Option<&str>,
) {
    let owner = job.map(|j| &j.owner);
    let files = job.map_or(0, |j| j.files.len());
    let resources = job.map_or(0, |j| j.exported);
    tracing::info!(
        target: "hearth::audit",
        tenant_id = %tenant,
        job_id = %id,
        interaction = "$export",
        event = event.as_str(),
        outcome = event.outcome(),
        subject = owner.map_or("", |o| o.subject.as_str()),
        client_id = owner.and_then(|o| o.client_id.as_deref()).unwrap_or(""),
        files,
        resources,
        reason = message.unwrap_or(""),
        "audit"
    );
}
