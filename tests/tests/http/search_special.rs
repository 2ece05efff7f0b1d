//! Search over HTTP for the special parameters (`near`, `_list`, `_text`, `_content`) and the
//! terminology modifiers (`:in`, `:not-in`, `:below`, `:above`): each case a query and the
//! exact set of ids, or the 400 OperationOutcome a malformed or unresolvable one gets.

use hearth_tests::TestServer;
use serde_json::{Value, json};

async fn load(s: &TestServer, items: &[(&str, &str, Value)]) {
    for (rt, id, body) in items {
        let mut body = body.clone();
        body["resourceType"] = json!(rt);
        body["id"] = json!(id);
        let reply = s.send("PUT", &format!("{rt}/{id}"), Some(&body), &[]).await;
        assert!(
            reply.status == 201 || reply.status == 200,
            "{rt}/{id}: {}",
            String::from_utf8_lossy(&reply.bytes)
        );
    }
}

/// `Ok(sorted match ids)` of `GET {rt}?{query}`, or `Err(diagnostics)` of a 400.
async fn search(s: &TestServer, rt: &str, query: &str) -> Result<Vec<String>, String> {
    let reply = s
        .send("GET", &format!("{rt}?{query}&_count=1000"), None, &[])
        .await;
    let body = reply.json();
    if reply.status == 400 {
        assert_eq!(body["resourceType"], "OperationOutcome", "{rt}?{query}");
        return Err(body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .to_owned());
    }
    assert_eq!(reply.status, 200, "{rt}?{query}: {body}");
    let mut ids: Vec<String> = body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    Ok(ids)
}

/// `Ok(ids)` cases expect exactly those ids; `Err(text)` a 400 whose diagnostics hold `text`.
async fn check_all(s: &TestServer, rt: &str, cases: &[(&str, Result<&[&str], &str>)]) {
    for (query, expected) in cases {
        match (search(s, rt, query).await, expected) {
            (Ok(ids), Ok(expected)) => assert_eq!(ids, *expected, "{rt}?{query}"),
            (Err(e), Err(expected)) => assert!(e.contains(expected), "{rt}?{query}: {e}"),
            (got, expected) => panic!("{rt}?{query}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[tokio::test]
async fn near_and_list() {
    let s = TestServer::start().await;
    let at = |lat: f64, lon: f64| json!({"status": "active", "position": {"latitude": lat, "longitude": lon}});
    load(&s, &[
        ("Location", "aa", at(42.2808, -83.7430)),
        ("Location", "yp", at(42.2411, -83.6130)),
        ("Location", "det", at(42.3314, -83.0458)),
        ("Location", "none", json!({"status": "active"})),
        ("List", "l1", json!({"status": "current", "mode": "working",
            "entry": [{"item": {"reference": "Location/aa"}}, {"item": {"reference": "Location/det"}}]})),
    ])
    .await;
    check_all(
        &s,
        "Location",
        &[
            ("near=42.2808%7C-83.7430%7C1%7Ckm", Ok(&["aa"])),
            ("near=42.2808%7C-83.7430%7C12%7Ckm", Ok(&["aa", "yp"])),
            ("near=42.2808%7C-83.7430%7C12000%7Cm", Ok(&["aa", "yp"])),
            (
                "near=42.2808%7C-83.7430%7C36%7C%5Bmi_i%5D",
                Ok(&["aa", "det", "yp"]),
            ),
            ("near=0%7C0%7C100%7Ckm", Ok(&[])),
            ("near:missing=true", Ok(&["none"])),
            ("near=42.2808%7C-83.7430%7C1%7Clightyears", Err("near")),
            ("near=95%7C0", Err("near")),
            ("near=north", Err("near")),
            ("_list=l1", Ok(&["aa", "det"])),
            ("_list=l1&near=42.2808%7C-83.7430%7C12%7Ckm", Ok(&["aa"])),
            ("_list=missing", Ok(&[])),
            ("_list=bad%2Fid", Err("_list")),
        ],
    )
    .await;
}

#[tokio::test]
async fn text_content_and_terminology() {
    let s = TestServer::start().await;
    let sys = "http://example.org/fhir/CodeSystem/animals";
    let obs = |code: &str| {
        json!({"status": "final", "code": {"coding": [{"system": sys, "code": code}]},
        "text": {"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">A <b>{code}</b> was seen</div>")}})
    };
    load(&s, &[
        ("CodeSystem", "animals", json!({"url": sys, "status": "active", "content": "complete",
            "concept": [{"code": "mammal", "concept": [{"code": "dog"}, {"code": "cat"}]}, {"code": "bird"}]})),
        ("ValueSet", "mammals", json!({"url": "http://example.org/fhir/ValueSet/mammals", "status": "active",
            "compose": {"include": [{"system": sys, "filter": [{"property": "concept", "op": "is-a", "value": "mammal"}]}]}})),
        ("Observation", "dog", obs("dog")),
        ("Observation", "cat", obs("cat")),
        ("Observation", "bird", json!({"status": "final", "code": {"coding": [{"system": sys, "code": "bird"}],
            "text": "Blackbird"}})),
    ])
    .await;
    let vs = "http://example.org/fhir/ValueSet/mammals";
    let in_vs = format!("code:in={vs}");
    let not_in_vs = format!("code:not-in={vs}");
    let below = format!("code:below={sys}%7Cmammal");
    let above = format!("code:above={sys}%7Cdog");
    check_all(
        &s,
        "Observation",
        &[
            ("_text=dog%20was", Ok(&["dog"])),
            ("_text=WAS%20SEEN", Ok(&["cat", "dog"])),
            ("_text=blackbird", Ok(&[])),
            ("_content=blackbird", Ok(&["bird"])),
            ("_content=was%20seen", Ok(&[])),
            (&in_vs, Ok(&["cat", "dog"])),
            ("code:in=ValueSet/mammals", Ok(&["cat", "dog"])),
            (&not_in_vs, Ok(&["bird"])),
            (&below, Ok(&["cat", "dog"])),
            (&above, Ok(&["dog"])),
            (
                "code:in=http://example.org/fhir/ValueSet/nope",
                Err("value set not found"),
            ),
            (
                "code:below=http://nowhere%7Cx",
                Err("code system not found"),
            ),
            ("code:below=dog", Err("code")),
        ],
    )
    .await;
}
