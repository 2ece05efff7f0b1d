//! The resource store conformance suite on the embedded store with its search answered by
//! OpenSearch (`IndexedStore`), and the index's own contract: versioned writes, tombstones,
//! dropped tenants, bad cursors. Needs a node: `HEARTH_TEST_EMULATORS=1` and
//! `HEARTH_TEST_OPENSEARCH_URL` (scripts/opensearch-node.sh starts one).

mod support;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::index_entries;
use hearth_fhir::search::query::{ParseOptions, SearchQuery, parse_search};
use hearth_fhir::search::registry::Registry;
use hearth_opensearch::OpenSearchIndex;
use hearth_store::conformance::resource_store_suite;
use hearth_store::embedded::{LocalKeyService, SqliteOptions, SqliteResourceStore};
use hearth_store::{ErrorKind, IndexDoc, IndexedStore, KeyIndex};
use hearth_tenancy::{TenantId, TenantRegistry};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_sqlite_store_conforms_with_opensearch_search() {
    let Some(url) = support::opensearch_url("indexed_sqlite_store_conforms_with_opensearch_search")
    else {
        return;
    };
    let (index, prefix) = support::fresh_index(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(LocalKeyService::open(&dir.path().join("keys")).unwrap());
    let store = SqliteResourceStore::new(
        TenantRegistry::new(dir.path()),
        SqliteOptions::default(),
        keys,
    );
    let indexed = IndexedStore::new(Arc::new(store), Arc::new(index));
    resource_store_suite(Arc::new(indexed)).await;
    support::cleanup(&url, &prefix).await;
}

fn doc(id: &str, version: u64, body: Option<Value>) -> IndexDoc {
    let entries = body.map(|b| index_entries(&extract(Registry::r4(), &b), None));
    IndexDoc {
        rt: "Patient".into(),
        id: id.into(),
        version,
        last_updated: Utc
            .timestamp_millis_opt(1_700_000_000_000 + version as i64)
            .unwrap(),
        entries,
    }
}

fn query(q: &str) -> SearchQuery {
    let pairs: Vec<(String, String)> = q
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    parse_search(
        Registry::r4(),
        Some("Patient".parse().unwrap()),
        &pairs,
        &ParseOptions::default(),
    )
    .unwrap()
}

async fn ids(index: &OpenSearchIndex, t: &TenantId, q: &str) -> Vec<String> {
    let page = index.search_keys(t, &query(q)).await.unwrap();
    page.matches.iter().map(|k| k.id.to_string()).collect()
}

fn patient(gender: &str) -> Option<Value> {
    Some(json!({"resourceType": "Patient", "gender": gender}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_version_never_overwrites_a_newer_one() {
    let Some(url) = support::opensearch_url("an_older_version_never_overwrites_a_newer_one") else {
        return;
    };
    let (index, prefix) = support::fresh_index(&url).await;
    let t = support::tenant();
    index
        .apply(&t, &[doc("a", 2, patient("male"))])
        .await
        .unwrap();
    // Late, and repeated: both leave version 2 in place.
    index
        .apply(&t, &[doc("a", 1, patient("female"))])
        .await
        .unwrap();
    index
        .apply(&t, &[doc("a", 2, patient("male"))])
        .await
        .unwrap();
    index.refresh(&t).await.unwrap();
    assert_eq!(ids(&index, &t, "gender=male").await, ["a"]);
    assert!(ids(&index, &t, "gender=female").await.is_empty());

    // A delete is a versioned tombstone: a late put of an older version stays deleted.
    index.apply(&t, &[doc("a", 3, None)]).await.unwrap();
    index
        .apply(&t, &[doc("a", 2, patient("male"))])
        .await
        .unwrap();
    index.refresh(&t).await.unwrap();
    assert!(ids(&index, &t, "gender=male").await.is_empty());
    assert!(ids(&index, &t, "_id=a").await.is_empty());
    // A newer version after the delete comes back.
    index
        .apply(&t, &[doc("a", 4, patient("female"))])
        .await
        .unwrap();
    index.refresh(&t).await.unwrap();
    assert_eq!(ids(&index, &t, "gender=female").await, ["a"]);
    support::cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_unknown_tenants_are_empty_and_bad_cursors_invalid() {
    let Some(url) =
        support::opensearch_url("dropped_and_unknown_tenants_are_empty_and_bad_cursors_invalid")
    else {
        return;
    };
    let (index, prefix) = support::fresh_index(&url).await;
    index.ready().await.unwrap();
    let t = support::tenant();
    let page = index.search_keys(&t, &query("gender=male")).await.unwrap();
    assert_eq!((page.matches.len(), page.total), (0, Some(0)));
    index.refresh(&t).await.unwrap();

    index
        .apply(&t, &[doc("a", 1, patient("male"))])
        .await
        .unwrap();
    index.refresh(&t).await.unwrap();
    assert_eq!(ids(&index, &t, "gender=male").await, ["a"]);
    for cursor in [
        "nothex",
        "7b7d",
        "7b2262223a66616c73652c226b223a5b312c322c335d7d",
    ] {
        let err = index
            .search_keys(&t, &query(&format!("_cursor={cursor}")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{cursor}: {err}");
    }
    index.drop_tenant(&t).await.unwrap();
    index.drop_tenant(&t).await.unwrap();
    assert!(ids(&index, &t, "gender=male").await.is_empty());
    // Writing again recreates the index.
    index
        .apply(&t, &[doc("b", 1, patient("male"))])
        .await
        .unwrap();
    index.refresh(&t).await.unwrap();
    assert_eq!(ids(&index, &t, "gender=male").await, ["b"]);
    support::cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_sorts_with_missing_values_page_both_ways() {
    let Some(url) = support::opensearch_url("keyword_sorts_with_missing_values_page_both_ways")
    else {
        return;
    };
    let (index, prefix) = support::fresh_index(&url).await;
    let t = support::tenant();
    let named =
        |family: &str| Some(json!({"resourceType": "Patient", "name": [{"family": family}]}));
    let docs = [
        doc("a", 1, named("Zed")),
        doc("b", 1, patient("male")),
        doc("c", 1, named("Adams")),
        doc("d", 1, patient("female")),
        doc("e", 1, named("Moss")),
    ];
    index.apply(&t, &docs).await.unwrap();
    index.refresh(&t).await.unwrap();
    for (sort, expected) in [
        ("family", ["c", "e", "a", "b", "d"]),
        ("-family", ["a", "e", "c", "b", "d"]),
    ] {
        let mut forward = Vec::new();
        let mut page = index
            .search_keys(&t, &query(&format!("_sort={sort}&_count=2")))
            .await
            .unwrap();
        loop {
            assert_eq!(page.total, Some(5), "every page counts all matches");
            forward.extend(page.matches.iter().map(|k| k.id.to_string()));
            let Some(next) = page.next.clone() else { break };
            page = index
                .search_keys(&t, &query(&format!("_sort={sort}&_count=2&_cursor={next}")))
                .await
                .unwrap();
        }
        assert_eq!(forward, expected, "forward with _sort={sort}");
        let mut backward = Vec::new();
        loop {
            backward.splice(0..0, page.matches.iter().map(|k| k.id.to_string()));
            let Some(prev) = page.previous.clone() else {
                break;
            };
            page = index
                .search_keys(&t, &query(&format!("_sort={sort}&_count=2&_cursor={prev}")))
                .await
                .unwrap();
        }
        assert_eq!(backward, expected, "backward with _sort={sort}");
    }
    support::cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_and_has_beyond_the_inner_limit_are_invalid() {
    let Some(url) = support::opensearch_url("chains_and_has_beyond_the_inner_limit_are_invalid")
    else {
        return;
    };
    let (index, prefix) = support::fresh_index_with(&url, |c| c.inner_limit = 2).await;
    let t = support::tenant();
    let observation = |id: &str, patient: &str| IndexDoc {
        rt: "Observation".into(),
        ..doc(
            id,
            1,
            Some(
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                "subject": {"reference": format!("Patient/{patient}")}}),
            ),
        )
    };
    let docs = [
        doc("a", 1, patient("male")),
        doc("b", 1, patient("male")),
        doc("c", 1, patient("female")),
        observation("o1", "a"),
        observation("o2", "b"),
        observation("o3", "c"),
    ];
    index.apply(&t, &docs).await.unwrap();
    index.refresh(&t).await.unwrap();
    let run = |rt: &str, q: &str| {
        let pairs: Vec<(String, String)> = q
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        parse_search(
            Registry::r4(),
            Some(rt.parse().unwrap()),
            &pairs,
            &ParseOptions::default(),
        )
        .unwrap()
    };
    // Within the limit: answered.
    let page = index
        .search_keys(&t, &run("Observation", "subject:Patient.gender=male"))
        .await
        .unwrap();
    assert_eq!(page.matches.len(), 2);
    // Three patients, three observations: beyond a limit of two.
    for (rt, q) in [
        ("Observation", "subject:Patient.gender=male,female"),
        ("Patient", "_has:Observation:subject:code:text=x"),
    ] {
        let err = index.search_keys(&t, &run(rt, q)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{q}");
        assert!(err.to_string().contains("more than 2"), "{q}: {err}");
    }
    support::cleanup(&url, &prefix).await;
}
