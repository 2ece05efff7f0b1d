//! `_summary` and `_elements` over HTTP, on search results and on read/vread: the top-level
//! members kept, per the R4 `isSummary` flags (see `fhir/tests/golden/summary-elements.txt`).

use hearth_tests::TestServer;
use serde_json::{Value, json};

const NARRATIVE: &str = "<div xmlns=\"http://www.w3.org/1999/xhtml\">Pat</div>";

fn patient() -> Value {
    json!({"resourceType": "Patient", "id": "p1", "active": true,
        "identifier": [{"system": "urn:s", "value": "1"}],
        "text": {"status": "generated", "div": NARRATIVE},
        "name": [{"family": "Peters", "given": ["Pat"]}], "gender": "female",
        "birthDate": "1970-02-03", "maritalStatus": {"text": "married"},
        "contact": [{"name": {"family": "Kin"}}],
        "communication": [{"language": {"text": "French"}}],
        "photo": [{"contentType": "image/png", "data": "aGk="}]})
}

fn observation() -> Value {
    json!({"resourceType": "Observation", "id": "o1", "status": "final",
        "text": {"status": "generated", "div": NARRATIVE},
        "category": [{"text": "vital-signs"}], "code": {"text": "weight"},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-05-06",
        "valueQuantity": {"value": 70, "unit": "kg"}, "note": [{"text": "after lunch"}],
        "interpretation": [{"text": "normal"}]})
}

/// The sorted top-level members of a subsetted resource, which must carry the SUBSETTED tag.
fn members(resource: &Value) -> Vec<String> {
    let tags = resource["meta"]["tag"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        tags.iter().any(|t| t["code"] == "SUBSETTED"),
        "no SUBSETTED tag: {resource}"
    );
    let mut keys: Vec<String> = resource
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// `path` answers 200 with a resource (read) or a one-match searchset (search) whose members
/// are `expected`.
async fn check(s: &TestServer, path: &str, expected: &[&str]) {
    let reply = s.send("GET", path, None, &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let body = reply.json();
    let resource = if body["resourceType"] == "Bundle" {
        let entries = body["entry"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 1, "{path}: {body}");
        entries[0]["resource"].clone()
    } else {
        body
    };
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(members(&resource), expected, "{path}");
}

#[tokio::test]
async fn summary_true_follows_the_definitions() {
    let s = TestServer::start().await;
    for r in [patient(), observation()] {
        let path = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let reply = s.send("PUT", &path, Some(&r), &[]).await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.bytes)
        );
    }
    let patient_summary = [
        "resourceType",
        "id",
        "meta",
        "identifier",
        "active",
        "name",
        "gender",
        "birthDate",
    ];
    let observation_summary = [
        "resourceType",
        "id",
        "meta",
        "status",
        "code",
        "subject",
        "effectiveDateTime",
        "valueQuantity",
    ];
    let cases: [(&str, &[&str]); 10] = [
        ("Patient?_summary=true", &patient_summary),
        ("Patient/p1?_summary=true", &patient_summary),
        ("Patient/p1/_history/1?_summary=true", &patient_summary),
        ("Observation?_summary=true", &observation_summary),
        ("Observation/o1?_summary=true", &observation_summary),
        (
            "Patient/p1?_summary=text",
            &["resourceType", "id", "meta", "text"],
        ),
        (
            "Observation/o1?_summary=text",
            &["resourceType", "id", "meta", "text", "status", "code"],
        ),
        (
            "Observation?_summary=data",
            &[
                "resourceType",
                "id",
                "meta",
                "status",
                "category",
                "code",
                "subject",
                "effectiveDateTime",
                "valueQuantity",
                "note",
                "interpretation",
            ],
        ),
        (
            "Patient/p1?_elements=contact,photo",
            &["resourceType", "id", "meta", "contact", "photo"],
        ),
        (
            "Observation/o1?_elements=note&_summary=true",
            &["resourceType", "id", "meta", "status", "code", "note"],
        ),
    ];
    for (path, expected) in cases {
        check(&s, path, expected).await;
    }

    // A read without subsetting is the stored resource, untagged; bad values are 400.
    let whole = s
        .send("GET", "Patient/p1?_summary=false", None, &[])
        .await
        .json();
    assert_eq!(whole["contact"][0]["name"]["family"], "Kin");
    assert!(whole["meta"].get("tag").is_none());
    s.send("GET", "Patient/p1?_summary=count", None, &[])
        .await
        .outcome(400);
    s.send("GET", "Patient/p1?_summary=maybe", None, &[])
        .await
        .outcome(400);
}
