//! The flat index entries a store keeps for one resource version, converted from an
//! [`Extraction`]: one row per value, in one of eight shapes (string, token, date, number,
//! quantity, reference, uri, position). This is the contract between extraction and every search backend.
//!
//! Derived rows, so that each backend needs only these eight tables:
//! - a composite value becomes one row per component, under the parameter `code#i` (`i` the
//!   component's position) and sharing a `group` number (1, 2, ...) per value; a composite
//!   search matches when all components match rows of the same group (component correlation).
//! - an Identifier's `type` codings become token rows under `code:of-type`, with the
//!   identifier's value in `text` (for `:of-type=system|code|value`).
//! - a Reference's `identifier` becomes a token row under `code:identifier` (for
//!   `:identifier`).
//! - `_id` and `_lastUpdated` are not indexed: stores answer them from the resource itself.
//! - A `phonetic` parameter with the same expression as the type's `name` (Patient,
//!   Practitioner, Person, RelatedPerson) is not indexed: the query parser searches it as
//!   `name` (no phonetic algorithm yet), which saves a fifth of a Patient's rows.

use chrono::{DateTime, Utc};

use super::extract::{Extraction, IndexValue, ReferenceKind, SpecialValue, TokenValue};

/// Open date bounds are stored as these millisecond values.
pub const DATE_MIN: i64 = i64::MIN;
pub const DATE_MAX: i64 = i64::MAX;
/// Open number bounds.
pub const NUMBER_MIN: f64 = f64::MIN;
pub const NUMBER_MAX: f64 = f64::MAX;

/// One row of a resource's search index.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IndexEntry {
    /// The parameter code (`name`, `code-value-quantity#1`, `identifier:of-type`).
    pub param: String,
    /// 0, or the number of the composite value this row is a component of.
    pub group: u32,
    pub value: EntryValue,
}

/// The value of one index row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "lowercase")]
pub enum EntryValue {
    /// Normalized (lowercase, accents removed) and as written.
    String {
        normalized: String,
        exact: String,
    },
    /// `text` is normalized (for `:text`); for `:of-type` rows it is the identifier's value.
    Token {
        system: Option<String>,
        code: Option<String>,
        text: Option<String>,
    },
    /// Milliseconds `[low, high)`, open sides as [`DATE_MIN`] / [`DATE_MAX`].
    Date {
        low: i64,
        high: i64,
    },
    /// A decimal is a point (`low == high`); a Range an interval, open sides as
    /// [`NUMBER_MIN`] / [`NUMBER_MAX`].
    Number {
        low: f64,
        high: f64,
    },
    Quantity {
        low: f64,
        high: f64,
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
    },
    /// A resolvable reference of this server (`target_type`/`target_id`), or another URL
    /// (absolute reference elsewhere, canonical without its version) in `url`.
    Reference {
        target_type: Option<String>,
        target_id: Option<String>,
        url: Option<String>,
    },
    Uri(String),
    /// A geographic position (WGS84 degrees), for `near`.
    Position {
        latitude: f64,
        longitude: f64,
    },
}

fn ms(t: Option<DateTime<Utc>>, open: i64) -> i64 {
    t.map_or(open, |t| {
        // `[low, high)` on whole milliseconds: a sub-millisecond end rounds up.
        let ms = t.timestamp_millis();
        if open == DATE_MAX && !t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
            ms + 1
        } else {
            ms
        }
    })
}

/// The rows of one extraction. `base` is this server's base URL for the resource's tenant
/// (`http://host/tenant/t`): absolute references under it are indexed as local ones.
pub fn index_entries(extraction: &Extraction<'_>, base: Option<&str>) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    for extracted in &extraction.params {
        let code = extracted.param.code.as_str();
        if code == "_id" || code == "_lastUpdated" || is_name_alias(extraction, extracted.param) {
            continue;
        }
        let mut group = 0;
        for value in &extracted.values {
            match value {
                IndexValue::Composite(c) => {
                    group += 1;
                    for (i, component) in c.components.iter().enumerate() {
                        push(&mut out, &format!("{code}#{i}"), group, component, base);
                    }
                }
                other => push(&mut out, code, 0, other, base),
            }
        }
    }
    out
}

