//! [`OpenSearchIndex`]: the `KeyIndex` port on OpenSearch, one index per tenant named
//! `{prefix}{tenant}`, created on the first write.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use hearth_fhir::search::query::SearchQuery;
use hearth_store::{IndexDoc, KeyIndex, KeyPage, StoreError};
use hearth_tenancy::TenantId;
use opensearch::OpenSearch;
use opensearch::indices::{
    IndicesCreateParts, IndicesDeleteParts, IndicesPutMappingParts, IndicesRefreshParts,
};

use crate::config::OpenSearchConfig;
use crate::http::{client, reply};
use crate::mapping::create_body;
use crate::search::{Target, run};

pub struct OpenSearchIndex {
    client: OpenSearch,
    config: OpenSearchConfig,
    /// Indices known to exist (created by this process or found existing).
    created: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for OpenSearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSearchIndex")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenSearchIndex {
    /// An index on `config`; with `config.aws`, requests are signed with the credentials and
    /// region of the SDK's default chain (the region overridable in `config.aws`).
    pub async fn connect(config: OpenSearchConfig) -> Result<OpenSearchIndex, StoreError> {
        let sdk = match &config.aws {
            None => None,
            Some(aws) => {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(region) = &aws.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                Some(loader.load().await)
            }
        };
        OpenSearchIndex::with_sdk_config(config, sdk.as_ref())
    }

    /// An index on `config`, signing with `sdk`'s credentials and region when `config.aws`
    /// is set.
    pub fn with_sdk_config(
        config: OpenSearchConfig,
        sdk: Option<&aws_config::SdkConfig>,
    ) -> Result<OpenSearchIndex, StoreError> {
        config.validate()?;
        if config.aws.is_some() && sdk.is_none() {
            return Err(StoreError::Invalid(
                "SigV4 signing needs an AWS SDK configuration".into(),
            ));
        }
        Ok(OpenSearchIndex {
            client: client(&config, sdk)?,
            config,
            created: Mutex::new(HashSet::new()),
        })
    }

    /// The index holding `tenant`'s documents.
    pub fn index_name(&self, tenant: &TenantId) -> String {
        format!("{}{}", self.config.index_prefix, tenant)
    }

    fn known(&self, name: &str) -> bool {
        self.created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(name)
    }

    fn remember(&self, name: &str, exists: bool) {
        let mut set = self
            .created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if exists {
            set.insert(name.to_owned());
        } else {
            set.remove(name);
        }
    }

    /// Creates the tenant's index with its mappings unless it exists.
    async fn ensure_index(&self, name: &str) -> Result<(), StoreError> {
        if self.known(name) {
            return Ok(());
        }
        let sent = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(name))
            .body(create_body(self.config.replicas))
            .send()
            .await;
        let r = reply("create the tenant index", sent).await?;
        // Another writer may have created it first.
        if !r.is_success() && r.error_type() != Some("resource_already_exists_exception") {
            return Err(r.into_error("create the tenant index"));
        }
        if !r.is_success() {
            // An index made by an older version gains the fields added since (additive).
            let sent = self
                .client
                .indices()
                .put_mapping(IndicesPutMappingParts::Index(&[name]))
                .body(create_body(self.config.replicas)["mappings"].clone())
                .send()
                .await;
            let r = reply("update the tenant index mappings", sent).await?;
            if !r.is_success() {
                return Err(r.into_error("update the tenant index mappings"));
            }
        }
        self.remember(name, true);
        Ok(())
    }
}

#[async_trait]
impl KeyIndex for OpenSearchIndex {
    async fn apply(&self, tenant: &TenantId, docs: &[IndexDoc]) -> Result<(), StoreError> {
        if docs.is_empty() {
            return Ok(());
        }
        let name = self.index_name(tenant);
        self.ensure_index(&name).await?;
        crate::bulk::write(&self.client, &name, docs).await
    }

    async fn refresh(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let name = self.index_name(tenant);
        let sent = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&name]))
            .send()
            .await;
        let r = reply("refresh the tenant index", sent).await?;
        if r.status == 404 {
            return Ok(());
        }
        r.ok("refresh the tenant index").map(drop)
    }

    async fn search_keys(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
    ) -> Result<KeyPage, StoreError> {
        let index = self.index_name(tenant);
        let target = Target {
            client: &self.client,
            index: &index,
            inner_limit: self.config.inner_limit,
        };
        run(&target, query).await
    }

    async fn drop_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let name = self.index_name(tenant);
        let sent = self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[&name]))
            .send()
            .await;
        let r = reply("delete the tenant index", sent).await?;
        self.remember(&name, false);
        if r.status == 404 {
            return Ok(());
        }
        r.ok("delete the tenant index").map(drop)
    }

    async fn ready(&self) -> Result<(), StoreError> {
        let sent = self.client.ping().send().await;
        reply("reach OpenSearch", sent)
            .await?
            .ok("reach OpenSearch")
            .map(drop)
    }
}
