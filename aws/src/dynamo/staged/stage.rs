//! Staged ops: one item per op in the write's own partition `{tenant}#tx#{txid}` (sort key
//! `op#{n:06}`), holding the sealed new version exactly as it will be stored, and its sealed
//! body in pieces (`op#{n:06}#c#{k:04}`) when the op item could not hold it. Written with
//! BatchWriteItem before the commit point; read back by whoever rolls a write forward.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};
use hearth_fhir::VersionId;
use hearth_store::{ResourceKey, StoreError};
use hearth_tenancy::TenantId;

use super::super::DynamoStore;
use super::super::clock::Stamp;
use super::super::item::{Item, b, bytes, method_code, n, number, s, string};
use super::super::read::item_key;
use super::super::table::{
    BLOB, BODY, ID, INDEX, LAST_UPDATED, METHOD, OBJECT, PK, RT, SK, VERSION,
};
use super::super::version::{CHUNK_BYTES, NewVersion, Step};
use super::CONCURRENCY;
use crate::error::sdk_error;

/// What the op does: `w` writes a version, `u` changes nothing, `p` changes nothing on a
/// resource that does not exist (its lock is a placeholder).
const KIND: &str = "k";
/// The stamp's sequence number.
const SEQ: &str = "sq";
/// The previous version, when there is one.
const PREVIOUS: &str = "pv";
/// The number of pieces of the sealed body, when it is not in the op item.
const PIECES: &str = "bp";
/// A sealed body and index entries up to this size together stay in the op item.
const INLINE: usize = 350_000;
/// Requests per BatchWriteItem (the service's limit).
const BATCH: usize = 25;
/// Rounds of retrying unprocessed items before giving up as busy.
const BATCH_ROUNDS: u32 = 20;

/// One op of a staged write, as staged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StagedOp {
    pub(crate) n: usize,
    pub(crate) key: ResourceKey,
    pub(crate) step: Step,
    /// The resource did not exist: its lock is a placeholder.
    pub(crate) placeholder: bool,
}

pub(crate) fn staged_pk(tenant: &TenantId, tx: &str) -> String {
    format!("{tenant}#tx#{tx}")
}

fn op_sk(n: usize) -> String {
    format!("op#{n:06}")
}

fn piece_sk(n: usize, k: usize) -> String {
    format!("op#{n:06}#c#{k:04}")
}

fn corrupt(what: &str) -> StoreError {
    StoreError::internal("read staged op", format!("bad or missing {what}"))
}

/// The items staging `op`.
fn encode(pk: &str, op: &StagedOp) -> Vec<Item> {
    let mut item = item_key(pk.to_owned(), &op_sk(op.n));
    item.insert(RT.into(), s(op.key.rt.as_str()));
    item.insert(ID.into(), s(op.key.id.as_str()));
    let new = match &op.step {
        Step::Unchanged => {
            item.insert(KIND.into(), s(if op.placeholder { "p" } else { "u" }));
            return vec![item];
        }
        Step::Write(new) => new,
    };
    item.insert(KIND.into(), s("w"));
    item.insert(VERSION.into(), n(new.version.get()));
    item.insert(LAST_UPDATED.into(), n(new.at.ms));
    item.insert(SEQ.into(), n(new.at.seq));
    item.insert(METHOD.into(), s(method_code(new.method)));
    if let Some(blob) = &new.blob {
        item.insert(BLOB.into(), s(blob.clone()));
    }
    if let Some(previous) = new.previous {
        item.insert(PREVIOUS.into(), n(previous.get()));
    }
    let index_len = new.index.as_ref().map_or(0, Vec::len);
    if let Some(index) = &new.index {
        item.insert(INDEX.into(), b(index.clone()));
    }
    if let Some(object) = &new.object {
        item.insert(OBJECT.into(), s(object.clone()));
    }
    let mut items = Vec::new();
    match &new.body {
        Some(body) if body.len() + index_len <= INLINE => {
            item.insert(BODY.into(), b(body.clone()));
        }
        Some(body) => {
            let pieces: Vec<&[u8]> = body.chunks(CHUNK_BYTES).collect();
            item.insert(PIECES.into(), n(pieces.len()));
            for (k, piece) in pieces.into_iter().enumerate() {
                let mut chunk = item_key(pk.to_owned(), &piece_sk(op.n, k));
                chunk.insert(BODY.into(), b(piece.to_vec()));
                items.push(chunk);
            }
        }
        None => {}
    }
    items.insert(0, item);
    items
}

/// The staged op in `item`, with the pieces of its body (in order).
fn decode(item: &Item, pieces: &[Item]) -> Result<StagedOp, StoreError> {
    let sk = string(item, SK)?;
    let n = sk
        .strip_prefix("op#")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| corrupt(SK))?;
    let key = ResourceKey::new(
        string(item, RT)?.parse().map_err(|_| corrupt(RT))?,
        string(item, ID)?.parse().map_err(|_| corrupt(ID))?,
    );
    let kind = string(item, KIND)?;
    if kind != "w" {
        return Ok(StagedOp {
            n,
            key,
            step: Step::Unchanged,
            placeholder: kind == "p",
        });
    }
    let version_of = |name: &str| {
        u64::try_from(number(item, name)?)
            .ok()
            .and_then(VersionId::new)
            .ok_or_else(|| corrupt(name))
    };
    let previous = match item.get(PREVIOUS) {
        Some(_) => Some(version_of(PREVIOUS)?),
        None => None,
    };
    let body = match (bytes(item, BODY)?, item.get(PIECES)) {
        (Some(body), _) => Some(body.to_vec()),
        (None, Some(_)) => {
            let expected = usize::try_from(number(item, PIECES)?).map_err(|_| corrupt(PIECES))?;
            if pieces.len() != expected {
                return Err(corrupt("body pieces"));
            }
            let mut body = Vec::new();
            for piece in pieces {
                body.extend_from_slice(bytes(piece, BODY)?.unwrap_or_default());
            }
            Some(body)
        }
        (None, None) => None,
    };
    let method = match string(item, METHOD)? {
        "POST" => hearth_store::Method::Post,
        "PUT" => hearth_store::Method::Put,
        "DELETE" => hearth_store::Method::Delete,
        _ => return Err(corrupt(METHOD)),
    };
    Ok(StagedOp {
        n,
        key,
        step: Step::Write(NewVersion {
            version: version_of(VERSION)?,
            at: Stamp {
                ms: number(item, LAST_UPDATED)?,
                seq: string_number(item, SEQ)?,
            },
            method,
            blob: item
                .get(BLOB)
                .map(|_| string(item, BLOB).map(str::to_owned))
                .transpose()?,
            body,
            object: item
                .get(OBJECT)
                .map(|_| string(item, OBJECT).map(str::to_owned))
                .transpose()?,
            index: bytes(item, INDEX)?.map(<[u8]>::to_vec),
            previous,
        }),
        placeholder: false,
    })
}

