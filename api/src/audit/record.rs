//! The audit record of one request: the FHIR interaction it was (classified from method and
//! path, refined by the handler), who asked, the resources it touched and its outcome; and
//! the AuditEvent codes that interaction maps to.

use axum::http::Method;
use hearth_tenancy::TenantId;

/// Most resource references one record lists (the rest are only counted in
/// [`AuditRecord::entity_count`]), so a 1,000-entry search page does not make a huge record.
pub const MAX_ENTITIES: usize = 50;

/// The FHIR interaction of a request (R4 `restful-interaction` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    Read,
    Vread,
    Update,
    Patch,
    Delete,
    HistoryInstance,
    HistoryType,
    HistorySystem,
    Create,
    SearchType,
    SearchSystem,
    Batch,
    Transaction,
    Capabilities,
    /// A named operation such as `$export`, `$export-status` or `$export-file`.
    Operation(&'static str),
}

impl Interaction {
    /// The `http://hl7.org/fhir/restful-interaction` code.
    pub fn code(self) -> &'static str {
        match self {
            Interaction::Read => "read",
            Interaction::Vread => "vread",
            Interaction::Update => "update",
            Interaction::Patch => "patch",
            Interaction::Delete => "delete",
            Interaction::HistoryInstance => "history-instance",
            Interaction::HistoryType => "history-type",
            Interaction::HistorySystem => "history-system",
            Interaction::Create => "create",
            Interaction::SearchType => "search-type",
            Interaction::SearchSystem => "search-system",
            Interaction::Batch => "batch",
            Interaction::Transaction => "transaction",
            Interaction::Capabilities => "capabilities",
            Interaction::Operation(_) => "operation",
        }
    }

    /// What the audit log shows: the code, or the operation's name.
    pub fn label(self) -> &'static str {
        match self {
            Interaction::Operation(name) => name,
            other => other.code(),
        }
    }

    /// `AuditEvent.action`: C, R, U, D or E (execute: batch, transaction, operations).
    pub fn action(self) -> &'static str {
        match self {
            Interaction::Create => "C",
            Interaction::Read
            | Interaction::Vread
            | Interaction::HistoryInstance
            | Interaction::HistoryType
            | Interaction::HistorySystem
            | Interaction::SearchType
            | Interaction::SearchSystem
            | Interaction::Capabilities => "R",
            Interaction::Update | Interaction::Patch => "U",
            Interaction::Delete => "D",
            Interaction::Batch | Interaction::Transaction | Interaction::Operation(_) => "E",
        }
    }

    /// Whether the record keeps the query (searches).
    pub fn is_search(self) -> bool {
        matches!(self, Interaction::SearchType | Interaction::SearchSystem)
    }
}

/// `AuditEvent.outcome` of an HTTP status: `0` success (1xx–3xx), `4` minor failure (4xx:
/// the request was refused or named nothing), `8` serious failure (5xx). `12` (major
/// failure) is not used: a request that got an answer did not fail that badly.
pub fn outcome_code(status: u16) -> &'static str {
    match status {
        0..=399 => "0",
        400..=499 => "4",
        _ => "8",
    }
}

