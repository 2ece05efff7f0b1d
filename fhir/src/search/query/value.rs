//! Parsing one search value by parameter type: prefixes, precision-implied ranges, token and
//! quantity forms, references; malformed values are `invalid` issues.

use super::{Prefix, StringMode, TerminologyTest, UriMode, ValueTest};
use crate::ResourceType;
use crate::outcome::{Issue, IssueCode};
use crate::search::criteria::{parse_date_range, parse_token};
use crate::search::extract::normalize_string;

fn invalid(code: &str, value: &str, what: &str) -> Issue {
    Issue::error(
        IssueCode::Invalid,
        format!("search parameter '{code}': invalid {what} '{value}'"),
    )
}

/// Splits a prefix (`ge`, `lt`...) off a date, number or quantity value.
pub(super) fn split_prefix(value: &str) -> (Prefix, &str) {
    let prefixes = [
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("gt", Prefix::Gt),
        ("lt", Prefix::Lt),
        ("ge", Prefix::Ge),
        ("le", Prefix::Le),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
        ("ap", Prefix::Ap),
    ];
    for (text, prefix) in prefixes {
        if let Some(rest) = value.strip_prefix(text) {
            return (prefix, rest);
        }
    }
    (Prefix::Eq, value)
}

/// A decimal search value with the range `[low, high)` its precision implies: `100` →
/// `[99.5, 100.5)`, `1e2` → `[50, 150)`, `1.50` → `[1.495, 1.505)`.
pub fn implied_range(s: &str) -> Option<(f64, f64, f64)> {
    let valid = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    if !valid {
        return None;
    }
    let value: f64 = s.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let (mantissa, exponent) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let decimals = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i32);
    let half = if exponent != 0 {
        // `1.2e3`: the significant digits of the mantissa set the precision.
        0.5 * 10f64.powi(exponent - decimals)
    } else {
        0.5 * 10f64.powi(-decimals)
    };
    Some((value, value - half, value + half))
}

pub(super) fn string(modifier: Option<&str>, value: &str) -> Option<ValueTest> {
    let mode = match modifier {
        None => StringMode::Prefix,
        Some("contains") => StringMode::Contains,
        Some("exact") => StringMode::Exact,
        Some(_) => return None,
    };
    let value = match mode {
        StringMode::Exact => value.to_owned(),
        _ => normalize_string(value),
    };
    Some(ValueTest::String { mode, value })
}

