//! Tenant isolation under authentication: a token for `other` is refused (403) on every
//! `default` URL, and nothing of `default` is visible from `other` by read, vread, history or
//! transaction.

use hearth_tests::{FULL_ACCESS, TestServer, patient};
use serde_json::json;

#[tokio::test]
async fn other_tenants_token_is_refused_everywhere() {
    let s = TestServer::start().await;
    let mut p = patient("Secret");
    p["id"] = json!("secret");
    assert_eq!(
        s.send("PUT", "Patient/secret", Some(&p), &[]).await.status,
        201
    );
    let other = s.token("other", FULL_ACCESS);
    let bundle = json!({"resourceType": "Bundle", "type": "transaction",
        "entry": [{"request": {"method": "GET", "url": "Patient/secret"}}]});
    let patch = json!({"resourceType": "Parameters", "parameter": []});
    // (method, path, body)
    let cases = vec![
        ("GET", "Patient/secret", None),
        ("HEAD", "Patient/secret", None),
        ("GET", "Patient/secret/_history/1", None),
        ("GET", "Patient/secret/_history", None),
        ("GET", "Patient/_history", None),
        ("GET", "_history", None),
        ("GET", "Patient", None),
        ("POST", "Patient", Some(patient("X"))),
        ("PUT", "Patient/secret", Some(p.clone())),
        ("PATCH", "Patient/secret", Some(patch)),
        ("DELETE", "Patient/secret", None),
        ("DELETE", "Patient?_id=secret", None),
        ("POST", "", Some(bundle.clone())),
    ];
    for (method, path, body) in cases {
        let reply = s
            .send_as(Some(&other), method, path, body.as_ref(), &[])
            .await;
        assert_eq!(reply.status, 403, "{method} {path}");
        if method != "HEAD" {
            assert_eq!(reply.outcome(403), "forbidden", "{method} {path}");
            // Says little: no resource content, no tenant names.
            let text = String::from_utf8_lossy(&reply.bytes);
            assert!(
                !text.contains("Secret") && !text.contains("other"),
                "{text}"
            );
        }
    }
    // Still there, unchanged.
    let mine = s.send("GET", "Patient/secret", None, &[]).await;
    assert_eq!(mine.header("etag"), Some("W/\"1\""));

    // From its own tenant, `other` never sees `default`'s resources.
    let base = s.tenant_base("other");
    let at = |path: &str| format!("{base}/{path}");
    for path in [
        "Patient/secret",
        "Patient/secret/_history/1",
        "Patient/secret/_history",
    ] {
        let reply = s.send_as(Some(&other), "GET", &at(path), None, &[]).await;
        assert_eq!(reply.outcome(404), "not-found", "{path}");
    }
    for path in ["_history", "Patient/_history"] {
        let reply = s.send_as(Some(&other), "GET", &at(path), None, &[]).await;
        assert_eq!(reply.json()["total"], 0, "{path}");
    }
    let reply = s
        .send_as(Some(&other), "POST", &base, Some(&bundle), &[])
        .await;
    assert_eq!(reply.status, 200);
    let entry = &reply.json()["entry"][0];
    assert_eq!(entry["response"]["status"], "404 Not Found");
    assert!(entry.get("resource").is_none());
    // An absolute URL naming `default` inside `other`'s bundle does not reach `default`.
    let cross = json!({"resourceType": "Bundle", "type": "batch",
        "entry": [{"request": {"method": "GET", "url": format!("{}/Patient/secret", s.base)}}]});
    let reply = s
        .send_as(Some(&other), "POST", &base, Some(&cross), &[])
        .await;
    assert_ne!(reply.json()["entry"][0]["response"]["status"], "200 OK");
}
