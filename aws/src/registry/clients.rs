//! [`ClientRegistry`] on DynamoDB (layout in [`super`]): the `_clients` item of a client id is
//! put on the condition that it does not exist, together with the tenant's listing item in one
//! transaction, so an id is unique in the deployment and the two never disagree.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use hearth_auth::{ClientRegistry, RegisteredClient, RegistryError};
use hearth_store::StoreError;
use hearth_tenancy::{TenantId, TenantStatus};

use super::{Item, PK, SK, key, partition, s, string};
use crate::config::{AwsClients, AwsConfig};
use crate::error::sdk_error;

const OWNERS: &str = "_clients";
const TENANT: &str = "t";
const DOC: &str = "doc";

fn listing(tenant: &TenantId) -> String {
    format!("{OWNERS}#{tenant}")
}

fn unavailable(err: StoreError) -> RegistryError {
    RegistryError::Unavailable(err.to_string())
}

fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, RegistryError> {
    result.map_err(|e| RegistryError::Unavailable(format!("build client write: {e}")))
}

fn client_of(item: &Item) -> Result<RegisteredClient, RegistryError> {
    let doc = string(item, DOC)
        .ok_or_else(|| RegistryError::Unavailable("read client item: no doc".into()))?;
    serde_json::from_str(doc)
        .map_err(|e| RegistryError::Unavailable(format!("read client item: {e}")))
}

/// The registered clients of one AWS deployment.
#[derive(Debug, Clone)]
pub struct DynamoClientRegistry {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// How a transaction ended.
enum Outcome {
    Done,
    /// A condition did not hold.
    ConditionFailed,
}

impl DynamoClientRegistry {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> DynamoClientRegistry {
        DynamoClientRegistry {
            client: clients.dynamodb.clone(),
            table: config.resources_table_name(),
        }
    }

    async fn transact(
        &self,
        context: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Outcome, RegistryError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Outcome::Done),
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    e.as_service_error()
                    && cancel
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed"))
                {
                    return Ok(Outcome::ConditionFailed);
                }
                Err(unavailable(sdk_error(context, e)))
            }
        }
    }
}

#[async_trait]
impl ClientRegistry for DynamoClientRegistry {
    /// `None` also for clients of a tenant that is suspended or gone: they get no tokens.
    async fn get(&self, client_id: &str) -> Result<Option<RegisteredClient>, RegistryError> {
        if client_id.is_empty() || client_id.len() > 1024 {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(OWNERS, client_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(sdk_error("read client", e)))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let client = client_of(&item)?;
        let tenant = super::tenants::read_tenant(&self.client, &self.table, &client.tenant)
            .await
            .map_err(|e| RegistryError::Unavailable(e.to_string()))?;
        Ok(tenant
            .filter(|t| t.status == TenantStatus::Active)
            .map(|_| client))
    }

    async fn register(&self, client: RegisteredClient) -> Result<(), RegistryError> {
        let doc = serde_json::to_string(&client)
            .map_err(|e| RegistryError::Unavailable(format!("encode client: {e}")))?;
        let mut owner = key(OWNERS, &client.client_id);
        owner.insert(TENANT.into(), s(client.tenant.as_str()));
        owner.insert(DOC.into(), s(&doc));
        let mut listed = key(&listing(&client.tenant), &client.client_id);
        listed.insert(DOC.into(), s(&doc));
        let owner = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(owner))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build(),
        )?;
        let listed = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(listed))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().put(owner).build(),
            TransactWriteItem::builder().put(listed).build(),
        ];
        match self.transact("register client", items).await? {
            Outcome::Done => Ok(()),
            Outcome::ConditionFailed => Err(RegistryError::Duplicate(client.client_id)),
        }
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<RegisteredClient>, RegistryError> {
        // Sorted by the sort key, the client id.
        partition(&self.client, &self.table, &listing(tenant), "list clients")
            .await
            .map_err(unavailable)?
            .iter()
            .map(client_of)
            .collect()
    }

    async fn remove(&self, tenant: &TenantId, client_id: &str) -> Result<bool, RegistryError> {
        if client_id.is_empty() || client_id.len() > 1024 {
            return Ok(false);
        }
        let owner = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(OWNERS, client_id)))
                .condition_expression("#t = :t")
                .expression_attribute_names("#t", TENANT)
                .expression_attribute_values(":t", s(tenant.as_str()))
                .build(),
        )?;
        let listed = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(&listing(tenant), client_id)))
                .condition_expression("attribute_exists(#sk)")
                .expression_attribute_names("#sk", SK)
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().delete(owner).build(),
            TransactWriteItem::builder().delete(listed).build(),
        ];
        match self.transact("remove client", items).await? {
            Outcome::Done => Ok(true),
            Outcome::ConditionFailed => Ok(false),
        }
    }
}
