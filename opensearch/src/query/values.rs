//! One filter value ([`ValueTest`]) as a condition on one nested entry, and the nested
//! field (shape) and param code it is looked up under; composites as one `comp` object
//! whose components each satisfy their test.

use hearth_fhir::search::query::{StringMode, UriMode, ValueTest};
use hearth_fhir::search::registry::ParamType;
use serde_json::Value;

use super::dsl::{all, any, contains, exists, match_none, nested, not, prefix, term, terms};
use super::range::{Span, date, number};

/// The nested field holding entries of a parameter type.
pub(crate) fn shape(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "str",
        ParamType::Date => "date",
        ParamType::Number => "num",
        ParamType::Quantity => "qty",
        ParamType::Reference => "ref",
        ParamType::Uri => "uri",
        ParamType::Special => "pos",
        ParamType::Token | ParamType::Composite => "tok",
    }
}

/// The parameter type whose entries a value test looks at (`kind` for a composite).
pub(crate) fn value_kind(v: &ValueTest, kind: ParamType) -> ParamType {
    match v {
        ValueTest::String { .. } => ParamType::String,
        ValueTest::Token { .. }
        | ValueTest::TokenText(_)
        | ValueTest::OfType { .. }
        | ValueTest::ReferenceIdentifier { .. }
        | ValueTest::Terminology(_)
        | ValueTest::TokenSet(_) => ParamType::Token,
        ValueTest::Near { .. } => ParamType::Special,
        ValueTest::Date { .. } => ParamType::Date,
        ValueTest::Number { .. } => ParamType::Number,
        ValueTest::Quantity { .. } => ParamType::Quantity,
        ValueTest::Reference { .. } | ValueTest::ReferenceUrl(_) => ParamType::Reference,
        ValueTest::Uri { .. } => ParamType::Uri,
        ValueTest::Composite(_) => kind,
    }
}

/// The entry param a value test looks at.
pub(crate) fn index_param(code: &str, v: &ValueTest) -> String {
    match v {
        ValueTest::OfType { .. } => format!("{code}:of-type"),
        ValueTest::ReferenceIdentifier { .. } => format!("{code}:identifier"),
        _ => code.to_owned(),
    }
}

/// Every prefix of `value` (by character, the empty one included): the uris `:above` matches.
fn prefixes(value: &str) -> Vec<Value> {
    let mut out: Vec<Value> = value
        .char_indices()
        .map(|(i, _)| Value::String(value[..i].to_owned()))
        .collect();
    out.push(Value::String(value.to_owned()));
    out
}

fn token(p: &str, system: &Option<Option<String>>, code: &Option<String>) -> Value {
    let c = format!("{p}c");
    let mut clauses = vec![match code {
        Some(code) => term(&c, code.as_str()),
        None => exists(&c),
    }];
    let s = format!("{p}s");
    match system {
        None => {}
        Some(None) => clauses.push(not(exists(&s))),
        Some(Some(system)) => clauses.push(term(&s, system.as_str())),
    }
    all(clauses)
}

