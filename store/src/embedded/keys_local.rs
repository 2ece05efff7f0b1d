//! `KeyService` on local files: a master key `{dir}/_master.key` (32 random bytes, created on
//! first open) and, per tenant, a 256-bit key in `{dir}/{tenant}.key` stored wrapped by the
//! master key (AES-256-GCM, bound to the tenant id). Tenant keys wrap data keys with
//! AES-256-GCM. Files are 0600 in a 0700 folder. Destroying a tenant's key overwrites and
//! removes its file, which makes everything sealed under it unreadable (crypto-shredding).
//!
//! Tenant key file: `0x02 | 12-byte nonce | sealed key + tag` (61 bytes). Files of earlier
//! versions held the raw 32-byte key; `open` wraps them in place (write, fsync, rename).
//! The master key's name starts with `_`, which no tenant id does, so it never collides.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use async_trait::async_trait;
use hearth_tenancy::TenantId;
use zeroize::Zeroizing;

use crate::envelope::{cipher_of, nonce_of, random_key};
use crate::{DataKey, KeyService, StoreError};

const NONCE_LEN: usize = 12;
/// The master key's file name in the key folder.
pub const MASTER_KEY_FILE: &str = "_master.key";
/// Format byte of a tenant key file wrapped by the master key.
const WRAPPED_FORMAT: u8 = 2;
/// Length of a tenant key file of earlier versions: the raw key.
const RAW_LEN: usize = 32;

pub struct LocalKeyService {
    dir: PathBuf,
    master: Aes256Gcm,
}

impl LocalKeyService {
    /// Keys live in `dir`, created (0700) if absent, with its master key (created on first
    /// open). Tenant key files of earlier versions (raw keys) are wrapped here.
    pub fn open(dir: &Path) -> Result<LocalKeyService, StoreError> {
        create_private_dir(dir)?;
        let master = load_or_create_master(dir)?;
        let service = LocalKeyService {
            dir: dir.to_owned(),
            master: cipher_of(&master[..])?,
        };
        service.wrap_raw_keys()?;
        Ok(service)
    }

    fn path(&self, tenant: &TenantId) -> PathBuf {
        self.dir.join(format!("{tenant}.key"))
    }

    /// The tenant's key; `Invalid` when it was never provisioned or was destroyed.
    fn tenant_cipher(&self, tenant: &TenantId) -> Result<Aes256Gcm, StoreError> {
        let bytes = Zeroizing::new(match std::fs::read(self.path(tenant)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Invalid(format!("tenant {tenant} has no key")));
            }
            Err(e) => return Err(StoreError::internal("read tenant key", e)),
        });
        if bytes.len() == RAW_LEN {
            // Written by an earlier version after this service wrapped the folder's keys.
            return cipher_of(&bytes);
        }
        let key = self.unwrap_tenant_key(tenant, &bytes)?;
        cipher_of(&key[..])
    }

    /// The tenant key in a wrapped tenant key file.
    fn unwrap_tenant_key(
        &self,
        tenant: &TenantId,
        file: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let damaged =
            || StoreError::internal("read tenant key", format!("{tenant}.key is damaged"));
        let (&format, rest) = file.split_first().ok_or_else(damaged)?;
        if format != WRAPPED_FORMAT || rest.len() <= NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let aad = tenant_key_aad(tenant);
        let key = self
            .master
            .decrypt(
                &nonce_of(nonce)?,
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| damaged())?;
        Ok(Zeroizing::new(key))
    }

    /// A tenant key file's content: `key` wrapped by the master key.
    fn wrap_tenant_key(&self, tenant: &TenantId, key: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = tenant_key_aad(tenant);
        let sealed = self
            .master
            .encrypt(
                &nonce,
                Payload {
                    msg: key,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::internal("wrap tenant key", "encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(WRAPPED_FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Wraps the raw tenant keys that earlier versions wrote: each replaced atomically.
    fn wrap_raw_keys(&self) -> Result<(), StoreError> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| StoreError::internal("list key folder", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::internal("list key folder", e))?;
            let name = entry.file_name();
            let Some(tenant) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".key"))
                .and_then(|n| n.parse::<TenantId>().ok())
            else {
                continue;
            };
            let path = entry.path();
            let bytes = Zeroizing::new(
                std::fs::read(&path).map_err(|e| StoreError::internal("read tenant key", e))?,
            );
            if bytes.len() != RAW_LEN {
                continue;
            }
            let wrapped = self.wrap_tenant_key(&tenant, &bytes)?;
            let temp = self.temp_path(&tenant);
            create_private_file(&temp, &wrapped)
                .and_then(|()| std::fs::rename(&temp, &path))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&temp);
                    StoreError::internal("wrap raw tenant key", e)
                })?;
            tracing::info!(tenant_id = %tenant, "wrapped a raw tenant key with the master key");
        }
        sync_dir(&self.dir)
    }

    fn temp_path(&self, tenant: &TenantId) -> PathBuf {
        self.dir
            .join(format!(".{tenant}.{}.tmp", uuid::Uuid::new_v4().simple()))
    }
}

