//! Paging through more than 10,000 matches with `next` links: every match once, in order,
//! with no window limit.

use hearth_tests::TestServer;
use serde_json::{Value, json};

#[tokio::test]
async fn pages_through_more_than_ten_thousand_matches() {
    let s = TestServer::start().await;
    let n = 10_050;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"resource": {"resourceType": "Patient", "id": format!("p{i:05}"), "gender": "other"},
                       "request": {"method": "PUT", "url": format!("Patient/p{i:05}")}})
            })
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        assert_eq!(s.send("POST", "", Some(&bundle), &[]).await.status, 200);
    }
    let mut url = "Patient?gender=other&_count=1000".to_owned();
    let mut seen = 0;
    let mut last = String::new();
    loop {
        let reply = s.send("GET", &url, None, &[]).await;
        assert_eq!(reply.status, 200);
        let b = reply.json();
        assert_eq!(b["total"], n);
        for e in b["entry"].as_array().into_iter().flatten() {
            let id = e["resource"]["id"].as_str().unwrap().to_owned();
            assert!(id > last, "{id} after {last}");
            last = id;
            seen += 1;
        }
        match b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
        {
            Some(next) => url = next["url"].as_str().unwrap().to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, n);
}
