//! Conformance: paging a search whose many candidates (from a plain filter) are tested by a
//! chain, forward and backward, and its counts: every match once, in id order, whatever plan
//! finds the pages (candidates tested in order until a page is full, or all of them counted).

use serde_json::json;

use super::resource_search::load;
use super::{fresh_tenant, search_page};
use crate::{ResourceKey, ResourceStore};

/// Candidates of the plain filter: more than an engine would test to count them by default.
const OBSERVATIONS: usize = 330;

pub(super) async fn chained_filter_over_many_candidates(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    load(
        store,
        &t,
        &[
            ("Organization", "alpha", json!({"name": "Alpha Clinic"})),
            ("Organization", "beta", json!({"name": "Beta Clinic"})),
            ("Patient", "p", json!({"gender": "female"})),
            (
                "Encounter",
                "ea",
                json!({"status": "finished", "class": {"code": "AMB"},
                       "serviceProvider": {"reference": "Organization/alpha"}}),
            ),
            (
                "Encounter",
                "eb",
                json!({"status": "finished", "class": {"code": "AMB"},
                       "serviceProvider": {"reference": "Organization/beta"}}),
            ),
        ],
    )
    .await;
    // Ids in an order unlike the write order, so a plan that returned candidates in write
    // order would be caught.
    let ids: Vec<String> = (0..OBSERVATIONS)
        .map(|i| format!("o{:03}", (i * 7) % OBSERVATIONS))
        .collect();
    let observations: Vec<_> = ids
        .iter()
        .map(|id| {
            let n: usize = id[1..].parse().unwrap();
            let encounter = if n.is_multiple_of(3) { "ea" } else { "eb" };
            (
                "Observation",
                id.as_str(),
                json!({"status": "final", "code": {"text": "x"},
                       "subject": {"reference": "Patient/p"},
                       "encounter": {"reference": format!("Encounter/{encounter}")}}),
            )
        })
        .collect();
    load(store, &t, &observations).await;
    let mut expected: Vec<String> = ids
        .iter()
        .filter(|id| id[1..].parse::<usize>().unwrap().is_multiple_of(3))
        .cloned()
        .collect();
    expected.sort();

    let query = "subject=Patient/p&encounter.service-provider.name=alpha";
    let accurate = search_page(
        store,
        &t,
        "Observation",
        &format!("{query}&_total=accurate"),
    )
    .await;
    assert_eq!(accurate.total, Some(expected.len() as u64), "{query}");
    let first = search_page(store, &t, "Observation", &format!("{query}&_count=7")).await;
    assert!(
        first.total.is_none_or(|n| n == expected.len() as u64),
        "a total, if any, is exact: {:?}",
        first.total
    );

    // Forward through every page, then backward from the last.
    let ids_of = |keys: &[ResourceKey]| keys.iter().map(|k| k.id.to_string()).collect::<Vec<_>>();
    let mut forward = Vec::new();
    let mut page = first;
    loop {
        forward.extend(page.matches.iter().map(|v| v.key.clone()));
        let Some(next) = page.next.clone() else { break };
        let q = format!("{query}&_count=7&_cursor={next}");
        page = search_page(store, &t, "Observation", &q).await;
    }
    assert_eq!(ids_of(&forward), expected, "paging forward");
    let mut backward = Vec::new();
    loop {
        backward.splice(0..0, page.matches.iter().map(|v| v.key.clone()));
        let Some(prev) = page.previous.clone() else {
            break;
        };
        let q = format!("{query}&_count=7&_cursor={prev}");
        page = search_page(store, &t, "Observation", &q).await;
    }
    assert_eq!(ids_of(&backward), expected, "paging backward");

    // What the chain must not match: the other organization's encounters.
    let beta = search_page(
        store,
        &t,
        "Observation",
        "subject=Patient/p&encounter.service-provider.name=beta&_total=accurate&_count=1",
    )
    .await;
    assert_eq!(beta.total, Some((OBSERVATIONS - expected.len()) as u64));
}
