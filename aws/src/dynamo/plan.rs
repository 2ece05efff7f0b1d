//! The items of one write's transaction: for each op the new current item (conditioned on
//! the state the write read), the new version item, the previous version's `superseded`
//! mark, the chunk items of a large body, or a condition check for a delete that changes
//! nothing.

use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, PutBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use bytes::Bytes;
use hearth_fhir::VersionId;
use hearth_store::{Method, StoreError, StoredVersion, WriteKind, WriteOp, WriteOutcome};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::item::{Item, b, body_aad, index_aad, method_code, n, s};
use super::read::{instant, item_key};
use super::table::{
    BLOB, BODY, CHUNKS, CURRENT, HISTORY_KEY, ID, INDEX, LAST_UPDATED, METHOD, PK, RT, SK,
    SUPERSEDED, TENANT, TENANT_PART, TYPE_PART, VERSION, chunk_sk, history_key, pk, tenant_part,
    type_part, version_sk,
};
use hearth_store::{format_instant, stamp};

/// A sealed body up to this size is kept in the current and the version item; a larger one
/// goes to chunk items written once.
pub(crate) const INLINE_BODY: usize = 100_000;
/// Sealed bytes per chunk item (items hold at most 400 KB).
pub(crate) const CHUNK_BYTES: usize = 300_000;
/// Sealed index entries kept on the current item.
const MAX_INDEX: usize = 300_000;

/// A resource's current item, as a write needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) version: VersionId,
    pub(crate) last_updated_ms: i64,
    pub(crate) deleted: bool,
}

/// What a transaction item does, to read cancellation reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The current item (or its check): losing it means another writer won.
    Current,
    /// The previous version item must exist.
    Previous,
    Version,
    Chunk,
}

/// The condition on a resource's current item: still at the version read, or still absent.
#[derive(Debug, Clone, Copy)]
struct Condition {
    version: Option<u64>,
}

impl Condition {
    fn of(head: Option<&Head>) -> Condition {
        Condition {
            version: head.map(|h| h.version.get()),
        }
    }

    fn apply_put(self, put: PutBuilder) -> PutBuilder {
        match self.version {
            Some(v) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", n(v)),
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
        }
    }

    fn apply_check(self, check: ConditionCheckBuilder) -> ConditionCheckBuilder {
        match self.version {
            Some(v) => check
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", n(v)),
            None => check
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
        }
    }
}

pub(crate) struct Plan {
    pub(crate) items: Vec<TransactWriteItem>,
    pub(crate) roles: Vec<Role>,
    pub(crate) bytes: usize,
    pub(crate) outcomes: Vec<WriteOutcome>,
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::internal("build transaction", e)
}

fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::N(n) => n.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 8,
                }
        })
        .sum()
}

impl DynamoStore {
    pub(crate) async fn plan(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
        heads: &[Option<Head>],
    ) -> Result<Plan, StoreError> {
        let writes = |op: &WriteOp, head: &Option<Head>| {
            matches!(op.kind, WriteKind::Put { .. }) || head.is_some_and(|h| !h.deleted)
        };
        let previous: Vec<Option<i64>> = ops
            .iter()
            .zip(heads)
            .filter(|(op, head)| writes(op, head))
            .map(|(_, head)| head.map(|h| h.last_updated_ms))
            .collect();
        let mut stamps = self.clock.stamp(tenant, &previous).into_iter();
        let mut plan = Plan {
            items: Vec::new(),
            roles: Vec::new(),
            bytes: 0,
            outcomes: Vec::with_capacity(ops.len()),
        };
        for (op, head) in ops.iter().zip(heads) {
            let pk = pk(tenant, &op.key);
            let condition = Condition::of(head.as_ref());
            if !writes(op, head) {
                let check = condition.apply_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(item_key(pk, CURRENT))),
                );
                plan.items.push(
                    TransactWriteItem::builder()
                        .condition_check(check.build().map_err(build_err)?)
                        .build(),
                );
                plan.roles.push(Role::Current);
                plan.outcomes.push(WriteOutcome::Unchanged);
                continue;
            }
            let Some(at) = stamps.next() else {
                return Err(StoreError::internal("stamp versions", "too few stamps"));
            };
            let version = head.map_or(VersionId::FIRST, |h| h.version.next());
            let last_updated = instant(at.ms)?;
            let (method, plain, index, blob) = match &op.kind {
                WriteKind::Put {
                    body,
                    blob,
                    method,
                    index,
                } => {
                    let mut body = body.clone();
                    stamp(
                        op.key.rt,
                        &mut body,
                        op.key.id.as_str(),
                        version,
                        &format_instant(last_updated),
                    )?;
                    let plain = serde_json::to_vec(&body)
                        .map_err(|e| StoreError::internal("serialize resource", e))?;
                    let index = serde_json::to_vec(index)
                        .map_err(|e| StoreError::internal("serialize index entries", e))?;
                    (*method, Some(plain), Some(index), blob.clone())
                }
                WriteKind::Delete => (Method::Delete, None, None, None),
            };

