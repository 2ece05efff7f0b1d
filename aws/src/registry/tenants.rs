//! [`TenantDirectory`] on DynamoDB: one item per tenant in the `_tenants` partition of the
//! resource table (layout in [`super`]). Creates are conditional puts, status changes and
//! deletes are conditional on the item existing (a status change also on the tenant not being
//! deleted, unless it sets `deleting`), and reads are strongly consistent, so a change made on
//! one API task is what the next lookup on any other reads.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use hearth_auth::ClientRegistry;
use hearth_store::StoreError;
use hearth_tenancy::{RegistryError, Tenant, TenantDirectory, TenantId, TenantStatus};

use super::{DynamoClientRegistry, Item, PK, key, partition, s, string};
use crate::config::{AwsClients, AwsConfig};
use crate::error::{error_code, sdk_error};

const PARTITION: &str = "_tenants";
const NAME: &str = "name";
const STATUS: &str = "status";
const CREATED: &str = "created";

/// The tenants of one AWS deployment.
#[derive(Debug, Clone)]
pub struct DynamoTenantDirectory {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// Deleting a tenant removes its registered clients.
    clients: DynamoClientRegistry,
}

fn unavailable(err: StoreError) -> RegistryError {
    RegistryError::Unavailable(err.to_string())
}

fn status_name(status: TenantStatus) -> &'static str {
    match status {
        TenantStatus::Active => "active",
        TenantStatus::Suspended => "suspended",
        TenantStatus::Deleting => "deleting",
    }
}

fn item_of(tenant: &Tenant) -> Item {
    let mut item = key(PARTITION, &tenant.id);
    item.insert(NAME.into(), s(&tenant.name));
    item.insert(STATUS.into(), s(status_name(tenant.status)));
    item.insert(CREATED.into(), s(&tenant.created));
    item
}

fn tenant_of(item: &Item) -> Result<Tenant, RegistryError> {
    let field = |name: &str| {
        string(item, name).ok_or_else(|| {
            RegistryError::Unavailable(format!("read tenant item: no string {name}"))
        })
    };
    let status = match field(STATUS)? {
        "active" => TenantStatus::Active,
        "suspended" => TenantStatus::Suspended,
        "deleting" => TenantStatus::Deleting,
        other => {
            return Err(RegistryError::Unavailable(format!(
                "read tenant item: status {other}"
            )));
        }
    };
    Ok(Tenant {
        id: field(super::SK)?.to_owned(),
        name: field(NAME)?.to_owned(),
        status,
        created: field(CREATED)?.to_owned(),
    })
}

/// The tenant's record, read strongly consistent.
pub(super) async fn read_tenant(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    tenant: &TenantId,
) -> Result<Option<Tenant>, RegistryError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(PARTITION, tenant.as_str())))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| unavailable(sdk_error("read tenant", e)))?;
    output.item.as_ref().map(tenant_of).transpose()
}

impl DynamoTenantDirectory {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> DynamoTenantDirectory {
        DynamoTenantDirectory {
            client: clients.dynamodb.clone(),
            table: config.resources_table_name(),
            clients: DynamoClientRegistry::new(clients, config),
        }
    }
}

#[async_trait]
impl TenantDirectory for DynamoTenantDirectory {
    async fn create(&self, tenant: &TenantId, name: &str) -> Result<Tenant, RegistryError> {
        let record = Tenant::new_active(tenant, name);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_of(&record)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match put {
            Ok(_) => Ok(record),
            Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => {
                Err(RegistryError::AlreadyExists(tenant.clone()))
            }
            Err(e) => Err(unavailable(sdk_error("create tenant", e))),
        }
    }

    async fn get(&self, tenant: &TenantId) -> Result<Option<Tenant>, RegistryError> {
        read_tenant(&self.client, &self.table, tenant).await
    }

    async fn list(&self) -> Result<Vec<Tenant>, RegistryError> {
        // The sort key is the id: the query returns them in order already.
        partition(&self.client, &self.table, PARTITION, "list tenants")
            .await
            .map_err(unavailable)?
            .iter()
            .map(tenant_of)
            .collect()
    }

    async fn set_status(
        &self,
        tenant: &TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, RegistryError> {
        let deleting = status_name(TenantStatus::Deleting);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(PARTITION, tenant.as_str())))
            .update_expression("SET #status = :status")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":status", s(status_name(status)))
            .return_values(ReturnValue::AllNew);
        update = if status == TenantStatus::Deleting {
            update.condition_expression("attribute_exists(#pk)")
        } else {
            // Deleting is one-way: a deletion that stopped part-way must not bring the tenant
            // back (its key may be gone, its clients are released).
            update
                .condition_expression("attribute_exists(#pk) AND #status <> :deleting")
                .expression_attribute_values(":deleting", s(deleting))
        };
        match update.send().await {
            Ok(output) => match output.attributes {
                Some(item) => tenant_of(&item),
                None => Err(RegistryError::Unavailable(
                    "update tenant: no attributes returned".into(),
                )),
            },
            Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => {
                // Which condition failed: the record says (a tenant deleted since answers
                // NotFound, as it would have).
                match self.get(tenant).await? {
                    Some(_) => Err(RegistryError::Deleting(tenant.clone())),
                    None => Err(RegistryError::NotFound(tenant.clone())),
                }
            }
            Err(e) => Err(unavailable(sdk_error("update tenant", e))),
        }
    }

    async fn delete(&self, tenant: &TenantId) -> Result<(), RegistryError> {
        // Clients first (the deletion released them already; this catches any registered
        // since): should this fail, the tenant stays (deleting) and the delete can be made
        // again.
        ClientRegistry::remove_all(&self.clients, tenant)
            .await
            .map_err(|e| RegistryError::Unavailable(e.to_string()))?;
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(PARTITION, tenant.as_str())))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => {
                Err(RegistryError::NotFound(tenant.clone()))
            }
            Err(e) => Err(unavailable(sdk_error("delete tenant", e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let tenant = Tenant {
            id: "acme".into(),
            name: "Acme".into(),
            status: TenantStatus::Suspended,
            created: "2026-01-01T00:00:00.000Z".into(),
        };
        assert_eq!(tenant_of(&item_of(&tenant)).unwrap(), tenant);
        let deleting = Tenant {
            status: TenantStatus::Deleting,
            ..tenant
        };
        assert_eq!(tenant_of(&item_of(&deleting)).unwrap(), deleting);
    }
}
