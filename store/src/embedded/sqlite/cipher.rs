//! Whole-file encryption of a tenant's SQLite file with SQLCipher (pages, WAL and journals,
//! so the `ix_*` search tables too): the database key, its wrapped form in
//! `{tenant dir}/db.key`, keying connections, and encrypting files of earlier versions.
//!
//! The database key is a data key of the tenant's `KeyService` key, generated (after
//! provisioning the tenant's key, idempotently) when the tenant's file is first opened and
//! stored wrapped (0600, written whole and linked into place: the first of racing openers
//! wins). Connections are keyed with the raw-key form (`x'…'`, no key derivation). When the
//! tenant's key is destroyed, the wrapped key no longer opens: `TenantKeyGone`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hearth_tenancy::TenantId;
use rusqlite::Connection;
use zeroize::Zeroizing;

use super::schema::sql_err;
use crate::embedded::keys_local::{create_private_file, sync_dir};
use crate::{ErrorKind, KeyService, StoreError};

/// The wrapped database key's file name in the tenant's folder.
pub const DB_KEY_FILE: &str = "db.key";
/// What every unencrypted SQLite file starts with (an encrypted one starts with its salt).
const PLAINTEXT_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// A tenant database's 256-bit key.
pub(super) type DbKey = Zeroizing<[u8; 32]>;

/// The key of the tenant's database: unwrapped from `{dir}/db.key`, or made and stored
/// there when absent.
pub(super) async fn database_key(
    keys: &dyn KeyService,
    tenant: &TenantId,
    dir: &Path,
) -> Result<DbKey, StoreError> {
    let path = dir.join(DB_KEY_FILE);
    match tokio::fs::read(&path).await {
        Ok(wrapped) => return unwrap(keys, tenant, &wrapped).await,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::internal("read database key", e)),
    }
    keys.provision(tenant).await?;
    let key = keys.generate(tenant).await?;
    let (dir, wrapped) = (dir.to_owned(), key.wrapped.clone());
    let published = tokio::task::spawn_blocking(move || publish(&dir, &wrapped))
        .await
        .map_err(|e| StoreError::internal("store database key", e))??;
    if published {
        return Ok(key.plaintext);
    }
    // Another opener stored its key first: use that one.
    let wrapped = tokio::fs::read(&path)
        .await
        .map_err(|e| StoreError::internal("read database key", e))?;
    unwrap(keys, tenant, &wrapped).await
}

async fn unwrap(
    keys: &dyn KeyService,
    tenant: &TenantId,
    wrapped: &[u8],
) -> Result<DbKey, StoreError> {
    keys.unwrap(tenant, wrapped)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Invalid => {
                StoreError::TenantKeyGone(format!("the database key of tenant {tenant}: {e}"))
            }
            _ => e,
        })
}

/// Stores `wrapped` as the folder's database key unless one is there; true when it did.
fn publish(dir: &Path, wrapped: &[u8]) -> Result<bool, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::internal("create tenant folder", e))?;
    let temp = dir.join(format!(".db.key.{}.tmp", uuid::Uuid::new_v4().simple()));
    create_private_file(&temp, wrapped)
        .map_err(|e| StoreError::internal("store database key", e))?;
    let linked = std::fs::hard_link(&temp, dir.join(DB_KEY_FILE));
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => sync_dir(dir).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(StoreError::internal("store database key", e)),
    }
}

/// `x'<64 hex digits>'`: SQLCipher's raw-key form.
fn key_spec(key: &DbKey) -> Zeroizing<String> {
    let mut spec = Zeroizing::new(String::with_capacity(67));
    spec.push_str("x'");
    for byte in key.iter() {
        let _ = write!(spec, "{byte:02x}");
    }
    spec.push('\'');
    spec
}

/// The page HMAC of files this version creates: SHA-256, which processors with SHA extensions
/// compute several times faster than SQLCipher's default SHA-512 (checked on every page read
/// from disk). Files made with the default are still opened (see [`unlock`]).
const HMAC: &str = "HMAC_SHA256";
const LEGACY_HMAC: &str = "HMAC_SHA512";

/// Keys a new connection (before any other statement) and checks that the key opens the
/// file: a wrong key or a damaged file is a clear error, not garbage. A new file gets
/// [`HMAC`] pages; an existing one is opened with [`HMAC`], else with [`LEGACY_HMAC`].
pub(super) fn unlock(conn: &Connection, key: &DbKey) -> Result<(), StoreError> {
    let hmac = hmac_of(conn, key)?;
    key_with(conn, key, hmac)?.map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => StoreError::internal(
            "unlock tenant database",
            "the database key does not open the file (wrong key or damaged file)",
        ),
        _ => sql_err("unlock tenant database")(e),
    })
}

/// The page HMAC of `conn`'s file: [`HMAC`] for a new or empty file or one it opens (tried on
/// a separate connection, as a failed read leaves a connection unusable for writing), else
/// [`LEGACY_HMAC`].
fn hmac_of(conn: &Connection, key: &DbKey) -> Result<&'static str, StoreError> {
    let Some(path) = conn.path().filter(|p| !p.is_empty()) else {
        return Ok(HMAC);
    };
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok(HMAC);
    }
    let probe = Connection::open(path).map_err(sql_err("open tenant database"))?;
    // Closing the probe must not checkpoint the WAL (it may be the only connection yet).
    probe
        .set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(sql_err("configure tenant database probe"))?;
    Ok(if key_with(&probe, key, HMAC)?.is_ok() {
        HMAC
    } else {
        LEGACY_HMAC
    })
}

