//! Compiling search filters to SQL: each filter becomes a membership test of the resource in
//! a subquery over one `ix_*` table (values bound as parameters, never interpolated), so
//! SQLite can drive the search from the most selective index. Chains and `_has` nest the same
//! compilation over `current` of the referenced (or referencing) type.

use hearth_fhir::search::query::{Filter, Prefix, StringMode, Test, UriMode, ValueTest};
use hearth_fhir::search::registry::ParamType;
use rusqlite::types::Value as SqlValue;

/// A SQL fragment with its bound values, in order.
#[derive(Debug, Default)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) args: Vec<SqlValue>,
    aliases: usize,
}

/// A value bound to a statement parameter.
pub(super) trait Arg {
    fn into_value(self) -> SqlValue;
}

impl Arg for SqlValue {
    fn into_value(self) -> SqlValue {
        self
    }
}

impl Arg for &str {
    fn into_value(self) -> SqlValue {
        SqlValue::Text(self.to_owned())
    }
}

impl Arg for String {
    fn into_value(self) -> SqlValue {
        SqlValue::Text(self)
    }
}

impl Arg for i64 {
    fn into_value(self) -> SqlValue {
        SqlValue::Integer(self)
    }
}

impl Arg for f64 {
    fn into_value(self) -> SqlValue {
        SqlValue::Real(self)
    }
}

/// Above every valid UTF-8 text that starts with a given prefix: prefix + U+10FFFF.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Sql {
    pub(super) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub(super) fn arg(&mut self, v: impl Arg) -> &mut Self {
        self.text.push('?');
        self.args.push(v.into_value());
        self
    }

    fn alias(&mut self, stem: &str) -> String {
        self.aliases += 1;
        format!("{stem}{}", self.aliases)
    }

    /// `(?, ?, ...)` of `values`.
    pub(super) fn list<T: Arg + Clone>(&mut self, values: &[T]) -> &mut Self {
        self.push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(v.clone());
        }
        self.push(")")
    }
}

/// Which resources a filter applies to: one type (subqueries bind it) or the types of a
/// system search (subqueries bind no type; `rid` identifies the resource).
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope<'a> {
    One(&'a str),
    Many,
}

fn table(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "ix_string",
        ParamType::Token => "ix_token",
        ParamType::Date => "ix_date",
        ParamType::Number => "ix_number",
        ParamType::Quantity => "ix_quantity",
        ParamType::Reference => "ix_reference",
        ParamType::Uri => "ix_uri",
        ParamType::Special => "ix_position",
        ParamType::Composite => "ix_token",
    }
}

fn value_kind(v: &ValueTest, kind: ParamType) -> ParamType {
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

/// The index `param` a value test looks at.
fn index_param(code: &str, v: &ValueTest) -> String {
    match v {
        ValueTest::OfType { .. } => format!("{code}:of-type"),
        ValueTest::ReferenceIdentifier { .. } => format!("{code}:identifier"),
        _ => code.to_owned(),
    }
}

/// Appends "the resource `alias` is (not) among the `rid`s of the subquery `body` appends
/// after `SELECT`"; `body` gets the type to bind, if the scope has one.
fn member(
    sql: &mut Sql,
    scope: Scope<'_>,
    alias: &str,
    negate: bool,
    body: impl FnOnce(&mut Sql, Option<&str>),
) {
    let not = if negate { " NOT" } else { "" };
    sql.push(&format!("{alias}.rid{not} IN (SELECT "));
    body(
        sql,
        match scope {
            Scope::One(ty) => Some(ty),
            Scope::Many => None,
        },
    );
    sql.push(")");
}

/// Whether `f` is a positive test answered from an index table, so `rid IN (...)` can drive
/// the search.
fn drives_by_rid(f: &Filter) -> bool {
    match &f.test {
        _ if f.code == "_id" || f.code == "_lastUpdated" => false,
        Test::Missing(missing) => !missing,
        Test::Any { not, .. } => !not,
        Test::Chain(_) | Test::Has { .. } => true,
    }
}

/// `+` (which keeps SQLite from using the `(type, id)` key) when a filter can drive the search
/// from an index table and no `_id` filter can drive it from the key: without statistics the
/// planner would otherwise walk every resource of the type and test each.
pub(super) fn type_prefix(filters: &[Filter]) -> &'static str {
    let by_id = filters
        .iter()
        .any(|f| f.code == "_id" && matches!(f.test, Test::Any { not: false, .. }));
    if !by_id && filters.iter().any(drives_by_rid) {
        "+"
    } else {
        ""
    }
}

