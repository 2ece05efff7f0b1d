//! Expanding a ValueSet (its `expansion.contains` when present, else `compose`: concept
//! lists, whole systems, `is-a` / `descendent-of` / `is-not-a` / `=` filters on the
//! CodeSystem hierarchy, imported value sets, minus `exclude`) and code subsumption in a
//! CodeSystem (nested `concept`s and `parent` / `subsumedBy` properties).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Codes, Context, MAX_EXPANSION, Want, too_large};
use crate::outcome::{Issue, IssueCode};

/// Deepest chain of value-set imports followed.
const MAX_IMPORT_DEPTH: usize = 4;

fn items<'v>(v: &'v Value, field: &str) -> impl Iterator<Item = &'v Value> {
    v.get(field).and_then(Value::as_array).into_iter().flatten()
}

fn text<'v>(v: &'v Value, field: &str) -> Option<&'v str> {
    v.get(field).and_then(Value::as_str)
}

fn unsupported(msg: String) -> Issue {
    Issue::error(IssueCode::NotSupported, msg)
}

/// The hierarchy of one CodeSystem: every code with its parents and children.
#[derive(Debug, Default)]
pub struct CodeSystemIndex {
    pub codes: BTreeSet<String>,
    parents: BTreeMap<String, Vec<String>>,
    children: BTreeMap<String, Vec<String>>,
}

impl CodeSystemIndex {
    pub fn new(code_system: &Value) -> CodeSystemIndex {
        let mut index = CodeSystemIndex::default();
        for c in items(code_system, "concept") {
            index.add(c, None);
        }
        index
    }

    fn add(&mut self, concept: &Value, parent: Option<&str>) {
        let Some(code) = text(concept, "code") else {
            return;
        };
        self.codes.insert(code.to_owned());
        let mut parents: Vec<String> = parent.into_iter().map(str::to_owned).collect();
        for p in items(concept, "property") {
            if matches!(text(p, "code"), Some("parent" | "subsumedBy"))
                && let Some(v) = text(p, "valueCode")
            {
                parents.push(v.to_owned());
            }
        }
        for p in parents {
            self.children
                .entry(p.clone())
                .or_default()
                .push(code.to_owned());
            self.parents.entry(code.to_owned()).or_default().push(p);
        }
        for child in items(concept, "concept") {
            self.add(child, Some(code));
        }
    }

