//! Bodies too large for DynamoDB items, kept as objects of the tenant's blob store (S3, under
//! the tenant's prefix and key): the item holds the object's key. Each attempt at writing a
//! version uploads under a fresh name (`bodies/{type}/{id}/{version}-{random}`), so racing
//! writers of the same version never overwrite the object the winner's item points to; a
//! losing attempt removes its object. The object holds the body sealed exactly as an item
//! would (same data key, same associated data).

use bytes::Bytes;
use futures::TryStreamExt;
use hearth_fhir::VersionId;
use hearth_store::{BlobKey, ResourceKey, StoreError};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::version::Step;

/// Sealed bodies larger than this go to an object (when the store has a blob store); smaller
/// large ones are split into chunk items.
pub(crate) const OBJECT_BODY: usize = 1_000_000;

/// Largest object body accepted back (a corrupt size never makes us buffer more).
const MAX_OBJECT_BODY: u64 = 1 << 30;

impl DynamoStore {
    /// Whether a sealed body of `len` bytes is stored as an object.
    pub(crate) fn body_goes_to_object(&self, len: usize) -> bool {
        self.bodies.is_some() && len > OBJECT_BODY
    }

    /// Uploads `sealed`, the body of `key` at `version`; returns the object's key.
    pub(crate) async fn put_body_object(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
        version: VersionId,
        sealed: Vec<u8>,
    ) -> Result<String, StoreError> {
        let Some(bodies) = &self.bodies else {
            return Err(StoreError::internal(
                "store a large body",
                "no blob store for bodies",
            ));
        };
        let name = format!(
            "bodies/{}/{}/{}-{}",
            key.rt,
            key.id,
            version.get(),
            uuid::Uuid::new_v4().simple()
        );
        let blob_key = BlobKey::new(&name)?;
        let len = sealed.len() as u64;
        let stream = futures::stream::once(async move { Ok(Bytes::from(sealed)) });
        bodies.put(tenant, &blob_key, Box::pin(stream), len).await?;
        Ok(name)
    }

    /// The sealed body kept in the object `name`.
    pub(crate) async fn body_object(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Vec<u8>, StoreError> {
        let Some(bodies) = &self.bodies else {
            return Err(StoreError::internal(
                "read a large body",
                "no blob store for bodies",
            ));
        };
        let (len, stream) = bodies.get(tenant, &BlobKey::new(name)?).await?;
        if len > MAX_OBJECT_BODY {
            return Err(StoreError::internal(
                "read a large body",
                format!("object {name} holds {len} bytes"),
            ));
        }
        let mut sealed = Vec::with_capacity(len as usize);
        let mut stream = stream;
        while let Some(piece) = stream
            .try_next()
            .await
            .map_err(|e| StoreError::internal("read a large body", e))?
        {
            sealed.extend_from_slice(&piece);
        }
        Ok(sealed)
    }

    /// Removes the objects uploaded for `steps` by an attempt that did not commit. Failures
    /// are logged: an orphaned object is sealed, unreferenced, and goes with the tenant.
    pub(crate) async fn discard_body_objects(&self, tenant: &TenantId, steps: &[Step]) {
        let Some(bodies) = &self.bodies else {
            return;
        };
        for step in steps {
            let Step::Write(new) = step else { continue };
            let Some(name) = &new.object else { continue };
            let removed = match BlobKey::new(name) {
                Ok(key) => bodies.delete(tenant, &key).await,
                Err(e) => Err(e),
            };
            if let Err(e) = removed {
                tracing::warn!(%tenant, object = %name, error = %e, "could not remove the body object of an uncommitted write");
            }
        }
    }
}
