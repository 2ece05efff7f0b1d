//! Envelope encryption of stored bytes: AES-256-GCM under a data key that the tenant's key
//! ([`KeyService`]) wraps, the wrapped key stored in front of the ciphertext.
//!
//! Sealed format: `0x01 | u16 BE wrapped length | wrapped key | 12-byte nonce | ciphertext+tag`.
//! The associated data binds a ciphertext to its tenant and to the caller's context (such as
//! the resource key and version), so bytes moved to another tenant or record do not open.
//! A data key seals at most [`MAX_USES`] values or for [`MAX_AGE`] before a new one is
//! generated; unwrapped keys are cached (at most [`CACHE_LIMIT`], each for [`MAX_AGE`]) so reads
//! do not call the key service each time. The age bounds how long another process can still
//! seal or open a tenant's data from memory after the tenant's key was destroyed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hearth_tenancy::TenantId;
use zeroize::Zeroizing;

use crate::{KeyService, StoreError};

const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
/// Values sealed under one data key (random nonces stay far from the 2^32 bound).
pub const MAX_USES: u64 = 1 << 20;
/// How long one data key seals new values, and an unwrapped key stays cached.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// Unwrapped data keys kept in memory.
pub const CACHE_LIMIT: usize = 1024;

struct Current {
    cipher: Aes256Gcm,
    wrapped: Arc<[u8]>,
    uses: u64,
    born: Instant,
}

/// Unwrapped data keys by tenant and wrapped bytes.
type OpenedKeys = HashMap<(TenantId, Arc<[u8]>), (Aes256Gcm, Instant)>;

pub struct Envelope {
    keys: Arc<dyn KeyService>,
    current: Mutex<HashMap<TenantId, Current>>,
    opened: Mutex<OpenedKeys>,
}

impl Envelope {
    pub fn new(keys: Arc<dyn KeyService>) -> Envelope {
        Envelope {
            keys,
            current: Mutex::new(HashMap::new()),
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The key service behind this envelope.
    pub fn keys(&self) -> &Arc<dyn KeyService> {
        &self.keys
    }

    /// Encrypts `plaintext` for `tenant`, bound to `aad`.
    pub async fn seal(
        &self,
        tenant: &TenantId,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let (cipher, wrapped) = match self.take_current(tenant) {
            Some(current) => current,
            None => {
                let key = self.keys.generate(tenant).await?;
                let cipher = cipher_of(&key.plaintext[..])?;
                let wrapped: Arc<[u8]> = key.wrapped.into();
                let mut current = lock(&self.current);
                current.insert(
                    tenant.clone(),
                    Current {
                        cipher: cipher.clone(),
                        wrapped: wrapped.clone(),
                        uses: 1,
                        born: Instant::now(),
                    },
                );
                (cipher, wrapped)
            }
        };
        let wrapped_len = u16::try_from(wrapped.len())
            .map_err(|_| StoreError::internal("seal", "wrapped data key too long"))?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated(tenant, aad);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::internal("seal", "encryption failed"))?;
        let mut out = Vec::with_capacity(3 + wrapped.len() + NONCE_LEN + ciphertext.len());
        out.push(FORMAT);
        out.extend_from_slice(&wrapped_len.to_be_bytes());
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts what [`Envelope::seal`] produced for the same tenant and `aad`; anything else
    /// (another tenant, another context, altered bytes) is `Invalid`.
    pub async fn open(
        &self,
        tenant: &TenantId,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let invalid = || StoreError::Invalid("sealed value cannot be opened".into());
        let (&format, rest) = sealed.split_first().ok_or_else(invalid)?;
        if format != FORMAT || rest.len() < 2 {
            return Err(invalid());
        }
        let wrapped_len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let rest = &rest[2..];
        if rest.len() < wrapped_len + NONCE_LEN {
            return Err(invalid());
        }
        let (wrapped, rest) = rest.split_at(wrapped_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let cipher = self.cipher_for(tenant, wrapped).await?;
        let aad = associated(tenant, aad);
        cipher
            .decrypt(
                &nonce_of(nonce)?,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| invalid())
    }

    /// Forgets every key of `tenant` held in memory (after its key was destroyed).
    pub fn forget(&self, tenant: &TenantId) {
        lock(&self.current).remove(tenant);
        lock(&self.opened).retain(|(t, _), _| t != tenant);
    }

    fn take_current(&self, tenant: &TenantId) -> Option<(Aes256Gcm, Arc<[u8]>)> {
        let mut current = lock(&self.current);
        let entry = current.get_mut(tenant)?;
        if entry.uses >= MAX_USES || entry.born.elapsed() >= MAX_AGE {
            current.remove(tenant);
            return None;
        }
        entry.uses += 1;
        Some((entry.cipher.clone(), entry.wrapped.clone()))
    }

    async fn cipher_for(&self, tenant: &TenantId, wrapped: &[u8]) -> Result<Aes256Gcm, StoreError> {
        let wrapped: Arc<[u8]> = wrapped.into();
        let cache_key = (tenant.clone(), wrapped.clone());
        if let Some((cipher, opened)) = lock(&self.opened).get(&cache_key)
            && opened.elapsed() < MAX_AGE
        {
            return Ok(cipher.clone());
        }
        let key: Zeroizing<[u8; 32]> = self.keys.unwrap(tenant, &wrapped).await?;
        let cipher = cipher_of(&key[..])?;
        let mut opened = lock(&self.opened);
        if opened.len() >= CACHE_LIMIT {
            opened.clear();
        }
        opened.insert(cache_key, (cipher.clone(), Instant::now()));
        Ok(cipher)
    }
}

/// The associated data: the tenant, then the caller's context.
fn associated(tenant: &TenantId, aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tenant.as_str().len() + 1 + aad.len());
    out.extend_from_slice(tenant.as_str().as_bytes());
    out.push(0);
    out.extend_from_slice(aad);
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An AES-256-GCM cipher for a 32-byte key.
pub(crate) fn cipher_of(key: &[u8]) -> Result<Aes256Gcm, StoreError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| StoreError::internal("load key", "not 32 bytes"))
}

/// A 96-bit nonce from its bytes.
pub(crate) fn nonce_of(bytes: &[u8]) -> Result<Nonce<aes_gcm::aead::consts::U12>, StoreError> {
    let array: [u8; NONCE_LEN] = bytes
        .try_into()
        .map_err(|_| StoreError::Invalid("sealed value cannot be opened".into()))?;
    Ok(Nonce::from(array))
}

/// 32 random bytes.
pub(crate) fn random_key() -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut key[..]);
    key
}
