//! `_format`, `Accept`, `Content-Type` and `_pretty`.

use hearth_tests::{TestServer, patient};

#[tokio::test]
async fn accept_format_and_content_type() {
    let s = TestServer::start().await;
    let id = s
        .send("POST", "Patient", Some(&patient("Fo")), &[])
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("Patient/{id}");
    // (query, accept, expected status)
    let cases = [
        ("", None, 200),
        ("", Some("application/fhir+json"), 200),
        ("", Some("application/json"), 200),
        ("", Some("*/*"), 200),
        ("", Some("application/fhir+xml"), 406),
        ("", Some("text/html"), 406),
        ("?_format=json", Some("application/fhir+xml"), 200),
        ("?_format=application/fhir%2Bjson", None, 200),
        ("?_format=xml", None, 406),
        ("?_format=nonsense", None, 400),
        ("?_pretty=maybe", None, 400),
    ];
    for (query, accept, status) in cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| vec![("accept", a)]).unwrap_or_default();
        let reply = s
            .send("GET", &format!("{path}{query}"), None, &headers)
            .await;
        assert_eq!(reply.status, status, "{query} {accept:?}");
        if status == 200 {
            assert!(
                reply
                    .header("content-type")
                    .unwrap()
                    .starts_with("application/fhir+json")
            );
        }
    }
    let pretty = s
        .send("GET", &format!("{path}?_pretty=true"), None, &[])
        .await;
    assert!(String::from_utf8_lossy(&pretty.bytes).contains("\n  \""));
    let compact = s.send("GET", &path, None, &[]).await;
    assert!(!String::from_utf8_lossy(&compact.bytes).contains('\n'));
    // Request bodies: FHIR JSON and plain JSON are accepted; other types are 415.
    let body = serde_json::to_vec(&patient("Ct")).unwrap();
    for (content_type, status) in [
        ("application/fhir+json", 201),
        ("application/fhir+json; charset=utf-8", 201),
        ("application/json", 201),
        ("application/fhir+xml", 415),
        ("text/plain", 415),
    ] {
        let reply = s
            .send_raw(
                "POST",
                "Patient",
                body.clone(),
                &[("content-type", content_type)],
            )
            .await;
        assert_eq!(reply.status, status, "{content_type}");
    }
}