/// Appends the boolean SQL of `filter` on the `current` row `alias`.
pub(super) fn filter(sql: &mut Sql, scope: Scope<'_>, alias: &str, f: &Filter) {
    let code = f.code.as_str();
    if code == "_id" {
        return id_filter(sql, alias, &f.test);
    }
    if code == "_lastUpdated" {
        return last_updated_filter(sql, alias, &f.test);
    }
    match &f.test {
        Test::Missing(missing) => {
            let param = if f.kind == ParamType::Composite {
                format!("{code}#0")
            } else {
                code.to_owned()
            };
            let kind = if f.kind == ParamType::Composite {
                ParamType::Token
            } else {
                f.kind
            };
            // A composite's presence is approximated by its first component's.
            member(sql, scope, alias, *missing, |sql, ty| {
                select_from(sql, table(kind), "t", ty);
                sql.push(" AND t.param = ").arg(param);
            });
        }
        Test::Any { not, values } => {
            let simple: Vec<&ValueTest> = values
                .iter()
                .filter(|v| !matches!(v, ValueTest::Composite(_)))
                .collect();
            let composites: Vec<&Vec<ValueTest>> = values
                .iter()
                .filter_map(|v| match v {
                    ValueTest::Composite(c) => Some(c),
                    _ => None,
                })
                .collect();
            // Values of one table and index param share one subquery, ORed inside it; the
            // SQL stays free of `0 OR` padding so the planner sees plain `rid IN (...)` terms.
            let mut groups: Vec<(ParamType, String, Vec<&ValueTest>)> = Vec::new();
            for v in simple {
                let key = (value_kind(v, f.kind), index_param(code, v));
                match groups.iter_mut().find(|g| g.0 == key.0 && g.1 == key.1) {
                    Some(g) => g.2.push(v),
                    None => groups.push((key.0, key.1, vec![v])),
                }
            }
            let alternatives = groups.len() + composites.len();
            if alternatives == 0 {
                sql.push(if *not { "1" } else { "0" });
                return;
            }
            sql.push(if *not { "NOT (" } else { "(" });
            let mut first = true;
            let mut or = |sql: &mut Sql| {
                if !first {
                    sql.push(" OR ");
                }
                first = false;
            };
            for (kind, param, tests) in groups {
                or(sql);
                member(sql, scope, alias, false, |sql, ty| {
                    select_from(sql, table(kind), "t", ty);
                    sql.push(" AND t.param = ").arg(param).push(" AND ");
                    let several = tests.len() > 1;
                    if several {
                        sql.push("(");
                    }
                    for (i, v) in tests.into_iter().enumerate() {
                        if i > 0 {
                            sql.push(" OR ");
                        }
                        sql.push("(");
                        value(sql, "t.", v);
                        sql.push(")");
                    }
                    if several {
                        sql.push(")");
                    }
                });
            }
            for components in composites {
                or(sql);
                member(sql, scope, alias, false, |sql, ty| {
                    composite(sql, code, ty, components);
                });
            }
            sql.push(")");
        }
        Test::Chain(branches) => {
            member(sql, scope, alias, false, |sql, ty| {
                select_from(sql, "ix_reference", "r", ty);
                sql.push(" AND r.param = ").arg(code.to_owned());
                // One target type (the usual case) is a plain `target_id IN (...)` the planner
                // can drive from the index; several are ORed.
                if branches.is_empty() {
                    sql.push(" AND 0");
                    return;
                }
                sql.push(" AND (");
                for (i, (target, inner)) in branches.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    let c = sql.alias("c");
                    sql.push("(r.target_type = ")
                        .arg(target.as_str())
                        .push(&format!(
                            " AND r.target_id IN (SELECT {c}.id FROM current {c} WHERE {}{c}.type = ",
                            type_prefix(std::slice::from_ref(inner))
                        ))
                        .arg(target.as_str())
                        .push(&format!(" AND {c}.deleted = 0 AND "));
                    filter(sql, Scope::One(target.as_str()), &c, inner);
                    sql.push("))");
                }
                sql.push(")");
            });
        }
        Test::Has {
            source,
            reference,
            filter: inner,
        } => {
            let c = sql.alias("c");
            let ty = match scope {
                Scope::One(ty) => {
                    sql.push(&format!("{alias}.id IN (SELECT r.target_id"));
                    Some(ty)
                }
                Scope::Many => {
                    sql.push(&format!(
                        "({alias}.type, {alias}.id) IN (SELECT r.target_type, r.target_id"
                    ));
                    None
                }
            };
            sql.push(" FROM ix_reference r WHERE r.type = ")
                .arg(source.as_str())
                .push(" AND r.param = ")
                .arg(reference.clone());
            if let Some(ty) = ty {
                sql.push(" AND r.target_type = ").arg(ty);
            }
            sql.push(&format!(
                " AND r.rid IN (SELECT {c}.rid FROM current {c} WHERE {}{c}.type = ",
                type_prefix(std::slice::from_ref(&**inner))
            ))
            .arg(source.as_str())
            .push(&format!(" AND {c}.deleted = 0 AND "));
            filter(sql, Scope::One(source.as_str()), &c, inner);
            sql.push("))");
        }
    }
}

