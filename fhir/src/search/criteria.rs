//! Search value helpers shared by the query parser and extraction (date ranges with their
//! precision, tokens, OR splitting, date prefixes), and the older three-parameter criteria
//! (`_id`, `identifier`, `_lastUpdated`, [`parse_criteria`]) that conditional interactions used
//! before the full search AST (`search::query`); no storage port takes them any more.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::ids::ResourceId;
use crate::outcome::{Issue, IssueCode};

/// One search parameter with its values, ORed; a query is a list of them, ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    /// `_id=a,b`: the logical id is one of these.
    Ids(Vec<ResourceId>),
    /// `identifier=[system|]value`: any of the tokens matches an `identifier` of the resource.
    Identifier(Vec<Token>),
    /// `_lastUpdated=[prefix]date`.
    LastUpdated(DatePrefix, DateRange),
}

/// A token search value: `code`, `system|code`, `|code` or `system|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// `None`: any system; `Some(None)`: no system (`|code`); `Some(Some(s))`: exactly `s`.
    pub system: Option<Option<String>>,
    /// `None`: any code (`system|`).
    pub code: Option<String>,
}

/// Date search prefixes of the FHIR search page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePrefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// The half-open range `[start, end)` a date value of some precision stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl DateRange {
    /// Whether the instant `t` (a resource's `lastUpdated`) satisfies `prefix` against this range.
    pub fn matches_instant(&self, prefix: DatePrefix, t: DateTime<Utc>) -> bool {
        match prefix {
            DatePrefix::Eq => self.start <= t && t < self.end,
            DatePrefix::Ne => !(self.start <= t && t < self.end),
            DatePrefix::Gt | DatePrefix::Sa => t >= self.end,
            DatePrefix::Lt | DatePrefix::Eb => t < self.start,
            DatePrefix::Ge => t >= self.start,
            DatePrefix::Le => t < self.end,
            DatePrefix::Ap => {
                // "approximately": widen by 10% of the distance to now, at least the range itself.
                let now = Utc::now();
                let slack = (now - self.start).abs() / 10;
                self.start - slack <= t && t < self.end + slack
            }
        }
    }
}

fn invalid(msg: impl Into<String>) -> Issue {
    Issue::error(IssueCode::Invalid, msg)
}

/// Parses a date, dateTime or instant search value (with its precision) into the range it denotes.
/// Values without a time zone are taken as UTC.
pub fn parse_date_range(s: &str) -> Result<DateRange, Issue> {
    let bad = || invalid(format!("invalid date search value '{s}'"));
    let start_of_day = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN));
    // Dates are ASCII; anything else is refused before byte-offset slicing below.
    if !s.is_ascii() {
        return Err(bad());
    }
    match s.len() {
        4 => {
            let year: i32 = s.parse().map_err(|_| bad())?;
            let start = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(bad)?;
            let end = NaiveDate::from_ymd_opt(year + 1, 1, 1).ok_or_else(bad)?;
            Ok(DateRange {
                start: start_of_day(start),
                end: start_of_day(end),
            })
        }
        7 => {
            let start =
                NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").map_err(|_| bad())?;
            let end = start
                .checked_add_months(chrono::Months::new(1))
                .ok_or_else(bad)?;
            Ok(DateRange {
                start: start_of_day(start),
                end: start_of_day(end),
            })
        }
        10 => {
            let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
            Ok(DateRange {
                start: start_of_day(day),
                end: start_of_day(day) + Duration::days(1),
            })
        }
        _ => parse_date_time_range(s).ok_or_else(bad),
    }
}

fn parse_date_time_range(s: &str) -> Option<DateRange> {
    let (local, offset) = split_zone(s)?;
    let (naive, unit) = if let Ok(t) = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M") {
        (t, Duration::minutes(1))
    } else if let Ok(t) = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S") {
        (t, Duration::seconds(1))
    } else {
        let t = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        let digits = local.rsplit('.').next()?.len() as u32;
        (
            t,
            Duration::nanoseconds(10_i64.pow(9_u32.saturating_sub(digits.min(9)))),
        )
    };
    let start = offset
        .from_local_datetime(&naive)
        .single()?
        .with_timezone(&Utc);
    Some(DateRange {
        start,
        end: start + unit,
    })
}

fn split_zone(s: &str) -> Option<(&str, FixedOffset)> {
    if let Some(local) = s.strip_suffix('Z') {
        return Some((local, FixedOffset::east_opt(0)?));
    }
    if s.len() > 6 {
        let (local, zone) = s.split_at(s.len() - 6);
        if (zone.starts_with('+') || zone.starts_with('-')) && zone.as_bytes()[3] == b':' {
            let hours: i32 = zone[1..3].parse().ok()?;
            let minutes: i32 = zone[4..6].parse().ok()?;
            let seconds =
                (hours * 3600 + minutes * 60) * if zone.starts_with('-') { -1 } else { 1 };
            return Some((local, FixedOffset::east_opt(seconds)?));
        }
    }
    Some((s, FixedOffset::east_opt(0)?))
}

fn parse_prefix(value: &str) -> (DatePrefix, &str) {
    let prefixes = [
        ("eq", DatePrefix::Eq),
        ("ne", DatePrefix::Ne),
        ("gt", DatePrefix::Gt),
        ("lt", DatePrefix::Lt),
        ("ge", DatePrefix::Ge),
        ("le", DatePrefix::Le),
        ("sa", DatePrefix::Sa),
        ("eb", DatePrefix::Eb),
        ("ap", DatePrefix::Ap),
    ];
    for (text, prefix) in prefixes {
        if let Some(rest) = value.strip_prefix(text) {
            return (prefix, rest);
        }
    }
    (DatePrefix::Eq, value)
}

