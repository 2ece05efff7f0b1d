//! Reading a dead-letter queue without consuming it.
//!
//! SQS has no "peek": the messages are received (hidden for a while, so that the next
//! receive returns others), then made visible again at once (visibility 0). They stay in the
//! queue; their receive count grows, which a dead-letter queue (without a redrive policy of
//! its own) ignores. While one call reads, a concurrent call sees fewer messages.

use std::time::Duration;

use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, MessageSystemAttributeName};
use hearth_store::StoreError;

use crate::error::sdk_error;

/// How long messages stay hidden while being read.
const READ_VISIBILITY: Duration = Duration::from_secs(30);

/// SQS's largest batch.
const BATCH: usize = 10;

/// The bodies of up to `limit` messages of the queue at `url`, oldest (first sent) first.
pub(super) async fn peek(
    client: &aws_sdk_sqs::Client,
    url: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut read: Vec<(u64, String, String)> = Vec::new();
    while read.len() < limit {
        let output = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages((limit - read.len()).min(BATCH) as i32)
            .visibility_timeout(READ_VISIBILITY.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| sdk_error("read dead letters", e))?;
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let sent = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            if let (Some(receipt), Some(body)) = (message.receipt_handle, message.body) {
                read.push((sent, receipt, body));
            }
        }
    }
    release(client, url, &read).await?;
    read.sort_by_key(|(sent, _, _)| *sent);
    read.truncate(limit);
    Ok(read.into_iter().map(|(_, _, body)| body).collect())
}

/// Makes the messages read visible again.
async fn release(
    client: &aws_sdk_sqs::Client,
    url: &str,
    read: &[(u64, String, String)],
) -> Result<(), StoreError> {
    for batch in read.chunks(BATCH) {
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, (_, receipt, _))| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .build()
                    .map_err(|e| StoreError::internal("release dead letters", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("release dead letters", e))?;
    }
    Ok(())
}
