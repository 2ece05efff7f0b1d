//! The searchset Bundle over HTTP: links, totals, paging, modes, includes, result parameters,
//! warnings and errors, POST `_search` and the system search.

use hearth_tests::TestServer;
use serde_json::{Value, json};

async fn put(s: &TestServer, rt: &str, id: &str, mut body: Value) {
    body["resourceType"] = json!(rt);
    body["id"] = json!(id);
    let reply = s.send("PUT", &format!("{rt}/{id}"), Some(&body), &[]).await;
    assert!(
        matches!(reply.status, 200 | 201),
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
}

fn link<'a>(bundle: &'a Value, relation: &str) -> Option<&'a str> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
}

fn entries<'a>(bundle: &'a Value, mode: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == mode)
        .collect()
}

async fn get(s: &TestServer, path: &str) -> Value {
    let reply = s.send("GET", path, None, &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&reply.bytes)
    );
    reply.json()
}

#[tokio::test]
async fn bundle_links_paging_and_sort_ties() {
    let s = TestServer::start().await;
    for i in 0..7 {
        put(
            &s,
            "Patient",
            &format!("p{i}"),
            json!({"gender": if i < 4 { "female" } else { "male" }, "birthDate": "1980"}),
        )
        .await;
    }
    let first = get(&s, "Patient?gender=female,male&_sort=-birthdate&_count=3").await;
    assert_eq!(first["type"], "searchset");
    assert_eq!(first["total"], 7);
    let self_link = link(&first, "self").unwrap();
    assert_eq!(
        self_link,
        format!(
            "{}/Patient?gender=female%2Cmale&_sort=-birthdate&_count=3",
            s.base
        )
    );
    assert!(link(&first, "previous").is_none());
    let matches = entries(&first, "match");
    assert_eq!(matches[0]["fullUrl"], format!("{}/Patient/p0", s.base));
    // Equal birth dates: ties broken by id.
    let mut seen = Vec::new();
    let mut page = first.clone();
    loop {
        seen.extend(
            entries(&page, "match")
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = link(&page, "next") else {
            break;
        };
        page = get(&s, next).await;
        assert!(link(&page, "previous").is_some());
    }
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    let back = get(&s, link(&page, "previous").unwrap()).await;
    let ids: Vec<&str> = entries(&back, "match")
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p3", "p4", "p5"]);
    // _total=none and _summary=count.
    let none = get(&s, "Patient?_total=none").await;
    assert!(none.get("total").is_none());
    let count = get(&s, "Patient?_summary=count").await;
    assert_eq!(
        (count["total"].as_u64(), count.get("entry")),
        (Some(7), None)
    );
    // A bad cursor is a 400.
    s.send("GET", "Patient?_cursor=zz", None, &[])
        .await
        .outcome(400);
}

#[tokio::test]
async fn includes_elements_warnings_and_errors() {
    let s = TestServer::start().await;
    put(&s, "Organization", "o1", json!({"name": "Acme"})).await;
    put(&s, "Patient", "p1", json!({"name": [{"family": "Peters"}], "gender": "male", "managingOrganization": {"reference": "Organization/o1"}})).await;
    put(
        &s,
        "Observation",
        "a",
        json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}}),
    )
    .await;

    let b = get(
        &s,
        "Observation?_include=Observation:subject&_include:iterate=Patient:organization",
    )
    .await;
    assert_eq!(entries(&b, "match").len(), 1);
    let mut included: Vec<String> = entries(&b, "include")
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap().to_owned())
        .collect();
    included.sort();
    assert_eq!(
        included,
        [
            format!("{}/Organization/o1", s.base),
            format!("{}/Patient/p1", s.base)
        ]
    );
    let b = get(&s, "Patient?_revinclude=Observation:subject").await;
    assert_eq!(entries(&b, "include")[0]["resource"]["id"], "a");

    // _elements keeps what was asked (plus id, meta, mandatory) and tags the result.
    let b = get(&s, "Patient?_elements=gender").await;
    let p = &entries(&b, "match")[0]["resource"];
    assert_eq!(p["gender"], "male");
    assert!(p.get("name").is_none());
    assert_eq!(p["meta"]["tag"][0]["code"], "SUBSETTED");
    let b = get(&s, "Patient?_summary=data").await;
    assert!(entries(&b, "match")[0]["resource"]["meta"]["tag"].is_array());

    // Unknown parameters: ignored with a warning (and left out of the self link)...
    let b = get(&s, "Patient?nope=1&gender=male").await;
    assert_eq!(entries(&b, "match").len(), 1);
    let outcome = &entries(&b, "outcome")[0]["resource"];
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "warning");
    assert_eq!(
        link(&b, "self").unwrap(),
        format!("{}/Patient?gender=male", s.base)
    );
    // ...and an error when strict.
    s.send(
        "GET",
        "Patient?nope=1",
        None,
        &[("prefer", "handling=strict")],
    )
    .await
    .outcome(400);
    // Malformed values are 400, never 500.
    for bad in [
        "birthdate=2020-13",
        "_count=x",
        "subject=Nope/1",
        "value-quantity=abc",
        "gender:missing=perhaps",
        "_sort=nope",
        "_include=Patient",
    ] {
        let rt = if bad.starts_with("subject") || bad.starts_with("value") {
            "Observation"
        } else {
            "Patient"
        };
        let reply = s
            .send(
                "GET",
                &format!("{rt}?{bad}"),
                None,
                &[("prefer", "handling=strict")],
            )
            .await;
        assert_eq!(
            reply.status,
            400,
            "{bad}: {}",
            String::from_utf8_lossy(&reply.bytes)
        );
    }
}

/// A POST `_search` with a form body; asserts 200 and returns the Bundle.
async fn post_form(s: &TestServer, path: &str, form: &str) -> Value {
    let reply = s
        .send_raw(
            "POST",
            path,
            form.as_bytes().to_vec(),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&reply.bytes)
    );
    reply.json()
}

#[tokio::test]
async fn post_search_and_system_search() {
    let s = TestServer::start().await;
    put(&s, "Patient", "p1", json!({"gender": "male"})).await;
    put(&s, "Patient", "p2", json!({"gender": "female"})).await;
    put(&s, "Organization", "o1", json!({"name": "Acme"})).await;
    let b = post_form(&s, "Patient/_search?_count=5", "gender=male").await;
    assert_eq!(b["total"], 1);
    assert_eq!(
        link(&b, "self").unwrap(),
        format!("{}/Patient?_count=5&gender=male", s.base)
    );
    let b = get(&s, "?_type=Patient,Organization&_id=p1,o1").await;
    assert_eq!(b["total"], 2);
    let b = get(&s, "?_type=Organization").await;
    assert_eq!(b["total"], 1);
    let b = get(&s, "?_id=p2").await;
    assert_eq!(b["total"], 1);
    // System-level POST _search: query string and form body combined.
    let b = post_form(&s, "_search?_type=Patient,Organization", "_id=p2,o1").await;
    assert_eq!(b["total"], 2);
    let reply = s
        .send_raw(
            "POST",
            "_search",
            b"_id=p2".to_vec(),
            &[("content-type", "text/plain")],
        )
        .await;
    reply.outcome(415);
    // Another tenant sees nothing.
    let other = s
        .send(
            "GET",
            &format!("{}/Patient", s.tenant_base("other")),
            None,
            &[],
        )
        .await;
    assert_eq!(other.json()["total"], 0);
}