#[async_trait]
impl KeyService for LocalKeyService {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        // Written in full to a temporary file, then linked into place: a concurrent reader
        // sees no key or the whole key, and the first of racing provisions wins.
        let path = self.path(tenant);
        if path.exists() {
            return Ok(());
        }
        let temp = self.temp_path(tenant);
        let key = random_key();
        let wrapped = self.wrap_tenant_key(tenant, &key[..])?;
        create_private_file(&temp, &wrapped)
            .map_err(|e| StoreError::internal("create tenant key", e))?;
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(StoreError::internal("create tenant key", e)),
        }
    }

    async fn generate(&self, tenant: &TenantId) -> Result<DataKey, StoreError> {
        let cipher = self.tenant_cipher(tenant)?;
        let plaintext = random_key();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = wrap_aad(tenant);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plaintext[..],
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::internal("wrap data key", "encryption failed"))?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey { plaintext, wrapped })
    }

    async fn unwrap(
        &self,
        tenant: &TenantId,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let invalid = || StoreError::Invalid(format!("not a data key of tenant {tenant}"));
        if wrapped.len() <= NONCE_LEN {
            return Err(invalid());
        }
        let cipher = self.tenant_cipher(tenant)?;
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let aad = wrap_aad(tenant);
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &nonce_of(nonce)?,
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| invalid())?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        if plain.len() != key.len() {
            return Err(invalid());
        }
        key.copy_from_slice(&plain);
        Ok(key)
    }

    async fn destroy(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let path = self.path(tenant);
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(mut file) => {
                let len = file
                    .metadata()
                    .map_err(|e| StoreError::internal("stat tenant key", e))?
                    .len();
                let zeros = vec![0u8; usize::try_from(len).unwrap_or(64).max(64)];
                file.write_all(&zeros)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| StoreError::internal("overwrite tenant key", e))?;
                std::fs::remove_file(&path)
                    .map_err(|e| StoreError::internal("remove tenant key", e))?;
                sync_dir(&self.dir)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::internal("open tenant key", e)),
        }
    }
}

/// Binds a wrapped data key to its tenant.
fn wrap_aad(tenant: &TenantId) -> Vec<u8> {
    format!("hearth-data-key/{tenant}").into_bytes()
}

/// Binds a wrapped tenant key to its tenant.
fn tenant_key_aad(tenant: &TenantId) -> Vec<u8> {
    format!("hearth-tenant-key/{tenant}").into_bytes()
}

/// The master key of `dir`, created (by the first of racing processes) when absent.
fn load_or_create_master(dir: &Path) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let path = dir.join(MASTER_KEY_FILE);
    if !path.exists() {
        let temp = dir.join(format!(".master.{}.tmp", uuid::Uuid::new_v4().simple()));
        let key = random_key();
        create_private_file(&temp, &key[..])
            .map_err(|e| StoreError::internal("create master key", e))?;
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => sync_dir(dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::internal("create master key", e)),
        }
    }
    let key = Zeroizing::new(
        std::fs::read(&path).map_err(|e| StoreError::internal("read master key", e))?,
    );
    if key.len() != 32 {
        return Err(StoreError::internal(
            "read master key",
            format!("{} does not hold a 32-byte key", path.display()),
        ));
    }
    Ok(key)
}

/// Creates `dir` (and its parents) with mode 0700 where missing.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| StoreError::internal("create key folder", e))
}

/// Writes a new file readable by its owner only, and fsyncs it; fails if it exists.
pub(crate) fn create_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the folder's entries durable (a created, renamed or removed file).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::internal("sync folder", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn raw_keys_of_earlier_versions_are_wrapped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let tenant: TenantId = "acme".parse().unwrap();
        let first = LocalKeyService::open(&keys_dir).unwrap();
        first.provision(&tenant).await.unwrap();
        let data = first.generate(&tenant).await.unwrap();
        // What an earlier version wrote: the raw tenant key.
        let raw = first
            .unwrap_tenant_key(&tenant, &std::fs::read(first.path(&tenant)).unwrap())
            .unwrap();
        std::fs::remove_file(first.path(&tenant)).unwrap();
        create_private_file(&first.path(&tenant), &raw).unwrap();

        let reopened = LocalKeyService::open(&keys_dir).unwrap();
        let file = std::fs::read(reopened.path(&tenant)).unwrap();
        assert_eq!(file[0], WRAPPED_FORMAT);
        assert!(!file.windows(32).any(|w| w == &raw[..]), "no raw key left");
        let key = reopened.unwrap(&tenant, &data.wrapped).await.unwrap();
        assert_eq!(*key, *data.plaintext, "the same tenant key, now wrapped");
    }

    #[tokio::test]
    async fn tenant_keys_need_their_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let tenant: TenantId = "acme".parse().unwrap();
        let keys = LocalKeyService::open(&keys_dir).unwrap();
        keys.provision(&tenant).await.unwrap();
        let data = keys.generate(&tenant).await.unwrap();
        #[cfg(unix)]
        for (path, mode) in [
            (keys_dir.clone(), 0o700),
            (keys_dir.join(MASTER_KEY_FILE), 0o600),
            (keys.path(&tenant), 0o600),
        ] {
            use std::os::unix::fs::PermissionsExt;
            let found = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(found, mode, "{}", path.display());
        }

        std::fs::remove_file(keys_dir.join(MASTER_KEY_FILE)).unwrap();
        let other_master = LocalKeyService::open(&keys_dir).unwrap();
        let err = other_master
            .unwrap(&tenant, &data.wrapped)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal, "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}
