//! Turning one page of stored resources into file bytes, on the job's encoding thread: compartment
//! and `_typeFilter` selection, `_elements`, and the NDJSON or Parquet encoding.
//!
//! NDJSON lines are the stored bytes themselves when nothing needs the parsed resource; a
//! stored body is compact JSON, so it holds no raw newline.

use std::collections::HashSet;
use std::sync::Arc;

use hearth_columnar::ResourceWriter;
use hearth_fhir::ResourceType;
use hearth_fhir::compartment::patients_linked;
use hearth_fhir::search::registry::Registry;
use hearth_fhir::subset::{is_element, subset};
use hearth_store::StoredVersion;
use serde_json::Value;
use tokio::sync::oneshot;

use super::shared_buf::SharedBuf;

/// What selects and shapes the resources of one part; shared by its pages.
#[derive(Debug)]
pub struct Selection {
    pub rt: ResourceType,
    /// Patient and Group exports: only resources in a patient's compartment (or, for types
    /// outside it, referencing a patient), and with `members`, only those patients'.
    pub compartment: bool,
    pub members: Option<HashSet<String>>,
    /// `_elements` that apply to this type (empty: whole resources).
    pub elements: Vec<String>,
    /// The tenant's base URL (absolute references under it are local).
    pub base: String,
}

impl Selection {
    fn needs_parse(&self) -> bool {
        self.compartment || !self.elements.is_empty() || self.binary()
    }

    /// Binary resources go out as DocumentReferences pointing to their content (Bulk Data IG).
    fn binary(&self) -> bool {
        self.rt.as_str() == "Binary"
    }

    /// Whether a resource belongs to the export's patients.
    pub fn in_scope(&self, resource: &Value) -> bool {
        if !self.compartment {
            return true;
        }
        let patients = patients_linked(Registry::r4(), resource, Some(&self.base));
        match &self.members {
            Some(members) => patients.iter().any(|p| members.contains(p)),
            None => !patients.is_empty(),
        }
    }
}

/// A DocumentReference standing for a Binary: same id and `meta`, the content by URL (read
/// with the same token) and its content type; a `securityContext` is kept in
/// `context.related`.
fn binary_as_document_reference(binary: &Value, base: &str) -> Value {
    let id = binary.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut attachment = serde_json::Map::new();
    if let Some(content_type) = binary.get("contentType") {
        attachment.insert("contentType".into(), content_type.clone());
    }
    attachment.insert("url".into(), Value::String(format!("{base}/Binary/{id}")));
    let mut doc = serde_json::json!({
        "resourceType": "DocumentReference",
        "id": id,
        "status": "current",
        "content": [{"attachment": attachment}],
    });
    if let Some(meta) = binary.get("meta") {
        doc["meta"] = meta.clone();
    }
    if let Some(context) = binary.get("securityContext") {
        doc["context"] = serde_json::json!({"related": [context]});
    }
    doc
}

/// The file format being written.
pub enum Encoder {
    Ndjson,
    Parquet {
        writer: Box<ResourceWriter<SharedBuf>>,
        buf: SharedBuf,
    },
}

impl Encoder {
    pub fn parquet(rt: ResourceType) -> Result<Encoder, String> {
        let buf = SharedBuf::default();
        // Memory stays low with smaller row groups than the encoder's default and with snappy:
        // the writer keeps a compressor per leaf column (hundreds per type), and a zstd
        // context costs about half a MiB where snappy's costs next to nothing.
        let options = hearth_columnar::Options {
            batch_rows: 1024,
            batch_bytes: 4 << 20,
            row_group_bytes: 16 << 20,
            compression: hearth_columnar::Compression::Snappy,
            ..hearth_columnar::Options::default()
        };
        let writer = ResourceWriter::new(buf.clone(), rt, &options).map_err(|e| e.to_string())?;
        Ok(Encoder::Parquet {
            writer: Box::new(writer),
            buf,
        })
    }

    /// Ends the file, appending its last bytes to `out`.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), String> {
        if let Encoder::Parquet { writer, buf } = self {
            writer.finish().map_err(|e| e.to_string())?;
            buf.drain_into(out);
        }
        Ok(())
    }
}

/// One page's work, moved to a blocking thread and back.
pub struct PageWork {
    pub versions: Vec<StoredVersion>,
    pub selection: Arc<Selection>,
    /// `_typeFilter`: ids of this page's resources that match one of the type's filters.
    pub matching: Option<HashSet<String>>,
    pub encoder: Encoder,
}

pub struct PageDone {
    pub encoder: Encoder,
    pub bytes: Vec<u8>,
    pub count: u64,
    /// Resources that could not be exported, as messages for the error file.
    pub problems: Vec<String>,
}

