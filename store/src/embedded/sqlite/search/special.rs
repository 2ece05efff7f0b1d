//! SQL for the value tests without a plain column comparison: `near` (a latitude band the
//! `ix_position` index serves, then the exact great-circle test as a chord length between
//! unit vectors, which needs no trigonometry in SQL) and resolved code sets.

use hearth_fhir::search::query::EARTH_RADIUS_KM;

use super::super::index_write::unit_vector;
use super::compile::Sql;

/// Rounding slack on the squared chord, far below a millimetre.
const EPSILON: f64 = 1e-12;

/// A position of the row `p` within `distance_km` of (`latitude`, `longitude`).
pub(super) fn near(sql: &mut Sql, p: &str, latitude: f64, longitude: f64, distance_km: f64) {
    let angle = (distance_km / EARTH_RADIUS_KM).min(std::f64::consts::PI);
    let band = angle.to_degrees();
    let chord = 2.0 * (angle / 2.0).sin();
    let [x, y, z] = unit_vector(latitude, longitude);
    sql.push(&format!("{p}lat >= "))
        .arg(latitude - band)
        .push(&format!(" AND {p}lat <= "))
        .arg(latitude + band);
    sql.push(&format!(" AND ({p}x - "))
        .arg(x)
        .push(&format!(") * ({p}x - "))
        .arg(x)
        .push(&format!(") + ({p}y - "))
        .arg(y)
        .push(&format!(") * ({p}y - "))
        .arg(y)
        .push(&format!(") + ({p}z - "))
        .arg(z)
        .push(&format!(") * ({p}z - "))
        .arg(z)
        .push(") <= ")
        .arg(chord * chord + EPSILON);
}

/// The token row `p` has one of the codes of `sets` (system, codes); nothing when empty.
pub(super) fn token_set(sql: &mut Sql, p: &str, sets: &[(String, Vec<String>)]) {
    if sets.is_empty() {
        sql.push("0");
        return;
    }
    sql.push("(");
    for (i, (system, codes)) in sets.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push(&format!("({p}system = "))
            .arg(system.clone())
            .push(&format!(" AND {p}code IN "))
            .list(codes)
            .push(")");
    }
    sql.push(")");
}
