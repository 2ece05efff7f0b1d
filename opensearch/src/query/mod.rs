//! Compiling a search to OpenSearch query DSL, with the semantics of the embedded SQL
//! compiler: filters ANDed, values ORed, each value matched against one nested entry of its
//! shape and param code, `:not` as "no entry matches", `:missing` as (no) entry of the param,
//! composites as one `comp` object whose components all match. Tombstones never match.
//!
//! Chains and `_has` need other searches first: the caller resolves them into [`Clause`]s
//! holding the ids they reach (see `crate::search::resolve`), so this compiler is pure.

mod cursor;
mod dsl;
mod range;
mod sort;
#[cfg(test)]
mod tests;
mod values;

use hearth_fhir::ResourceType;
use hearth_fhir::search::query::{Filter, Test, ValueTest};
use hearth_fhir::search::registry::ParamType;
use serde_json::{Value, json};

pub(crate) use cursor::Cursor;
pub(crate) use dsl::{all, any, match_none, nested, term, terms};
pub(crate) use sort::{sort, sort_fields};

use self::range::{Span, date};
use self::values::{composite, entries, index_param, shape, value_kind};

/// One ANDed condition of a search, with chains and `_has` resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause<'a> {
    /// A filter answered from the document itself (no chain, no `_has`).
    Filter(&'a Filter),
    /// A chain through the reference parameter `code`: the ids, per target type, of the
    /// resources that satisfy the chained filter.
    Chain {
        code: &'a str,
        targets: Vec<(ResourceType, Vec<String>)>,
    },
    /// The resource is one of these (`Type`, `id`): what a `_has` reaches.
    Keys(Vec<(String, String)>),
}

/// The query selecting live resources of `types` (every type when empty) that satisfy all
/// `clauses`. `now` (ms since the epoch) anchors approximate dates.
pub fn compile(types: &[ResourceType], clauses: &[Clause<'_>], now: i64) -> Value {
    let mut filter = vec![term("deleted", false)];
    match types {
        [] => {}
        [one] => filter.push(term("rt", one.as_str())),
        many => filter.push(terms(
            "rt",
            many.iter().map(|t| Value::from(t.as_str())).collect(),
        )),
    }
    for c in clauses {
        filter.push(clause(c, now));
    }
    json!({"bool": {"filter": filter}})
}

fn clause(c: &Clause<'_>, now: i64) -> Value {
    match c {
        Clause::Filter(f) => plain(f, now),
        Clause::Chain { code, targets } => {
            let branches: Vec<Value> = targets
                .iter()
                .filter(|(_, ids)| !ids.is_empty())
                .map(|(ty, ids)| {
                    all(vec![
                        term("ref.tt", ty.as_str()),
                        terms(
                            "ref.ti",
                            ids.iter().map(|i| Value::from(i.as_str())).collect(),
                        ),
                    ])
                })
                .collect();
            if branches.is_empty() {
                return match_none();
            }
            nested("ref", all(vec![term("ref.p", *code), any(branches)]))
        }
        Clause::Keys(keys) => keys_query(keys),
    }
}

/// The documents with one of `keys` (`Type`, `id`).
pub(crate) fn keys_query(keys: &[(String, String)]) -> Value {
    let mut types: Vec<&str> = keys.iter().map(|(t, _)| t.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    any(types
        .into_iter()
        .map(|ty| {
            let ids = keys
                .iter()
                .filter(|(t, _)| t == ty)
                .map(|(_, id)| Value::from(id.as_str()))
                .collect();
            all(vec![term("rt", ty), terms("id", ids)])
        })
        .collect())
}

/// A filter without chain or `_has`.
fn plain(f: &Filter, now: i64) -> Value {
    let code = f.code.as_str();
    match (code, &f.test) {
        (_, Test::Chain(_) | Test::Has { .. }) => match_none(),
        ("_id", Test::Missing(missing)) | ("_lastUpdated", Test::Missing(missing)) => {
            if *missing {
                match_none()
            } else {
                dsl::match_all()
            }
        }
        ("_id", Test::Any { not, values }) => {
            let ids: Vec<Value> = values
                .iter()
                .filter_map(|v| match v {
                    ValueTest::Token { code: Some(c), .. } => Some(Value::from(c.as_str())),
                    _ => None,
                })
                .collect();
            let q = terms("id", ids);
            if *not { dsl::not(q) } else { q }
        }
        ("_lastUpdated", Test::Any { values, .. }) => any(values
            .iter()
            .filter_map(|v| match v {
                ValueTest::Date { prefix, low, high } => {
                    Some(date(&Span::Instant("lu"), *prefix, *low, *high, now))
                }
                _ => None,
            })
            .collect()),
        (_, Test::Missing(missing)) => {
            // A composite is present when one of its values is.
            let present = if f.kind == ParamType::Composite {
                nested("comp", term("comp.p", code))
            } else {
                let s = shape(f.kind);
                nested(s, term(&format!("{s}.p"), code))
            };
            if *missing { dsl::not(present) } else { present }
        }
        (_, Test::Any { not, values }) => {
            let q = any_value(code, f.kind, values, now);
            if *not { dsl::not(q) } else { q }
        }
    }
}

/// Any of `values` matches: values of one shape and entry param share one nested query.
fn any_value(code: &str, kind: ParamType, values: &[ValueTest], now: i64) -> Value {
    let mut groups: Vec<(&'static str, String, Vec<&ValueTest>)> = Vec::new();
    let mut alternatives = Vec::new();
    for v in values {
        if let ValueTest::Composite(components) = v {
            alternatives.push(composite(code, components, now));
            continue;
        }
        let (s, param) = (shape(value_kind(v, kind)), index_param(code, v));
        match groups.iter_mut().find(|g| g.0 == s && g.1 == param) {
            Some(g) => g.2.push(v),
            None => groups.push((s, param, vec![v])),
        }
    }
    let mut queries: Vec<Value> = groups
        .iter()
        .map(|(s, param, tests)| entries(s, param, tests, now))
        .collect();
    queries.extend(alternatives);
    any(queries)
}