/// `{t}.rid FROM {table} {t} WHERE 1 [AND {t}.type = ?]`.
fn select_from(sql: &mut Sql, table: &str, t: &str, ty: Option<&str>) {
    sql.push(&format!("{t}.rid FROM {table} {t} WHERE 1"));
    if let Some(ty) = ty {
        sql.push(&format!(" AND {t}.type = ")).arg(ty);
    }
}

fn composite(sql: &mut Sql, code: &str, ty: Option<&str>, components: &[ValueTest]) {
    let kinds: Vec<ParamType> = components
        .iter()
        .map(|c| value_kind(c, ParamType::Token))
        .collect();
    sql.push(&format!("t0.rid FROM {} t0", table(kinds[0])));
    for (i, kind) in kinds.iter().enumerate().skip(1) {
        sql.push(&format!(
            " JOIN {} t{i} ON t{i}.rid = t0.rid AND t{i}.grp = t0.grp",
            table(*kind)
        ));
    }
    sql.push(" WHERE 1");
    if let Some(ty) = ty {
        sql.push(" AND t0.type = ").arg(ty);
    }
    for (i, c) in components.iter().enumerate() {
        sql.push(&format!(" AND t{i}.param = "))
            .arg(format!("{code}#{i}"))
            .push(" AND (");
        value(sql, &format!("t{i}."), c);
        sql.push(")");
    }
}

fn id_filter(sql: &mut Sql, alias: &str, test: &Test) {
    match test {
        Test::Missing(missing) => {
            sql.push(if *missing { "0" } else { "1" });
        }
        Test::Any { not, values } => {
            let ids: Vec<String> = values
                .iter()
                .filter_map(|v| match v {
                    ValueTest::Token { code, .. } => code.clone(),
                    _ => None,
                })
                .collect();
            sql.push(&format!("{alias}.id{} IN ", if *not { " NOT" } else { "" }))
                .list(&ids);
        }
        Test::Chain(_) | Test::Has { .. } => {
            sql.push("0");
        }
    }
}

