//! The settings and mappings of a tenant index: top-level fields of the resource, and one
//! `nested` field per index entry shape (so that the columns of one entry are matched
//! together), plus `comp`, one nested object per composite value holding its components.
//!
//! Field names are short (they are repeated in every nested object of every document):
//! `p` param code, `g` composite group, and per shape the columns of
//! [`hearth_fhir::search::index::EntryValue`].

use serde_json::{Map, Value, json};

/// Longest keyword kept searchable, in characters: longer values would exceed Lucene's term
/// size (32 KiB of UTF-8) and fail the whole document; they are stored but not indexed.
pub(crate) const MAX_KEYWORD_CHARS: u32 = 8_000;

/// Nested objects one document may hold (OpenSearch's default is 10,000; a large
/// CodeSystem or Questionnaire has more entries).
const NESTED_OBJECTS_LIMIT: u32 = 100_000;

/// The nested fields, by shape: name and its value columns (after `p` and `g`).
pub(crate) const SHAPES: [(&str, &[(&str, &str)]); 8] = [
    ("str", &[("n", "keyword"), ("e", "keyword")]),
    (
        "tok",
        &[
            ("s", "keyword"),
            ("c", "keyword"),
            ("t", "keyword"),
            ("k", "keyword"),
        ],
    ),
    ("date", &[("lo", "long"), ("hi", "long")]),
    ("num", &[("lo", "double"), ("hi", "double")]),
    (
        "qty",
        &[
            ("lo", "double"),
            ("hi", "double"),
            ("s", "keyword"),
            ("c", "keyword"),
            ("u", "keyword"),
        ],
    ),
    (
        "ref",
        &[
            ("tt", "keyword"),
            ("ti", "keyword"),
            ("url", "keyword"),
            ("k", "keyword"),
        ],
    ),
    ("uri", &[("u", "keyword")]),
    ("pos", &[("pt", "geo_point")]),
];

fn field(ty: &str) -> Value {
    if ty == "keyword" {
        json!({"type": "keyword", "ignore_above": MAX_KEYWORD_CHARS})
    } else {
        json!({"type": ty})
    }
}

/// The nested objects of every shape, with `p` and `g`.
fn shapes() -> Map<String, Value> {
    let mut out = Map::new();
    for (name, columns) in SHAPES {
        let mut props = Map::new();
        props.insert("p".into(), field("keyword"));
        props.insert("g".into(), field("integer"));
        for (column, ty) in columns {
            props.insert((*column).into(), field(ty));
        }
        out.insert(name.into(), json!({"type": "nested", "properties": props}));
    }
    out
}

/// The body of the create-index request.
pub(crate) fn create_body(replicas: Option<u32>) -> Value {
    let mut props = shapes();
    props.insert("rt".into(), field("keyword"));
    props.insert("id".into(), field("keyword"));
    props.insert("version".into(), field("long"));
    props.insert(
        "lu".into(),
        json!({"type": "date", "format": "epoch_millis"}),
    );
    props.insert("deleted".into(), field("boolean"));
    let mut comp = shapes();
    comp.insert("p".into(), field("keyword"));
    comp.insert("g".into(), field("integer"));
    props.insert("comp".into(), json!({"type": "nested", "properties": comp}));

    let mut index = json!({
        "number_of_shards": 1,
        "mapping": {"nested_objects": {"limit": NESTED_OBJECTS_LIMIT}},
    });
    if let Some(r) = replicas {
        index["number_of_replicas"] = json!(r);
    }
    json!({
        "settings": {"index": index},
        "mappings": {"dynamic": "strict", "properties": props},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_nested_at_both_levels() {
        let body = create_body(Some(0));
        let props = &body["mappings"]["properties"];
        for (name, columns) in SHAPES {
            assert_eq!(props[name]["type"], "nested", "{name}");
            assert_eq!(props["comp"]["properties"][name]["type"], "nested");
            for (column, _) in columns {
                assert!(
                    props[name]["properties"][column].is_object(),
                    "{name}.{column}"
                );
            }
        }
        assert_eq!(props["tok"]["properties"]["c"]["ignore_above"], 8_000);
        assert_eq!(body["settings"]["index"]["number_of_replicas"], 0);
        assert!(
            create_body(None)["settings"]["index"]
                .get("number_of_replicas")
                .is_none()
        );
    }
}
