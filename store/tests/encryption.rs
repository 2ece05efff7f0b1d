//! Encryption at rest of the embedded adapters: no plaintext in any file, a wrong or destroyed
//! key fails cleanly, plaintext databases (and blobs) of earlier versions are encrypted on
//! open, sealed blob segments do not open when altered, truncated, reordered or moved, and job
//! documents are sealed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::index_entries;
use hearth_fhir::search::registry::Registry;
use hearth_store::embedded::{
    DB_KEY_FILE, FsBlobStore, LocalKeyService, SqliteJobs, SqliteOptions, SqliteResourceStore,
};
use hearth_store::{
    BlobKey, BlobStore, Envelope, ErrorKind, JobId, JobRecord, JobState, JobStore, KeyService,
    Method, Precondition, ResourceKey, ResourceStore, SealedJobs, StoreError, WriteKind, WriteOp,
};
use hearth_tenancy::{TenantId, TenantRegistry};
use serde_json::{Value, json};

const SECRET: &str = "Zyxwvutsonian";

fn tenant(id: &str) -> TenantId {
    id.parse().unwrap()
}

fn keys(data_dir: &Path) -> Arc<dyn KeyService> {
    Arc::new(LocalKeyService::open(&data_dir.join("keys")).unwrap())
}

fn store(data_dir: &Path, keys: Arc<dyn KeyService>) -> SqliteResourceStore {
    SqliteResourceStore::new(
        TenantRegistry::new(data_dir),
        SqliteOptions::default(),
        keys,
    )
}

fn patient_key() -> ResourceKey {
    ResourceKey::new("Patient".parse().unwrap(), "p1".parse().unwrap())
}

/// A Patient with the secret in its body and (through its index entries) in `ix_*`.
fn put_patient() -> WriteOp {
    let body = json!({"resourceType": "Patient", "name": [{"family": SECRET}],
        "identifier": [{"system": "urn:test", "value": format!("{SECRET}-id")}]});
    let index = index_entries(&extract(Registry::r4(), &body), None);
    let Value::Object(body) = body else {
        unreachable!()
    };
    WriteOp {
        key: patient_key(),
        kind: WriteKind::Put {
            body,
            blob: None,
            method: Method::Put,
            index,
        },
        precondition: Precondition::None,
    }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path);
            }
        }
    }
    found
}

