//! The prefixes of FHIR date, number and quantity search (`eq`, `ne`, `gt`, `lt`, `ge`,
//! `le`, `sa`, `eb`, `ap`) as range queries, with the same semantics as the embedded
//! compiler: dates compare the stored range `[lo, hi)` with the range the search value's
//! precision implies; numbers compare the stored interval with the value and its implied
//! range.

use hearth_fhir::search::query::Prefix;
use serde_json::Value;

use super::dsl::{Op, all, any, not, range};

/// Where a date range is stored: two fields, or one instant (`lastUpdated`, the range
/// `[t, t + 1)`).
pub(crate) enum Span<'a> {
    Fields { lo: &'a str, hi: &'a str },
    Instant(&'a str),
}

impl Span<'_> {
    fn lo(&self, op: Op, x: i64) -> Value {
        match self {
            Span::Fields { lo, .. } => range(lo, op, x),
            Span::Instant(t) => range(t, op, x),
        }
    }

    /// `hi > x`.
    fn hi_gt(&self, x: i64) -> Value {
        match self {
            Span::Fields { hi, .. } => range(hi, Op::Gt, x),
            // t + 1 > x  <=>  t >= x
            Span::Instant(t) => range(t, Op::Gte, x),
        }
    }

    /// `hi <= x`.
    fn hi_le(&self, x: i64) -> Value {
        match self {
            Span::Fields { hi, .. } => range(hi, Op::Lte, x),
            // t + 1 <= x  <=>  t < x
            Span::Instant(t) => range(t, Op::Lt, x),
        }
    }

    /// The stored range lies within `[low, high)`.
    fn within(&self, low: i64, high: i64) -> Value {
        all(vec![self.lo(Op::Gte, low), self.hi_le(high)])
    }
}

/// A date search value `prefix [low, high)` against `span`; `now` (ms) anchors `ap`.
pub(crate) fn date(span: &Span<'_>, prefix: Prefix, low: i64, high: i64, now: i64) -> Value {
    match prefix {
        Prefix::Eq => span.within(low, high),
        Prefix::Ne => not(span.within(low, high)),
        Prefix::Gt => span.hi_gt(high),
        Prefix::Lt => span.lo(Op::Lt, low),
        Prefix::Ge => any(vec![span.hi_gt(high), span.within(low, high)]),
        Prefix::Le => any(vec![span.lo(Op::Lt, low), span.within(low, high)]),
        Prefix::Sa => span.lo(Op::Gte, high),
        Prefix::Eb => span.hi_le(low),
        Prefix::Ap => {
            // Approximately: the range widened by 10% of its distance from now, overlapping.
            let slack = (now - low).abs() / 10;
            let (a, b) = (low.saturating_sub(slack), high.saturating_add(slack));
            all(vec![span.lo(Op::Lt, b), span.hi_gt(a)])
        }
    }
}

/// A number search value against the stored interval `[{p}lo, {p}hi]`.
pub(crate) fn number(p: &str, prefix: Prefix, value: f64, low: f64, high: f64) -> Value {
    let (lo, hi) = (format!("{p}lo"), format!("{p}hi"));
    let equal = || all(vec![range(&lo, Op::Gte, low), range(&hi, Op::Lt, high)]);
    match prefix {
        Prefix::Eq => equal(),
        Prefix::Ne => not(equal()),
        Prefix::Gt => range(&hi, Op::Gt, value),
        Prefix::Lt => range(&lo, Op::Lt, value),
        Prefix::Ge => range(&hi, Op::Gte, value),
        Prefix::Le => range(&lo, Op::Lte, value),
        Prefix::Sa => range(&lo, Op::Gt, value),
        Prefix::Eb => range(&hi, Op::Lt, value),
        Prefix::Ap => {
            let slack = value.abs() * 0.1;
            all(vec![
                range(&lo, Op::Gte, value - slack),
                range(&hi, Op::Lte, value + slack),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FIELDS: Span<'static> = Span::Fields {
        lo: "date.lo",
        hi: "date.hi",
    };

    #[test]
    fn date_prefixes() {
        let check = |prefix: Prefix, expected: Value| {
            assert_eq!(date(&FIELDS, prefix, 10, 20, 0), expected, "{prefix:?}");
        };
        let within = json!({"bool": {"filter": [
            {"range": {"date.lo": {"gte": 10}}}, {"range": {"date.hi": {"lte": 20}}}]}});
        check(Prefix::Eq, within.clone());
        check(Prefix::Ne, json!({"bool": {"must_not": [within.clone()]}}));
        check(Prefix::Gt, json!({"range": {"date.hi": {"gt": 20}}}));
        check(Prefix::Lt, json!({"range": {"date.lo": {"lt": 10}}}));
        check(
            Prefix::Ge,
            json!({"bool": {"should": [{"range": {"date.hi": {"gt": 20}}}, within.clone()], "minimum_should_match": 1}}),
        );
        check(Prefix::Sa, json!({"range": {"date.lo": {"gte": 20}}}));
        check(Prefix::Eb, json!({"range": {"date.hi": {"lte": 10}}}));
    }

    #[test]
    fn an_instant_is_the_range_of_one_millisecond() {
        let lu = Span::Instant("lu");
        assert_eq!(
            date(&lu, Prefix::Eq, 10, 20, 0),
            json!({"bool": {"filter": [{"range": {"lu": {"gte": 10}}}, {"range": {"lu": {"lt": 20}}}]}})
        );
        assert_eq!(
            date(&lu, Prefix::Gt, 10, 20, 0),
            json!({"range": {"lu": {"gte": 20}}})
        );
    }

    #[test]
    fn approximate_date_widens_by_a_tenth_of_the_distance_from_now() {
        assert_eq!(
            date(&FIELDS, Prefix::Ap, 1_000, 1_100, 2_000),
            json!({"bool": {"filter": [
                {"range": {"date.lo": {"lt": 1_200}}}, {"range": {"date.hi": {"gt": 900}}}]}})
        );
    }

    #[test]
    fn number_prefixes() {
        assert_eq!(
            number("num.", Prefix::Eq, 100.0, 99.5, 100.5),
            json!({"bool": {"filter": [{"range": {"num.lo": {"gte": 99.5}}}, {"range": {"num.hi": {"lt": 100.5}}}]}})
        );
        assert_eq!(
            number("qty.", Prefix::Ge, 5.4, 5.35, 5.45),
            json!({"range": {"qty.hi": {"gte": 5.4}}})
        );
        assert_eq!(
            number("num.", Prefix::Ap, 100.0, 99.5, 100.5),
            json!({"bool": {"filter": [{"range": {"num.lo": {"gte": 90.0}}}, {"range": {"num.hi": {"lte": 110.0}}}]}})
        );
    }
}
