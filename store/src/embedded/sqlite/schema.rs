//! Opening a tenant's SQLite file: pragmas, schema, and the mapping of SQLite errors.
//!
//! Tables: `versions` (every version, `seq` is the tenant-wide order used by history
//! cursors), `current` (the current version of each resource) and the eight search index
//! tables `ix_*` (entries of live current versions). All change in one transaction.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::cipher::{DbKey, unlock};
use crate::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS versions (
    seq          INTEGER PRIMARY KEY,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    method       INTEGER NOT NULL,
    body         BLOB,
    blob         TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_key ON versions (type, id, version);
CREATE INDEX IF NOT EXISTS versions_by_type ON versions (type, seq);

CREATE TABLE IF NOT EXISTS current (
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    deleted      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    rid          INTEGER,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_by_last_updated ON current (type, last_updated);
CREATE UNIQUE INDEX IF NOT EXISTS current_by_rid ON current (rid);

-- Search index: one table per value shape (see hearth_fhir::search::index), rows of live
-- current versions only, replaced on every write of the resource. Each table is clustered by
-- (`rid`, `n`): `rid` is the resource's `current.rid` (the `seq` of its first version) and `n`
-- the entry's position, so a new resource's rows append instead of touching a random page per
-- row as a (type, id) key would, and removing them is one range delete. The `_value` index
-- (which also holds `rid`) serves the searches.
-- `grp` correlates the components of one composite value (0 otherwise).
CREATE TABLE IF NOT EXISTS ix_string (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    norm TEXT NOT NULL, exact TEXT NOT NULL, grp INTEGER NOT NULL,
    PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_string_value ON ix_string (type, param, norm);
CREATE TABLE IF NOT EXISTS ix_token (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT, code TEXT, text TEXT, grp INTEGER NOT NULL,
    PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_token_value ON ix_token (type, param, code, system);
CREATE TABLE IF NOT EXISTS ix_date (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    low INTEGER NOT NULL, high INTEGER NOT NULL, grp INTEGER NOT NULL,
    PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_date_value ON ix_date (type, param, low);
CREATE TABLE IF NOT EXISTS ix_number (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    low REAL NOT NULL, high REAL NOT NULL, grp INTEGER NOT NULL,
    PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_number_value ON ix_number (type, param, low);
CREATE TABLE IF NOT EXISTS ix_quantity (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    low REAL NOT NULL, high REAL NOT NULL, system TEXT, code TEXT, unit TEXT,
    grp INTEGER NOT NULL, PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_quantity_value ON ix_quantity (type, param, low);
CREATE TABLE IF NOT EXISTS ix_reference (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT, target_id TEXT, url TEXT, grp INTEGER NOT NULL,
    PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_reference_value ON ix_reference (type, param, target_id);
CREATE TABLE IF NOT EXISTS ix_uri (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    uri TEXT NOT NULL, grp INTEGER NOT NULL,
    PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_uri_value ON ix_uri (type, param, uri);
-- Positions (`near`): degrees, and the unit vector (x, y, z) so the exact distance test is
-- arithmetic (chord length); the index serves the latitude band prefilter.
CREATE TABLE IF NOT EXISTS ix_position (
    rid INTEGER NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL, x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    grp INTEGER NOT NULL, PRIMARY KEY (rid, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_position_value ON ix_position (type, param, lat);
";

/// Maps a SQLite error: lock contention is `Busy` (retryable), anything else `Internal`.
pub(super) fn sql_err(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Busy(format!("{context}: {e}"))
        }
        _ => StoreError::internal(context, e),
    }
}

/// WAL pages after which a commit checkpoints (SQLite's default is 1,000). Under a stream of
/// creates most pages in the WAL are the same few index leaves written again and again; a
/// longer WAL (up to 128 MiB) copies each of them into the file once per checkpoint instead of
/// several times. Measured with 64 creating clients: 16,000 pages gave 15-20% more creates per
/// second than 1,000 on a fresh tenant, and 32,000 another 10% once the tenant had grown.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 32_000;

/// The writer's page cache, in KiB (filled as pages are read, so a small tenant uses less).
/// Every create inserts into index B-trees at random places; a miss costs a read, an HMAC
/// check and a decryption on the writer thread, which all of the tenant's writes wait for.
/// Measured against 16 MiB on freshly loaded tenants: 3,595 vs 3,304 creates per second
/// once, within noise (3,299) in a repeat; the gain is not established, the cost is memory
/// only while pages are cached.
const WRITER_CACHE_KIB: u32 = 65_536;

/// Opens (creating if needed) the tenant's file for writing, keyed with `key` (SQLCipher):
/// WAL, `synchronous=NORMAL` (a commit does not flush the WAL: the writer's callers are
/// answered after `durable` has), and the schema.
pub(super) fn open_writer(
    path: &Path,
    busy_timeout: Duration,
    key: &DbKey,
) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::internal("create tenant folder", e))?;
    }
    let conn = Connection::open(path).map_err(sql_err("open tenant database"))?;
    unlock(&conn, key)?;
    conn.busy_timeout(busy_timeout)
        .map_err(sql_err("set busy timeout"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(sql_err("enable WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::internal(
            "enable WAL",
            format!("journal mode is {mode}"),
        ));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
    ))
    .map_err(sql_err("set pragmas"))?;
    migrate(&conn)?;
    // Statements: the writes, and the index inserts (one per table and row count).
    conn.set_prepared_statement_cache_capacity(160);
    stable_plans(&conn)?;
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
        .map_err(sql_err("create schema"))?;
    Ok(conn)
}

/// Files made before the search index: `current` gains `rid` (set to `seq`, unique per
/// resource); their resources have no index entries until they are written again.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let columns: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('current') WHERE name IN ('seq', 'rid')",
            [],
            |row| row.get(0),
        )
        .map_err(sql_err("inspect schema"))?;
    if columns == 1 {
        conn.execute_batch(
            "BEGIN IMMEDIATE; ALTER TABLE current ADD COLUMN rid INTEGER; UPDATE current SET rid = seq; COMMIT;",
        )
        .map_err(sql_err("add current.rid"))?;
    }
    Ok(())
}

/// Opens a read-only connection, keyed with `key`, on a file the writer already created.
pub(super) fn open_reader(
    path: &Path,
    busy_timeout: Duration,
    key: &DbKey,
) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(sql_err("open tenant database for reading"))?;
    unlock(&conn, key)?;
    conn.busy_timeout(busy_timeout)
        .map_err(sql_err("set busy timeout"))?;
    // 32 MiB of decrypted pages per reader: a miss costs a read, an HMAC check and a decryption.
    conn.execute_batch("PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY;")
        .map_err(sql_err("set pragmas"))?;
    conn.set_prepared_statement_cache_capacity(256);
    stable_plans(&conn)?;
    Ok(conn)
}

/// Plans do not depend on bound values (SQLite's query planner stability guarantee). Without
/// it, a cached statement whose plan looked at a bound value (a `LIMIT`, a range bound) is
/// compiled again whenever a new value is bound, which profiles showed to be a third of a
/// search's CPU time; the statements are written so that one plan serves every value.
fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(sql_err("enable the query planner stability guarantee"))?;
    Ok(())
}
