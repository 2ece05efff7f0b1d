//! The items of one write's single transaction: for each op the new current item
//! (conditioned on the state the write read, and on no staged write holding it), the new
//! version item, the previous version's `superseded` mark, the chunk items of a large body, or
//! a condition check for a delete that changes nothing.

use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, PutBuilder};
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};
use hearth_fhir::VersionId;
use hearth_store::{StoreError, WriteOp, WriteOutcome};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::item::{Item, n};
use super::read::item_key;
use super::table::{CURRENT, PK, SUPERSEDED, TX_LOCK, VERSION, pk};
use super::version::{Items, Step, item_size};

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

/// The condition on a resource's current item: still at the version read (or still absent,
/// a staged write's placeholder counting as absent), and not locked by a staged write.
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

    fn expression(self) -> &'static str {
        match self.version {
            Some(_) => "#v = :v AND attribute_not_exists(#txl)",
            None => "attribute_not_exists(#v) AND attribute_not_exists(#txl)",
        }
    }

    fn apply_put(self, put: PutBuilder) -> PutBuilder {
        let put = put
            .condition_expression(self.expression())
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_names("#txl", TX_LOCK);
        match self.version {
            Some(v) => put.expression_attribute_values(":v", n(v)),
            None => put,
        }
    }

    fn apply_check(self, check: ConditionCheckBuilder) -> ConditionCheckBuilder {
        let check = check
            .condition_expression(self.expression())
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_names("#txl", TX_LOCK);
        match self.version {
            Some(v) => check.expression_attribute_values(":v", n(v)),
            None => check,
        }
    }
}

pub(crate) struct Plan {
    pub(crate) items: Vec<TransactWriteItem>,
    pub(crate) roles: Vec<Role>,
    pub(crate) bytes: usize,
    pub(crate) outcomes: Vec<WriteOutcome>,
    /// The new versions, for removing the body objects of an attempt that does not commit.
    pub(crate) steps: Vec<Step>,
}

pub(crate) fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::internal("build transaction", e)
}

/// The transaction item setting `superseded` on a previous version item, which must exist.
pub(crate) fn superseded_update(
    table: &str,
    key: Item,
    ms: i64,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression("SET #sup = :sup")
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#sup", SUPERSEDED)
        .expression_attribute_names("#pk", PK)
        .expression_attribute_values(":sup", n(ms))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// A transaction item putting `item` unconditionally.
pub(crate) fn plain_put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    /// The single transaction of `ops` over the current state `heads`.
    pub(crate) async fn plan(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
        heads: &[Option<Head>],
    ) -> Result<Plan, StoreError> {
        let (steps, outcomes) = self.seal_ops(tenant, ops, heads).await?;
        match self.lay_out(tenant, ops, heads, &steps, outcomes) {
            Ok(mut plan) => {
                plan.steps = steps;
                Ok(plan)
            }
            Err(e) => {
                self.discard_body_objects(tenant, &steps).await;
                Err(e)
            }
        }
    }

    /// The transaction items of the sealed `steps`.
    fn lay_out(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
        heads: &[Option<Head>],
        steps: &[Step],
        outcomes: Vec<WriteOutcome>,
    ) -> Result<Plan, StoreError> {
        let mut plan = Plan {
            items: Vec::new(),
            roles: Vec::new(),
            bytes: 0,
            outcomes,
            steps: Vec::new(),
        };
        for ((op, head), step) in ops.iter().zip(heads).zip(steps) {
            let condition = Condition::of(head.as_ref());
            let new = match step {
                Step::Write(new) => new,
                Step::Unchanged => {
                    let check = condition.apply_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(item_key(pk(tenant, &op.key), CURRENT))),
                    );
                    plan.items.push(
                        TransactWriteItem::builder()
                            .condition_check(check.build().map_err(build_err)?)
                            .build(),
                    );
                    plan.roles.push(Role::Current);
                    continue;
                }
            };
            let Items {
                current,
                version,
                chunks,
                superseded,
            } = new.items(tenant, &op.key);
            for chunk in chunks {
                plan.bytes += item_size(&chunk);
                plan.items.push(plain_put(&self.table, chunk)?);
                plan.roles.push(Role::Chunk);
            }
            plan.bytes += item_size(&current);
            let put = condition.apply_put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(current)),
            );
            plan.items.push(
                TransactWriteItem::builder()
                    .put(put.build().map_err(build_err)?)
                    .build(),
            );
            plan.roles.push(Role::Current);
            plan.bytes += item_size(&version);
            plan.items.push(plain_put(&self.table, version)?);
            plan.roles.push(Role::Version);
            if let Some((key, ms)) = superseded {
                plan.items.push(superseded_update(&self.table, key, ms)?);
                plan.roles.push(Role::Previous);
                plan.bytes += 100;
            }
        }
        Ok(plan)
    }
}
