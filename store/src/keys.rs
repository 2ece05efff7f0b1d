//! The `KeyService` port: a key per tenant that wraps data keys (envelope encryption), and
//! its destruction (crypto-shredding the tenant's data).

use async_trait::async_trait;
use hearth_tenancy::TenantId;
use zeroize::Zeroizing;

use crate::StoreError;

/// A 256-bit data key, in the clear and wrapped by the tenant's key.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    /// Opaque to callers; stored next to what the key encrypts.
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

#[async_trait]
pub trait KeyService: Send + Sync + 'static {
    /// Creates the tenant's key; Ok when it exists already.
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError>;

    /// A fresh data key under the tenant's key, bound to the tenant (a wrapped key of one
    /// tenant never unwraps under another).
    async fn generate(&self, tenant: &TenantId) -> Result<DataKey, StoreError>;

    /// The data key of `wrapped`; `Invalid` when it is not a key of this tenant's.
    async fn unwrap(
        &self,
        tenant: &TenantId,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError>;

    /// Destroys (or schedules the destruction of) the tenant's key: whatever it wrapped can
    /// no longer be read.
    async fn destroy(&self, tenant: &TenantId) -> Result<(), StoreError>;
}
