//! Running a search on a tenant index: chains and `_has` resolved to ids first (`resolve`),
//! then one page in the total order (sort keys, type, id) with `search_after` keyset paging
//! in either direction, then `_include` / `_revinclude` (`include`).

mod include;
mod resolve;

use hearth_fhir::search::query::{SearchQuery, Total};
use hearth_store::{KeyPage, ResourceKey, StoreError};
use opensearch::{OpenSearch, SearchParts};
use serde_json::{Value, json};

use crate::http::{Reply, reply};
use crate::query::{Cursor, compile, sort, sort_fields};

/// Most hits one request asks for: OpenSearch's default result window.
pub(crate) const MAX_WINDOW: usize = crate::config::MAX_INNER_LIMIT;

/// One tenant index to search.
pub(crate) struct Target<'a> {
    pub(crate) client: &'a OpenSearch,
    pub(crate) index: &'a str,
    /// Most resources a chain or `_has` may reach.
    pub(crate) inner_limit: usize,
}

impl Target<'_> {
    /// Runs a search request; `None` when the index does not exist (nothing indexed yet).
    pub(crate) async fn search(&self, body: &Value) -> Result<Option<Reply>, StoreError> {
        let sent = self
            .client
            .search(SearchParts::Index(&[self.index]))
            .body(body)
            .send()
            .await;
        let r = reply("search the index", sent).await?;
        if r.status == 404 && r.error_type() == Some("index_not_found_exception") {
            return Ok(None);
        }
        Ok(Some(r))
    }

    /// The hits of a search that must succeed (an empty list when the index does not exist).
    pub(crate) async fn hits(&self, body: &Value) -> Result<(Vec<Value>, u64), StoreError> {
        match self.search(body).await? {
            None => Ok((Vec::new(), 0)),
            Some(r) => {
                let body = r.ok("search the index")?;
                Ok((hits_of(&body), total_of(&body)))
            }
        }
    }
}

fn hits_of(body: &Value) -> Vec<Value> {
    body.pointer("/hits/hits")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn total_of(body: &Value) -> u64 {
    body.pointer("/hits/total/value")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The resource key of a hit, from its `rt` and `id` source fields.
pub(crate) fn key_of(hit: &Value) -> Result<ResourceKey, StoreError> {
    let field = |name: &str| {
        hit.pointer(&format!("/_source/{name}"))
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::internal("read a search hit", format!("no {name}")))
    };
    let rt = field("rt")?
        .parse()
        .map_err(|e| StoreError::internal("read a search hit", e))?;
    let id = field("id")?
        .parse()
        .map_err(|e| StoreError::internal("read a search hit", e))?;
    Ok(ResourceKey::new(rt, id))
}

/// The page of `q` from its cursor (or the first page).
pub(crate) async fn run(target: &Target<'_>, q: &SearchQuery) -> Result<KeyPage, StoreError> {
    let fields = sort_fields(&q.sort);
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, fields))
        .transpose()?;
    let now = chrono::Utc::now().timestamp_millis();
    let clauses = resolve::clauses(target, &q.types, &q.filters, now).await?;
    let backward = cursor.as_ref().is_some_and(|c| c.backward);
    let mut source = vec!["rt", "id"];
    if !q.include.is_empty() || !q.revinclude.is_empty() {
        source.extend(include::REF_FIELDS);
    }
    let mut body = json!({
        "query": compile(&q.types, &clauses, now),
        "size": if q.count == 0 { 0 } else { q.count + 1 },
        "track_total_hits": q.total != Total::None,
        "_source": source,
    });
    if q.count > 0 {
        body["sort"] = Value::Array(sort(&q.sort, backward));
        if let Some(c) = &cursor {
            body["search_after"] = Value::Array(c.key.clone());
        }
    }
    let total_of_empty = (q.total != Total::None).then_some(0);
    let Some(r) = target.search(&body).await? else {
        return Ok(KeyPage {
            total: total_of_empty,
            ..KeyPage::default()
        });
    };
    // A cursor whose values do not fit this search's sort is the caller's mistake.
    if r.status == 400
        && let Some(c) = &q.cursor
    {
        return Err(StoreError::Invalid(format!("invalid search cursor '{c}'")));
    }
    let body = r.ok("search the index")?;
    let total = (q.total != Total::None).then(|| total_of(&body));
    let mut hits = hits_of(&body);
    if q.count == 0 {
        return Ok(KeyPage {
            total,
            ..KeyPage::default()
        });
    }
    let more = hits.len() > q.count;
    hits.truncate(q.count);
    if backward {
        hits.reverse();
    }
    let cursor_at = |hit: Option<&Value>, backward: bool| {
        hit.and_then(|h| h.get("sort"))
            .and_then(Value::as_array)
            .map(|key| {
                Cursor {
                    backward,
                    key: key.clone(),
                }
                .encode()
            })
    };
    let (next, previous) = if backward {
        (
            cursor_at(hits.last(), false),
            more.then(|| cursor_at(hits.first(), true)).flatten(),
        )
    } else {
        (
            more.then(|| cursor_at(hits.last(), false)).flatten(),
            cursor
                .is_some()
                .then(|| cursor_at(hits.first(), true))
                .flatten(),
        )
    };
    let matches = hits.iter().map(key_of).collect::<Result<Vec<_>, _>>()?;
    let (included, issues) = include::run(target, q, &hits).await?;
    Ok(KeyPage {
        matches,
        included,
        total,
        next,
        previous,
        issues,
    })
}
