//! `JobQueue` on SQS: a standard queue per logical queue name, each with a dead-letter queue,
//! created on first use (or by provisioning).
//!
//! Three rules of the port are kept by the adapter rather than by SQS:
//! - **Attempts.** `receive` reads `ApproximateReceiveCount`; a message received more than
//!   `max_attempts` times is sent to the dead-letter queue and deleted, whatever the redrive
//!   policy says (the policy's own limit is only a backstop).
//! - **Stale receipts.** SQS accepts an old receipt handle for a message that was delivered
//!   again, and would delete or hide the new delivery. The adapter therefore keeps the
//!   deadline of each receipt it handed out, and treats a receipt as current only while that
//!   deadline (measured from before the request, so never later than SQS's) has not passed:
//!   until then SQS cannot have delivered the message again. A late `ack` is ignored (the
//!   message comes back: at-least-once) and a late `extend` returns `Ok(false)`. Receipts are
//!   therefore valid only in the process that received them.
//! - **Granularity.** SQS counts visibility in whole seconds: a visibility is rounded up.

mod dead_letters;
mod queues;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use hearth_store::{Delivery, JobQueue, StoreError};
use tokio::sync::OnceCell;

use crate::config::{AwsClients, AwsConfig};
use crate::error::{error_code, sdk_error};
pub use queues::{QueueUrls, create_queue_pair, dead_letter_name};

/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECONDS: i32 = 43_200;

/// Error codes of a receipt handle SQS no longer knows.
const STALE_RECEIPT_CODES: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "InvalidParameterValue",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
];

/// Job queues on SQS.
#[derive(Debug, Clone)]
pub struct SqsJobQueue {
    client: aws_sdk_sqs::Client,
    prefix: String,
    /// Long-poll wait of `receive` (0: answer at once).
    wait_seconds: i32,
    urls: Arc<Mutex<HashMap<String, Arc<OnceCell<QueueUrls>>>>>,
    /// The visibility deadline of every receipt this process handed out and has not acked.
    leases: Arc<Mutex<HashMap<String, Instant>>>,
}

impl SqsJobQueue {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> SqsJobQueue {
        SqsJobQueue {
            client: clients.sqs.clone(),
            prefix: config.prefix.clone(),
            wait_seconds: 0,
            urls: Arc::default(),
            leases: Arc::default(),
        }
    }

    /// Makes `receive` wait up to `wait` (whole seconds, at most 20) for a message: fewer
    /// empty requests on an idle queue, and no missed messages on SQS's sampled short polls.
    pub fn with_long_poll(mut self, wait: Duration) -> SqsJobQueue {
        self.wait_seconds = wait.as_secs().min(20) as i32;
        self
    }

    /// The URLs of the logical queue `name`, created on first use and cached.
    async fn urls(&self, name: &str) -> Result<QueueUrls, StoreError> {
        let cell = {
            let mut urls = self
                .urls
                .lock()
                .map_err(|e| StoreError::internal("lock queue urls", e))?;
            Arc::clone(urls.entry(name.to_owned()).or_default())
        };
        let urls = cell
            .get_or_try_init(|| async {
                let physical = queues::physical_name(&self.prefix, name)?;
                queues::resolve(&self.client, &physical).await
            })
            .await?;
        Ok(urls.clone())
    }