fn last_updated_filter(sql: &mut Sql, alias: &str, test: &Test) {
    match test {
        Test::Missing(missing) => {
            sql.push(if *missing { "0" } else { "1" });
        }
        Test::Any { values, .. } => {
            sql.push("(0");
            for v in values {
                if let ValueTest::Date { prefix, low, high } = v {
                    sql.push(" OR (");
                    let (lo, hi) = (
                        format!("{alias}.last_updated"),
                        format!("({alias}.last_updated + 1)"),
                    );
                    date(sql, &lo, &hi, *prefix, *low, *high);
                    sql.push(")");
                }
            }
            sql.push(")");
        }
        Test::Chain(_) | Test::Has { .. } => {
            sql.push("0");
        }
    }
}

/// The date prefixes of the FHIR search page on the row range `[lo, hi)` against the search
/// range `[low, high)`.
fn date(sql: &mut Sql, lo: &str, hi: &str, prefix: Prefix, low: i64, high: i64) {
    match prefix {
        Prefix::Eq => {
            sql.push(&format!("{lo} >= "))
                .arg(low)
                .push(&format!(" AND {hi} <= "))
                .arg(high);
        }
        Prefix::Ne => {
            sql.push(&format!("NOT ({lo} >= "))
                .arg(low)
                .push(&format!(" AND {hi} <= "))
                .arg(high)
                .push(")");
        }
        Prefix::Gt => {
            sql.push(&format!("{hi} > ")).arg(high);
        }
        Prefix::Lt => {
            sql.push(&format!("{lo} < ")).arg(low);
        }
        Prefix::Ge => {
            sql.push(&format!("({hi} > "))
                .arg(high)
                .push(&format!(" OR ({lo} >= "))
                .arg(low)
                .push(&format!(" AND {hi} <= "))
                .arg(high)
                .push("))");
        }
        Prefix::Le => {
            sql.push(&format!("({lo} < "))
                .arg(low)
                .push(&format!(" OR ({lo} >= "))
                .arg(low)
                .push(&format!(" AND {hi} <= "))
                .arg(high)
                .push("))");
        }
        Prefix::Sa => {
            sql.push(&format!("{lo} >= ")).arg(high);
        }
        Prefix::Eb => {
            sql.push(&format!("{hi} <= ")).arg(low);
        }
        Prefix::Ap => {
            // Approximately: the range widened by 10% of its distance from now, overlapping.
            let now = chrono::Utc::now().timestamp_millis();
            let slack = (now - low).abs() / 10;
            let (a, b) = (low.saturating_sub(slack), high.saturating_add(slack));
            sql.push(&format!("{lo} < "))
                .arg(b)
                .push(&format!(" AND {hi} > "))
                .arg(a);
        }
    }
}

/// Number prefixes on the row interval `[low, high]` (a point when equal) against the search
/// value and the range its precision implies.
fn number(sql: &mut Sql, p: &str, prefix: Prefix, value: f64, low: f64, high: f64) {
    let (lo, hi) = (format!("{p}low"), format!("{p}high"));
    match prefix {
        Prefix::Eq => {
            sql.push(&format!("{lo} >= "))
                .arg(low)
                .push(&format!(" AND {hi} < "))
                .arg(high);
        }
        Prefix::Ne => {
            sql.push(&format!("NOT ({lo} >= "))
                .arg(low)
                .push(&format!(" AND {hi} < "))
                .arg(high)
                .push(")");
        }
        Prefix::Gt => {
            sql.push(&format!("{hi} > ")).arg(value);
        }
        Prefix::Lt => {
            sql.push(&format!("{lo} < ")).arg(value);
        }
        Prefix::Ge => {
            sql.push(&format!("{hi} >= ")).arg(value);
        }
        Prefix::Le => {
            sql.push(&format!("{lo} <= ")).arg(value);
        }
        Prefix::Sa => {
            sql.push(&format!("{lo} > ")).arg(value);
        }
        Prefix::Eb => {
            sql.push(&format!("{hi} < ")).arg(value);
        }
        Prefix::Ap => {
            let slack = value.abs() * 0.1;
            sql.push(&format!("{lo} >= "))
                .arg(value - slack)
                .push(&format!(" AND {hi} <= "))
                .arg(value + slack);
        }
    }
}