/// Parses a token value (`code`, `system|code`, `|code`, `system|`); `\|` escapes a bar.
pub fn parse_token(value: &str) -> Result<Token, Issue> {
    let unescape = |s: &str| {
        s.replace("\\|", "|")
            .replace("\\,", ",")
            .replace("\\$", "$")
            .replace("\\\\", "\\")
    };
    let bar = find_unescaped(value, '|');
    let token = match bar {
        None => Token {
            system: None,
            code: Some(unescape(value)),
        },
        Some(i) => {
            let (system, code) = (&value[..i], &value[i + 1..]);
            Token {
                system: Some((!system.is_empty()).then(|| unescape(system))),
                code: (!code.is_empty()).then(|| unescape(code)),
            }
        }
    };
    if token.code.is_none() && !matches!(token.system, Some(Some(_))) {
        return Err(invalid(format!("invalid token search value '{value}'")));
    }
    Ok(token)
}

fn find_unescaped(s: &str, needle: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == needle && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

/// Splits a parameter value on unescaped commas (the OR separator).
pub fn split_or(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = value;
    while let Some(i) = find_unescaped(rest, ',') {
        parts.push(&rest[..i]);
        rest = &rest[i + 1..];
    }
    parts.push(rest);
    parts
}

/// Parses the query of a conditional interaction into criteria. Parameters other than
/// `_id`, `identifier` and `_lastUpdated`, modifiers, and bad values are errors: a conditional
/// interaction must never silently match everything.
pub fn parse_criteria<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Criterion>, Issue> {
    let mut criteria = Vec::new();
    for (name, value) in pairs {
        if value.is_empty() {
            return Err(invalid(format!(
                "search parameter '{name}' has an empty value"
            )));
        }
        let criterion = match name {
            "_id" => Criterion::Ids(
                split_or(value)
                    .into_iter()
                    .map(|v| v.parse::<ResourceId>().map_err(|e| invalid(e.to_string())))
                    .collect::<Result<_, _>>()?,
            ),
            "identifier" => Criterion::Identifier(
                split_or(value)
                    .into_iter()
                    .map(parse_token)
                    .collect::<Result<_, _>>()?,
            ),
            "_lastUpdated" => {
                let (prefix, date) = parse_prefix(value);
                Criterion::LastUpdated(prefix, parse_date_range(date)?)
            }
            _ => {
                return Err(Issue::error(
                    IssueCode::NotSupported,
                    format!(
                        "search parameter '{name}' is not supported in conditional interactions yet \
                         (supported: _id, identifier, _lastUpdated)"
                    ),
                ));
            }
        };
        criteria.push(criterion);
    }
    if criteria.is_empty() {
        return Err(invalid(
            "a conditional interaction needs at least one search criterion",
        ));
    }
    Ok(criteria)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> (String, String) {
        let r = parse_date_range(s).unwrap();
        (r.start.to_rfc3339(), r.end.to_rfc3339())
    }

    #[test]
    fn date_precision_sets_the_range() {
        for (input, start, end) in [
            (
                "2024",
                "2024-01-01T00:00:00+00:00",
                "2025-01-01T00:00:00+00:00",
            ),
            (
                "2024-02",
                "2024-02-01T00:00:00+00:00",
                "2024-03-01T00:00:00+00:00",
            ),
            (
                "2024-02-29",
                "2024-02-29T00:00:00+00:00",
                "2024-03-01T00:00:00+00:00",
            ),
            (
                "2024-02-29T10:00",
                "2024-02-29T10:00:00+00:00",
                "2024-02-29T10:01:00+00:00",
            ),
            (
                "2024-02-29T10:00:05+02:00",
                "2024-02-29T08:00:05+00:00",
                "2024-02-29T08:00:06+00:00",
            ),
            (
                "2024-02-29T10:00:05.5Z",
                "2024-02-29T10:00:05.500+00:00",
                "2024-02-29T10:00:05.600+00:00",
            ),
        ] {
            assert_eq!(range(input), (start.to_owned(), end.to_owned()), "{input}");
        }
        for bad in [
            "",
            "20x4",
            "2024-13",
            "2024-02-30",
            "2024-02-29T25:00",
            "yesterday",
            "2024-01-01T10:00é+01:00",
            "\u{10f109}\u{10f109}zé<",
        ] {
            assert!(parse_date_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_parse_every_form() {
        let t = |s: Option<Option<&str>>, c: Option<&str>| Token {
            system: s.map(|s| s.map(str::to_owned)),
            code: c.map(str::to_owned),
        };
        for (input, expected) in [
            ("123", t(None, Some("123"))),
            ("http://x|123", t(Some(Some("http://x")), Some("123"))),
            ("|123", t(Some(None), Some("123"))),
            ("http://x|", t(Some(Some("http://x")), None)),
            ("a\\|b", t(None, Some("a|b"))),
        ] {
            assert_eq!(parse_token(input).unwrap(), expected, "{input}");
        }
        assert!(parse_token("|").is_err());
    }

    #[test]
    fn unsupported_criteria_are_errors_not_match_all() {
        assert!(parse_criteria([("name", "x")]).is_err());
        assert!(parse_criteria([("identifier:text", "x")]).is_err());
        assert!(parse_criteria([]).is_err());
        assert!(parse_criteria([("_id", "")]).is_err());
        assert_eq!(parse_criteria([("_id", "a,b")]).unwrap().len(), 1);
        assert!(parse_criteria([("_lastUpdated", "gt2020-01-01")]).is_ok());
    }
}