    fn leases(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Instant>>, StoreError> {
        self.leases
            .lock()
            .map_err(|e| StoreError::internal("lock queue receipts", e))
    }

    /// Whether `receipt` is one of ours whose visibility has not ended.
    fn is_current(&self, receipt: &str) -> Result<bool, StoreError> {
        let now = Instant::now();
        Ok(self
            .leases()?
            .get(receipt)
            .is_some_and(|deadline| *deadline > now))
    }

    /// Moves a message delivered too often to the dead letters: sent there, then deleted.
    async fn bury(&self, urls: &QueueUrls, body: &str, receipt: &str) -> Result<(), StoreError> {
        let mut send = self
            .client
            .send_message()
            .queue_url(&urls.dead_letters)
            .message_body(body);
        if urls.dead_letters.ends_with(".fifo") {
            let id = uuid::Uuid::new_v4().simple().to_string();
            send = send.message_group_id("dead").message_deduplication_id(id);
        }
        send.send()
            .await
            .map_err(|e| sdk_error("send dead letter", e))?;
        match self
            .client
            .delete_message()
            .queue_url(&urls.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_stale(error_code(&e)) => Ok(()),
            Err(e) => Err(sdk_error("delete dead message", e)),
        }
    }
}

fn is_stale(code: Option<&str>) -> bool {
    code.is_some_and(|code| STALE_RECEIPT_CODES.contains(&code))
}

/// `visibility` in SQS's whole seconds, rounded up.
fn visibility_seconds(visibility: Duration) -> i32 {
    let seconds = visibility.as_secs() + u64::from(visibility.subsec_nanos() > 0);
    seconds.min(MAX_VISIBILITY_SECONDS as u64) as i32
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, queue: &str, body: &str) -> Result<(), StoreError> {
        let urls = self.urls(queue).await?;
        let mut request = self
            .client
            .send_message()
            .queue_url(&urls.url)
            .message_body(body);
        if urls.url.ends_with(".fifo") {
            // Jobs carry no order between them: each is its own group.
            let id = uuid::Uuid::new_v4().simple().to_string();
            request = request
                .message_group_id(id.clone())
                .message_deduplication_id(id);
        }
        request
            .send()
            .await
            .map_err(|e| sdk_error("send message", e))?;
        Ok(())
    }

    async fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        max_attempts: u32,
    ) -> Result<Option<Delivery>, StoreError> {
        let urls = self.urls(queue).await?;
        loop {
            let started = Instant::now();
            let output = self
                .client
                .receive_message()
                .queue_url(&urls.url)
                .max_number_of_messages(1)
                .visibility_timeout(visibility_seconds(visibility))
                .wait_time_seconds(self.wait_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| sdk_error("receive message", e))?;
            let Some(message) = output.messages.and_then(|m| m.into_iter().next()) else {
                return Ok(None);
            };
            let (Some(receipt), Some(body)) = (message.receipt_handle, message.body) else {
                return Err(StoreError::internal(
                    "receive message",
                    "no receipt or body",
                ));
            };
            let attempts = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|count| count.parse::<u32>().ok())
                .ok_or_else(|| StoreError::internal("receive message", "no receive count"))?;
            if attempts > max_attempts {
                tracing::warn!(queue, attempts, "message moved to dead letters");
                self.bury(&urls, &body, &receipt).await?;
                continue;
            }
            let mut leases = self.leases()?;
            let now = Instant::now();
            leases.retain(|_, deadline| *deadline > now);
            leases.insert(receipt.clone(), started + visibility);
            return Ok(Some(Delivery {
                receipt,
                body,
                attempts,
            }));
        }
    }

    async fn extend(
        &self,
        queue: &str,
        receipt: &str,
        visibility: Duration,
    ) -> Result<bool, StoreError> {
        if !self.is_current(receipt)? {
            return Ok(false);
        }
        let urls = self.urls(queue).await?;
        let started = Instant::now();
        match self
            .client
            .change_message_visibility()
            .queue_url(&urls.url)
            .receipt_handle(receipt)
            .visibility_timeout(visibility_seconds(visibility))
            .send()
            .await
        {
            Ok(_) => {
                self.leases()?
                    .insert(receipt.to_owned(), started + visibility);
                Ok(true)
            }
            Err(e) if is_stale(error_code(&e)) => {
                self.leases()?.remove(receipt);
                Ok(false)
            }
            Err(e) => Err(sdk_error("extend message visibility", e)),
        }
    }

    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), StoreError> {
        if !self.is_current(receipt)? {
            tracing::debug!(queue, "stale receipt not acknowledged");
            return Ok(());
        }
        let urls = self.urls(queue).await?;
        match self
            .client
            .delete_message()
            .queue_url(&urls.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_stale(error_code(&e)) => {}
            Err(e) => return Err(sdk_error("ack message", e)),
        }
        self.leases()?.remove(receipt);
        Ok(())
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let urls = self.urls(queue).await?;
        dead_letters::peek(&self.client, &urls.dead_letters, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_rounds_up_to_seconds() {
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
        assert_eq!(visibility_seconds(Duration::from_millis(200)), 1);
        assert_eq!(visibility_seconds(Duration::from_secs(30)), 30);
        assert_eq!(visibility_seconds(Duration::from_millis(30_001)), 31);
        assert_eq!(visibility_seconds(Duration::from_secs(1 << 40)), 43_200);
    }
}