async fn read_family(store: &SqliteResourceStore, t: &TenantId) -> Result<String, StoreError> {
    let stored = store.read(t, &patient_key()).await?.expect("the patient");
    let body: Value = serde_json::from_slice(stored.body.as_deref().unwrap()).unwrap();
    Ok(body["name"][0]["family"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_their_index_are_encrypted_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, keys) = (tenant("acme"), keys(dir.path()));
    let s = store(dir.path(), keys.clone());
    s.write(&acme, vec![put_patient()]).await.unwrap();
    assert_eq!(read_family(&s, &acme).await.unwrap(), SECRET);
    assert!(
        files_containing(dir.path(), SECRET.as_bytes()).is_empty(),
        "no file holds the plaintext"
    );
    let db_key = TenantRegistry::new(dir.path())
        .tenant_dir(&acme)
        .join(DB_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db_key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Another process on the same data dir reads it with the same keys.
    let again = store(dir.path(), keys.clone());
    assert_eq!(read_family(&again, &acme).await.unwrap(), SECRET);

    // A database key of the same tenant that is not this file's: a clean error.
    let wrong = keys.generate(&acme).await.unwrap();
    std::fs::write(&db_key, &wrong.wrapped).unwrap();
    let err = read_family(&store(dir.path(), keys.clone()), &acme)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert!(err.to_string().contains("does not open"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_key_was_destroyed_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, other, keys) = (tenant("acme"), tenant("other"), keys(dir.path()));
    let s = store(dir.path(), keys.clone());
    s.write(&acme, vec![put_patient()]).await.unwrap();
    s.write(&other, vec![put_patient()]).await.unwrap();
    keys.destroy(&acme).await.unwrap();

    let fresh = store(dir.path(), keys.clone());
    let err = read_family(&fresh, &acme).await.unwrap_err();
    assert!(matches!(err, StoreError::TenantKeyGone(_)), "{err}");
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "answered as a deleted tenant"
    );
    assert_eq!(read_family(&fresh, &other).await.unwrap(), SECRET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_databases_of_earlier_versions_are_encrypted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, keys) = (tenant("acme"), keys(dir.path()));
    let registry = TenantRegistry::new(dir.path());
    let s = store(dir.path(), keys.clone());
    s.write(&acme, vec![put_patient()]).await.unwrap();

    // A plaintext copy, as an earlier version kept it, in a second data dir.
    let old = tempfile::tempdir().unwrap();
    let old_registry = TenantRegistry::new(old.path());
    std::fs::create_dir_all(old_registry.tenant_dir(&acme)).unwrap();
    let plain_path = old_registry.sqlite_path(&acme);
    let wrapped = std::fs::read(registry.tenant_dir(&acme).join(DB_KEY_FILE)).unwrap();
    let key = keys.unwrap(&acme, &wrapped).await.unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let conn = rusqlite::Connection::open(registry.sqlite_path(&acme)).unwrap();
    // The store's files use SHA-256 page HMACs.
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{hex}'\"; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;"
    ))
    .unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS plain KEY ''",
        [plain_path.to_str().unwrap()],
    )
    .unwrap();
    conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch("DETACH DATABASE plain").unwrap();
    drop(conn);
    // And a plaintext blob of that version.
    let legacy = old_registry.blob_dir(&acme).join("binary/legacy");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::write(&legacy, SECRET.repeat(10_000)).unwrap();
    assert_eq!(files_containing(old.path(), SECRET.as_bytes()).len(), 2);

    let reopened = store(old.path(), keys.clone());
    assert_eq!(read_family(&reopened, &acme).await.unwrap(), SECRET);
    let blobs = FsBlobStore::new(old_registry.clone(), keys.clone());
    assert_eq!(
        get_blob(&blobs, &acme, &blob("binary/legacy"))
            .await
            .unwrap(),
        SECRET.repeat(10_000).into_bytes()
    );
    assert!(
        files_containing(old.path(), SECRET.as_bytes()).is_empty(),
        "the plaintext file was replaced by an encrypted one"
    );
    assert!(old_registry.tenant_dir(&acme).join(DB_KEY_FILE).exists());
}

fn blob(s: &str) -> BlobKey {
    BlobKey::new(s).unwrap()
}

async fn put_blob(store: &FsBlobStore, t: &TenantId, key: &BlobKey, bytes: Vec<u8>) {
    let body = Box::pin(futures::stream::iter([Ok(Bytes::from(bytes))]));
    store.put(t, key, body, 1 << 24).await.unwrap();
}

