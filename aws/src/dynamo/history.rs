//! History: one resource's versions (a query on its partition), or a type's or the tenant's
//! versions merged newest first from the shards of a history index.

use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use hearth_store::{HistoryPage, HistoryQuery, HistoryScope, StoreError};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::cursor::{history_cursor, parse_history_cursor};
use super::item::{Item, row_of, string};
use super::table::{
    BY_TENANT, BY_TYPE, HISTORY_KEY, PK, SHARDS, SK, TENANT_PART, TYPE_PART, history_floor, pk,
    tenant_part_of, type_part_of, version_of_history_key, version_sk,
};
use super::walk::{Range, Walk};

/// The first whole millisecond at or after `t`.
pub(crate) fn ceil_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        ms
    } else {
        ms + 1
    }
}

/// Every version item of a history index shard sorts between these.
const LOWEST: &str = "0";
const HIGHEST: &str = "~";

impl DynamoStore {
    /// The ranges a history reads; `cursor` is the history key the page starts below.
    fn history_ranges(
        tenant: &TenantId,
        scope: &HistoryScope,
        q: &HistoryQuery,
        cursor: Option<&str>,
    ) -> Result<Vec<Range>, StoreError> {
        let current_after = q.at.map(|at| at.timestamp_millis());
        let since = q.since.map(ceil_ms);
        if let HistoryScope::Instance(key) = scope {
            let end = match cursor {
                Some(cursor) => Some(
                    version_of_history_key(cursor)
                        .and_then(hearth_fhir::VersionId::new)
                        .map(version_sk)
                        .ok_or_else(|| StoreError::Invalid("malformed history cursor".into()))?,
                ),
                None => None,
            };
            return Ok(vec![Range {
                index: None,
                part_attr: PK,
                part: pk(tenant, key),
                sort_attr: SK,
                lo: "v#".into(),
                hi: end.clone().unwrap_or_else(|| "v#~".into()),
                skip: end,
                forward: false,
                since,
                current_after,
            }]);
        }
        let (index, part_attr) = match scope {
            HistoryScope::Type(_) => (BY_TYPE, TYPE_PART),
            _ => (BY_TENANT, TENANT_PART),
        };
        Ok((0..SHARDS)
            .map(|shard| Range {
                index: Some(index),
                part_attr,
                part: match scope {
                    HistoryScope::Type(rt) => type_part_of(tenant, rt.as_str(), shard),
                    _ => tenant_part_of(tenant, shard),
                },
                sort_attr: HISTORY_KEY,
                lo: since.map_or_else(|| LOWEST.to_owned(), history_floor),
                hi: cursor.unwrap_or(HIGHEST).to_owned(),
                skip: cursor.map(str::to_owned),
                forward: false,
                since: None,
                current_after,
            })
            .collect())
    }

    pub(crate) async fn history_page(
        &self,
        tenant: &TenantId,
        scope: &HistoryScope,
        q: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        let count = q.count.max(1);
        let cursor = q.cursor.as_deref().map(parse_history_cursor).transpose()?;
        let totals = Self::history_ranges(tenant, scope, q, None)?;
        let total: u64 = try_join_all(totals.iter().map(|r| r.count(self)))
            .await?
            .into_iter()
            .sum();
        let mut walks: Vec<Walk> = Self::history_ranges(tenant, scope, q, cursor.as_deref())?
            .into_iter()
            .map(Walk::new)
            .collect();
        let mut items: Vec<Item> = Vec::new();
        while items.len() <= count {
            let want = count + 1 - items.len();
            try_join_all(walks.iter_mut().map(|w| w.fill(self, want))).await?;
            let newest = walks
                .iter()
                .enumerate()
                .filter_map(|(i, w)| {
                    let key = w.peek().and_then(|item| string(item, HISTORY_KEY).ok())?;
                    Some((i, key.to_owned()))
                })
                .max_by(|a, b| a.1.cmp(&b.1));
            match newest.and_then(|(i, _)| walks[i].pop()) {
                Some(item) => items.push(item),
                None => break,
            }
        }
        let more = items.len() > count;
        items.truncate(count);
        let next = match items.last() {
            Some(last) if more => Some(history_cursor(string(last, HISTORY_KEY)?)),
            _ => None,
        };
        let mut entries = Vec::with_capacity(items.len());
        for item in &items {
            entries.push(self.open_row(tenant, row_of(item)?).await?);
        }
        Ok(HistoryPage {
            entries,
            total,
            next,
        })
    }
}