pub fn process(work: PageWork) -> Result<PageDone, String> {
    let PageWork {
        versions,
        selection,
        matching,
        mut encoder,
    } = work;
    let mut out = PageDone {
        encoder: Encoder::Ndjson,
        bytes: Vec::with_capacity(
            versions
                .iter()
                .map(|v| v.body.as_ref().map_or(0, |b| b.len() + 1))
                .sum(),
        ),
        count: 0,
        problems: Vec::new(),
    };
    for version in versions {
        let Some(body) = version.body else { continue };
        if let Some(matching) = &matching
            && !matching.contains(version.key.id.as_str())
        {
            continue;
        }
        if !selection.needs_parse() {
            match &mut encoder {
                Encoder::Ndjson => {
                    out.bytes.extend_from_slice(&body);
                    out.bytes.push(b'\n');
                }
                Encoder::Parquet { writer, .. } => {
                    // Stored JSON straight into the columns, without a `Value` in between.
                    let written = std::str::from_utf8(&body)
                        .map_err(|e| e.to_string())
                        .and_then(|text| writer.write_json(text).map_err(|e| e.to_string()));
                    if let Err(e) = written {
                        out.problems
                            .push(format!("{}/{}: {e}", version.key.rt, version.key.id));
                        continue;
                    }
                }
            }
            out.count += 1;
            continue;
        }
        let value: Value = match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(e) => {
                out.problems.push(format!(
                    "{}/{}: stored body unreadable: {e}",
                    version.key.rt, version.key.id
                ));
                continue;
            }
        };
        if !selection.in_scope(&value) {
            continue;
        }
        let value = match selection.binary() {
            true => binary_as_document_reference(&value, &selection.base),
            false => value,
        };
        let value = match (value, selection.elements.is_empty()) {
            (Value::Object(map), false) => Value::Object(subset(selection.rt, map, |k| {
                selection.elements.iter().any(|e| is_element(k, e))
            })),
            (value, _) => value,
        };
        match &mut encoder {
            Encoder::Ndjson => {
                if let Err(e) = serde_json::to_writer(&mut out.bytes, &value) {
                    out.problems
                        .push(format!("{}/{}: {e}", version.key.rt, version.key.id));
                    continue;
                }
                out.bytes.push(b'\n');
            }
            Encoder::Parquet { writer, .. } => {
                if let Err(e) = writer.write(&value) {
                    out.problems
                        .push(format!("{}/{}: {e}", version.key.rt, version.key.id));
                    continue;
                }
            }
        }
        out.count += 1;
    }
    if let Encoder::Parquet { buf, .. } = &encoder {
        buf.drain_into(&mut out.bytes);
    }
    out.encoder = encoder;
    Ok(out)
}

enum Task {
    Page(PageWork, oneshot::Sender<Result<PageDone, String>>),
    Finish(Encoder, oneshot::Sender<Result<Vec<u8>, String>>),
}

/// The thread a job encodes on. One thread for the whole job keeps its allocations in one
/// allocator arena (the blocking pool would spread a Parquet writer's buffers over several,
/// each keeping memory it no longer uses) and off the async workers. It ends when dropped.
pub struct EncodeThread {
    tx: std::sync::mpsc::Sender<Task>,
}

impl EncodeThread {
    pub fn start() -> std::io::Result<EncodeThread> {
        let (tx, rx) = std::sync::mpsc::channel::<Task>();
        std::thread::Builder::new()
            .name("hearth-export-encode".into())
            .spawn(move || {
                while let Ok(task) = rx.recv() {
                    match task {
                        Task::Page(work, reply) => {
                            let _ = reply.send(process(work));
                        }
                        Task::Finish(encoder, reply) => {
                            let mut tail = Vec::new();
                            let _ = reply.send(encoder.finish(&mut tail).map(|()| tail));
                        }
                    }
                }
            })?;
        Ok(EncodeThread { tx })
    }

    pub async fn page(&self, work: PageWork) -> Result<PageDone, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Task::Page(work, reply))
            .map_err(|_| "the encoding thread stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the encoding thread stopped".to_owned())?
    }

    /// Ends a file's encoding; returns its last bytes.
    pub async fn finish(&self, encoder: Encoder) -> Result<Vec<u8>, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Task::Finish(encoder, reply))
            .map_err(|_| "the encoding thread stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the encoding thread stopped".to_owned())?
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_binary_becomes_a_valid_document_reference() {
        let cases = [
            json!({"resourceType": "Binary", "id": "b1", "contentType": "application/pdf",
                   "meta": {"versionId": "2", "lastUpdated": "2024-01-01T00:00:00.000Z"}}),
            json!({"resourceType": "Binary", "id": "b2", "contentType": "text/plain",
                   "securityContext": {"reference": "Patient/p"}}),
        ];
        for binary in cases {
            let doc = binary_as_document_reference(&binary, "http://h/tenant/t");
            let valid = hearth_fhir::validate_resource(&doc);
            assert!(valid.is_ok(), "{doc}: {valid:?}");
            assert_eq!(doc["id"], binary["id"]);
            assert_eq!(
                doc["content"][0]["attachment"]["url"],
                format!(
                    "http://h/tenant/t/Binary/{}",
                    binary["id"].as_str().unwrap()
                )
            );
        }
    }
}
