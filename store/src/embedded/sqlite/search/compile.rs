//! Compiling search filters to SQL: each filter becomes a membership test of the resource in
//! a subquery over one `ix_*` table (values bound as parameters, never interpolated), so
//! SQLite can drive the search from the most selective index. Chains and `_has` nest the same
//! compilation over `current` of the referenced (or referencing) type.

use hearth_fhir::search::query::{Filter, Prefix, StringMode, Test, UriMode, ValueTest};
use hearth_fhir::search::registry::ParamType;
use rusqlite::types::Value as SqlValue;

/// A SQL fragment with its bound values, in order.
#[derive(Debug, Default, Clone)]
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
    /// An empty fragment whose aliases continue this one's (to be combined with it).
    pub(super) fn following(&self) -> Sql {
        Sql {
            aliases: self.aliases,
            ..Sql::default()
        }
    }

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

/// How a filter's subqueries are tied to the resource they test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `rid IN (SELECT rid ...)`: the subquery runs once and its set can drive the search.
    Set,
    /// `EXISTS (SELECT 1 ... WHERE rid = c.rid)`: a lookup on the index tables' `(rid, n)`
    /// keys per tested row, for rows another filter (or a walk in key order) produced.
    Probe,
}

/// What a subquery selects: the `rid`s of a set (of one type, if the scope has one), or `1`
/// for the row of `alias` (a probe).
#[derive(Debug, Clone, Copy)]
enum Head<'a> {
    Set(Option<&'a str>),
    Probe(&'a str),
}

/// Appends "the resource `alias` is (not) among the resources of the subquery `body` appends
/// after `SELECT`", in `form`.
fn member(
    sql: &mut Sql,
    scope: Scope<'_>,
    alias: &str,
    negate: bool,
    form: Form,
    body: impl FnOnce(&mut Sql, Head<'_>),
) {
    let not = if negate { "NOT " } else { "" };
    match form {
        Form::Set => {
            sql.push(&format!("{alias}.rid {not}IN (SELECT "));
            body(
                sql,
                Head::Set(match scope {
                    Scope::One(ty) => Some(ty),
                    Scope::Many => None,
                }),
            );
        }
        Form::Probe => {
            sql.push(&format!("{not}EXISTS (SELECT "));
            body(sql, Head::Probe(alias));
        }
    }
    sql.push(")");
}

/// Whether `f` is a positive test answered from an index table, so its `rid` set can drive
/// the search.
fn drives_by_rid(f: &Filter) -> bool {
    match &f.test {
        _ if f.code == "_id" || f.code == "_lastUpdated" => false,
        Test::Missing(missing) => !missing,
        Test::Any { not, values } => !not && !values.is_empty(),
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

/// One subquery of a positive value test: the values of one table and index param (ORed in
/// it), or one composite.
enum Arm<'v> {
    Values(ParamType, String, Vec<&'v ValueTest>),
    Composite(&'v [ValueTest]),
}

fn arms<'v>(code: &str, kind: ParamType, values: &'v [ValueTest]) -> Vec<Arm<'v>> {
    let mut arms: Vec<Arm<'v>> = Vec::new();
    for v in values {
        if let ValueTest::Composite(components) = v {
            arms.push(Arm::Composite(components));
            continue;
        }
        let (k, param) = (value_kind(v, kind), index_param(code, v));
        let same = arms.iter_mut().find_map(|a| match a {
            Arm::Values(ak, ap, tests) if *ak == k && *ap == param => Some(tests),
            _ => None,
        });
        match same {
            Some(tests) => tests.push(v),
            None => arms.push(Arm::Values(k, param, vec![v])),
        }
    }
    arms
}

/// The body (after `SELECT`) of one arm's subquery.
fn arm_body(sql: &mut Sql, code: &str, arm: &Arm<'_>, head: Head<'_>) {
    match arm {
        Arm::Values(kind, param, tests) => {
            select_from(sql, table(*kind), "t", head);
            sql.push(" AND t.param = ").arg(param.clone()).push(" AND ");
            let several = tests.len() > 1;
            if several {
                sql.push("(");
            }
            for (i, v) in tests.iter().enumerate() {
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
        }
        Arm::Composite(components) => composite(sql, code, head, components),
    }
}

/// The index param and table of `:missing` on `f`. A composite's presence is approximated by
/// its first component's.
fn presence(f: &Filter) -> (String, &'static str) {
    if f.kind == ParamType::Composite {
        (format!("{}#0", f.code), table(ParamType::Token))
    } else {
        (f.code.clone(), table(f.kind))
    }
}

/// Appends the body (after `SELECT`) of a chain's subquery over the referencing rows. As a
/// set, each branch's targets are a set of ids (computed once); as a probe, the reference of
/// the tested row is followed to its target, tested in turn by probes (no set is built, which
/// suits a walk that stops after a page of matches).
fn chain_body(
    sql: &mut Sql,
    code: &str,
    branches: &[(hearth_fhir::ResourceType, Filter)],
    head: Head<'_>,
) {
    select_from(sql, "ix_reference", "r", head);
    sql.push(" AND r.param = ").arg(code.to_owned());
    // One target type (the usual case) is a plain `target_id IN (...)` the planner can drive
    // from the index; several are ORed.
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
        sql.push("(r.target_type = ").arg(target.as_str());
        match head {
            Head::Set(_) => {
                sql.push(&format!(
                    " AND r.target_id IN (SELECT {c}.id FROM current {c} WHERE {}{c}.type = ",
                    type_prefix(std::slice::from_ref(inner))
                ))
                .arg(target.as_str())
                .push(&format!(" AND {c}.deleted = 0 AND "));
                filter(sql, Scope::One(target.as_str()), &c, inner, Form::Set);
            }
            Head::Probe(_) => {
                sql.push(&format!(
                    " AND EXISTS (SELECT 1 FROM current {c} WHERE {c}.type = "
                ))
                .arg(target.as_str())
                .push(&format!(
                    " AND {c}.id = r.target_id AND {c}.deleted = 0 AND "
                ));
                filter(sql, Scope::One(target.as_str()), &c, inner, Form::Probe);
            }
        }
        sql.push("))");
    }
    sql.push(")");
}

/// Appends the subquery of `_has` selecting the ids of the referenced resources.
fn has_ids(sql: &mut Sql, ty: Option<&str>, source: &str, reference: &str, inner: &Filter) {
    let c = sql.alias("c");
    sql.push(" FROM ix_reference r WHERE r.type = ")
        .arg(source)
        .push(" AND r.param = ")
        .arg(reference.to_owned());
    if let Some(ty) = ty {
        sql.push(" AND r.target_type = ").arg(ty);
    }
    sql.push(&format!(
        " AND r.rid IN (SELECT {c}.rid FROM current {c} WHERE {}{c}.type = ",
        type_prefix(std::slice::from_ref(inner))
    ))
    .arg(source)
    .push(&format!(" AND {c}.deleted = 0 AND "));
    filter(sql, Scope::One(source), &c, inner, Form::Set);
    sql.push(")");
}

/// Whether [`rid_set`] can select the matches of `f` in `scope`.
pub(super) fn has_rid_set(f: &Filter, scope: Scope<'_>) -> bool {
    drives_by_rid(f) && !(matches!(f.test, Test::Has { .. }) && matches!(scope, Scope::Many))
}

/// Appends a `SELECT` of the `rid`s `f` matches (a `rid` column, duplicates possible); only
/// for filters [`has_rid_set`] accepts.
pub(super) fn rid_set(sql: &mut Sql, scope: Scope<'_>, f: &Filter) {
    let ty = match scope {
        Scope::One(ty) => Some(ty),
        Scope::Many => None,
    };
    match &f.test {
        Test::Missing(_) => {
            let (param, table) = presence(f);
            sql.push("SELECT ");
            select_from(sql, table, "t", Head::Set(ty));
            sql.push(" AND t.param = ").arg(param);
        }
        Test::Any { values, .. } => {
            let arms = arms(&f.code, f.kind, values);
            if let [arm] = arms.as_slice() {
                sql.push("SELECT ");
                arm_body(sql, &f.code, arm, Head::Set(ty));
            } else {
                sql.push("SELECT rid FROM (");
                for (i, arm) in arms.iter().enumerate() {
                    sql.push(if i == 0 {
                        "SELECT "
                    } else {
                        " UNION ALL SELECT "
                    });
                    arm_body(sql, &f.code, arm, Head::Set(ty));
                }
                sql.push(")");
            }
        }
        Test::Chain(branches) => {
            sql.push("SELECT ");
            chain_body(sql, &f.code, branches, Head::Set(ty));
        }
        Test::Has {
            source,
            reference,
            filter: inner,
        } => {
            let Some(ty) = ty else {
                sql.push("SELECT NULL AS rid WHERE 0");
                return;
            };
            let c = sql.alias("h");
            sql.push(&format!(
                "SELECT {c}.rid FROM current {c} WHERE {c}.type = "
            ))
            .arg(ty)
            .push(&format!(" AND {c}.id IN (SELECT r.target_id"));
            has_ids(sql, Some(ty), source.as_str(), reference, inner);
            sql.push(")");
        }
    }
}

/// Appends the boolean SQL of `filter` on the `current` row `alias`, its index lookups in
/// `form`.
pub(super) fn filter(sql: &mut Sql, scope: Scope<'_>, alias: &str, f: &Filter, form: Form) {
    let code = f.code.as_str();
    if code == "_id" {
        return id_filter(sql, alias, &f.test);
    }
    if code == "_lastUpdated" {
        return last_updated_filter(sql, alias, &f.test);
    }
    match &f.test {
        Test::Missing(missing) => {
            let (param, table) = presence(f);
            member(sql, scope, alias, *missing, form, |sql, head| {
                select_from(sql, table, "t", head);
                sql.push(" AND t.param = ").arg(param);
            });
        }
        Test::Any { not, values } => {
            // Values of one table and index param share one subquery, ORed inside it; the
            // SQL stays free of `0 OR` padding so the planner sees plain `rid IN (...)` terms.
            let arms = arms(code, f.kind, values);
            if arms.is_empty() {
                sql.push(if *not { "1" } else { "0" });
                return;
            }
            sql.push(if *not { "NOT (" } else { "(" });
            for (i, arm) in arms.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                member(sql, scope, alias, false, form, |sql, head| {
                    arm_body(sql, code, arm, head);
                });
            }
            sql.push(")");
        }
        Test::Chain(branches) => {
            member(sql, scope, alias, false, form, |sql, head| {
                chain_body(sql, code, branches, head);
            });
        }
        Test::Has {
            source,
            reference,
            filter: inner,
        } => {
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
            has_ids(sql, ty, source.as_str(), reference, inner);
            sql.push(")");
        }
    }
}

/// `{t}.rid FROM {table} {t} WHERE 1 [AND {t}.type = ?]` for a set, `1 FROM {table} {t}
/// WHERE {t}.rid = {alias}.rid` for a probe.
fn select_from(sql: &mut Sql, table: &str, t: &str, head: Head<'_>) {
    match head {
        Head::Set(ty) => {
            sql.push(&format!("{t}.rid FROM {table} {t} WHERE 1"));
            if let Some(ty) = ty {
                sql.push(&format!(" AND {t}.type = ")).arg(ty);
            }
        }
        Head::Probe(alias) => {
            sql.push(&format!("1 FROM {table} {t} WHERE {t}.rid = {alias}.rid"));
        }
    }
}

fn composite(sql: &mut Sql, code: &str, head: Head<'_>, components: &[ValueTest]) {
    let kinds: Vec<ParamType> = components
        .iter()
        .map(|c| value_kind(c, ParamType::Token))
        .collect();
    match head {
        Head::Set(_) => sql.push(&format!("t0.rid FROM {} t0", table(kinds[0]))),
        Head::Probe(_) => sql.push(&format!("1 FROM {} t0", table(kinds[0]))),
    };
    for (i, kind) in kinds.iter().enumerate().skip(1) {
        sql.push(&format!(
            " JOIN {} t{i} ON t{i}.rid = t0.rid AND t{i}.grp = t0.grp",
            table(*kind)
        ));
    }
    match head {
        Head::Set(ty) => {
            sql.push(" WHERE 1");
            if let Some(ty) = ty {
                sql.push(" AND t0.type = ").arg(ty);
            }
        }
        Head::Probe(alias) => {
            sql.push(&format!(" WHERE t0.rid = {alias}.rid"));
        }
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
