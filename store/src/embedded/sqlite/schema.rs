//! Opening a tenant's SQLite file: pragmas, schema, and the mapping of SQLite errors.
//!
//! Tables: `versions` (every version, `seq` is the tenant-wide order used by history
//! cursors), `current` (the current version of each resource) and `identifiers` (the
//! identifier tokens of live resources, for `find`). All three change in one transaction.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

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
    PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_by_last_updated ON current (type, last_updated);

CREATE TABLE IF NOT EXISTS identifiers (
    type   TEXT NOT NULL,
    value  TEXT NOT NULL,
    system TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (type, value, system, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identifiers_by_resource ON identifiers (type, id);
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

/// Opens (creating if needed) the tenant's file for writing: WAL, `synchronous=FULL` so a
/// commit is durable when it returns, and the schema.
pub(super) fn open_writer(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::internal("create tenant folder", e))?;
    }
    let conn = Connection::open(path).map_err(sql_err("open tenant database"))?;
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
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;",
    )
    .map_err(sql_err("set pragmas"))?;
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
        .map_err(sql_err("create schema"))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Opens a read-only connection on a file the writer already created.
pub(super) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(sql_err("open tenant database for reading"))?;
    conn.busy_timeout(busy_timeout)
        .map_err(sql_err("set busy timeout"))?;
    conn.execute_batch("PRAGMA cache_size = -8000;")
        .map_err(sql_err("set pragmas"))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
