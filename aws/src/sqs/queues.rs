//! SQS queue names, and the creation of a queue with its dead-letter queue.
//!
//! A logical queue `name` is the SQS queue `{prefix}-{name}`; its dead letters are in
//! `{prefix}-{name}-dlq` (`...-dlq.fifo` for a FIFO queue, whose name ends in `.fifo`).

use aws_sdk_sqs::types::QueueAttributeName;
use hearth_store::StoreError;

use crate::error::{error_code, sdk_error};

/// SQS's longest queue name.
const MAX_NAME: usize = 80;

/// Messages are kept 14 days, SQS's longest retention, in both queues.
const RETENTION_SECONDS: &str = "1209600";

/// The redrive policy's receive limit: only a backstop, since `receive` moves a message to
/// the dead letters after the caller's `max_attempts`.
const BACKSTOP_RECEIVES: u32 = 1000;

/// The URLs of a queue and of its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub url: String,
    pub dead_letters: String,
}

/// The SQS name of the logical queue `name`; `Invalid` for names SQS would refuse.
pub fn physical_name(prefix: &str, name: &str) -> Result<String, StoreError> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let ok = !base.is_empty()
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let physical = format!("{prefix}-{name}");
    if ok && dead_letter_name(&physical).len() <= MAX_NAME {
        Ok(physical)
    } else {
        Err(StoreError::Invalid(format!("invalid queue name '{name}'")))
    }
}

/// The name of the dead-letter queue of the SQS queue `queue`.
pub fn dead_letter_name(queue: &str) -> String {
    match queue.strip_suffix(".fifo") {
        Some(base) => format!("{base}-dlq.fifo"),
        None => format!("{queue}-dlq"),
    }
}

/// The URLs of `queue` and its dead letters, creating whichever is absent.
pub async fn resolve(client: &aws_sdk_sqs::Client, queue: &str) -> Result<QueueUrls, StoreError> {
    match (
        existing_url(client, queue).await?,
        existing_url(client, &dead_letter_name(queue)).await?,
    ) {
        (Some(url), Some(dead_letters)) => Ok(QueueUrls { url, dead_letters }),
        _ => create_queue_pair(client, queue).await,
    }
}

async fn existing_url(
    client: &aws_sdk_sqs::Client,
    queue: &str,
) -> Result<Option<String>, StoreError> {
    match client.get_queue_url().queue_name(queue).send().await {
        Ok(output) => Ok(output.queue_url),
        Err(e) if is_missing_queue(error_code(&e)) => Ok(None),
        Err(e) => Err(sdk_error("look up queue", e)),
    }
}

fn is_missing_queue(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
    )
}

/// Creates `queue` and its dead-letter queue when absent (idempotent); returns their URLs.
pub async fn create_queue_pair(
    client: &aws_sdk_sqs::Client,
    queue: &str,
) -> Result<QueueUrls, StoreError> {
    let fifo = queue.ends_with(".fifo");
    let dead_letters = create_queue(client, &dead_letter_name(queue), fifo, None).await?;
    let arn = client
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("read dead-letter queue arn", e))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| StoreError::internal("read dead-letter queue arn", "no arn"))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": BACKSTOP_RECEIVES,
    });
    let url = create_queue(client, queue, fifo, Some(redrive.to_string())).await?;
    Ok(QueueUrls { url, dead_letters })
}

/// Creates one queue; when a queue of that name exists already (perhaps with other
/// attributes, made by a deployment template), returns its URL.
async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    fifo: bool,
    redrive: Option<String>,
) -> Result<String, StoreError> {
    let mut request = client.create_queue().queue_name(name).attributes(
        QueueAttributeName::MessageRetentionPeriod,
        RETENTION_SECONDS,
    );
    if fifo {
        request = request
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
    }
    if let Some(policy) = redrive {
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy);
    }
    match request.send().await {
        Ok(output) => output
            .queue_url
            .ok_or_else(|| StoreError::internal("create queue", "no queue url")),
        Err(e)
            if matches!(
                error_code(&e),
                Some("QueueAlreadyExists" | "QueueNameExists")
            ) =>
        {
            existing_url(client, name)
                .await?
                .ok_or_else(|| StoreError::Busy(format!("queue {name} is being deleted")))
        }
        Err(e) => Err(sdk_error("create queue", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(physical_name("hearth", "export").unwrap(), "hearth-export");
        assert_eq!(dead_letter_name("hearth-export"), "hearth-export-dlq");
        assert_eq!(dead_letter_name("hearth-ix.fifo"), "hearth-ix-dlq.fifo");
        assert_eq!(
            physical_name("hearth", "ix.fifo").unwrap(),
            "hearth-ix.fifo"
        );
        for bad in ["", "a b", "a/b", ".fifo", &"x".repeat(80)] {
            assert!(physical_name("hearth", bad).is_err(), "{bad:?}");
        }
    }
}
