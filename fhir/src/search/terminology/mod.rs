//! Resolving the terminology modifiers of a search (`:in`, `:not-in`, token `:above` /
//! `:below`) into plain code sets ([`ValueTest::TokenSet`]) that every engine answers like
//! tokens. Only terminology stored in the tenant is known: ValueSets found by canonical `url`
//! (optionally `|version`) or `ValueSet/id`, and CodeSystems by `url`; external terminologies
//! (SNOMED CT, LOINC hierarchies...) are out of scope.
//!
//! No I/O here: [`resolve`] reports the resources it still [`Want`]s; the caller fetches them
//! into a [`Fetched`] and calls again, until the query is resolved (a few rounds at most, one
//! per level of value-set imports).

mod expand;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::outcome::{Issue, IssueCode};
use crate::search::query::{Filter, SearchQuery, TerminologyTest, Test, ValueTest};

pub use expand::CodeSystemIndex;

/// Most codes one terminology test may expand to.
pub const MAX_EXPANSION: usize = 10_000;

/// A resource the resolution needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Want {
    /// A ValueSet: `ValueSet/id`, or a canonical URL with an optional `|version`.
    ValueSet(String),
    /// A CodeSystem by canonical URL.
    CodeSystem(String),
}

/// What the caller has fetched so far: `None` when the tenant has no such resource.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub resources: HashMap<Want, Option<Value>>,
}

/// A set of codes by system.
pub(crate) type Codes = BTreeSet<(String, String)>;

/// The outcome of one round: the resolved query, or what to fetch before the next round.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Resolved(Box<SearchQuery>),
    Need(Vec<Want>),
}

/// Whether `query` holds terminology tests (nothing to resolve otherwise).
pub fn has_terminology(query: &SearchQuery) -> bool {
    query.filters.iter().any(filter_has)
}

fn filter_has(f: &Filter) -> bool {
    match &f.test {
        Test::Missing(_) => false,
        Test::Any { values, .. } => values
            .iter()
            .any(|v| matches!(v, ValueTest::Terminology(_))),
        Test::Chain(branches) => branches.iter().any(|(_, f)| filter_has(f)),
        Test::Has { filter, .. } => filter_has(filter),
    }
}

/// One round of resolution of `query` with what is `fetched`.
pub fn resolve(query: &SearchQuery, fetched: &Fetched) -> Result<Resolution, Issue> {
    let mut cx = Context {
        fetched,
        wants: BTreeSet::new(),
    };
    let mut out = query.clone();
    for f in &mut out.filters {
        resolve_filter(&mut cx, f)?;
    }
    Ok(if cx.wants.is_empty() {
        Resolution::Resolved(Box::new(out))
    } else {
        Resolution::Need(cx.wants.into_iter().collect())
    })
}

pub(crate) struct Context<'a> {
    fetched: &'a Fetched,
    wants: BTreeSet<Want>,
}

impl Context<'_> {
    /// The fetched resource; `Ok(None)` (and a want) when not fetched yet.
    pub(crate) fn get(&mut self, want: Want) -> Result<Option<&Value>, Issue> {
        match self.fetched.resources.get(&want) {
            Some(Some(v)) => Ok(Some(v)),
            Some(None) => Err(not_found(&want)),
            None => {
                self.wants.insert(want);
                Ok(None)
            }
        }
    }
}

fn not_found(want: &Want) -> Issue {
    let msg = match want {
        Want::ValueSet(r) => format!("value set not found: '{r}'"),
        Want::CodeSystem(u) => format!(
            "code system not found: '{u}' (only code systems stored in the tenant are known)"
        ),
    };
    Issue::error(IssueCode::Invalid, msg)
}

pub(crate) fn too_large(what: &str) -> Issue {
    Issue::error(
        IssueCode::TooCostly,
        format!("{what} expands to more than {MAX_EXPANSION} codes, the limit of this server"),
    )
}

fn resolve_filter(cx: &mut Context<'_>, f: &mut Filter) -> Result<(), Issue> {
    match &mut f.test {
        Test::Missing(_) => Ok(()),
        Test::Chain(branches) => branches
            .iter_mut()
            .try_for_each(|(_, f)| resolve_filter(cx, f)),
        Test::Has { filter, .. } => resolve_filter(cx, filter),
        Test::Any { values, .. } => {
            for v in values.iter_mut() {
                if let ValueTest::Terminology(t) = v {
                    let codes = match t {
                        TerminologyTest::In(reference) => {
                            expand::value_set(cx, reference, 0)?.unwrap_or_default()
                        }
                        TerminologyTest::Subsumption {
                            system,
                            code,
                            above,
                        } => expand::subsumption(cx, system, code, *above)?.unwrap_or_default(),
                    };
                    *v = token_set(codes);
                }
            }
            Ok(())
        }
    }
}

fn token_set(codes: Codes) -> ValueTest {
    let mut by_system: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (system, code) in codes {
        by_system.entry(system).or_default().push(code);
    }
    ValueTest::TokenSet(by_system.into_iter().collect())
}