/// Keys `conn` with `key` and the page HMAC `hmac`, then reads the schema: the read's result.
fn key_with(
    conn: &Connection,
    key: &DbKey,
    hmac: &str,
) -> Result<rusqlite::Result<()>, StoreError> {
    let spec = key_spec(key);
    let pragma = Zeroizing::new(format!(
        "PRAGMA key = \"{}\"; PRAGMA cipher_hmac_algorithm = {hmac};",
        spec.as_str()
    ));
    conn.execute_batch(&pragma)
        .map_err(sql_err("key tenant database"))?;
    Ok(conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| {
            row.get::<_, i64>(0)
        })
        .map(|_| ()))
}

/// Whether `path` is an unencrypted SQLite file (written before encryption at rest).
pub(super) fn is_plaintext(path: &Path) -> Result<bool, StoreError> {
    use std::io::Read;
    let mut header = [0u8; 16];
    match std::fs::File::open(path) {
        Ok(mut file) => match file.read_exact(&mut header) {
            Ok(()) => Ok(&header == PLAINTEXT_HEADER),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(StoreError::internal("read tenant database header", e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::internal("open tenant database", e)),
    }
}

/// Encrypts, in place, a tenant file written before encryption at rest: its WAL folded in,
/// exported with `sqlcipher_export` into a new keyed file that then replaces it (rename).
/// Nothing happens for a file that is absent or encrypted already. Blocking; run it before
/// any other connection to the file is opened.
pub(super) fn encrypt_if_plaintext(path: &Path, key: &DbKey) -> Result<bool, StoreError> {
    if !is_plaintext(path)? {
        return Ok(false);
    }
    let temp = sibling(path, ".encrypting");
    for leftover in [temp.clone(), sibling(&temp, "-journal")] {
        match std::fs::remove_file(&leftover) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::internal("remove partial encrypted copy", e)),
        }
    }
    let temp_name = temp
        .to_str()
        .ok_or_else(|| StoreError::internal("encrypt tenant database", "path is not UTF-8"))?;
    {
        let conn = Connection::open(path).map_err(sql_err("open plaintext tenant database"))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(sql_err("checkpoint plaintext tenant database"))?;
        let spec = key_spec(key);
        conn.execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            [temp_name, spec.as_str()],
        )
        .map_err(sql_err("attach encrypted copy"))?;
        conn.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
            .map_err(sql_err("export to encrypted copy"))?;
        conn.execute_batch("DETACH DATABASE encrypted")
            .map_err(sql_err("detach encrypted copy"))?;
    }
    std::fs::File::open(&temp)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::internal("sync encrypted copy", e))?;
    std::fs::rename(&temp, path)
        .map_err(|e| StoreError::internal("replace plaintext tenant database", e))?;
    for stale in [sibling(path, "-wal"), sibling(path, "-shm")] {
        let _ = std::fs::remove_file(stale);
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(true)
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use zeroize::Zeroizing;

    use super::{LEGACY_HMAC, key_spec, unlock};

    fn write_with(path: &std::path::Path, key: &super::DbKey, hmac: Option<&str>) {
        let conn = Connection::open(path).unwrap();
        let mut pragma = format!("PRAGMA key = \"{}\";", key_spec(key).as_str());
        if let Some(hmac) = hmac {
            pragma.push_str(&format!(" PRAGMA cipher_hmac_algorithm = {hmac};"));
        }
        conn.execute_batch(&pragma).unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept');")
            .unwrap();
    }

    fn read(path: &std::path::Path, key: &super::DbKey) -> Result<String, crate::StoreError> {
        let conn = Connection::open(path).unwrap();
        unlock(&conn, key)?;
        // Writable too (WAL, as the store uses it).
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        conn.execute("INSERT INTO t VALUES ('more')", []).unwrap();
        Ok(conn
            .query_row("SELECT v FROM t ORDER BY rowid LIMIT 1", [], |r| r.get(0))
            .unwrap())
    }

    #[test]
    fn opens_new_files_and_files_with_the_default_hmac() {
        let dir = tempfile::tempdir().unwrap();
        let key = Zeroizing::new([7u8; 32]);
        // A file of an earlier version (SQLCipher's default settings).
        let legacy = dir.path().join("legacy.sqlite");
        write_with(&legacy, &key, None);
        assert_eq!(read(&legacy, &key).unwrap(), "kept");
        // A file keyed by `unlock` uses the new HMAC: the legacy settings do not open it.
        let new = dir.path().join("new.sqlite");
        {
            let conn = Connection::open(&new).unwrap();
            unlock(&conn, &key).unwrap();
            conn.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept');")
                .unwrap();
        }
        assert_eq!(read(&new, &key).unwrap(), "kept");
        let other = dir.path().join("other.sqlite");
        std::fs::copy(&new, &other).unwrap();
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA key = \"{}\"; PRAGMA cipher_hmac_algorithm = {LEGACY_HMAC};",
            key_spec(&key).as_str()
        ))
        .unwrap();
        assert!(
            conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .is_err()
        );
        // A wrong key opens neither.
        let wrong = Zeroizing::new([8u8; 32]);
        assert!(read(&legacy, &wrong).is_err());
        assert!(read(&new, &wrong).is_err());
    }
}
