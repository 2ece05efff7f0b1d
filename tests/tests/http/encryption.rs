//! Encryption at rest on the embedded backend, seen from outside: after writes, searches, a
//! Binary upload and an export, no file under the data dir holds the tenant's data in plain
//! text while the API still returns it; deleting the tenant removes its key (crypto-shred).
//!
//! Skipped on the AWS backend, whose files are not local: there the aws crate's own tests
//! check encryption (KMS envelopes, SSE-KMS).

use std::path::{Path, PathBuf};

use hearth_tests::TestServer;
use serde_json::json;

const FAMILY: &str = "Qzxyfamilia";
const IDENTIFIER: &str = "QZX-ID-93217";
const CONTENT: &str = "Binary secret Vqwplorax content";

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                found.push(path);
            }
        }
    }
    found
}

/// Every file under `dir`.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Exports the tenant's Patients and waits for the manifest; the number of files.
async fn export_patients(s: &TestServer, base: &str) -> usize {
    // The filter names the patient: the job's record must not show it either.
    let status_url = s
        .kickoff_export(&format!(
            "{base}/$export?_type=Patient&_typeFilter=Patient%3Fidentifier%3D{IDENTIFIER}"
        ))
        .await;
    let (manifest, _) = s.await_manifest(&status_url).await;
    let files = manifest["output"].as_array().expect("output").clone();
    for file in &files {
        let url = file["url"].as_str().expect("file URL");
        let got = s.send("GET", url, None, &[]).await;
        assert_eq!(got.status, 200, "{url}");
        assert!(String::from_utf8_lossy(&got.bytes).contains(FAMILY));
    }
    files.len()
}

#[tokio::test]
async fn nothing_of_a_tenants_data_is_readable_on_disk() {
    if hearth_tests::backend::skipped("encryption::nothing_of_a_tenants_data_is_readable_on_disk") {
        return;
    }
    let s = TestServer::start().await;
    let admin = s.admin_token();
    let created = s
        .send_as(
            Some(&admin),
            "POST",
            &s.root("/admin/tenants"),
            Some(&json!({"id": "acme", "name": "Acme"})),
            &[],
        )
        .await;
    assert_eq!(created.status, 201);
    let base = s.tenant_base("acme");

    let patient = json!({"resourceType": "Patient", "name": [{"family": FAMILY}],
        "identifier": [{"system": "urn:test", "value": IDENTIFIER}]});
    let reply = s
        .send("POST", &format!("{base}/Patient"), Some(&patient), &[])
        .await;
    assert_eq!(reply.status, 201);
    let binary = s
        .send_raw(
            "POST",
            &format!("{base}/Binary"),
            CONTENT.as_bytes().to_vec(),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(
        binary.status,
        201,
        "{}",
        String::from_utf8_lossy(&binary.bytes)
    );
    let binary_url = binary.header("location").expect("Location").to_owned();
    let binary_url = binary_url
        .split("/_history/")
        .next()
        .unwrap_or(&binary_url)
        .to_owned();
    for query in [
        format!("family={FAMILY}"),
        format!("identifier={IDENTIFIER}"),
    ] {
        let found = s
            .send("GET", &format!("{base}/Patient?{query}"), None, &[])
            .await
            .json();
        assert_eq!(found["entry"].as_array().map(Vec::len), Some(1), "{query}");
    }
    assert!(export_patients(&s, &base).await >= 1);

    // The API returns the data...
    let raw = s
        .send("GET", &binary_url, None, &[("accept", "text/plain")])
        .await;
    assert_eq!(raw.bytes, CONTENT.as_bytes());
    // ...and no file under the data dir holds it.
    let tenants = s.registry.tenant_dir(&"acme".parse().unwrap());
    let data_dir = tenants
        .parent()
        .and_then(Path::parent)
        .expect("data dir")
        .to_owned();
    let files = all_files(&data_dir);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    for expected in [
        "resources.sqlite",
        "db.key",
        "acme.key",
        "_master.key",
        "blobs/",
    ] {
        assert!(
            names.iter().any(|n| n.contains(expected)),
            "{expected} in {names:?}"
        );
    }
    for secret in [FAMILY, IDENTIFIER, CONTENT, "Vqwplorax"] {
        assert_eq!(
            files_containing(&data_dir, secret),
            Vec::<PathBuf>::new(),
            "{secret}"
        );
    }

    // Deleting the tenant shreds its key and removes its folder.
    let key_file = data_dir.join("keys").join("acme.key");
    assert!(key_file.exists());
    let deleted = s
        .send_as(
            Some(&admin),
            "DELETE",
            &s.root("/admin/tenants/acme"),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert!(!key_file.exists(), "the tenant's key is destroyed");
    assert!(!tenants.exists(), "the tenant's folder is removed");
    assert_eq!(
        s.send("GET", &format!("{base}/Patient"), None, &[])
            .await
            .status,
        404
    );
    assert!(
        data_dir.join("keys").join("default.key").exists(),
        "other tenants keep theirs"
    );
}
