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

/// Search, includes, chains, `_has` and references written with the other tenant's absolute
/// URL never reach the other tenant's resources.
#[tokio::test]
async fn search_never_crosses_tenants() {
    let s = TestServer::start().await;
    let mut patient = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Secret"}],
        "identifier": [{"system": "http://x", "value": "same"}]});
    assert_eq!(
        s.send("PUT", "Patient/p1", Some(&patient), &[])
            .await
            .status,
        201
    );
    let obs = json!({"resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]}, "subject": {"reference": "Patient/p1"}});
    assert_eq!(
        s.send("PUT", "Observation/o1", Some(&obs), &[])
            .await
            .status,
        201
    );

    // The other tenant has an Observation pointing at the first tenant's patient by absolute URL.
    let other = s.tenant_base("other");
    let foreign = json!({"resourceType": "Observation", "id": "o2", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]},
        "subject": {"reference": format!("{}/Patient/p1", s.base)}});
    assert_eq!(
        s.send(
            "PUT",
            &format!("{other}/Observation/o2"),
            Some(&foreign),
            &[]
        )
        .await
        .status,
        201
    );
    patient["name"][0]["family"] = json!("Other");
    assert_eq!(
        s.send(
            "PUT",
            &format!("{other}/Patient/p9"),
            Some(&{
                let mut p = patient.clone();
                p["id"] = json!("p9");
                p
            }),
            &[]
        )
        .await
        .status,
        201
    );

    for query in [
        "Patient?name=Secret",
        "Patient?identifier=http://x|same&name=Secret",
        "Patient?_id=p1",
        "Observation?_include=Observation:subject",
        "Observation?subject.name=Secret",
        "Observation?subject=Patient/p1",
        "Patient?_has:Observation:subject:code=1-8&name=Secret",
        "Patient?_revinclude=Observation:subject&_id=p1",
    ] {
        let reply = s.send("GET", &format!("{other}/{query}"), None, &[]).await;
        assert_eq!(
            reply.status,
            200,
            "{query}: {}",
            String::from_utf8_lossy(&reply.bytes)
        );
        let body = reply.json();
        let leaked: Vec<&serde_json::Value> = body["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter(|e| {
                        e["resource"]["name"][0]["family"] == "Secret"
                            || e["resource"]["id"] == "o1"
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(leaked.is_empty(), "{query} leaked {leaked:?}");
    }
}