/// The blob's bytes, or the first error of `get` or of its stream.
async fn get_blob(store: &FsBlobStore, t: &TenantId, key: &BlobKey) -> Result<Vec<u8>, String> {
    let (size, mut body) = store.get(t, key).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
    }
    assert_eq!(size, out.len() as u64);
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_blobs_do_not_open_when_altered_or_moved() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TenantRegistry::new(dir.path());
    let (acme, other) = (tenant("acme"), tenant("other"));
    let store = FsBlobStore::new(registry.clone(), keys(dir.path()));
    let segment = 64 * 1024;
    let content: Vec<u8> = SECRET
        .bytes()
        .cycle()
        .take(3 * segment + 100)
        .collect::<Vec<_>>();
    let (k, k2) = (blob("binary/b1"), blob("binary/b2"));
    put_blob(&store, &acme, &k, content.clone()).await;
    put_blob(&store, &other, &k, b"other".to_vec()).await;
    assert_eq!(get_blob(&store, &acme, &k).await.unwrap(), content);
    assert!(files_containing(dir.path(), SECRET.as_bytes()).is_empty());

    let path = registry.blob_dir(&acme).join("binary/b1");
    let sealed = std::fs::read(&path).unwrap();
    let header = 4 + 2 + usize::from(u16::from_be_bytes([sealed[4], sealed[5]])) + 8;
    let seg = segment + 16;
    let swapped = {
        let mut s = sealed[..header].to_vec();
        s.extend_from_slice(&sealed[header + seg..header + 2 * seg]);
        s.extend_from_slice(&sealed[header..header + seg]);
        s.extend_from_slice(&sealed[header + 2 * seg..]);
        s
    };
    let mut flipped = sealed.clone();
    flipped[header + seg + 5] ^= 1;
    let cases: [(&str, Vec<u8>); 5] = [
        ("a flipped byte", flipped),
        (
            "the last segment dropped",
            sealed[..header + 3 * seg].to_vec(),
        ),
        ("two segments dropped", sealed[..header + 2 * seg].to_vec()),
        ("cut mid-segment", sealed[..sealed.len() - 50].to_vec()),
        ("segments swapped", swapped),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        assert!(get_blob(&store, &acme, &k).await.is_err(), "{what} opened");
    }

    // Whole sealed files moved to another blob or tenant.
    std::fs::write(&path, &sealed).unwrap();
    std::fs::write(registry.blob_dir(&acme).join("binary/b2"), &sealed).unwrap();
    assert!(
        get_blob(&store, &acme, &k2).await.is_err(),
        "moved to another key"
    );
    std::fs::write(registry.blob_dir(&other).join("binary/b1"), &sealed).unwrap();
    assert!(
        get_blob(&store, &other, &k).await.is_err(),
        "moved to another tenant"
    );
    assert_eq!(get_blob(&store, &acme, &k).await.unwrap(), content);
}

/// Job documents (an export's request can name patients in `_typeFilter`) are sealed with the
/// tenant's key: not in the job database in plain text, bound to their tenant and job, gone
/// with the tenant's key; documents written before sealing still read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_documents_are_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let (acme, other) = (tenant("acme"), tenant("other"));
    keys.provision(&acme).await.unwrap();
    keys.provision(&other).await.unwrap();
    let raw = Arc::new(SqliteJobs::open(dir.path()).unwrap());
    let jobs = SealedJobs::new(raw.clone(), Arc::new(Envelope::new(keys.clone())));
    let job = |n: u8| -> JobId { format!("{n:032x}").parse().unwrap() };
    let record = |n: u8, doc: &str| JobRecord {
        id: job(n),
        state: JobState::Active,
        expires: chrono::Utc::now() + chrono::Duration::hours(1),
        doc: doc.to_owned(),
        revision: 1,
    };
    let doc = format!(r#"{{"typeFilter":"Patient?name={SECRET}"}}"#);
    assert!(jobs.create(&acme, &record(1, &doc), 5).await.unwrap());
    let read = jobs.get(&acme, &job(1)).await.unwrap();
    assert_eq!(read.expect("the job").doc, doc);
    let stored = raw.get(&acme, &job(1)).await.unwrap();
    assert!(!stored.expect("stored").doc.contains(SECRET));
    assert!(files_containing(dir.path(), SECRET.as_bytes()).is_empty());

    // Copied to another tenant or job, the sealed document does not open.
    let sealed = raw.get(&acme, &job(1)).await.unwrap().unwrap();
    raw.create(&other, &record(1, &sealed.doc), 5)
        .await
        .unwrap();
    raw.create(&acme, &record(2, &sealed.doc), 5).await.unwrap();
    for (t, n) in [(&other, 1), (&acme, 2)] {
        let err = jobs.get(t, &job(n)).await.expect_err("moved");
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    }

    // A plain document of an earlier version reads as it is.
    raw.create(&acme, &record(3, r#"{"plain":true}"#), 5)
        .await
        .unwrap();
    let plain = jobs.get(&acme, &job(3)).await.unwrap();
    assert_eq!(plain.expect("j3").doc, r#"{"plain":true}"#);

    // Without the tenant's key, the document is gone.
    keys.destroy(&acme).await.unwrap();
    let fresh = SealedJobs::new(raw, Arc::new(Envelope::new(keys)));
    assert!(fresh.get(&acme, &job(1)).await.is_err());
}
