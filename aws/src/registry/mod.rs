//! The deployment's registries in the resource table, shared by every API task: the tenant
//! directory ([`DynamoTenantDirectory`]), the SMART backend-services clients
//! ([`DynamoClientRegistry`]), the client-assertion replay guard ([`DynamoReplayGuard`]) and
//! the signing keys ([`DynamoDeploymentKeys`]).
//!
//! Their partition keys start with `_`, which no tenant id does, so they never meet a
//! resource's `{tenant}#{type}#{id}`; they carry none of the history-index attributes (so no
//! export or tenant purge reads them) and their sort keys are never `cur` (so the stream
//! pipe's filter and the stream pump drop their changes):
//!
//! - a tenant: pk `_tenants`, sk `{tenant}`, with `name`, `status`, `created`. One partition,
//!   so `list` is one query in id order, never a scan;
//! - a client: pk `_clients`, sk `{client_id}`, with its tenant `t` and the record `doc`: the
//!   conditional put on this item makes a client id unique in the deployment; and pk
//!   `_clients#{tenant}`, sk `{client_id}`, with `doc`, for the tenant's list. Both are written
//!   and deleted in one transaction;
//! - a used client assertion: pk `_jti#{sha256(client_id, jti)}`, sk `jti`, with `client` and
//!   `expires_at` (epoch seconds, the table's TTL attribute): a conditional put, so the first
//!   use wins across tasks; an item past `expires_at` that TTL has not removed yet is
//!   overwritten;
//! - a signing key: pk `_keys`, sk `{purpose}` (`token-signing`, `url-signing`), with `kid`,
//!   `alg`, `created` and the key sealed under the platform KMS key (`wrapped`, `sealed`): a
//!   conditional put, so the first task to start creates the deployment's key ([`keys`]).

mod clients;
pub mod keys;
pub mod platform_seal;
mod replay;
mod tenants;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification, TimeToLiveStatus};
use hearth_store::StoreError;

use crate::error::sdk_error;

pub use clients::DynamoClientRegistry;
pub use keys::{DynamoDeploymentKeys, KeyPurpose};
pub use platform_seal::provision_platform_key;
pub use replay::DynamoReplayGuard;
pub use tenants::DynamoTenantDirectory;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
/// The TTL attribute of the resource table (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";

pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(crate) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

pub(crate) fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// Every item of the partition `pk`, read strongly consistent page after page, in sort-key
/// order (one Query per page, never a Scan).
pub(crate) async fn partition(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    what: &str,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?;
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(last) if !last.is_empty() => start = Some(last),
            _ => return Ok(items),
        }
    }
}

/// Turns on the table's TTL on [`EXPIRES_AT`] unless it is on (for emulators and first runs;
/// the deployment template declares it).
pub async fn enable_ttl(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StoreError> {
    let described = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error("describe table ttl", e))?;
    let status = described
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(EXPIRES_AT)
        .enabled(true)
        .build()
        .map_err(|e| StoreError::internal("describe table ttl", e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| sdk_error("enable table ttl", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_keys_never_meet_a_resource_key() {
        for pk in ["_tenants", "_clients", "_clients#acme", "_jti#00", "_keys"] {
            assert!(pk.parse::<hearth_tenancy::TenantId>().is_err(), "{pk}");
            let first = pk.split('#').next().unwrap_or_default();
            assert!(first.parse::<hearth_tenancy::TenantId>().is_err(), "{pk}");
        }
    }
}
