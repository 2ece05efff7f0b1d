//! An [`IndexDoc`] as an OpenSearch document: the resource's key, version and
//! `lastUpdated`, its entries grouped by shape (composite components grouped by value under
//! `comp`), or a tombstone (`deleted: true`) when the version is a delete.

use hearth_fhir::search::index::{EntryValue, IndexEntry};
use hearth_store::IndexDoc;
use serde_json::{Map, Value, json};

/// The document id of a resource: `Type/id`.
pub(crate) fn doc_id(rt: &str, id: &str) -> String {
    format!("{rt}/{id}")
}

fn put(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), Value::String(v.clone()));
    }
}

/// The shape field of a value and its columns.
fn columns(value: &EntryValue) -> (&'static str, Map<String, Value>) {
    let mut m = Map::new();
    let shape = match value {
        EntryValue::String { normalized, exact } => {
            put(&mut m, "n", &Some(normalized.clone()));
            put(&mut m, "e", &Some(exact.clone()));
            "str"
        }
        EntryValue::Token { system, code, text } => {
            put(&mut m, "s", system);
            put(&mut m, "c", code);
            put(&mut m, "t", text);
            // The sort key: the code, else the text.
            put(&mut m, "k", &code.clone().or_else(|| text.clone()));
            "tok"
        }
        EntryValue::Date { low, high } => {
            m.insert("lo".into(), json!(low));
            m.insert("hi".into(), json!(high));
            "date"
        }
        EntryValue::Number { low, high } => {
            m.insert("lo".into(), json!(low));
            m.insert("hi".into(), json!(high));
            "num"
        }
        EntryValue::Quantity {
            low,
            high,
            system,
            code,
            unit,
        } => {
            m.insert("lo".into(), json!(low));
            m.insert("hi".into(), json!(high));
            put(&mut m, "s", system);
            put(&mut m, "c", code);
            put(&mut m, "u", unit);
            "qty"
        }
        EntryValue::Reference {
            target_type,
            target_id,
            url,
        } => {
            put(&mut m, "tt", target_type);
            put(&mut m, "ti", target_id);
            put(&mut m, "url", url);
            // The sort key: `Type/id`, else the URL.
            let local = match (target_type, target_id) {
                (Some(t), Some(i)) => Some(format!("{t}/{i}")),
                _ => None,
            };
            put(&mut m, "k", &local.or_else(|| url.clone()));
            "ref"
        }
        EntryValue::Uri(u) => {
            put(&mut m, "u", &Some(u.clone()));
            "uri"
        }
        EntryValue::Position {
            latitude,
            longitude,
        } => {
            m.insert("pt".into(), json!({"lat": latitude, "lon": longitude}));
            "pos"
        }
    };
    (shape, m)
}

fn push(obj: &mut Map<String, Value>, field: &str, row: Value) {
    match obj
        .entry(field.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(rows) => rows.push(row),
        other => *other = Value::Array(vec![row]),
    }
}

fn row(entry: &IndexEntry) -> (&'static str, Value) {
    let (shape, mut m) = columns(&entry.value);
    m.insert("p".into(), Value::String(entry.param.clone()));
    m.insert("g".into(), json!(entry.group));
    (shape, Value::Object(m))
}

/// The document source of `doc`.
pub(crate) fn source(doc: &IndexDoc) -> Value {
    let mut obj = Map::new();
    obj.insert("rt".into(), json!(doc.rt));
    obj.insert("id".into(), json!(doc.id));
    obj.insert("version".into(), json!(doc.version));
    obj.insert("lu".into(), json!(doc.last_updated.timestamp_millis()));
    obj.insert("deleted".into(), json!(doc.entries.is_none()));
    let Some(entries) = &doc.entries else {
        return Value::Object(obj);
    };
    // Composite values, in order of first appearance: (code, group) and their components.
    let mut groups: Vec<((String, u32), Map<String, Value>)> = Vec::new();
    for entry in entries {
        let (shape, r) = row(entry);
        if entry.group == 0 {
            push(&mut obj, shape, r);
            continue;
        }
        let code = entry
            .param
            .split_once('#')
            .map_or(entry.param.as_str(), |(c, _)| c);
        let key = (code.to_owned(), entry.group);
        let at = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let mut g = Map::new();
                g.insert("p".into(), json!(code));
                g.insert("g".into(), json!(entry.group));
                groups.push((key, g));
                groups.len() - 1
            }
        };
        push(&mut groups[at].1, shape, r);
    }
    if !groups.is_empty() {
        let comp = groups.into_iter().map(|(_, g)| Value::Object(g)).collect();
        obj.insert("comp".into(), Value::Array(comp));
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn entry(param: &str, group: u32, value: EntryValue) -> IndexEntry {
        IndexEntry {
            param: param.into(),
            group,
            value,
        }
    }

    fn doc(entries: Option<Vec<IndexEntry>>) -> IndexDoc {
        IndexDoc {
            rt: "Observation".into(),
            id: "o1".into(),
            version: 3,
            last_updated: chrono::Utc.timestamp_millis_opt(1_600_000_000_123).unwrap(),
            entries,
        }
    }

    #[test]
    fn entries_by_shape_and_composites_by_value() {
        let token = |code: &str| EntryValue::Token {
            system: Some("http://loinc.org".into()),
            code: Some(code.into()),
            text: None,
        };
        let qty = |v: f64| EntryValue::Quantity {
            low: v,
            high: v,
            system: None,
            code: Some("mg".into()),
            unit: None,
        };
        let d = doc(Some(vec![
            entry("code", 0, token("x")),
            entry("code-value-quantity#0", 1, token("x")),
            entry("code-value-quantity#1", 1, qty(5.0)),
            entry("code-value-quantity#0", 2, token("y")),
            entry("code-value-quantity#1", 2, qty(7.0)),
            entry(
                "subject",
                0,
                EntryValue::Reference {
                    target_type: Some("Patient".into()),
                    target_id: Some("p".into()),
                    url: None,
                },
            ),
        ]));
        let s = source(&d);
        assert_eq!(
            s["tok"],
            json!([{"p": "code", "g": 0, "s": "http://loinc.org", "c": "x", "k": "x"}])
        );
        assert_eq!(s["ref"][0]["k"], "Patient/p");
        assert_eq!(s["lu"], 1_600_000_000_123_i64);
        assert_eq!(s["deleted"], false);
        let comp = s["comp"].as_array().unwrap();
        assert_eq!(comp.len(), 2);
        assert_eq!(comp[1]["p"], "code-value-quantity");
        assert_eq!(comp[1]["g"], 2);
        assert_eq!(comp[1]["tok"][0]["c"], "y");
        assert_eq!(comp[1]["qty"][0]["lo"], 7.0);
        assert!(s.get("qty").is_none(), "components stay under comp");
    }

    #[test]
    fn a_delete_is_a_tombstone() {
        let s = source(&doc(None));
        assert_eq!(
            s,
            json!({"rt": "Observation", "id": "o1", "version": 3, "lu": 1_600_000_000_123_i64, "deleted": true})
        );
    }
}