/// The condition of `v` on the entry whose fields start with `p` (`tok.`); `now` anchors
/// approximate dates.
pub(crate) fn condition(p: &str, v: &ValueTest, now: i64) -> Value {
    let f = |name: &str| format!("{p}{name}");
    match v {
        ValueTest::String { mode, value } => match mode {
            StringMode::Prefix => prefix(&f("n"), value),
            StringMode::Contains => contains(&f("n"), value),
            StringMode::Exact => term(&f("e"), value.as_str()),
        },
        ValueTest::Token { system, code } => token(p, system, code),
        ValueTest::ReferenceIdentifier { system, value } => token(p, system, value),
        ValueTest::TokenText(text) => prefix(&f("t"), text),
        ValueTest::OfType {
            system,
            code,
            value,
        } => {
            let mut clauses = vec![term(&f("c"), code.as_str()), term(&f("t"), value.as_str())];
            if let Some(system) = system {
                clauses.push(term(&f("s"), system.as_str()));
            }
            all(clauses)
        }
        ValueTest::Date { prefix, low, high } => {
            let (lo, hi) = (f("lo"), f("hi"));
            date(
                &Span::Fields { lo: &lo, hi: &hi },
                *prefix,
                *low,
                *high,
                now,
            )
        }
        ValueTest::Number {
            prefix,
            value,
            low,
            high,
        } => number(p, *prefix, *value, *low, *high),
        ValueTest::Quantity {
            prefix,
            value,
            low,
            high,
            system,
            code,
        } => {
            let mut clauses = vec![number(p, *prefix, *value, *low, *high)];
            if let Some(system) = system {
                clauses.push(term(&f("s"), system.as_str()));
            }
            if let Some(code) = code {
                clauses.push(any(vec![
                    term(&f("c"), code.as_str()),
                    term(&f("u"), code.as_str()),
                ]));
            }
            all(clauses)
        }
        ValueTest::Reference { target_type, id } => {
            let mut clauses = vec![term(&f("ti"), id.as_str())];
            if let Some(t) = target_type {
                clauses.push(term(&f("tt"), t.as_str()));
            }
            all(clauses)
        }
        ValueTest::ReferenceUrl(url) => term(&f("url"), url.as_str()),
        ValueTest::Uri { mode, value } => match mode {
            UriMode::Exact => term(&f("u"), value.as_str()),
            UriMode::Below => prefix(&f("u"), value),
            UriMode::Above => terms(&f("u"), prefixes(value)),
        },
        ValueTest::Near {
            latitude,
            longitude,
            distance_km,
        } => serde_json::json!({"geo_distance": {
            "distance": format!("{}m", distance_km * 1000.0),
            "distance_type": "arc",
            f("pt"): {"lat": latitude, "lon": longitude},
        }}),
        ValueTest::TokenSet(sets) => any(sets
            .iter()
            .map(|(system, codes)| {
                all(vec![
                    term(&f("s"), system.as_str()),
                    terms(
                        &f("c"),
                        codes.iter().map(|c| Value::from(c.as_str())).collect(),
                    ),
                ])
            })
            .collect()),
        // Nested composites do not occur in R4; terminology is resolved before compiling.
        ValueTest::Composite(_) | ValueTest::Terminology(_) => match_none(),
    }
}

/// Some entry of `shape` under `param` satisfies any of `tests`.
pub(crate) fn entries(shape: &str, param: &str, tests: &[&ValueTest], now: i64) -> Value {
    let p = format!("{shape}.");
    let conditions = tests.iter().map(|v| condition(&p, v, now)).collect();
    nested(
        shape,
        all(vec![term(&format!("{p}p"), param), any(conditions)]),
    )
}

/// Some composite value of `code` has components satisfying `components`, in order.
pub(crate) fn composite(code: &str, components: &[ValueTest], now: i64) -> Value {
    let mut clauses = vec![term("comp.p", code)];
    for (i, c) in components.iter().enumerate() {
        let path = format!("comp.{}", shape(value_kind(c, ParamType::Token)));
        let p = format!("{path}.");
        clauses.push(nested(
            &path,
            all(vec![
                term(&format!("{p}p"), format!("{code}#{i}")),
                condition(&p, c, now),
            ]),
        ));
    }
    nested("comp", all(clauses))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn uri_above_matches_every_prefix() {
        let v = ValueTest::Uri {
            mode: UriMode::Above,
            value: "http://a/b".into(),
        };
        let c = condition("uri.", &v, 0);
        let list = c["terms"]["uri.u"].as_array().unwrap();
        assert_eq!(list.len(), 11);
        assert_eq!(list[0], "");
        assert_eq!(list[7], "http://");
        assert_eq!(list[10], "http://a/b");
    }

    #[test]
    fn tokens() {
        let t = |system: Option<Option<&str>>, code: Option<&str>| {
            condition(
                "tok.",
                &ValueTest::Token {
                    system: system.map(|s| s.map(str::to_owned)),
                    code: code.map(str::to_owned),
                },
                0,
            )
        };
        assert_eq!(t(None, Some("x")), json!({"term": {"tok.c": "x"}}));
        assert_eq!(
            t(Some(None), Some("x")),
            json!({"bool": {"filter": [{"term": {"tok.c": "x"}},
                {"bool": {"must_not": [{"exists": {"field": "tok.s"}}]}}]}})
        );
        assert_eq!(
            t(Some(Some("http://s")), None),
            json!({"bool": {"filter": [{"exists": {"field": "tok.c"}}, {"term": {"tok.s": "http://s"}}]}})
        );
    }
}
