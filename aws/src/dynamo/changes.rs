//! Export reads: snapshots and the resources of one type as of a snapshot.
//!
//! A snapshot is an instant `U` (ms): the state it holds is, for each resource, the version
//! with the latest `last_updated <= U`. The snapshot waits until the wall clock has passed
//! `U`, so every write this process starts afterwards gets a later instant. Writes take their
//! instant before they commit, and the history index is updated asynchronously, so a write
//! stamped at or before `U` may become visible a little after the snapshot: `changes` reads
//! no earlier than [`SETTLE`] after `U`, by which time such writes have landed. A write that
//! takes longer than that from stamp to commit (or index) may be missed by an export; the
//! window is generous for DynamoDB, whose requests time out well within it.
//!
//! A staged write is seen once applied; one committed but left unapplied by a dead writer
//! is completed when a snapshot is taken.
//!
//! `changes` walks the type's shards of `by_type` one after another in history-key order,
//! reading version items with `since <= last_updated <= U` that were not superseded by `U`;
//! a query for one slice walks only that shard (export tasks read the shards in parallel).

use std::time::Duration;

use chrono::Utc;
use hearth_store::{ChangesPage, ChangesQuery, Snapshot, StoreError};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::cursor::{changes_cursor, mark, parse_changes_cursor, parse_mark};
use super::history::ceil_ms;
use super::item::{row_of, string};
use super::read::instant;
use super::table::{
    BY_TYPE, HISTORY_KEY, SHARDS, TYPE_PART, history_ceiling, history_floor, type_part_of,
};
use super::walk::{Range, Walk};

/// How long after a snapshot's instant its writes are surely visible.
pub const SETTLE: Duration = Duration::from_secs(2);

impl DynamoStore {
    pub(crate) async fn snapshot_of(&self, tenant: &TenantId) -> Result<Snapshot, StoreError> {
        // Staged writes committed by writers that died before applying them belong before
        // the snapshot: complete them first.
        self.recover(tenant).await?;
        let now = Utc::now().timestamp_millis();
        let at = self.clock.floor(tenant).map_or(now, |floor| floor.max(now));
        while Utc::now().timestamp_millis() <= at {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Snapshot {
            mark: mark(at),
            at: instant(at)?,
        })
    }

    pub(crate) async fn changes_page(
        &self,
        tenant: &TenantId,
        q: &ChangesQuery,
    ) -> Result<ChangesPage, StoreError> {
        let upto = parse_mark(&q.upto)?;
        // A slice is one shard: its resources, in the shard's own order.
        let (first, end) = match q.slice {
            Some(slice) if slice < SHARDS => (slice, slice + 1),
            Some(slice) => {
                return Err(StoreError::Invalid(format!(
                    "changes slice {slice} of {SHARDS}"
                )));
            }
            None => (0, SHARDS),
        };
        let (mut shard, mut after) = match &q.cursor {
            Some(cursor) => parse_changes_cursor(cursor)?,
            None => (first, None),
        };
        if shard < first || shard >= end {
            return Err(StoreError::Invalid(
                "changes cursor of another slice".into(),
            ));
        }
        let settled = upto.saturating_add(SETTLE.as_millis() as i64);
        let wait = settled - Utc::now().timestamp_millis();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        let at = q
            .until
            .map_or(upto, |until| upto.min(until.timestamp_millis()));
        let lo = q
            .since
            .map_or_else(|| "0".to_owned(), |s| history_floor(ceil_ms(s)));
        let count = q.count.max(1);
        let (mut versions, mut bytes) = (Vec::new(), 0usize);
        while shard < end {
            let mut walk = Walk::new(Range {
                index: Some(BY_TYPE),
                part_attr: TYPE_PART,
                part: type_part_of(tenant, q.rt.as_str(), shard),
                sort_attr: HISTORY_KEY,
                lo: after.clone().map_or(lo.clone(), |a| a.max(lo.clone())),
                hi: history_ceiling(at),
                skip: after.clone(),
                forward: true,
                since: None,
                current_after: Some(at),
            });
            loop {
                walk.fill(self, count - versions.len()).await?;
                let Some(item) = walk.pop() else { break };
                let key = string(&item, HISTORY_KEY)?.to_owned();
                let version = self.open_row(tenant, row_of(&item)?).await?;
                bytes += version.body.as_ref().map_or(0, |b| b.len());
                versions.push(version);
                if versions.len() == count || bytes >= q.max_bytes.max(1) {
                    let next = if walk.is_exhausted() && shard + 1 == end {
                        None
                    } else {
                        Some(changes_cursor(shard, Some(&key)))
                    };
                    return Ok(ChangesPage { versions, next });
                }
            }
            shard += 1;
            after = None;
        }
        Ok(ChangesPage {
            versions,
            next: None,
        })
    }
}
