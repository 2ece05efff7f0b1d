//! Building blocks of the query DSL, as JSON values.

use serde_json::{Value, json};

pub(crate) fn term(field: &str, value: impl Into<Value>) -> Value {
    json!({"term": {field: value.into()}})
}

pub(crate) fn terms(field: &str, values: Vec<Value>) -> Value {
    json!({"terms": {field: values}})
}

pub(crate) fn exists(field: &str) -> Value {
    json!({"exists": {"field": field}})
}

pub(crate) fn prefix(field: &str, value: &str) -> Value {
    json!({"prefix": {field: {"value": value}}})
}

/// `field` contains `value` anywhere (a wildcard query with the value's wildcards escaped).
pub(crate) fn contains(field: &str, value: &str) -> Value {
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('*');
    for c in value.chars() {
        if matches!(c, '*' | '?' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    json!({"wildcard": {field: {"value": pattern}}})
}

/// A comparison of `field` with `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
}

pub(crate) fn range(field: &str, op: Op, value: impl Into<Value>) -> Value {
    let op = match op {
        Op::Gt => "gt",
        Op::Gte => "gte",
        Op::Lt => "lt",
        Op::Lte => "lte",
    };
    json!({"range": {field: {op: value.into()}}})
}

/// All of `clauses`; `match_all` when empty, the clause itself when alone.
pub(crate) fn all(mut clauses: Vec<Value>) -> Value {
    match clauses.len() {
        0 => match_all(),
        1 => clauses.remove(0),
        _ => json!({"bool": {"filter": clauses}}),
    }
}

/// Any of `clauses`; `match_none` when empty, the clause itself when alone.
pub(crate) fn any(mut clauses: Vec<Value>) -> Value {
    match clauses.len() {
        0 => match_none(),
        1 => clauses.remove(0),
        _ => json!({"bool": {"should": clauses, "minimum_should_match": 1}}),
    }
}

pub(crate) fn not(clause: Value) -> Value {
    json!({"bool": {"must_not": [clause]}})
}

/// Some object of the nested field `path` satisfies `query`.
pub(crate) fn nested(path: &str, query: Value) -> Value {
    json!({"nested": {"path": path, "query": query}})
}

pub(crate) fn match_all() -> Value {
    json!({"match_all": {}})
}

pub(crate) fn match_none() -> Value {
    json!({"match_none": {}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_escapes_wildcards() {
        assert_eq!(
            contains("str.n", r"a*b?c\d"),
            json!({"wildcard": {"str.n": {"value": r"*a\*b\?c\\d*"}}})
        );
    }

    #[test]
    fn empty_and_single_combinations() {
        assert_eq!(all(vec![]), match_all());
        assert_eq!(any(vec![]), match_none());
        assert_eq!(any(vec![term("a", "b")]), term("a", "b"));
    }
}
