//! The OpenSearch index against the embedded SQL search, query by query: the same resources
//! written once (the embedded store answers its own search; the `IndexedStore` over it asks
//! OpenSearch), then searches generated from the stored index entries (every parameter
//! type, modifiers, prefixes, sorts with paging, includes) must give the same pages. Uses a
//! small built-in set, plus the R4 spec examples when `HEARTH_FHIR_PACKAGE` is set.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::{DATE_MAX, DATE_MIN, EntryValue, IndexEntry, index_entries};
use hearth_fhir::search::query::{ParseOptions, parse_search};
use hearth_fhir::search::registry::Registry;
use hearth_store::embedded::{LocalKeyService, SqliteOptions, SqliteResourceStore};
use hearth_store::{
    IndexedStore, Method, Precondition, ResourceKey, ResourceStore, SearchPage, WriteKind, WriteOp,
};
use hearth_tenancy::TenantRegistry;
use serde_json::{Value, json};

const BASE: &str = "http://example.org/fhir";

fn builtin() -> Vec<Value> {
    vec![
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Müller", "given": ["Ann", "Zoë"]}],
            "birthDate": "1970-03", "gender": "female", "managingOrganization": {"reference": "Organization/o1"},
            "identifier": [{"system": "http://mrn", "value": "A-1"}]}),
        json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Mull", "text": "Bo Mull"}],
            "birthDate": "1985-11-30", "deceasedDateTime": "2020-02-02T10:00:00Z"}),
        json!({"resourceType": "Patient", "id": "p3", "active": true, "gender": "other"}),
        json!({"resourceType": "Organization", "id": "o1", "name": "Acme Health", "partOf": {"reference": "Organization/o2"}}),
        json!({"resourceType": "Organization", "id": "o2", "name": "Acme Group"}),
        json!({"resourceType": "Observation", "id": "ob1", "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}], "text": "BP"},
            "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
            "effectivePeriod": {"start": "2021-05-01T08:00:00Z"}}),
        json!({"resourceType": "Observation", "id": "ob2", "status": "amended", "subject": {"reference": "Patient/p2"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {"value": 72.5, "comparator": "<", "unit": "/min"},
            "effectiveDateTime": "2021-05-02", "performer": [{"reference": "Organization/o1"}],
            "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                           "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
        json!({"resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"},
            "prediction": [{"probabilityRange": {"low": {"value": 0.1}, "high": {"value": 0.4}}}]}),
        json!({"resourceType": "ValueSet", "id": "vs1", "status": "active", "url": "http://acme.org/fhir/ValueSet/colors",
            "name": "Colors", "version": "1.0"}),
        json!({"resourceType": "ValueSet", "id": "vs2", "status": "draft", "url": "http://acme.org/fhir/ValueSet",
            "name": "Base"}),
        json!({"resourceType": "Location", "id": "l1", "status": "active", "name": "Main Street Clinic",
            "position": {"latitude": 42.2808, "longitude": -83.743},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Main <b>Street</b> Clinic</div>"}}),
        json!({"resourceType": "Location", "id": "l2", "status": "active", "position": {"latitude": 42.2411, "longitude": -83.613}}),
        json!({"resourceType": "List", "id": "list1", "status": "current", "mode": "working",
            "entry": [{"item": {"reference": "Patient/p1"}}, {"item": {"reference": "Location/l2"}}]}),
        json!({"resourceType": "Provenance", "id": "pv1", "recorded": "2021-05-03T00:00:00Z",
            "target": [{"reference": "Observation/ob1"}], "agent": [{"who": {"reference": "Organization/o1"}}]}),
    ]
}

/// The spec examples (non-definitional resources, under 1 MB), when the package is there.
fn examples() -> Vec<Value> {
    let Some(dir) = std::env::var_os("HEARTH_FHIR_PACKAGE") else {
        eprintln!("HEARTH_FHIR_PACKAGE is not set: differential search on the built-in set only");
        return Vec::new();
    };
    let skip = [
        "Bundle",
        "CapabilityStatement",
        "CodeSystem",
        "CompartmentDefinition",
        "ConceptMap",
        "ImplementationGuide",
        "NamingSystem",
        "OperationDefinition",
        "SearchParameter",
        "StructureDefinition",
        "StructureMap",
        "ValueSet",
    ];
    let mut files: Vec<_> = std::fs::read_dir(Path::new(&dir))
        .expect("read the package")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 1_000_000))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| serde_json::from_slice::<Value>(&std::fs::read(p).ok()?).ok())
        .filter(|v| {
            let rt = v["resourceType"].as_str().unwrap_or("");
            !rt.is_empty() && !skip.contains(&rt) && v["id"].is_string()
        })
        .collect()
}

