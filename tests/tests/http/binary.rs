//! Binary: raw upload and download in its own media type, and the FHIR JSON form.

use base64::Engine;
use hearth_api::Limits;
use hearth_tests::TestServer;
use serde_json::json;

#[tokio::test]
async fn raw_and_json_forms() {
    let s = TestServer::start().await;
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let created = s
        .send_raw(
            "POST",
            "Binary",
            content.clone(),
            &[("content-type", "image/png")],
        )
        .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.bytes)
    );
    let location = created.header("location").unwrap().to_owned();
    let id = location
        .split("/Binary/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();

    let raw = s
        .send(
            "GET",
            &format!("Binary/{id}"),
            None,
            &[("accept", "image/png")],
        )
        .await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("image/png"));
    assert_eq!(raw.bytes, content);
    assert_eq!(
        s.send("GET", &format!("Binary/{id}"), None, &[])
            .await
            .bytes,
        content
    );
    s.send(
        "GET",
        &format!("Binary/{id}"),
        None,
        &[("accept", "text/plain")],
    )
    .await
    .outcome(406);

    let json_form = s
        .send(
            "GET",
            &format!("Binary/{id}"),
            None,
            &[("accept", "application/fhir+json")],
        )
        .await
        .json();
    assert_eq!(json_form["contentType"], "image/png");
    let data = base64::engine::general_purpose::STANDARD
        .decode(json_form["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, content);

    // The FHIR JSON form on the way in.
    let doc = json!({ "resourceType": "Binary", "contentType": "text/plain", "data": base64::engine::general_purpose::STANDARD.encode("hello") });
    let created = s.send("POST", "Binary", Some(&doc), &[]).await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let raw = s
        .send(
            "GET",
            &format!("Binary/{id}"),
            None,
            &[("accept", "text/plain")],
        )
        .await;
    assert_eq!(raw.bytes, b"hello");
    // Raw update keeps history: version 1 still has the old content.
    let updated = s
        .send_raw(
            "PUT",
            &format!("Binary/{id}"),
            b"bye".to_vec(),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        s.send(
            "GET",
            &format!("Binary/{id}"),
            None,
            &[("accept", "text/plain")]
        )
        .await
        .bytes,
        b"bye"
    );
    assert_eq!(
        s.send(
            "GET",
            &format!("Binary/{id}/_history/1"),
            None,
            &[("accept", "text/plain")]
        )
        .await
        .bytes,
        b"hello"
    );

    // No content and a contentType no header can carry: still a typed (empty) answer.
    let doc = json!({ "resourceType": "Binary", "contentType": "tëxt/plain" });
    let created = s.send("POST", "Binary", Some(&doc), &[]).await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let raw = s.send("GET", &format!("Binary/{id}"), None, &[]).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("application/octet-stream"));
    assert!(raw.bytes.is_empty());
}

#[tokio::test]
async fn binary_size_limit() {
    let s = TestServer::with_limits(Limits {
        max_binary_bytes: 1_000,
        ..Limits::default()
    })
    .await;
    s.send_raw(
        "POST",
        "Binary",
        vec![0u8; 1_001],
        &[("content-type", "application/octet-stream")],
    )
    .await
    .outcome(413);
    assert_eq!(
        s.send_raw(
            "POST",
            "Binary",
            vec![0u8; 1_000],
            &[("content-type", "application/octet-stream")]
        )
        .await
        .status,
        201
    );
}