fn push(out: &mut Vec<IndexEntry>, code: &str, group: u32, value: &IndexValue, base: Option<&str>) {
    let mut row = |param: &str, value: EntryValue| {
        out.push(IndexEntry {
            param: param.to_owned(),
            group,
            value,
        })
    };
    match value {
        IndexValue::String(s) => row(
            code,
            EntryValue::String {
                normalized: s.normalized.clone(),
                exact: s.original.clone(),
            },
        ),
        IndexValue::Token(t) => token_rows(code, t, &mut row),
        IndexValue::Date(d) => {
            if d.low.is_none() && d.high.is_none() {
                return;
            }
            row(
                code,
                EntryValue::Date {
                    low: ms(d.low, DATE_MIN),
                    high: ms(d.high, DATE_MAX),
                },
            )
        }
        IndexValue::Number(n) => {
            if let Some((low, high)) = number_bounds(n) {
                row(code, EntryValue::Number { low, high })
            }
        }
        IndexValue::Quantity(q) => {
            if let Some((low, high)) = number_bounds(&q.number) {
                row(
                    code,
                    EntryValue::Quantity {
                        low,
                        high,
                        system: q.system.clone(),
                        code: q.code.clone(),
                        unit: q.unit.clone(),
                    },
                )
            }
        }
        IndexValue::Reference(r) => {
            if let Some((system, value)) = &r.identifier {
                row(
                    &format!("{code}:identifier"),
                    EntryValue::Token {
                        system: system.clone(),
                        code: value.clone(),
                        text: None,
                    },
                );
            }
            let local = |ty: &Option<String>, id: &Option<String>| EntryValue::Reference {
                target_type: ty.clone(),
                target_id: id.clone(),
                url: None,
            };
            let value = match r.kind {
                ReferenceKind::Relative => local(&r.resource_type, &r.id),
                ReferenceKind::Absolute
                    if base.is_some()
                        && r.base_url.as_deref() == base.map(|b| b.trim_end_matches('/')) =>
                {
                    local(&r.resource_type, &r.id)
                }
                ReferenceKind::Absolute | ReferenceKind::Urn => EntryValue::Reference {
                    target_type: r.resource_type.clone(),
                    target_id: None,
                    url: r.reference.clone(),
                },
                ReferenceKind::Canonical => EntryValue::Reference {
                    target_type: None,
                    target_id: None,
                    url: r
                        .reference
                        .as_deref()
                        .map(|s| s.split('|').next().unwrap_or(s).to_owned()),
                },
                ReferenceKind::Contained | ReferenceKind::Logical => return,
            };
            row(code, value)
        }
        IndexValue::Uri(u) => row(code, EntryValue::Uri(u.clone())),
        IndexValue::Special(SpecialValue::Position {
            latitude,
            longitude,
        }) => {
            let valid = (-90.0..=90.0).contains(latitude) && (-180.0..=180.0).contains(longitude);
            if valid {
                row(
                    code,
                    EntryValue::Position {
                        latitude: *latitude,
                        longitude: *longitude,
                    },
                )
            }
        }
        // Composites are expanded by the caller.
        IndexValue::Composite(_) => {}
    }
}

fn token_rows(code: &str, t: &TokenValue, row: &mut impl FnMut(&str, EntryValue)) {
    if t.system.is_none() && t.code.is_none() && t.text.is_none() {
        return;
    }
    row(
        code,
        EntryValue::Token {
            system: t.system.clone(),
            code: t.code.clone(),
            text: t.text.as_deref().map(super::extract::normalize_string),
        },
    );
    if !t.identifier_type.is_empty() {
        let of_type = format!("{code}:of-type");
        for (system, type_code) in &t.identifier_type {
            row(
                &of_type,
                EntryValue::Token {
                    system: system.clone(),
                    code: type_code.clone(),
                    text: t.code.clone(),
                },
            );
        }
    }
}

fn number_bounds(n: &super::extract::NumberValue) -> Option<(f64, f64)> {
    match n.value {
        // A comparator (`<5`) leaves one side open.
        Some(v) if v.is_finite() => Some((
            if n.low.is_none() { NUMBER_MIN } else { v },
            if n.high.is_none() { NUMBER_MAX } else { v },
        )),
        Some(_) => None,
        None if n.low.is_none() && n.high.is_none() => None,
        None => Some((n.low.unwrap_or(NUMBER_MIN), n.high.unwrap_or(NUMBER_MAX))),
    }
}

/// Whether `param` is a phonetic parameter indexed (and searched) as the `name` beside it.
fn is_name_alias(
    extraction: &Extraction<'_>,
    param: &crate::search::registry::SearchParamDef,
) -> bool {
    param.xpath_usage.as_deref() == Some("phonetic")
        && extraction.params.iter().any(|p| {
            p.param.code == "name"
                && p.param.expression.as_ref().map(|e| e.source())
                    == param.expression.as_ref().map(|e| e.source())
        })
}