pub(super) fn token(code: &str, modifier: Option<&str>, value: &str) -> Result<ValueTest, Issue> {
    match modifier {
        Some("text") => Ok(ValueTest::TokenText(normalize_string(value))),
        Some("of-type") => {
            let parts: Vec<&str> = super::parse::split_unescaped(value, '|');
            match parts.as_slice() {
                [system, type_code, v] if !type_code.is_empty() && !v.is_empty() => {
                    Ok(ValueTest::OfType {
                        system: (!system.is_empty()).then(|| unescape(system)),
                        code: unescape(type_code),
                        value: unescape(v),
                    })
                }
                _ => Err(invalid(code, value, ":of-type value (system|code|value)")),
            }
        }
        _ => {
            let t = parse_token(value).map_err(|_| invalid(code, value, "token"))?;
            Ok(ValueTest::Token {
                system: t.system,
                code: t.code,
            })
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\|", "|")
        .replace("\\,", ",")
        .replace("\\$", "$")
        .replace("\\\\", "\\")
}

fn ceil_ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis() + i64::from(!t.timestamp_subsec_nanos().is_multiple_of(1_000_000))
}

pub(super) fn date(code: &str, value: &str) -> Result<ValueTest, Issue> {
    let (prefix, rest) = split_prefix(value);
    let range = parse_date_range(rest).map_err(|_| invalid(code, value, "date"))?;
    Ok(ValueTest::Date {
        prefix,
        low: range.start.timestamp_millis(),
        high: ceil_ms(range.end),
    })
}

pub(super) fn number(code: &str, value: &str) -> Result<ValueTest, Issue> {
    let (prefix, rest) = split_prefix(value);
    let (value_f, low, high) = implied_range(rest).ok_or_else(|| invalid(code, value, "number"))?;
    Ok(ValueTest::Number {
        prefix,
        value: value_f,
        low,
        high,
    })
}

pub(super) fn quantity(code: &str, value: &str) -> Result<ValueTest, Issue> {
    let parts = super::parse::split_unescaped(value, '|');
    let (number, system, unit) = match parts.as_slice() {
        [n] => (*n, None, None),
        [n, s, c] => (
            *n,
            (!s.is_empty()).then(|| unescape(s)),
            (!c.is_empty()).then(|| unescape(c)),
        ),
        _ => return Err(invalid(code, value, "quantity (number|system|code)")),
    };
    let (prefix, rest) = split_prefix(number);
    let (v, low, high) = implied_range(rest).ok_or_else(|| invalid(code, value, "quantity"))?;
    Ok(ValueTest::Quantity {
        prefix,
        value: v,
        low,
        high,
        system,
        code: unit,
    })
}

/// A reference value: `Type/id`, `id`, `Type/id/_history/v`, an absolute URL (local when under
/// `base`), with `type_modifier` (`:Patient`) restricting the type.
pub(super) fn reference(
    code: &str,
    type_modifier: Option<ResourceType>,
    value: &str,
    base: Option<&str>,
) -> Result<ValueTest, Issue> {
    let bad = || invalid(code, value, "reference");
    if value.is_empty() {
        return Err(bad());
    }
    let mut local = value;
    if value.contains("://") || value.starts_with("urn:") {
        match base.and_then(|b| value.strip_prefix(b.trim_end_matches('/'))) {
            Some(rest) if rest.starts_with('/') => local = &rest[1..],
            _ => return Ok(ValueTest::ReferenceUrl(value.to_owned())),
        }
    }
    let local = local.split("/_history/").next().unwrap_or(local);
    let (ty, id) = match local.split_once('/') {
        Some((t, id)) => (
            Some(t.parse::<ResourceType>().map_err(|_| bad())?),
            id.to_owned(),
        ),
        None => (None, local.to_owned()),
    };
    if id.is_empty() || id.contains('/') {
        return Err(bad());
    }
    let target_type = match (ty, type_modifier) {
        (Some(a), Some(b)) if a != b => return Err(bad()),
        (a, b) => a.or(b),
    };
    Ok(ValueTest::Reference { target_type, id })
}

pub(super) fn reference_identifier(code: &str, value: &str) -> Result<ValueTest, Issue> {
    let t = parse_token(value).map_err(|_| invalid(code, value, "identifier"))?;
    Ok(ValueTest::ReferenceIdentifier {
        system: t.system,
        value: t.code,
    })
}

pub(super) fn uri(modifier: Option<&str>, value: &str) -> Option<ValueTest> {
    let mode = match modifier {
        None => UriMode::Exact,
        Some("above") => UriMode::Above,
        Some("below") => UriMode::Below,
        Some(_) => return None,
    };
    Some(ValueTest::Uri {
        mode,
        value: value.to_owned(),
    })
}

/// The distance `near` uses when the value gives none, in km.
pub const DEFAULT_NEAR_KM: f64 = 10.0;

/// `near=latitude|longitude[|distance[|units]]`: units are UCUM codes (`km`, the default, `m`,
/// `[mi_i]`, `[mi_us]`) or `mi`.
pub(super) fn near(code: &str, value: &str) -> Result<ValueTest, Issue> {
    let bad = || invalid(code, value, "position (latitude|longitude|distance|units)");
    let parts = super::parse::split_unescaped(value, '|');
    if parts.len() < 2 || parts.len() > 4 {
        return Err(bad());
    }
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    let latitude = number(parts[0]).filter(|v| (-90.0..=90.0).contains(v));
    let longitude = number(parts[1]).filter(|v| (-180.0..=180.0).contains(v));
    let (Some(latitude), Some(longitude)) = (latitude, longitude) else {
        return Err(bad());
    };
    let distance = match parts.get(2).filter(|d| !d.is_empty()) {
        Some(d) => number(d).filter(|v| *v >= 0.0).ok_or_else(bad)?,
        None => DEFAULT_NEAR_KM,
    };
    let per_unit = match parts.get(3).copied().unwrap_or("") {
        "" | "km" => 1.0,
        "m" => 0.001,
        "mi" | "[mi_i]" => 1.609_344,
        "[mi_us]" => 1.609_347_218_694_437,
        _ => return Err(bad()),
    };
    Ok(ValueTest::Near {
        latitude,
        longitude,
        distance_km: distance * per_unit,
    })
}

/// A terminology modifier's value: `:in`/`:not-in` take a value set (canonical URL or
/// `ValueSet/id`), `:above`/`:below` a `system|code`.
pub(super) fn terminology(code: &str, modifier: &str, value: &str) -> Result<ValueTest, Issue> {
    let test = match modifier {
        "in" | "not-in" => TerminologyTest::In(value.to_owned()),
        _ => {
            let t = parse_token(value).map_err(|_| invalid(code, value, "token"))?;
            match (t.system, t.code) {
                (Some(Some(system)), Some(c)) => TerminologyTest::Subsumption {
                    system,
                    code: c,
                    above: modifier == "above",
                },
                _ => return Err(invalid(code, value, ":above/:below value (system|code)")),
            }
        }
    };
    Ok(ValueTest::Terminology(test))
}

/// A `_text` / `_content` value: matched as a case- and accent-insensitive substring of the
/// indexed text, whitespace collapsed on both sides (see `search::extract::text`).
pub(super) fn text_search(value: &str) -> ValueTest {
    ValueTest::String {
        mode: StringMode::Contains,
        value: crate::search::extract::normalize_text(value),
    }
}
