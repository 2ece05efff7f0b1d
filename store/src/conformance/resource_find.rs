//! Conformance: `find` by `_id`, `identifier` (every token form) and `_lastUpdated`, ANDed,
//! over live resources only, sorted by id, limited.

use chrono::{DateTime, Duration, Utc};
use hearth_fhir::ResourceType;
use hearth_fhir::search::{Criterion, DatePrefix, DateRange, Token};
use serde_json::{Value, json};

use super::{delete, fresh_tenant, key, must_write, put};
use crate::{Precondition, ResourceStore};

fn token(system: Option<Option<&str>>, code: Option<&str>) -> Token {
    Token {
        system: system.map(|s| s.map(str::to_owned)),
        code: code.map(str::to_owned),
    }
}

fn ids(list: &[&str]) -> Criterion {
    Criterion::Ids(list.iter().map(|s| s.parse().unwrap()).collect())
}

fn ident(tokens: &[Token]) -> Criterion {
    Criterion::Identifier(tokens.to_vec())
}

/// The one-millisecond range holding `t`.
fn instant(t: DateTime<Utc>) -> DateRange {
    DateRange {
        start: t,
        end: t + Duration::milliseconds(1),
    }
}

fn patient(identifier: Value) -> Value {
    json!({"resourceType": "Patient", "identifier": identifier})
}

pub(super) async fn criteria(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let pt: ResourceType = "Patient".parse().unwrap();
    let (a1, b1) = (
        json!({"system": "http://a", "value": "1"}),
        json!({"system": "http://b", "value": "1"}),
    );
    let mut at = std::collections::HashMap::new();
    for (name, op) in [
        (
            "p2",
            put(
                &key("Patient", "p2"),
                patient(json!([b1.clone()])),
                Precondition::None,
            ),
        ),
        (
            "p1",
            put(
                &key("Patient", "p1"),
                patient(json!([a1.clone(), {"value": "2"}])),
                Precondition::None,
            ),
        ),
        (
            "p3",
            put(
                &key("Patient", "p3"),
                patient(json!([{"system": "http://a", "value": "3"}])),
                Precondition::None,
            ),
        ),
        (
            "p4",
            put(
                &key("Patient", "p4"),
                json!({"resourceType": "Patient"}),
                Precondition::None,
            ),
        ),
        (
            "p5",
            put(
                &key("Patient", "p5"),
                patient(json!([a1.clone()])),
                Precondition::None,
            ),
        ),
        (
            "p5-deleted",
            delete(&key("Patient", "p5"), Precondition::None),
        ),
        (
            "o1",
            put(
                &key("Observation", "o1"),
                json!({"resourceType": "Observation", "identifier": [a1.clone()]}),
                Precondition::None,
            ),
        ),
        (
            "b1",
            put(
                &key("Bundle", "b1"),
                json!({"resourceType": "Bundle", "identifier": a1.clone()}),
                Precondition::None,
            ),
        ),
        (
            "p6-old",
            put(
                &key("Patient", "p6"),
                patient(json!([{"system": "http://a", "value": "9"}])),
                Precondition::None,
            ),
        ),
        (
            "p6",
            put(
                &key("Patient", "p6"),
                patient(json!([{"system": "http://a", "value": "10"}])),
                Precondition::None,
            ),
        ),
    ] {
        let written = must_write(store, &tenant, op).await.0.last_updated;
        at.insert(name, written);
        // Writes within one millisecond may share it; wait so each version here has its own.
        while Utc::now() < written + Duration::milliseconds(1) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
    let t3 = instant(at["p3"]);
    let lu = |prefix| Criterion::LastUpdated(prefix, t3);
    let cases: Vec<(Vec<Criterion>, &[&str])> = vec![
        (vec![ids(&["p3", "p1", "p5", "zz", "o1"])], &["p1", "p3"]),
        (vec![ids(&[])], &[]),
        (vec![ident(&[token(None, Some("1"))])], &["p1", "p2"]),
        (
            vec![ident(&[token(Some(Some("http://a")), Some("1"))])],
            &["p1"],
        ),
        (
            vec![ident(&[token(Some(Some("HTTP://A")), Some("1"))])],
            &[],
        ),
        (
            vec![ident(&[token(Some(Some("http://a")), Some("1 "))])],
            &[],
        ),
        (vec![ident(&[token(Some(None), Some("2"))])], &["p1"]),
        (vec![ident(&[token(Some(None), Some("1"))])], &[]),
        (
            vec![ident(&[token(Some(Some("http://a")), None)])],
            &["p1", "p3", "p6"],
        ),
        (vec![ident(&[token(None, Some("9"))])], &[]),
        (vec![ident(&[token(None, Some("10"))])], &["p6"]),
        (
            vec![ident(&[
                token(Some(Some("http://a")), Some("3")),
                b1_token(),
            ])],
            &["p2", "p3"],
        ),
        (vec![ident(&[])], &[]),
        (
            vec![
                ids(&["p1", "p2", "p3"]),
                ident(&[token(Some(Some("http://a")), None)]),
            ],
            &["p1", "p3"],
        ),
        (vec![lu(DatePrefix::Eq)], &["p3"]),
        (vec![lu(DatePrefix::Ge)], &["p3", "p4", "p6"]),
        (vec![lu(DatePrefix::Gt)], &["p4", "p6"]),
        (vec![lu(DatePrefix::Sa)], &["p4", "p6"]),
        (vec![lu(DatePrefix::Lt)], &["p1", "p2"]),
        (vec![lu(DatePrefix::Eb)], &["p1", "p2"]),
        (vec![lu(DatePrefix::Le)], &["p1", "p2", "p3"]),
        (vec![lu(DatePrefix::Ne)], &["p1", "p2", "p4", "p6"]),
        (
            vec![Criterion::LastUpdated(
                DatePrefix::Ge,
                instant(at["p6"] + Duration::milliseconds(1)),
            )],
            &[],
        ),
        (
            vec![
                lu(DatePrefix::Ge),
                ident(&[token(Some(Some("http://a")), None)]),
            ],
            &["p3", "p6"],
        ),
        (
            vec![
                lu(DatePrefix::Ge),
                ident(&[token(Some(Some("http://a")), None)]),
                ids(&["p1", "p6"]),
            ],
            &["p6"],
        ),
    ];
    for (criteria, expected) in cases {
        let found = store.find(&tenant, pt, &criteria, 100).await.unwrap();
        let found: Vec<&str> = found
            .iter()
            .map(|k| {
                assert_eq!(k.rt, pt, "find returns keys of the asked type");
                k.id.as_str()
            })
            .collect();
        assert_eq!(found, expected, "{criteria:?}");
    }

    let everyone = [Criterion::LastUpdated(
        DatePrefix::Ge,
        instant(at["p2"] - Duration::days(1)),
    )];
    let found = store.find(&tenant, pt, &everyone, 2).await.unwrap();
    assert_eq!(
        found.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["p1", "p2"],
        "limit keeps the first ids"
    );
    assert!(
        store
            .find(&tenant, pt, &everyone, 0)
            .await
            .unwrap()
            .is_empty()
    );
    let bundles = store
        .find(
            &tenant,
            "Bundle".parse().unwrap(),
            &[ident(&[token(Some(Some("http://a")), Some("1"))])],
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        bundles,
        [key("Bundle", "b1")],
        "a single Identifier object is indexed too"
    );
    assert!(
        store
            .find(&fresh_tenant(), pt, &everyone, 10)
            .await
            .unwrap()
            .is_empty(),
        "a tenant without data finds nothing"
    );
}

fn b1_token() -> Token {
    token(Some(Some("http://b")), Some("1"))
}