/// The interaction of a request under `/tenant/{id}` and the resource its path names
/// (`Type/id`, or `Type/id/_history/vid` for a vread); `None` outside the FHIR API or for
/// SMART discovery.
pub fn classify(method: &Method, path: &str) -> Option<(Interaction, Option<String>)> {
    let rest = path.strip_prefix("/tenant/")?;
    let mut segments = rest.split('/').skip(1).filter(|s| !s.is_empty());
    let parts: Vec<&str> = segments.by_ref().take(5).collect();
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let by_method = |rt: &str, id: Option<&str>| -> Option<(Interaction, Option<String>)> {
        let target = id.map(|id| format!("{rt}/{id}"));
        let interaction = match *method {
            Method::PUT => Interaction::Update,
            Method::PATCH => Interaction::Patch,
            Method::DELETE => Interaction::Delete,
            Method::POST if id.is_none() => Interaction::Create,
            _ if get && id.is_some() => Interaction::Read,
            _ if get => Interaction::SearchType,
            _ => return None,
        };
        Some((interaction, target))
    };
    let only = |i: Interaction| Some((i, None));
    match parts.as_slice() {
        [] if post => only(Interaction::Batch),
        [] if get => only(Interaction::SearchSystem),
        ["metadata"] => only(Interaction::Capabilities),
        ["$export"] | ["Patient", "$export"] => only(Interaction::Operation("$export")),
        ["Group", id, "$export"] => Some((
            Interaction::Operation("$export"),
            Some(format!("Group/{id}")),
        )),
        ["$export-status", ..] => only(Interaction::Operation("$export-status")),
        ["$export-file", ..] => only(Interaction::Operation("$export-file")),
        [".well-known", ..] => None,
        ["_history"] => only(Interaction::HistorySystem),
        ["_search"] => only(Interaction::SearchSystem),
        [_, "_search"] => only(Interaction::SearchType),
        [_, "_history"] => only(Interaction::HistoryType),
        [rt, id, "_history"] => Some((Interaction::HistoryInstance, Some(format!("{rt}/{id}")))),
        [rt, id, "_history", vid] => Some((
            Interaction::Vread,
            Some(format!("{rt}/{id}/_history/{vid}")),
        )),
        [rt] => by_method(rt, None),
        [rt, id] => by_method(rt, Some(id)),
        _ => None,
    }
}

/// The export job a `$export-status/{job}` or `$export-file/{job}/...` path names.
pub fn job_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/tenant/")?;
    let mut segments = rest.split('/').skip(1);
    match segments.next()? {
        "$export-status" | "$export-file" => segments.next().map(str::to_owned),
        _ => None,
    }
}

/// One request's audit record, as logged and (optionally) stored as an AuditEvent.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// The tenant the request was authorized for; `None` for requests without one (admin,
    /// health, the token endpoint, rejected tokens), which are only logged.
    pub tenant: Option<TenantId>,
    pub interaction: Option<Interaction>,
    /// The token's `sub`.
    pub subject: Option<String>,
    /// The SMART client the token was issued to.
    pub client_id: Option<String>,
    /// The client's IP address.
    pub source: Option<String>,
    pub request_id: String,
    /// References of the resources touched (`Type/id`, `Type/id/_history/vid`), at most
    /// [`MAX_ENTITIES`].
    pub entities: Vec<String>,
    /// How many resources were touched in all.
    pub entity_count: usize,
    /// The search's parameters (searches only).
    pub query: Option<String>,
    /// The export job started (kick-off) or addressed (status, cancel, files).
    pub job: Option<String>,
    pub status: u16,
    /// The OperationOutcome issue code of a failed request.
    pub issue_code: Option<&'static str>,
    pub recorded: chrono::DateTime<chrono::Utc>,
}

