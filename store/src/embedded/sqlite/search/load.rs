//! Loading the versions of a page's matches: those whose `seq` the page query read in one
//! statement, in `seq` order (neighbouring rows share pages of the versions table), the others
//! by key.

use std::collections::HashMap;

use rusqlite::Connection;

use super::Hit;
use crate::embedded::sqlite::query::decode_key;
use crate::embedded::sqlite::schema::sql_err;
use crate::{ResourceKey, StoreError, StoredVersion};

/// The versions of `hits`, in their order. A match deleted since the page query ran (read by
/// key) is left out.
pub(super) fn hits(conn: &Connection, hits: &[Hit]) -> Result<Vec<StoredVersion>, StoreError> {
    let mut by_seq = by_seq(conn, hits.iter().filter_map(|h| h.seq))?;
    let mut versions = Vec::with_capacity(hits.len());
    for hit in hits {
        match hit.seq {
            Some(seq) => versions.push(by_seq.remove(&seq).ok_or_else(|| {
                StoreError::internal("load search match", format!("no version at {seq}"))
            })?),
            None => versions.extend(by_key(conn, hit)?),
        }
    }
    Ok(versions)
}

/// The versions stored at `seqs`, read in one statement.
fn by_seq(
    conn: &Connection,
    seqs: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, StoredVersion>, StoreError> {
    let list: Vec<i64> = seqs.collect();
    let mut found = HashMap::with_capacity(list.len());
    if list.is_empty() {
        return Ok(found);
    }
    let json =
        serde_json::to_string(&list).map_err(|e| StoreError::internal("load search matches", e))?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, type, id, version, last_updated, method, body, blob FROM versions
             WHERE seq IN (SELECT value FROM json_each(?1)) ORDER BY seq",
        )
        .map_err(sql_err("prepare search load"))?;
    let mut rows = stmt.query([json]).map_err(sql_err("load search matches"))?;
    while let Some(row) = rows.next().map_err(sql_err("load search matches"))? {
        let seq: i64 = row.get(0).map_err(sql_err("load search matches"))?;
        let version = decode_key(row)
            .and_then(|key| crate::embedded::sqlite::query::version_of(key, row, 3))
            .map_err(sql_err("load search match"))?;
        found.insert(seq, version);
    }
    Ok(found)
}

/// The current version of a hit by its key (`None` when it was deleted meanwhile).
fn by_key(conn: &Connection, hit: &Hit) -> Result<Option<StoredVersion>, StoreError> {
    let n = hit.key.len();
    let (Some(rt), Some(id)) = (hit.key[n - 2].as_str(), hit.key[n - 1].as_str()) else {
        return Err(StoreError::internal(
            "load search match",
            "key without type and id",
        ));
    };
    let key = ResourceKey::new(
        rt.parse()
            .map_err(|_| StoreError::internal("load search match", format!("type {rt}")))?,
        id.parse()
            .map_err(|_| StoreError::internal("load search match", format!("id {id}")))?,
    );
    crate::embedded::sqlite::query::read(conn, key)
}
