//! The local stream pump (`hearth worker stream-pump`): reads the resource table's DynamoDB
//! stream and sends each change of a resource's current item to the index queue as an
//! [`IndexEvent`], the message the EventBridge Pipe sends in AWS (which has no emulator).
//!
//! It starts from the oldest record the stream retains (24 hours) and follows every shard,
//! children after their parents finish. Replaying records is harmless (the indexer reads the
//! current version and the index keeps the highest one), so the pump keeps its positions in
//! memory only: a restarted pump replays what the stream still holds, and nothing is lost.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use hearth_store::{INDEX_QUEUE, IndexEvent, JobQueue, StoreError};

use crate::error::sdk_error;

/// Records read per call (the API's maximum).
const RECORDS_PER_CALL: i32 = 1000;

pub struct StreamPump {
    dynamo: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
    queue: Arc<dyn JobQueue>,
    /// Open shard iterators, by shard id.
    iterators: BTreeMap<String, String>,
    /// Shards read to their end.
    finished: HashSet<String>,
    /// Shard id → parent shard id, of the shards seen.
    parents: BTreeMap<String, Option<String>>,
}

impl StreamPump {
    pub fn new(
        dynamo: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
        queue: Arc<dyn JobQueue>,
    ) -> StreamPump {
        StreamPump {
            dynamo,
            streams,
            table: table.to_owned(),
            queue,
            iterators: BTreeMap::new(),
            finished: HashSet::new(),
            parents: BTreeMap::new(),
        }
    }

    /// Pumps until the task is dropped, waiting `idle` when the stream has nothing new.
    pub async fn run(mut self, idle: Duration) {
        loop {
            match self.step().await {
                Ok(0) => tokio::time::sleep(idle).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "stream pump failed; retrying");
                    tokio::time::sleep(idle * 10).await;
                }
            }
        }
    }

    /// Reads each open shard once; returns how many events it sent.
    pub async fn step(&mut self) -> Result<usize, StoreError> {
        self.discover().await?;
        let mut sent = 0;
        let shards: Vec<(String, String)> = self
            .iterators
            .iter()
            .map(|(s, i)| (s.clone(), i.clone()))
            .collect();
        for (shard, iterator) in shards {
            let out = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(RECORDS_PER_CALL)
                .send()
                .await
                .map_err(|e| sdk_error("read stream records", e))?;
            for record in out.records() {
                if let Some(event) = event_of(record) {
                    let body = serde_json::to_string(&event)
                        .map_err(|e| StoreError::internal("encode index event", e))?;
                    self.queue.send(INDEX_QUEUE, &body).await?;
                    sent += 1;
                }
            }
            match out.next_shard_iterator() {
                Some(next) => {
                    self.iterators.insert(shard, next.to_owned());
                }
                None => {
                    self.iterators.remove(&shard);
                    self.finished.insert(shard);
                }
            }
        }
        Ok(sent)
    }

    /// Opens iterators on new shards whose parent is finished (or unknown).
    async fn discover(&mut self) -> Result<(), StoreError> {
        let table = self
            .dynamo
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk_error("describe resource table", e))?;
        let Some(arn) = table.table().and_then(|t| t.latest_stream_arn()) else {
            return Err(StoreError::internal(
                "find resource stream",
                format!("table {} has no stream", self.table),
            ));
        };
        let mut start = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("describe resource stream", e))?;
            let Some(description) = out.stream_description() else {
                break;
            };
            for shard in description.shards() {
                if let Some(id) = shard.shard_id() {
                    self.parents
                        .entry(id.to_owned())
                        .or_insert_with(|| shard.parent_shard_id().map(str::to_owned));
                }
            }
            match description.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_owned()),
                None => break,
            }
        }
        let ready: Vec<String> = self
            .parents
            .iter()
            .filter(|(id, parent)| {
                !self.iterators.contains_key(*id)
                    && !self.finished.contains(*id)
                    && parent
                        .as_ref()
                        .is_none_or(|p| self.finished.contains(p) || !self.parents.contains_key(p))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for shard in ready {
            let out = self
                .streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(&shard)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| sdk_error("open stream shard", e))?;
            match out.shard_iterator() {
                Some(iterator) => {
                    self.iterators.insert(shard, iterator.to_owned());
                }
                None => {
                    self.finished.insert(shard);
                }
            }
        }
        Ok(())
    }
}

/// The index event of a stream record, when it changed a current item.
fn event_of(record: &Record) -> Option<IndexEvent> {
    let keys = record.dynamodb()?.keys()?;
    let text = |name: &str| match keys.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let event = IndexEvent {
        pk: text("pk")?,
        sk: text("sk")?,
        event: record
            .event_name()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
    };
    event.resource().map(|_| event)
}
