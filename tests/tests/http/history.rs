//! History at instance, type and system level: paging, `_since`, `_at`, deletes as entries.

use hearth_tests::{TestServer, patient};
use serde_json::{Value, json};

async fn all_pages(s: &TestServer, first: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut url = first.to_owned();
    loop {
        let page = s.send("GET", &url, None, &[]).await;
        assert_eq!(page.status, 200);
        let body = page.json();
        assert_eq!(body["type"], "history");
        entries.extend(body["entry"].as_array().cloned().unwrap_or_default());
        match body["link"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
        {
            Some(next) => url = next["url"].as_str().unwrap().to_owned(),
            None => return entries,
        }
    }
}

#[tokio::test]
async fn history_pages_newest_first_with_deletes() {
    let s = TestServer::start().await;
    let mut p = patient("Hi");
    p["id"] = json!("h1");
    for gender in ["male", "female", "other"] {
        p["gender"] = json!(gender);
        s.send("PUT", "Patient/h1", Some(&p), &[]).await;
    }
    s.send("DELETE", "Patient/h1", None, &[]).await;
    s.send(
        "POST",
        "Observation",
        Some(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})),
        &[],
    )
    .await;

    let instance = all_pages(&s, "Patient/h1/_history?_count=2").await;
    let versions: Vec<Value> = instance
        .iter()
        .map(|e| e["response"]["etag"].clone())
        .collect();
    assert_eq!(
        versions,
        [
            json!("W/\"4\""),
            json!("W/\"3\""),
            json!("W/\"2\""),
            json!("W/\"1\"")
        ]
    );
    assert_eq!(instance[0]["request"]["method"], "DELETE");
    assert!(instance[0].get("resource").is_none());
    assert_eq!(instance[1]["resource"]["gender"], "other");
    assert_eq!(instance[3]["request"]["method"], "PUT");
    let first = s
        .send("GET", "Patient/h1/_history?_count=2", None, &[])
        .await
        .json();
    assert_eq!(first["total"], 4);
    assert_eq!(first["entry"].as_array().unwrap().len(), 2);

    assert_eq!(all_pages(&s, "Patient/_history").await.len(), 4);
    assert_eq!(all_pages(&s, "_history?_count=1").await.len(), 5);
    assert_eq!(
        s.send("GET", "Observation/_history", None, &[])
            .await
            .json()["total"],
        1
    );
    assert_eq!(
        s.send("GET", "_history?_since=2100-01-01", None, &[])
            .await
            .json()["total"],
        0
    );
    assert_eq!(
        s.send("GET", "_history?_since=2000-01-01T00:00:00Z", None, &[])
            .await
            .json()["total"],
        5
    );
    assert_eq!(
        s.send("GET", "_history?_count=0", None, &[]).await.json()["total"],
        5
    );
    s.send("GET", "_history?_since=notadate", None, &[])
        .await
        .outcome(400);
    s.send("GET", "_history?_count=-1", None, &[])
        .await
        .outcome(400);
    s.send("GET", "Patient/unknown/_history", None, &[])
        .await
        .outcome(404);
}

#[tokio::test]
async fn history_pages_stay_stable_while_writes_arrive() {
    let s = TestServer::start().await;
    for i in 0..5 {
        s.send("POST", "Patient", Some(&patient(&format!("P{i}"))), &[])
            .await;
    }
    let page1 = s
        .send("GET", "Patient/_history?_count=2", None, &[])
        .await
        .json();
    let next = page1["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..3 {
        s.send("POST", "Patient", Some(&patient(&format!("New{i}"))), &[])
            .await;
    }
    let rest = all_pages(&s, &next).await;
    let families: Vec<String> = page1["entry"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.iter())
        .map(|e| {
            e["resource"]["name"][0]["family"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(families, ["P4", "P3", "P2", "P1", "P0"]);
}
