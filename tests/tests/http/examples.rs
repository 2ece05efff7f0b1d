//! Every example resource of the official R4 package that is valid R4 is accepted over HTTP and
//! reads back identical apart from the server-set `id` and `meta`. The genuinely invalid ones
//! (listed with reasons in `fhir/tests/known-invalid-examples.txt`, confirmed by an independent
//! validator) are rejected with 422 or 400, never 500.
//!
//! The package directory comes from `HEARTH_FHIR_PACKAGE`, which `scripts/test.sh` always sets;
//! without it (a bare `cargo test`) the corpus is skipped with a note, and under CI it fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

use futures::StreamExt;
use hearth_api::Limits;
use hearth_tests::TestServer;
use serde_json::Value;

const KNOWN_INVALID: &str = include_str!("../../../fhir/tests/known-invalid-examples.txt");

fn known_invalid() -> BTreeSet<&'static str> {
    KNOWN_INVALID
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

/// The resource without what the server sets: `id`, `meta.versionId`, `meta.lastUpdated`.
/// Binary `data` is compared without the whitespace base64Binary allows: the server keeps
/// the bytes, not their text.
fn without_server_fields(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        if let Some(Value::String(data)) = map.get_mut("data") {
            data.retain(|c| !c.is_ascii_whitespace());
        }
        map.shift_remove("id");
        let empty_meta = match map.get_mut("meta").and_then(Value::as_object_mut) {
            Some(meta) => {
                meta.shift_remove("versionId");
                meta.shift_remove("lastUpdated");
                meta.is_empty()
            }
            None => false,
        };
        if empty_meta {
            map.shift_remove("meta");
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_examples_round_trip_over_http() {
    let Some(dir) = std::env::var_os("HEARTH_FHIR_PACKAGE") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "HEARTH_FHIR_PACKAGE must be set in CI (scripts/test.sh sets it)"
        );
        eprintln!(
            "HEARTH_FHIR_PACKAGE is not set: skipping the R4 example corpus (scripts/test.sh sets it)"
        );
        return;
    };
    let limits = Limits {
        max_body_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let known = known_invalid();
    let mut files: Vec<PathBuf> = std::fs::read_dir(PathBuf::from(dir))
        .expect("read the package dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && name != "package.json" && !name.starts_with('.')
        })
        .collect();
    files.sort();
    let results: Vec<Result<bool, String>> = futures::stream::iter(files)
        .map(|path| {
            let server = &server;
            let known = &known;
            async move {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let text = std::fs::read(&path).map_err(|e| format!("{name}: {e}"))?;
                let original: Value =
                    serde_json::from_slice(&text).map_err(|e| format!("{name}: {e}"))?;
                let Some(rt) = original
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                else {
                    return Ok(false);
                };
                let id = original
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let valid_id = id.as_deref().is_some_and(hearth_fhir::ResourceId::is_valid);
                let reply = match (&id, valid_id) {
                    (Some(id), true) => {
                        server
                            .send_raw(
                                "PUT",
                                &format!("{rt}/{id}"),
                                text,
                                &[("content-type", "application/fhir+json")],
                            )
                            .await
                    }
                    _ => {
                        server
                            .send_raw(
                                "POST",
                                &rt,
                                text,
                                &[("content-type", "application/fhir+json")],
                            )
                            .await
                    }
                };
                if known.contains(name.as_str()) {
                    return match reply.status {
                        400 | 422 => Ok(true),
                        s => Err(format!(
                            "{name}: known invalid, but the server answered {s}"
                        )),
                    };
                }
                if reply.status != 200 && reply.status != 201 {
                    return Err(format!(
                        "{name}: {} {}",
                        reply.status,
                        String::from_utf8_lossy(&reply.bytes)
                            .chars()
                            .take(400)
                            .collect::<String>()
                    ));
                }
                let location = reply
                    .header("location")
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{name}: no Location"))?;
                let resource_url = location
                    .split("/_history/")
                    .next()
                    .unwrap_or(&location)
                    .to_owned();
                let read = server
                    .send(
                        "GET",
                        &resource_url,
                        None,
                        &[("accept", "application/fhir+json")],
                    )
                    .await;
                if read.status != 200 {
                    return Err(format!("{name}: read answered {}", read.status));
                }
                if without_server_fields(read.json()) != without_server_fields(original) {
                    return Err(format!("{name}: read back differs from what was sent"));
                }
                Ok(true)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let checked = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n{}",
        failures.len(),
        results.len(),
        failures
            .iter()
            .take(30)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(checked > 5_000, "only {checked} examples were checked");
}
