//! Export manifests with presigned file URLs (`[export] presigned_urls`, AWS backend): files
//! download straight from the object store without a token, and a tenant's URL opens that
//! tenant's object only.

use hearth_tests::{FULL_ACCESS, TestServer, patient};
use serde_json::Value;

/// The value of query parameter `name` of `url`.
fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The path of `url` (no scheme, host or query).
fn path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = &rest[rest.find('/').unwrap_or(rest.len())..];
    rest.split('?').next().unwrap_or_default()
}

/// Exports the tenant's Patients and returns the manifest and the status URL.
async fn export_patients(server: &TestServer, tenant: &str) -> (Value, String) {
    let base = server.tenant_base(tenant);
    let reply = server
        .send(
            "POST",
            &format!("{base}/Patient"),
            Some(&patient(tenant)),
            &[],
        )
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let status = server
        .kickoff_export(&format!("{base}/$export?_type=Patient"))
        .await;
    let (manifest, _) = server.await_manifest(&status).await;
    (manifest, status)
}

#[tokio::test]
async fn files_by_presigned_urls_need_no_token_and_stay_in_their_tenant() {
    let Some(server) = TestServer::with_presigned_export_urls().await else {
        eprintln!("skipping: presigned URLs need the AWS backend (HEARTH_TEST_BACKEND=aws)");
        return;
    };
    let (mine, my_status) = export_patients(&server, "default").await;
    let (theirs, _) = export_patients(&server, "other").await;
    assert_eq!(mine["requiresAccessToken"], false);
    let url = mine["output"][0]["url"].as_str().expect("url").to_owned();
    let job = my_status.rsplit('/').next().expect("job id");
    assert!(
        !url.starts_with(&server.root("")),
        "the file comes from the object store, not the server: {url}"
    );
    assert!(
        path(&url).contains(&format!("/tenants/default/exports/{job}/Patient-1")),
        "{url}"
    );
    let expires: u64 = query_param(&url, "X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .expect("X-Amz-Expires");
    assert!((1..=600).contains(&expires), "lifetime {expires}");
    assert!(query_param(&url, "X-Amz-Signature").is_some(), "{url}");

    // Downloaded without a token (SSE-KMS objects too: SigV4 presigned GET).
    let reply = reqwest::get(&url).await.expect("fetch the presigned url");
    assert_eq!(reply.status(), 200, "{url}");
    let text = reply.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["resourceType"], "Patient");

    // Another tenant's client cannot read this job's manifest, so never sees its URLs.
    let other_token = server.token("other", FULL_ACCESS);
    let foreign = my_status.replace("/tenant/default/", "/tenant/other/");
    let reply = server
        .send_as(Some(&other_token), "GET", &foreign, None, &[])
        .await;
    assert_eq!(reply.status, 404, "{foreign}");
    let reply = server
        .send_as(Some(&other_token), "GET", &my_status, None, &[])
        .await;
    assert!(
        matches!(reply.status, 401 | 403 | 404),
        "a token of tenant other on tenant default's status: {}",
        reply.status
    );

    // A URL is bound to its object: rewriting one tenant's URL to name the other tenant's
    // file keeps a signature that is not the one for that file, which S3 refuses (moto does
    // not check signatures, so the test compares them).
    let their_url = theirs["output"][0]["url"].as_str().expect("url");
    let their_path = path(their_url);
    assert!(
        their_path.contains("/tenants/other/exports/"),
        "{their_url}"
    );
    let derived = url.replacen(path(&url), their_path, 1);
    assert_eq!(path(&derived), their_path);
    assert_ne!(
        query_param(&derived, "X-Amz-Signature"),
        query_param(their_url, "X-Amz-Signature"),
        "the signature covers the tenant's object key"
    );
}