            let mut current: Item = Item::new();
            current.insert(PK.into(), s(pk.clone()));
            current.insert(TENANT.into(), s(tenant.to_string()));
            current.insert(RT.into(), s(op.key.rt.as_str()));
            current.insert(ID.into(), s(op.key.id.as_str()));
            current.insert(VERSION.into(), n(version.get()));
            current.insert(LAST_UPDATED.into(), n(at.ms));
            current.insert(METHOD.into(), s(method_code(method)));
            if let Some(blob) = &blob {
                current.insert(BLOB.into(), s(blob.clone()));
            }
            let mut versioned = current.clone();
            current.insert(SK.into(), s(CURRENT));
            versioned.insert(SK.into(), s(version_sk(version)));
            versioned.insert(TYPE_PART.into(), s(type_part(tenant, &op.key)));
            versioned.insert(TENANT_PART.into(), s(tenant_part(tenant, &op.key)));
            versioned.insert(
                HISTORY_KEY.into(),
                s(history_key(at.ms, at.seq, &op.key, version)),
            );

            if let Some(plain) = &plain {
                let aad = body_aad(tenant, &op.key, version);
                let sealed = self.envelope.seal(tenant, &aad, plain).await?;
                if sealed.len() <= INLINE_BODY {
                    current.insert(BODY.into(), b(sealed.clone()));
                    versioned.insert(BODY.into(), b(sealed));
                } else {
                    let chunks: Vec<&[u8]> = sealed.chunks(CHUNK_BYTES).collect();
                    current.insert(CHUNKS.into(), n(chunks.len()));
                    versioned.insert(CHUNKS.into(), n(chunks.len()));
                    for (i, chunk) in chunks.into_iter().enumerate() {
                        let mut item = item_key(pk.clone(), &chunk_sk(version, i));
                        item.insert(BODY.into(), b(chunk.to_vec()));
                        self.push_put(&mut plan, item, Role::Chunk, None)?;
                    }
                }
            }
            if let Some(index) = &index {
                let aad = index_aad(tenant, &op.key, version);
                let sealed = self.envelope.seal(tenant, &aad, index).await?;
                if sealed.len() > MAX_INDEX {
                    return Err(StoreError::Invalid(format!(
                        "the search index entries of {}/{} take {} KB; the DynamoDB backend holds at most {} KB",
                        op.key.rt,
                        op.key.id,
                        sealed.len() / 1000,
                        MAX_INDEX / 1000
                    )));
                }
                current.insert(INDEX.into(), b(sealed));
            }

            self.push_put(&mut plan, current, Role::Current, Some(condition))?;
            self.push_put(&mut plan, versioned, Role::Version, None)?;
            if let Some(h) = head {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(item_key(pk.clone(), &version_sk(h.version))))
                    .update_expression("SET #sup = :sup")
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#sup", SUPERSEDED)
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":sup", n(at.ms))
                    .build()
                    .map_err(build_err)?;
                plan.items
                    .push(TransactWriteItem::builder().update(update).build());
                plan.roles.push(Role::Previous);
                plan.bytes += 100;
            }
            plan.outcomes.push(WriteOutcome::Written {
                version: StoredVersion {
                    key: op.key.clone(),
                    version,
                    last_updated,
                    method,
                    body: plain.map(Bytes::from),
                    blob,
                },
                created: head.is_none_or(|h| h.deleted),
            });
        }
        Ok(plan)
    }

    fn push_put(
        &self,
        plan: &mut Plan,
        item: Item,
        role: Role,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        plan.bytes += item_size(&item);
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(condition) = condition {
            put = condition.apply_put(put);
        }
        plan.items.push(
            TransactWriteItem::builder()
                .put(put.build().map_err(build_err)?)
                .build(),
        );
        plan.roles.push(role);
        Ok(())
    }
}