    /// `code` and everything it reaches through `edges` (cycles are harmless).
    fn closure(edges: &BTreeMap<String, Vec<String>>, code: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::from([code.to_owned()]);
        let mut todo = vec![code.to_owned()];
        while let Some(c) = todo.pop() {
            for next in edges.get(&c).into_iter().flatten() {
                if out.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        out
    }

    /// `code` and its descendants.
    pub fn below(&self, code: &str) -> BTreeSet<String> {
        Self::closure(&self.children, code)
    }

    /// `code` and its ancestors.
    pub fn above(&self, code: &str) -> BTreeSet<String> {
        Self::closure(&self.parents, code)
    }
}

fn code_system(cx: &mut Context<'_>, url: &str) -> Result<Option<CodeSystemIndex>, Issue> {
    Ok(cx
        .get(Want::CodeSystem(url.to_owned()))?
        .map(CodeSystemIndex::new))
}

fn with_system(system: &str, codes: impl IntoIterator<Item = String>) -> Codes {
    codes.into_iter().map(|c| (system.to_owned(), c)).collect()
}

fn check_size(codes: &Codes, what: &str) -> Result<(), Issue> {
    if codes.len() > MAX_EXPANSION {
        Err(too_large(what))
    } else {
        Ok(())
    }
}

/// `:below` / `:above` of `code` in the tenant's CodeSystem `system`.
pub(super) fn subsumption(
    cx: &mut Context<'_>,
    system: &str,
    code: &str,
    above: bool,
) -> Result<Option<Codes>, Issue> {
    let Some(cs) = code_system(cx, system)? else {
        return Ok(None);
    };
    let codes = if above {
        cs.above(code)
    } else {
        cs.below(code)
    };
    let out = with_system(system, codes);
    check_size(&out, &format!("'{system}|{code}'"))?;
    Ok(Some(out))
}

/// The codes of the value set `reference`; `None` while something is still to be fetched.
pub(super) fn value_set(
    cx: &mut Context<'_>,
    reference: &str,
    depth: usize,
) -> Result<Option<Codes>, Issue> {
    if depth > MAX_IMPORT_DEPTH {
        return Err(unsupported(format!(
            "value set '{reference}': imports nest deeper than {MAX_IMPORT_DEPTH}"
        )));
    }
    let Some(vs) = cx.get(Want::ValueSet(reference.to_owned()))?.cloned() else {
        return Ok(None);
    };
    let what = format!("value set '{reference}'");
    if let Some(expansion) = vs.get("expansion").filter(|e| e.get("contains").is_some()) {
        let mut out = Codes::new();
        contains(expansion, &mut out);
        check_size(&out, &what)?;
        return Ok(Some(out));
    }
    let compose = vs.get("compose").cloned().unwrap_or(Value::Null);
    let mut out = Codes::new();
    let mut complete = true;
    for include in items(&compose, "include") {
        match set(cx, include, depth)? {
            Some(codes) => out.extend(codes),
            None => complete = false,
        }
        check_size(&out, &what)?;
    }
    for exclude in items(&compose, "exclude") {
        match set(cx, exclude, depth)? {
            Some(codes) => out.retain(|c| !codes.contains(c)),
            None => complete = false,
        }
    }
    Ok(complete.then_some(out))
}

fn contains(v: &Value, out: &mut Codes) {
    for c in items(v, "contains") {
        if let (Some(system), Some(code)) = (text(c, "system"), text(c, "code")) {
            out.insert((system.to_owned(), code.to_owned()));
        }
        contains(c, out);
    }
}

/// The codes of one `include` / `exclude`: its system part (concepts, filters or the whole
/// system) intersected with each imported value set.
fn set(cx: &mut Context<'_>, include: &Value, depth: usize) -> Result<Option<Codes>, Issue> {
    let mut parts: Vec<Option<Codes>> = Vec::new();
    if let Some(system) = text(include, "system") {
        parts.push(system_part(cx, system, include)?);
    }
    for imported in items(include, "valueSet").filter_map(Value::as_str) {
        parts.push(value_set(cx, imported, depth + 1)?);
    }
    if parts.iter().any(Option::is_none) {
        return Ok(None);
    }
    let mut parts = parts.into_iter().flatten();
    let Some(mut out) = parts.next() else {
        return Ok(Some(Codes::new()));
    };
    for p in parts {
        out.retain(|c| p.contains(c));
    }
    Ok(Some(out))
}

fn system_part(
    cx: &mut Context<'_>,
    system: &str,
    include: &Value,
) -> Result<Option<Codes>, Issue> {
    if include.get("concept").is_some() {
        let codes = items(include, "concept")
            .filter_map(|c| text(c, "code"))
            .map(str::to_owned);
        return Ok(Some(with_system(system, codes)));
    }
    let Some(cs) = code_system(cx, system)? else {
        return Ok(None);
    };
    let mut codes = cs.codes.clone();
    for f in items(include, "filter") {
        let (property, op, value) = (
            text(f, "property").unwrap_or_default(),
            text(f, "op").unwrap_or_default(),
            text(f, "value").unwrap_or_default(),
        );
        let matching = match (property, op) {
            ("concept", "is-a") => cs.below(value),
            ("concept", "descendent-of") => {
                let mut below = cs.below(value);
                below.remove(value);
                below
            }
            ("concept", "is-not-a") => {
                let below = cs.below(value);
                cs.codes.difference(&below).cloned().collect()
            }
            ("concept" | "code", "=") => BTreeSet::from([value.to_owned()]),
            ("concept" | "code", "in") => value.split(',').map(str::to_owned).collect(),
            _ => {
                return Err(unsupported(format!(
                    "value set filter '{property} {op} {value}' on '{system}' is not supported"
                )));
            }
        };
        codes.retain(|c| matching.contains(c));
    }
    Ok(Some(with_system(system, codes)))
}
