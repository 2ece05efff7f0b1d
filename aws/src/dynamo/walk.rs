//! A walk over one key range (a history index partition, or one resource's versions),
//! fetched page by page as it is consumed, with the `since` and `at` filters.

use std::collections::VecDeque;

use aws_sdk_dynamodb::types::Select;

use super::DynamoStore;
use super::item::{Item, n, s};
use super::table::{LAST_UPDATED, SUPERSEDED};
use crate::error::sdk_error;
use hearth_store::StoreError;

/// Items per page asked of the service (it also stops at 1 MB).
const PAGE: usize = 1000;

#[derive(Debug, Clone)]
pub(crate) struct Range {
    /// The index queried, or the table.
    pub(crate) index: Option<&'static str>,
    pub(crate) part_attr: &'static str,
    pub(crate) part: String,
    pub(crate) sort_attr: &'static str,
    /// Inclusive bounds of the sort key.
    pub(crate) lo: String,
    pub(crate) hi: String,
    /// A sort key value to leave out (the exclusive end of a cursor).
    pub(crate) skip: Option<String>,
    pub(crate) forward: bool,
    /// Only versions with `last_updated >= since` (ms).
    pub(crate) since: Option<i64>,
    /// Only versions still current after this instant (ms): not superseded, or superseded
    /// later.
    pub(crate) current_after: Option<i64>,
}

pub(crate) struct Walk {
    range: Range,
    buffer: VecDeque<Item>,
    start: Option<Item>,
    done: bool,
}

impl Range {
    /// Bounds that cross hold nothing (and the service refuses them).
    fn is_empty(&self) -> bool {
        self.lo > self.hi
    }

    fn query(
        &self,
        store: &DynamoStore,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut q = store
            .client
            .query()
            .table_name(&store.table)
            .set_index_name(self.index.map(str::to_owned))
            .key_condition_expression("#p = :p AND #s BETWEEN :lo AND :hi")
            .expression_attribute_names("#p", self.part_attr)
            .expression_attribute_names("#s", self.sort_attr)
            .expression_attribute_values(":p", s(self.part.clone()))
            .expression_attribute_values(":lo", s(self.lo.clone()))
            .expression_attribute_values(":hi", s(self.hi.clone()))
            .scan_index_forward(self.forward);
        if self.index.is_none() {
            q = q.consistent_read(true);
        }
        let mut filters = Vec::new();
        if let Some(since) = self.since {
            filters.push("#lu >= :since");
            q = q
                .expression_attribute_names("#lu", LAST_UPDATED)
                .expression_attribute_values(":since", n(since));
        }
        if let Some(after) = self.current_after {
            filters.push("(attribute_not_exists(#sup) OR #sup > :after)");
            q = q
                .expression_attribute_names("#sup", SUPERSEDED)
                .expression_attribute_values(":after", n(after));
        }
        if !filters.is_empty() {
            q = q.filter_expression(filters.join(" AND "));
        }
        q
    }

    /// The number of items in the range (ignoring `skip`).
    pub(crate) async fn count(&self, store: &DynamoStore) -> Result<u64, StoreError> {
        if self.is_empty() {
            return Ok(0);
        }
        let mut total = 0u64;
        let mut start = None;
        loop {
            let out = self
                .query(store)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("count history", e))?;
            total += u64::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }
}

impl Walk {
    pub(crate) fn new(range: Range) -> Walk {
        Walk {
            range,
            buffer: VecDeque::new(),
            start: None,
            done: false,
        }
    }

    /// Fetches until an item is buffered or the range is exhausted.
    pub(crate) async fn fill(
        &mut self,
        store: &DynamoStore,
        want: usize,
    ) -> Result<(), StoreError> {
        if self.range.is_empty() {
            self.done = true;
        }
        while self.buffer.is_empty() && !self.done {
            let out = self
                .range
                .query(store)
                .limit(want.clamp(1, PAGE) as i32 + 1)
                .set_exclusive_start_key(self.start.take())
                .send()
                .await
                .map_err(|e| sdk_error("read history", e))?;
            let skip = self.range.skip.as_deref();
            let sort_attr = self.range.sort_attr;
            self.buffer
                .extend(out.items.unwrap_or_default().into_iter().filter(|item| {
                    skip.is_none_or(|skip| match item.get(sort_attr) {
                        Some(aws_sdk_dynamodb::types::AttributeValue::S(key)) => key != skip,
                        _ => true,
                    })
                }));
            self.start = out.last_evaluated_key;
            self.done = self.start.is_none();
        }
        Ok(())
    }

    pub(crate) fn peek(&self) -> Option<&Item> {
        self.buffer.front()
    }

    pub(crate) fn pop(&mut self) -> Option<Item> {
        self.buffer.pop_front()
    }

    /// Nothing buffered and nothing left to fetch.
    pub(crate) fn is_exhausted(&self) -> bool {
        self.done && self.buffer.is_empty()
    }
}
