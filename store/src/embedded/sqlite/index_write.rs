//! Writing a resource's search index entries into the `ix_*` tables, inside the writer's
//! transaction, and removing them when the resource is replaced or deleted.

use hearth_fhir::search::index::{EntryValue, IndexEntry};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};

use super::schema::sql_err;
use crate::StoreError;

const TABLES: [&str; 8] = [
    "ix_string",
    "ix_token",
    "ix_date",
    "ix_number",
    "ix_quantity",
    "ix_reference",
    "ix_uri",
    "ix_position",
];

/// Removes every index entry of the resource `rid`.
pub(super) fn remove(conn: &Connection, rid: i64) -> Result<(), StoreError> {
    for table in TABLES {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE rid = ?1"))
            .and_then(|mut stmt| stmt.execute(params![rid]))
            .map_err(sql_err("delete index entries"))?;
    }
    Ok(())
}

/// The columns of each table, in `TABLES` order.
const COLUMNS: [&str; 8] = [
    "rid, n, type, param, grp, norm, exact",
    "rid, n, type, param, grp, system, code, text",
    "rid, n, type, param, grp, low, high",
    "rid, n, type, param, grp, low, high",
    "rid, n, type, param, grp, low, high, system, code, unit",
    "rid, n, type, param, grp, target_type, target_id, url",
    "rid, n, type, param, grp, uri",
    "rid, n, type, param, grp, lat, lon, x, y, z",
];

/// Rows per multi-row `INSERT`.
const ROWS_PER_INSERT: usize = 16;

fn text(s: &Option<String>) -> SqlValue {
    s.as_ref()
        .map_or(SqlValue::Null, |s| SqlValue::Text(s.clone()))
}

/// The table of an entry and its values after `rid, n, type, param, grp`.
fn row(value: &EntryValue) -> (usize, Vec<SqlValue>) {
    match value {
        EntryValue::String { normalized, exact } => (
            0,
            vec![
                SqlValue::Text(normalized.clone()),
                SqlValue::Text(exact.clone()),
            ],
        ),
        EntryValue::Token {
            system,
            code,
            text: t,
        } => (1, vec![text(system), text(code), text(t)]),
        EntryValue::Date { low, high } => {
            (2, vec![SqlValue::Integer(*low), SqlValue::Integer(*high)])
        }
        EntryValue::Number { low, high } => (3, vec![SqlValue::Real(*low), SqlValue::Real(*high)]),
        EntryValue::Quantity {
            low,
            high,
            system,
            code,
            unit,
        } => (
            4,
            vec![
                SqlValue::Real(*low),
                SqlValue::Real(*high),
                text(system),
                text(code),
                text(unit),
            ],
        ),
        EntryValue::Reference {
            target_type,
            target_id,
            url,
        } => (5, vec![text(target_type), text(target_id), text(url)]),
        EntryValue::Uri(uri) => (6, vec![SqlValue::Text(uri.clone())]),
        EntryValue::Position {
            latitude,
            longitude,
        } => {
            let [x, y, z] = unit_vector(*latitude, *longitude);
            let mut v = vec![SqlValue::Real(*latitude), SqlValue::Real(*longitude)];
            v.extend([x, y, z].map(SqlValue::Real));
            (7, v)
        }
    }
}

/// The point on the unit sphere at a position (degrees): `near` compares chord lengths.
pub(super) fn unit_vector(latitude: f64, longitude: f64) -> [f64; 3] {
    let (lat, lon) = (latitude.to_radians(), longitude.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// Inserts the entries of the resource `rid` (of type `rt`), several rows per statement.
/// `OR IGNORE` (no row can conflict on `(rid, n)`) lets SQLite skip the statement journal a
/// multi-row insert that may abort would open, which costs more than the insert itself.
pub(super) fn insert(
    conn: &Connection,
    rt: &str,
    rid: i64,
    entries: &[IndexEntry],
) -> Result<(), StoreError> {
    let mut by_table: [Vec<Vec<SqlValue>>; 8] = Default::default();
    for (n, e) in entries.iter().enumerate() {
        let (table, values) = row(&e.value);
        let mut r = Vec::with_capacity(5 + values.len());
        r.push(SqlValue::Integer(rid));
        r.push(SqlValue::Integer(n as i64));
        r.push(SqlValue::Text(rt.to_owned()));
        r.push(SqlValue::Text(e.param.clone()));
        r.push(SqlValue::Integer(i64::from(e.group)));
        r.extend(values);
        by_table[table].push(r);
    }
    for (table, rows) in by_table.iter().enumerate() {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let width = chunk[0].len();
            let one = format!("({})", vec!["?"; width].join(", "));
            let sql = format!(
                "INSERT OR IGNORE INTO {} ({}) VALUES {}",
                TABLES[table],
                COLUMNS[table],
                vec![one.as_str(); chunk.len()].join(", ")
            );
            conn.prepare_cached(&sql)
                .and_then(|mut stmt| stmt.execute(params_from_iter(chunk.iter().flatten())))
                .map_err(sql_err("insert index entries"))?;
        }
    }
    Ok(())
}
