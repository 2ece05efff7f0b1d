//! Versioned writes: `_bulk` index requests with `version_type=external`, so a document only
//! replaces an older version of its key (a delete is a tombstone document, versioned the
//! same way). A version conflict means a newer version is indexed already: success.

use hearth_store::{IndexDoc, StoreError};
use opensearch::{BulkParts, OpenSearch};
use serde_json::{Value, json};

use crate::document::{doc_id, source};
use crate::http::{reply, retryable};

/// Largest request body, in bytes (Amazon OpenSearch Service accepts 10 MiB on its
/// smallest instances).
const MAX_BODY: usize = 5 * 1024 * 1024;

/// The NDJSON lines of `docs`, in requests of at most [`MAX_BODY`] bytes.
pub(crate) fn requests(docs: &[IndexDoc]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let (mut lines, mut size) = (Vec::new(), 0);
    for doc in docs {
        let action = json!({"index": {
            "_id": doc_id(&doc.rt, &doc.id),
            "version": doc.version,
            "version_type": "external",
        }})
        .to_string();
        let body = source(doc).to_string();
        let len = action.len() + body.len() + 2;
        if !lines.is_empty() && size + len > MAX_BODY {
            out.push(std::mem::take(&mut lines));
            size = 0;
        }
        size += len;
        lines.push(action);
        lines.push(body);
    }
    if !lines.is_empty() {
        out.push(lines);
    }
    out
}

/// Checks the items of a bulk reply: each indexed, or already newer (409).
pub(crate) fn check_items(body: &Value) -> Result<(), StoreError> {
    if body.get("errors").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    let items = body
        .get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut busy = None;
    for item in items {
        let Some(result) = item.get("index") else {
            continue;
        };
        let status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
        if (200..300).contains(&status) || status == 409 {
            continue;
        }
        let reason = result
            .pointer("/error/reason")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        let id = result.get("_id").and_then(Value::as_str).unwrap_or("?");
        let message = format!("{id}: status {status}: {reason}");
        if retryable(status) {
            busy.get_or_insert(message);
        } else {
            return Err(StoreError::internal("index documents", message));
        }
    }
    match busy {
        Some(m) => Err(StoreError::Busy(format!("index documents: {m}"))),
        None => Ok(()),
    }
}

/// Indexes `docs` into `index`.
pub(crate) async fn write(
    client: &OpenSearch,
    index: &str,
    docs: &[IndexDoc],
) -> Result<(), StoreError> {
    for lines in requests(docs) {
        let sent = client
            .bulk(BulkParts::Index(index))
            .body(lines)
            .send()
            .await;
        let body = reply("index documents", sent)
            .await?
            .ok("index documents")?;
        check_items(&body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hearth_store::ErrorKind;

    use super::*;

    #[test]
    fn conflicts_are_success_and_throttling_is_busy() {
        let reply = |statuses: &[u16]| {
            let items: Vec<Value> = statuses
                .iter()
                .map(|s| json!({"index": {"_id": "Patient/a", "status": s, "error": {"reason": "r"}}}))
                .collect();
            check_items(&json!({"errors": true, "items": items}))
        };
        assert!(reply(&[201, 409, 200]).is_ok());
        assert_eq!(
            reply(&[201, 429]).unwrap_err().kind(),
            ErrorKind::Unavailable
        );
        assert_eq!(reply(&[429, 400]).unwrap_err().kind(), ErrorKind::Internal);
        assert!(check_items(&json!({"errors": false, "items": []})).is_ok());
    }

    #[test]
    fn requests_carry_the_external_version_and_split_by_size() {
        let doc = |i: usize| IndexDoc {
            rt: "Patient".into(),
            id: format!("p{i}"),
            version: 7,
            last_updated: chrono::DateTime::UNIX_EPOCH,
            entries: None,
        };
        let docs: Vec<IndexDoc> = (0..3).map(doc).collect();
        let r = requests(&docs);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].len(), 6);
        let action: Value = serde_json::from_str(&r[0][0]).unwrap();
        assert_eq!(
            action,
            json!({"index": {"_id": "Patient/p0", "version": 7, "version_type": "external"}})
        );
        let many: Vec<IndexDoc> = (0..60_000).map(doc).collect();
        let r = requests(&many);
        assert!(r.len() > 1);
        assert_eq!(r.iter().map(Vec::len).sum::<usize>(), 120_000);
    }
}
