//! `KeyService` on local files: one 256-bit key per tenant in `{dir}/{tenant}.key` (mode 0600,
//! in a 0700 folder) that wraps data keys with AES-256-GCM. Destroying a tenant's key
//! overwrites and removes its file, which makes everything sealed under it unreadable.

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

pub struct LocalKeyService {
    dir: PathBuf,
}

impl LocalKeyService {
    /// Keys live in `dir`, created (0700) if absent.
    pub fn open(dir: &Path) -> Result<LocalKeyService, StoreError> {
        create_private_dir(dir)?;
        Ok(LocalKeyService {
            dir: dir.to_owned(),
        })
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
        cipher_of(&bytes)
    }
}

#[async_trait]
impl KeyService for LocalKeyService {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        // Written in full to a temporary file, then linked into place: a concurrent reader
        // sees no key or the whole key, and the first of racing provisions wins.
        let path = self.path(tenant);
        let temp = self
            .dir
            .join(format!(".{tenant}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let key = random_key();
        create_private_file(&temp, &key[..])
            .map_err(|e| StoreError::internal("create tenant key", e))?;
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(()),
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
                file.write_all(&[0u8; 32])
                    .and_then(|()| file.sync_all())
                    .map_err(|e| StoreError::internal("overwrite tenant key", e))?;
                std::fs::remove_file(&path)
                    .map_err(|e| StoreError::internal("remove tenant key", e))
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

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| StoreError::internal("create key folder", e))
}

/// Writes a new file readable by its owner only; fails if it exists.
fn create_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
