//! The export job document (kept in the `JobStore`) and the manifest built from it.
//!
//! The document is the job's checkpoint. Its parts are the resource types; its tasks split the
//! work by slice of the store's `changes` (the index shards on AWS, one slice embedded), each
//! task walking every part for its slice. A task records the part it is in and the cursor after
//! its last finished file, so a restarted task continues from there and rewrites only the file
//! that was in progress (same name, so never a duplicate).

use chrono::{DateTime, SecondsFormat, Utc};
use hearth_store::JobId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::request::ExportRequest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Accepted,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub fn is_active(self) -> bool {
        matches!(self, Status::Accepted | Status::Running)
    }
}

/// Who started the job: only the same client (or subject, without a client) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub subject: String,
    pub client_id: Option<String>,
}

impl Owner {
    pub fn same(&self, other: &Owner) -> bool {
        match (&self.client_id, &other.client_id) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.subject == other.subject,
            _ => false,
        }
    }
}

/// What a file holds (the manifest section it is listed in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    Output,
    Deleted,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub kind: FileKind,
    /// The resource type of its lines (`Bundle` for deleted files, `OperationOutcome` for
    /// errors).
    pub rt: String,
    /// `[A-Za-z0-9._-]`, unique within the job.
    pub name: String,
    pub count: u64,
    pub bytes: u64,
}

/// One resource type of the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub rt: String,
    /// Provenance exported for `includeAssociatedData` (selected by their targets).
    #[serde(default)]
    pub associated: bool,
}

/// One slice of the work, run by one worker at a time (one queue message on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The `changes` slice it reads of every part (`None`: whole types).
    pub slice: Option<u32>,
    /// The index of the part in progress (`parts.len()` once all are done).
    pub part: usize,
    /// Position in that part after the last resource of the last finished file.
    pub cursor: Option<String>,
    /// Number of the next file of that part and slice.
    pub next_file: u32,
    pub done: bool,
    /// The worker that finished it.
    pub worker: Option<String>,
}

impl Task {
    pub fn new(slice: Option<u32>) -> Task {
        Task {
            slice,
            part: 0,
            cursor: None,
            next_file: 1,
            done: false,
            worker: None,
        }
    }

    /// The same task at the start of part `part`.
    pub fn at_part(self, part: usize) -> Task {
        Task {
            part,
            cursor: None,
            next_file: 1,
            ..self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    pub request: ExportRequest,
    /// The kick-off URL as received (the manifest's `request`).
    pub request_url: String,
    /// The tenant's FHIR base URL, for file links.
    pub base_url: String,
    pub owner: Owner,
    pub status: Status,
    pub created: DateTime<Utc>,
    /// Set when the job is planned.
    pub transaction_time: Option<DateTime<Utc>>,
    pub snapshot: Option<String>,
    /// Group export, or `patient` given: the ids of the patients whose data is exported.
    pub members: Option<Vec<String>>,
    pub parts: Vec<Part>,
    #[serde(default)]
    pub tasks: Vec<Task>,
    pub files: Vec<FileRecord>,
    /// Warnings of a lenient kick-off, and problems met while exporting.
    pub warnings: Vec<String>,
    pub failure: Option<String>,
    pub exported: u64,
}

impl ExportJob {
    pub fn new(
        request: ExportRequest,
        request_url: String,
        base_url: String,
        owner: Owner,
        warnings: Vec<String>,
    ) -> ExportJob {
        ExportJob {
            request,
            request_url,
            base_url,
            owner,
            status: Status::Accepted,
            created: Utc::now(),
            transaction_time: None,
            snapshot: None,
            members: None,
            parts: Vec::new(),
            tasks: Vec::new(),
            files: Vec::new(),
            warnings,
            failure: None,
            exported: 0,
        }
    }

    /// `X-Progress`: at most 100 characters, as the IG asks.
    pub fn progress(&self) -> String {
        match self.status {
            Status::Accepted => "queued".into(),
            _ => {
                let done = self.tasks.iter().filter(|t| t.done).count();
                format!(
                    "{} resources exported; {done} of {} tasks done",
                    self.exported,
                    self.tasks.len()
                )
            }
        }
    }

    /// The completion manifest of job `id`.
    pub fn manifest(&self, id: &JobId) -> Value {
        let link = |f: &FileRecord| {
            json!({
                "type": f.rt,
                "url": format!("{}/$export-file/{id}/{}", self.base_url, f.name),
                "count": f.count,
            })
        };
        let section = |kind: FileKind| -> Vec<Value> {
            self.files
                .iter()
                .filter(|f| f.kind == kind && f.count > 0)
                .map(link)
                .collect()
        };
        json!({
            "transactionTime": self
                .transaction_time
                .unwrap_or(self.created)
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            "request": self.request_url,
            "requiresAccessToken": true,
            "output": section(FileKind::Output),
            "deleted": section(FileKind::Deleted),
            "error": section(FileKind::Error),
        })
    }
}
