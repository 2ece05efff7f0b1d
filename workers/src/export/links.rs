//! Presigned file links: a completed job's manifest with every file URL replaced by a direct,
//! expiring read URL of its blob (an S3 presigned GET), so clients download without a token
//! (`requiresAccessToken: false`, as the Bulk Data IG allows) and without the server in the
//! path.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hearth_store::{BlobUrls, JobId, StoreError};
use hearth_tenancy::TenantId;
use serde_json::Value;

use super::context::ExportContext;

/// The longest lifetime of a SigV4 presigned URL (7 days).
pub const MAX_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where presigned links come from and how long they live.
#[derive(Clone)]
pub struct PresignedLinks {
    pub urls: Arc<dyn BlobUrls>,
    /// Lifetime of a link from the status request that hands it out (never beyond the
    /// export's expiry, nor 7 days).
    pub ttl: Duration,
}

impl PresignedLinks {
    /// A link's lifetime when handed out `now` for a job that expires at `expires`.
    pub fn lifetime(&self, now: DateTime<Utc>, expires: DateTime<Utc>) -> Duration {
        let left = (expires - now).to_std().unwrap_or(Duration::ZERO);
        self.ttl
            .min(left)
            .min(MAX_LINK_TTL)
            .max(Duration::from_secs(1))
    }

    /// Replaces every file URL of `manifest` (job `id` of `tenant`) by a presigned one and
    /// marks the manifest as needing no token.
    pub async fn apply(
        &self,
        tenant: &TenantId,
        id: &JobId,
        manifest: &mut Value,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        for section in ["output", "deleted", "error"] {
            for entry in manifest[section].as_array_mut().into_iter().flatten() {
                let Some(name) = entry["url"].as_str().and_then(|u| u.rsplit('/').next()) else {
                    continue;
                };
                let key = ExportContext::file_key(id, name)?;
                let url = self.urls.read_url(tenant, &key, ttl).await?;
                entry["url"] = Value::String(url);
            }
        }
        manifest["requiresAccessToken"] = Value::Bool(false);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use hearth_store::BlobKey;
    use serde_json::json;

    struct Fake;

    #[async_trait]
    impl BlobUrls for Fake {
        async fn read_url(
            &self,
            tenant: &TenantId,
            key: &BlobKey,
            ttl: Duration,
        ) -> Result<String, StoreError> {
            Ok(format!(
                "https://blobs/{tenant}/{}?ttl={}",
                key.as_str(),
                ttl.as_secs()
            ))
        }
    }

    fn links(ttl: u64) -> PresignedLinks {
        PresignedLinks {
            urls: Arc::new(Fake),
            ttl: Duration::from_secs(ttl),
        }
    }

    #[test]
    fn a_link_lives_no_longer_than_its_export_nor_seven_days() {
        let now = Utc::now();
        let check = |ttl: u64, expires_in: i64, expected: u64| {
            let expires = now + chrono::Duration::seconds(expires_in);
            assert_eq!(
                links(ttl).lifetime(now, expires),
                Duration::from_secs(expected),
                "ttl {ttl}, expires in {expires_in}"
            );
        };
        check(3600, 86_400, 3600);
        check(3600, 600, 600);
        check(30 * 86_400, 60 * 86_400, 7 * 86_400);
        check(3600, -5, 1);
    }

    #[tokio::test]
    async fn every_file_url_is_replaced_and_no_token_is_required() {
        let tenant: TenantId = "acme".parse().expect("tenant");
        let id = JobId::random();
        let mut manifest = json!({
            "requiresAccessToken": true,
            "output": [{"type": "Patient", "url": format!("http://h/tenant/acme/$export-file/{id}/Patient-1.ndjson"), "count": 2}],
            "deleted": [],
            "error": [{"type": "OperationOutcome", "url": format!("http://h/tenant/acme/$export-file/{id}/errors.ndjson"), "count": 1}],
        });
        links(60)
            .apply(&tenant, &id, &mut manifest, Duration::from_secs(60))
            .await
            .expect("apply");
        assert_eq!(manifest["requiresAccessToken"], json!(false));
        assert_eq!(
            manifest["output"][0]["url"],
            json!(format!(
                "https://blobs/acme/exports/{id}/Patient-1.ndjson?ttl=60"
            ))
        );
        assert_eq!(
            manifest["error"][0]["url"],
            json!(format!(
                "https://blobs/acme/exports/{id}/errors.ndjson?ttl=60"
            ))
        );
        assert_eq!(manifest["output"][0]["count"], json!(2));
    }
}
