//! [`ReplayGuard`] on DynamoDB (layout in [`super`]): a conditional put of the assertion's
//! item, so of any number of API tasks seeing one `(client_id, jti)`, exactly one gets `true`.
//! The key holds a SHA-256 of the pair: any `jti` fits DynamoDB's key size, and uses spread
//! over partitions.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use hearth_auth::{ReplayError, ReplayGuard};
use sha2::{Digest, Sha256};

use super::{EXPIRES_AT, PK, key, s};
use crate::config::{AwsClients, AwsConfig};
use crate::error::{error_code, sdk_error};

const SORT: &str = "jti";
const CLIENT: &str = "client";

/// `_jti#{hex sha256(client_id NUL jti)}`.
fn partition(client_id: &str, jti: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(client_id.as_bytes());
    hash.update([0]);
    hash.update(jti.as_bytes());
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("_jti#{hex}")
}

/// Used client assertions of one AWS deployment, kept until they expire (then removed by the
/// table's TTL).
#[derive(Debug, Clone)]
pub struct DynamoReplayGuard {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoReplayGuard {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> DynamoReplayGuard {
        DynamoReplayGuard {
            client: clients.dynamodb.clone(),
            table: config.resources_table_name(),
        }
    }
}

#[async_trait]
impl ReplayGuard for DynamoReplayGuard {
    async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, ReplayError> {
        let mut item = key(&partition(client_id, jti), SORT);
        item.insert(CLIENT.into(), s(client_id));
        item.insert(EXPIRES_AT.into(), AttributeValue::N(expires_at.to_string()));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(ReplayError::Unavailable(
                sdk_error("record client assertion", e).to_string(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_pair_and_bounded() {
        let a = partition("client", "jti-1");
        assert_eq!(a, partition("client", "jti-1"));
        assert_ne!(a, partition("client", "jti-2"));
        assert_ne!(partition("ab", "c"), partition("a", "bc"));
        assert_eq!(partition("c", &"x".repeat(10_000)).len(), 5 + 64);
    }
}
