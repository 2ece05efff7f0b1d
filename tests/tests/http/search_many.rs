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
    // `_total=accurate` counts on every page; the default (estimate) may omit a large count,
    // and then every page does, or gives the first page's count on every page.
    for (total, accurate) in [("&_total=accurate", true), ("", false)] {
        let seen = page_through(
            &s,
            &format!("Patient?gender=other&_count=1000{total}"),
            n,
            accurate,
        )
        .await;
        assert_eq!(seen, n);
    }
}

/// Follows `next` from `url` to the end, checking the order and the totals; the matches seen.
async fn page_through(s: &TestServer, url: &str, n: usize, accurate: bool) -> usize {
    let mut url = url.to_owned();
    let mut seen = 0;
    let mut last = String::new();
    let mut first_total = None;
    loop {
        let reply = s.send("GET", &url, None, &[]).await;
        assert_eq!(reply.status, 200);
        let b = reply.json();
        if accurate {
            assert_eq!(b["total"], n);
        }
        let total = b.get("total").cloned();
        if let Some(t) = &total {
            assert_eq!(t, n, "a total, when given, is exact here");
        }
        assert_eq!(*first_total.get_or_insert_with(|| total.clone()), total);
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
    seen
}
