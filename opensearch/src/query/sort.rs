//! The sort of a search: each sort key computed from the resource's entries of its param
//! (the lowest value ascending, the highest descending, as the embedded store does), missing
//! values last in both directions, then type and id. A backward page sorts the other way
//! (missing values first) and is reversed by the caller.

use hearth_fhir::search::query::SortKey;
use hearth_fhir::search::registry::ParamType;
use serde_json::{Value, json};

use super::dsl::term;
use super::values::shape;

/// How many sort values each hit carries.
pub(crate) fn sort_fields(keys: &[SortKey]) -> usize {
    keys.len() + 2
}

fn order(descending: bool) -> &'static str {
    if descending { "desc" } else { "asc" }
}

/// The field a key sorts on: the low end ascending, the high end descending.
fn field(key: &SortKey) -> String {
    let s = shape(key.kind);
    let column = match (key.kind, key.descending) {
        (ParamType::String, _) => "n",
        (ParamType::Date | ParamType::Number | ParamType::Quantity, false) => "lo",
        (ParamType::Date | ParamType::Number | ParamType::Quantity, true) => "hi",
        (ParamType::Uri, _) => "u",
        _ => "k",
    };
    format!("{s}.{column}")
}

/// The `sort` of a search, forward or `backward`.
pub(crate) fn sort(keys: &[SortKey], backward: bool) -> Vec<Value> {
    let mut out = Vec::with_capacity(keys.len() + 2);
    for key in keys {
        let desc = key.descending != backward;
        let clause = match key.code.as_str() {
            "_id" => json!({"id": {"order": order(desc)}}),
            "_lastUpdated" => json!({"lu": {"order": order(desc)}}),
            code => {
                let s = shape(key.kind);
                json!({field(key): {
                    "order": order(desc),
                    "mode": if key.descending { "max" } else { "min" },
                    "missing": if backward { "_first" } else { "_last" },
                    "nested": {"path": s, "filter": term(&format!("{s}.p"), code)},
                }})
            }
        };
        out.push(clause);
    }
    let tie = order(backward);
    out.push(json!({"rt": {"order": tie}}));
    out.push(json!({"id": {"order": tie}}));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: &str, kind: ParamType, descending: bool) -> SortKey {
        SortKey {
            code: code.into(),
            kind,
            descending,
        }
    }

    #[test]
    fn a_descending_date_sorts_by_the_latest_end() {
        let keys = [key("birthdate", ParamType::Date, true)];
        assert_eq!(
            sort(&keys, false),
            vec![
                json!({"date.hi": {"order": "desc", "mode": "max", "missing": "_last",
                    "nested": {"path": "date", "filter": {"term": {"date.p": "birthdate"}}}}}),
                json!({"rt": {"order": "asc"}}),
                json!({"id": {"order": "asc"}}),
            ]
        );
    }

    #[test]
    fn backward_flips_orders_and_puts_missing_first() {
        let keys = [
            key("gender", ParamType::Token, false),
            key("_id", ParamType::Token, true),
        ];
        let s = sort(&keys, true);
        assert_eq!(s[0]["tok.k"]["order"], "desc");
        assert_eq!(s[0]["tok.k"]["mode"], "min");
        assert_eq!(s[0]["tok.k"]["missing"], "_first");
        assert_eq!(s[1], json!({"id": {"order": "asc"}}));
        assert_eq!(s[2], json!({"rt": {"order": "desc"}}));
        assert_eq!(sort_fields(&keys), 4);
    }
}