/// A number attribute too large for `i64` (the sequence).
fn string_number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(name)),
        _ => Err(corrupt(name)),
    }
}

impl DynamoStore {
    /// Writes the staged ops of `tx`.
    pub(crate) async fn stage(
        &self,
        tenant: &TenantId,
        tx: &str,
        ops: &[StagedOp],
    ) -> Result<(), StoreError> {
        let pk = staged_pk(tenant, tx);
        let requests = ops
            .iter()
            .flat_map(|op| encode(&pk, op))
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::internal("build staged op", e))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(requests).await
    }

    /// Sends `requests` in BatchWriteItem calls, retrying what the service left unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let batches: Vec<Vec<WriteRequest>> = requests
            .chunks(BATCH)
            .map(<[WriteRequest]>::to_vec)
            .collect();
        let sends: Vec<_> = batches
            .into_iter()
            .map(|batch| self.send_batch(batch))
            .collect();
        futures::stream::iter(sends)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// One BatchWriteItem of up to 25 requests, retrying what the service left unprocessed.
    async fn send_batch(&self, batch: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut pending = batch;
        for round in 0..BATCH_ROUNDS {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|e| sdk_error("write staged ops", e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Busy(
            "batch write left items unprocessed".into(),
        ))
    }

    /// The items of `tx`'s partition with sort keys in `lo..=hi`.
    async fn staged_items(
        &self,
        tenant: &TenantId,
        tx: &str,
        lo: &str,
        hi: &str,
        keys_only: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(staged_pk(tenant, tx)))
                .expression_attribute_values(":lo", s(lo))
                .expression_attribute_values(":hi", s(hi))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            if keys_only {
                query = query.projection_expression("#pk, #sk");
            }
            let out = query
                .send()
                .await
                .map_err(|e| sdk_error("read staged ops", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// The staged ops of `tx` numbered `from..to`, in order.
    pub(crate) async fn staged_ops(
        &self,
        tenant: &TenantId,
        tx: &str,
        from: usize,
        to: usize,
    ) -> Result<Vec<StagedOp>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let items = self
            .staged_items(tenant, tx, &op_sk(from), &piece_sk(to - 1, 9999), false)
            .await?;
        let mut ops = Vec::new();
        let mut pieces: HashMap<usize, Vec<Item>> = HashMap::new();
        let mut heads = Vec::new();
        for item in items {
            let sk = string(&item, SK)?.to_owned();
            match sk.split_once("#c#") {
                Some((op, _)) => {
                    let n = op
                        .strip_prefix("op#")
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| corrupt(SK))?;
                    pieces.entry(n).or_default().push(item);
                }
                None => heads.push(item),
            }
        }
        for item in &heads {
            let sk = string(item, SK)?;
            let n: usize = sk[3..].parse().map_err(|_| corrupt(SK))?;
            ops.push(decode(item, pieces.get(&n).map_or(&[][..], Vec::as_slice))?);
        }
        Ok(ops)
    }

    /// Deletes everything staged for `tx`, then its record.
    pub(crate) async fn discard(&self, tenant: &TenantId, tx: &str) -> Result<(), StoreError> {
        let items = self.staged_items(tenant, tx, "op#", "op#~", true).await?;
        let requests = items
            .into_iter()
            .map(|key| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map_err(|e| StoreError::internal("build staged op delete", e))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(requests).await?;
        self.delete_record(tenant, tx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_store::Method;

    #[test]
    fn staged_ops_round_trip() {
        let key = ResourceKey::new("Patient".parse().unwrap(), "p1".parse().unwrap());
        let new = |body: usize| NewVersion {
            version: VersionId::new(3).unwrap(),
            at: Stamp {
                ms: 1_700_000_000_123,
                seq: u64::MAX - 1,
            },
            method: Method::Put,
            blob: Some("blob-1".into()),
            body: Some(vec![7; body]),
            object: None,
            index: Some(vec![1, 2, 3]),
            previous: VersionId::new(2),
        };
        let cases = [
            (Step::Write(new(10)), false, 1),
            (Step::Write(new(INLINE + 1)), false, 3),
            (Step::Unchanged, true, 1),
            (Step::Unchanged, false, 1),
        ];
        for (step, placeholder, items) in cases {
            let op = StagedOp {
                n: 42,
                key: key.clone(),
                step,
                placeholder,
            };
            let encoded = encode("t#tx#x", &op);
            assert_eq!(encoded.len(), items);
            assert_eq!(decode(&encoded[0], &encoded[1..]).unwrap(), op);
        }
    }
}