impl AuditRecord {
    /// Emits the record as one INFO event (target `hearth::audit`) in the request's span,
    /// which adds method, path, tenant, request id, source address, subject and client id.
    pub fn log(&self, latency_ms: u128) {
        tracing::info!(
            target: "hearth::audit",
            interaction = self.interaction.map(Interaction::label).unwrap_or("other"),
            status = self.status,
            outcome = outcome_code(self.status),
            issue = self.issue_code.unwrap_or(""),
            entities = %self.entities.join(" "),
            entity_count = self.entity_count,
            job_id = self.job.as_deref().unwrap_or(""),
            latency_ms = latency_ms as u64,
            "audit"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: Option<(&str, &str, Option<&str>)>) {
        let got = classify(&method, path).map(|(i, t)| (i.code(), i.action(), t));
        let expected = expected.map(|(c, a, t)| (c, a, t.map(str::to_owned)));
        assert_eq!(got, expected, "{method} {path}");
    }

    #[test]
    fn interactions_from_method_and_path() {
        use Method as M;
        let t = "/tenant/a";
        for (method, path, expected) in [
            (M::GET, "/Patient/1", Some(("read", "R", Some("Patient/1")))),
            (
                M::HEAD,
                "/Patient/1",
                Some(("read", "R", Some("Patient/1"))),
            ),
            (
                M::GET,
                "/Patient/1/_history/2",
                Some(("vread", "R", Some("Patient/1/_history/2"))),
            ),
            (
                M::PUT,
                "/Patient/1",
                Some(("update", "U", Some("Patient/1"))),
            ),
            (M::PUT, "/Patient", Some(("update", "U", None))),
            (
                M::PATCH,
                "/Patient/1",
                Some(("patch", "U", Some("Patient/1"))),
            ),
            (
                M::DELETE,
                "/Patient/1",
                Some(("delete", "D", Some("Patient/1"))),
            ),
            (M::DELETE, "/Patient", Some(("delete", "D", None))),
            (
                M::GET,
                "/Patient/1/_history",
                Some(("history-instance", "R", Some("Patient/1"))),
            ),
            (
                M::GET,
                "/Patient/_history",
                Some(("history-type", "R", None)),
            ),
            (M::GET, "/_history", Some(("history-system", "R", None))),
            (M::POST, "/Patient", Some(("create", "C", None))),
            (M::GET, "/Patient", Some(("search-type", "R", None))),
            (
                M::POST,
                "/Patient/_search",
                Some(("search-type", "R", None)),
            ),
            (M::GET, "", Some(("search-system", "R", None))),
            (M::POST, "/_search", Some(("search-system", "R", None))),
            (M::POST, "", Some(("batch", "E", None))),
            (M::GET, "/metadata", Some(("capabilities", "R", None))),
            (M::GET, "/$export", Some(("operation", "E", None))),
            (M::POST, "/Patient/$export", Some(("operation", "E", None))),
            (
                M::GET,
                "/Group/g1/$export",
                Some(("operation", "E", Some("Group/g1"))),
            ),
            (M::GET, "/$export-status/j", Some(("operation", "E", None))),
            (
                M::DELETE,
                "/$export-status/j",
                Some(("operation", "E", None)),
            ),
            (M::GET, "/.well-known/smart-configuration", None),
            (M::OPTIONS, "/Patient/1", None),
        ] {
            check(method, &format!("{t}{path}"), expected);
        }
        check(M::GET, "/health", None);
        check(M::POST, "/admin/tenants", None);
        check(M::POST, "/auth/token", None);
    }

    #[test]
    fn jobs_from_paths() {
        assert_eq!(job_of("/tenant/a/$export-status/j1").as_deref(), Some("j1"));
        assert_eq!(
            job_of("/tenant/a/$export-file/j1/f.ndjson").as_deref(),
            Some("j1")
        );
        assert_eq!(job_of("/tenant/a/$export"), None);
        assert_eq!(job_of("/tenant/a/Patient/1"), None);
    }

    #[test]
    fn operation_labels() {
        let (i, _) = classify(&Method::GET, "/tenant/a/$export-file/j/f").unwrap();
        assert_eq!((i.code(), i.label()), ("operation", "$export-file"));
        assert_eq!(Interaction::Transaction.action(), "E");
        assert_eq!(Interaction::Transaction.label(), "transaction");
    }

    #[test]
    fn outcomes_by_status_class() {
        for (status, code) in [
            (200, "0"),
            (201, "0"),
            (204, "0"),
            (304, "0"),
            (400, "4"),
            (403, "4"),
            (404, "4"),
            (412, "4"),
            (429, "4"),
            (500, "8"),
            (503, "8"),
        ] {
            assert_eq!(outcome_code(status), code, "{status}");
        }
    }
}