fn put(body: &Value) -> Option<WriteOp> {
    let rt = body["resourceType"].as_str()?.parse().ok()?;
    let id = body["id"].as_str()?.parse().ok()?;
    let index = index_entries(&extract(Registry::r4(), body), Some(BASE));
    Some(WriteOp {
        key: ResourceKey::new(rt, id),
        kind: WriteKind::Put {
            body: body.as_object()?.clone(),
            blob: None,
            method: Method::Put,
            index,
        },
        precondition: Precondition::None,
    })
}

/// A value the parser reads back unchanged (no escapes needed).
fn plain(s: &str) -> bool {
    !s.is_empty() && !s.contains([',', '|', '$', '\\', '&', '=']) && s.len() < 200
}

fn day(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d").to_string())
}

fn number(v: f64) -> Option<String> {
    (v.is_finite() && v.abs() < 1e12).then(|| format!("{v}"))
}

/// Searches testing `e`, an entry of a resource of type `rt` (empty for composite rows).
fn queries_of(e: &IndexEntry) -> Vec<String> {
    let p = e.param.as_str();
    if e.group > 0 || p.contains(':') {
        return Vec::new();
    }
    let mut q = Vec::new();
    match &e.value {
        EntryValue::String { normalized, exact } => {
            let start: String = normalized.chars().take(3).collect();
            let middle: String = normalized.chars().skip(1).take(2).collect();
            for (m, v) in [("", &start), (":contains", &middle), (":exact", exact)] {
                if plain(v) {
                    q.push(format!("{p}{m}={v}"));
                }
            }
        }
        EntryValue::Token { system, code, text } => {
            if let Some(c) = code.as_deref().filter(|c| plain(c)) {
                q.push(format!("{p}={c}"));
                q.push(format!("{p}:not={c}"));
                match system.as_deref().filter(|s| plain(s)) {
                    Some(s) => q.push(format!("{p}={s}|{c}")),
                    None => q.push(format!("{p}=|{c}")),
                }
            }
            if let Some(t) = text.as_deref() {
                let start: String = t.chars().take(4).collect();
                if plain(&start) {
                    q.push(format!("{p}:text={start}"));
                }
            }
        }
        EntryValue::Date { low, high } => {
            for ms in [*low, *high] {
                if ms == DATE_MIN || ms == DATE_MAX {
                    continue;
                }
                if let Some(d) = day(ms) {
                    for prefix in ["", "ne", "gt", "lt", "ge", "le", "sa", "eb"] {
                        q.push(format!("{p}={prefix}{d}"));
                    }
                    q.push(format!("{p}={}", &d[..4]));
                }
            }
        }
        EntryValue::Number { low, .. } | EntryValue::Quantity { low, .. } => {
            if let Some(n) = number(*low) {
                for prefix in ["", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"] {
                    q.push(format!("{p}={prefix}{n}"));
                }
                if let EntryValue::Quantity {
                    system: Some(s),
                    code: Some(c),
                    ..
                } = &e.value
                    && plain(s)
                    && plain(c)
                {
                    q.push(format!("{p}={n}|{s}|{c}"));
                    q.push(format!("{p}=le{n}||{c}"));
                }
            }
        }
        EntryValue::Reference {
            target_type,
            target_id,
            url,
        } => {
            if let (Some(t), Some(i)) = (target_type, target_id) {
                q.push(format!("{p}={t}/{i}"));
                q.push(format!("{p}={i}"));
            }
            if let Some(u) = url.as_deref().filter(|u| plain(u)) {
                q.push(format!("{p}={u}"));
            }
        }
        EntryValue::Uri(u) => {
            if plain(u) {
                q.push(format!("{p}={u}"));
                q.push(format!("{p}:above={u}/more"));
                let cut: String = u
                    .chars()
                    .take(u.chars().count().saturating_sub(3))
                    .collect();
                if plain(&cut) {
                    q.push(format!("{p}:below={cut}"));
                }
            }
        }
        EntryValue::Position {
            latitude,
            longitude,
        } => {
            for (dlat, distance) in [
                (0.0, "1|km"),
                (0.05, "5|km"),
                (0.05, "6|km"),
                (1.0, "100|mi"),
            ] {
                q.push(format!("{p}={}|{longitude}|{distance}", latitude - dlat));
            }
        }
    }
    q.push(format!("{p}:missing=true"));
    q.push(format!("{p}:missing=false"));
    q
}

async fn page(
    store: &dyn ResourceStore,
    tenant: &hearth_tenancy::TenantId,
    rt: &str,
    query: &str,
) -> Option<SearchPage> {
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let rt = (!rt.is_empty()).then(|| rt.parse().expect("resource type"));
    let options = ParseOptions {
        base: Some(BASE),
        strict: true,
        ..ParseOptions::default()
    };
    let q = parse_search(Registry::r4(), rt, &pairs, &options).ok()?;
    Some(
        store
            .search(tenant, &q)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}")),
    )
}