/// The condition of one value on the index row with column prefix `p` (`t.`).
fn value(sql: &mut Sql, p: &str, v: &ValueTest) {
    match v {
        ValueTest::String { mode, value } => match mode {
            StringMode::Prefix => {
                sql.push(&format!("{p}norm >= "))
                    .arg(value.clone())
                    .push(&format!(" AND {p}norm < "))
                    .arg(prefix_end(value));
            }
            StringMode::Contains => {
                sql.push(&format!("instr({p}norm, "))
                    .arg(value.clone())
                    .push(") > 0");
            }
            StringMode::Exact => {
                sql.push(&format!("{p}exact = ")).arg(value.clone());
            }
        },
        ValueTest::Token { system, code } => token(sql, p, system, code),
        ValueTest::ReferenceIdentifier { system, value } => token(sql, p, system, value),
        ValueTest::TokenText(text) => {
            sql.push(&format!("{p}text >= "))
                .arg(text.clone())
                .push(&format!(" AND {p}text < "))
                .arg(prefix_end(text));
        }
        ValueTest::OfType {
            system,
            code,
            value,
        } => {
            sql.push(&format!("{p}code = "))
                .arg(code.clone())
                .push(&format!(" AND {p}text = "))
                .arg(value.clone());
            if let Some(system) = system {
                sql.push(&format!(" AND {p}system = ")).arg(system.clone());
            }
        }
        ValueTest::Date { prefix, low, high } => {
            let (lo, hi) = (format!("{p}low"), format!("{p}high"));
            date(sql, &lo, &hi, *prefix, *low, *high);
        }
        ValueTest::Number {
            prefix,
            value,
            low,
            high,
        } => number(sql, p, *prefix, *value, *low, *high),
        ValueTest::Quantity {
            prefix,
            value,
            low,
            high,
            system,
            code,
        } => {
            number(sql, p, *prefix, *value, *low, *high);
            if let Some(system) = system {
                sql.push(&format!(" AND {p}system = ")).arg(system.clone());
            }
            if let Some(code) = code {
                sql.push(&format!(" AND ({p}code = "))
                    .arg(code.clone())
                    .push(&format!(" OR {p}unit = "))
                    .arg(code.clone())
                    .push(")");
            }
        }
        ValueTest::Reference { target_type, id } => {
            sql.push(&format!("{p}target_id = ")).arg(id.clone());
            if let Some(t) = target_type {
                sql.push(&format!(" AND {p}target_type = ")).arg(t.as_str());
            }
        }
        ValueTest::ReferenceUrl(url) => {
            sql.push(&format!("{p}url = ")).arg(url.clone());
        }
        ValueTest::Uri { mode, value } => match mode {
            UriMode::Exact => {
                sql.push(&format!("{p}uri = ")).arg(value.clone());
            }
            UriMode::Below => {
                sql.push(&format!("{p}uri >= "))
                    .arg(value.clone())
                    .push(&format!(" AND {p}uri < "))
                    .arg(prefix_end(value));
            }
            UriMode::Above => {
                sql.push("substr(")
                    .arg(value.clone())
                    .push(&format!(", 1, length({p}uri)) = {p}uri"));
            }
        },
        ValueTest::Near {
            latitude,
            longitude,
            distance_km,
        } => super::special::near(sql, p, *latitude, *longitude, *distance_km),
        ValueTest::TokenSet(sets) => super::special::token_set(sql, p, sets),
        // Nested composites do not occur in R4; terminology is resolved before compiling.
        ValueTest::Composite(_) | ValueTest::Terminology(_) => {
            sql.push("0");
        }
    }
}

fn token(sql: &mut Sql, p: &str, system: &Option<Option<String>>, code: &Option<String>) {
    match code {
        Some(code) => sql.push(&format!("{p}code = ")).arg(code.clone()),
        None => sql.push(&format!("{p}code IS NOT NULL")),
    };
    match system {
        None => {}
        Some(None) => {
            sql.push(&format!(" AND {p}system IS NULL"));
        }
        Some(Some(system)) => {
            sql.push(&format!(" AND {p}system = ")).arg(system.clone());
        }
    }
}