fn keys(page: &SearchPage) -> (Vec<String>, Vec<String>) {
    let k = |v: &hearth_store::StoredVersion| format!("{}/{}", v.key.rt, v.key.id);
    let mut included: Vec<String> = page.included.iter().map(k).collect();
    included.sort();
    (page.matches.iter().map(k).collect(), included)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensearch_answers_as_the_embedded_search_does() {
    let Some(url) = support::opensearch_url("opensearch_answers_as_the_embedded_search_does")
    else {
        return;
    };
    let (index, prefix) = support::fresh_index(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<SqliteResourceStore> = Arc::new(SqliteResourceStore::new(
        TenantRegistry::new(dir.path()),
        SqliteOptions::default(),
        Arc::new(LocalKeyService::open(&dir.path().join("keys")).unwrap()),
    ));
    let indexed = IndexedStore::new(sqlite.clone(), Arc::new(index));
    let tenant = support::tenant();

    let mut resources = builtin();
    resources.extend(examples());
    let ops: Vec<WriteOp> = resources.iter().filter_map(put).collect();
    let mut seen = BTreeSet::new();
    let ops: Vec<WriteOp> = ops
        .into_iter()
        .filter(|op| seen.insert(op.key.clone()))
        .collect();
    for chunk in ops.chunks(100) {
        indexed.write(&tenant, chunk.to_vec()).await.expect("write");
    }

    // Searches: per type, each generated filter (all matches, as a set) ...
    let mut cases: BTreeSet<(String, String)> = BTreeSet::new();
    let mut sorts: BTreeSet<(String, String)> = BTreeSet::new();
    for op in &ops {
        let WriteKind::Put { index, .. } = &op.kind else {
            continue;
        };
        let rt = op.key.rt.to_string();
        for e in index {
            for q in queries_of(e).into_iter().take(12) {
                cases.insert((rt.clone(), q));
            }
            if let (
                "List",
                "item",
                EntryValue::Reference {
                    target_type: Some(t),
                    ..
                },
            ) = (rt.as_str(), e.param.as_str(), &e.value)
            {
                cases.insert((t.clone(), format!("_list={}", op.key.id)));
            }
            if e.group == 0 && !e.param.contains(':') {
                sorts.insert((rt.clone(), e.param.clone()));
            }
        }
        cases.insert((
            rt.clone(),
            format!("_id={}&_include={rt}:*&_revinclude=*:*", op.key.id),
        ));
        cases.insert((String::new(), format!("_type={rt}&_lastUpdated=ge2000")));
    }
    let special = |prefix: &str| cases.iter().filter(|(_, q)| q.starts_with(prefix)).count();
    eprintln!(
        "special searches: {} near, {} _list, {} _text, {} _content",
        special("near="),
        special("_list="),
        special("_text"),
        special("_content")
    );
    let mut compared = 0;
    for (rt, q) in &cases {
        // Accurate totals: without `_total`, the embedded engine may omit an expensive count.
        let query = format!("{q}&_count=1000&_total=accurate");
        let (Some(a), Some(b)) = (
            page(sqlite.as_ref(), &tenant, rt, &query).await,
            page(&indexed, &tenant, rt, &query).await,
        ) else {
            continue;
        };
        let (mut ka, ia) = keys(&a);
        let (mut kb, ib) = keys(&b);
        ka.sort();
        kb.sort();
        assert_eq!((ka, ia, a.total), (kb, ib, b.total), "{rt}?{q}");
        compared += 1;
    }
    // ... and each sort, in order, paged by 7 both ways.
    for (rt, param) in &sorts {
        for sort in [param.clone(), format!("-{param}")] {
            let query = format!("_sort={sort}&_count=1000");
            let (Some(a), Some(b)) = (
                page(sqlite.as_ref(), &tenant, rt, &query).await,
                page(&indexed, &tenant, rt, &query).await,
            ) else {
                continue;
            };
            assert_eq!(keys(&a).0, keys(&b).0, "{rt}?{query}");
            let mut paged = Vec::new();
            let mut p = page(&indexed, &tenant, rt, &format!("_sort={sort}&_count=7"))
                .await
                .unwrap();
            loop {
                paged.extend(keys(&p).0);
                let Some(next) = p.next.clone() else { break };
                p = page(
                    &indexed,
                    &tenant,
                    rt,
                    &format!("_sort={sort}&_count=7&_cursor={next}"),
                )
                .await
                .unwrap();
            }
            assert_eq!(paged, keys(&a).0, "{rt}?_sort={sort} paged");
            compared += 1;
        }
    }
    eprintln!("{compared} searches compared on {} resources", ops.len());
    assert!(compared > 100, "only {compared} searches compared");
    support::cleanup(&url, &prefix).await;
}
