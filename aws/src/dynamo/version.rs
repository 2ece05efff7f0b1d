//! New versions, sealed: what both write paths store for an op (stamped body, sealed body and
//! index entries), and the items that hold it (current item, version item, chunk items, the
//! previous version's `superseded` mark). The single-transaction path writes them at once; a
//! staged write stages the sealed fields and lays out the same items when it applies them.

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use hearth_fhir::VersionId;
use hearth_store::{
    Method, ResourceKey, StoreError, StoredVersion, WriteKind, WriteOp, WriteOutcome,
    format_instant, stamp,
};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::clock::Stamp;
use super::item::{Item, b, body_aad, index_aad, method_code, n, s};
use super::plan::Head;
use super::read::{instant, item_key};
use super::table::{
    BLOB, BODY, CHUNKS, CURRENT, HISTORY_KEY, ID, INDEX, LAST_UPDATED, METHOD, OBJECT, PK, RT, SK,
    TENANT, TENANT_PART, TYPE_PART, VERSION, chunk_sk, history_key, pk, tenant_part, type_part,
    version_sk,
};

/// A sealed body up to this size is kept in the current and the version item; a larger one
/// goes to chunk items written once.
pub(crate) const INLINE_BODY: usize = 100_000;
/// Sealed bytes per chunk item (items hold at most 400 KB).
pub(crate) const CHUNK_BYTES: usize = 300_000;
/// Sealed index entries kept on the current item.
const MAX_INDEX: usize = 300_000;

/// One op's new version, sealed and stamped, not yet stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewVersion {
    pub(crate) version: VersionId,
    pub(crate) at: Stamp,
    pub(crate) method: Method,
    pub(crate) blob: Option<String>,
    /// The sealed body; `None` for a delete or when it is in `object`.
    pub(crate) body: Option<Vec<u8>>,
    /// The blob-store object holding the sealed body, when it is too large for items.
    pub(crate) object: Option<String>,
    /// The sealed index entries; `None` for a delete.
    pub(crate) index: Option<Vec<u8>>,
    /// The version this one replaces, if any.
    pub(crate) previous: Option<VersionId>,
}

/// What one op does to its resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Write(NewVersion),
    /// A delete of an absent or deleted resource: nothing is written.
    Unchanged,
}

/// The items that store one new version.
pub(crate) struct Items {
    pub(crate) current: Item,
    pub(crate) version: Item,
    pub(crate) chunks: Vec<Item>,
    /// The key of the previous version item and the `superseded` instant to set on it.
    pub(crate) superseded: Option<(Item, i64)>,
}

/// An estimate of an item's size as DynamoDB counts it.
pub(crate) fn item_size(item: &Item) -> usize {
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

impl NewVersion {
    /// The items holding this version of `key`, laid out as every reader expects them.
    pub(crate) fn items(&self, tenant: &TenantId, key: &ResourceKey) -> Items {
        let pk = pk(tenant, key);
        let mut current: Item = Item::new();
        current.insert(PK.into(), s(pk.clone()));
        current.insert(TENANT.into(), s(tenant.to_string()));
        current.insert(RT.into(), s(key.rt.as_str()));
        current.insert(ID.into(), s(key.id.as_str()));
        current.insert(VERSION.into(), n(self.version.get()));
        current.insert(LAST_UPDATED.into(), n(self.at.ms));
        current.insert(METHOD.into(), s(method_code(self.method)));
        if let Some(blob) = &self.blob {
            current.insert(BLOB.into(), s(blob.clone()));
        }
        let mut version = current.clone();
        current.insert(SK.into(), s(CURRENT));
        version.insert(SK.into(), s(version_sk(self.version)));
        version.insert(TYPE_PART.into(), s(type_part(tenant, key)));
        version.insert(TENANT_PART.into(), s(tenant_part(tenant, key)));
        version.insert(
            HISTORY_KEY.into(),
            s(history_key(self.at.ms, self.at.seq, key, self.version)),
        );
        let mut chunks = Vec::new();
        if let Some(object) = &self.object {
            current.insert(OBJECT.into(), s(object.clone()));
            version.insert(OBJECT.into(), s(object.clone()));
        }
        if let Some(sealed) = &self.body {
            if sealed.len() <= INLINE_BODY {
                current.insert(BODY.into(), b(sealed.clone()));
                version.insert(BODY.into(), b(sealed.clone()));
            } else {
                let pieces: Vec<&[u8]> = sealed.chunks(CHUNK_BYTES).collect();
                current.insert(CHUNKS.into(), n(pieces.len()));
                version.insert(CHUNKS.into(), n(pieces.len()));
                for (i, piece) in pieces.into_iter().enumerate() {
                    let mut item = item_key(pk.clone(), &chunk_sk(self.version, i));
                    item.insert(BODY.into(), b(piece.to_vec()));
                    chunks.push(item);
                }
            }
        }
        if let Some(index) = &self.index {
            current.insert(INDEX.into(), b(index.clone()));
        }
        let superseded = self
            .previous
            .map(|previous| (item_key(pk, &version_sk(previous)), self.at.ms));
        Items {
            current,
            version,
            chunks,
            superseded,
        }
    }
}

impl NewVersion {
    /// The transaction items and (roughly) bytes its items take, without laying them out.
    pub(crate) fn footprint(&self) -> (usize, usize) {
        // A body in an object takes only its name.
        let body = self.body.as_ref().map_or(0, Vec::len)
            + self.object.as_ref().map_or(0, |name| 2 * name.len());
        let index = self.index.as_ref().map_or(0, Vec::len);
        let (chunks, body_bytes) = if body <= INLINE_BODY {
            (0, 2 * body)
        } else {
            (body.div_ceil(CHUNK_BYTES), body)
        };
        let previous = usize::from(self.previous.is_some());
        (
            2 + chunks + previous,
            body_bytes + index + 600 + 100 * chunks + 100 * previous,
        )
    }
}

impl DynamoStore {
    /// Stamps and seals the new versions of `ops` over the current state `heads`: one step
    /// and one outcome per op, in order.
    pub(crate) async fn seal_ops(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
        heads: &[Option<Head>],
    ) -> Result<(Vec<Step>, Vec<WriteOutcome>), StoreError> {
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
        let mut steps = Vec::with_capacity(ops.len());
        let mut outcomes = Vec::with_capacity(ops.len());
        for (op, head) in ops.iter().zip(heads) {
            if !writes(op, head) {
                steps.push(Step::Unchanged);
                outcomes.push(WriteOutcome::Unchanged);
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
                    let index = super::index_codec::encode(index)?;
                    (*method, Some(plain), Some(index), blob.clone())
                }
                WriteKind::Delete => (Method::Delete, None, None, None),
            };
            let mut body = match &plain {
                Some(plain) => {
                    let aad = body_aad(tenant, &op.key, version);
                    Some(self.envelope.seal(tenant, &aad, plain).await?)
                }
                None => None,
            };
            let mut object = None;
            if let Some(sealed) = body.take_if(|sealed| self.body_goes_to_object(sealed.len())) {
                object = Some(
                    self.put_body_object(tenant, &op.key, version, sealed)
                        .await?,
                );
            }
            let index = match &index {
                Some(index) => {
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
                    Some(sealed)
                }
                None => None,
            };
            steps.push(Step::Write(NewVersion {
                version,
                at,
                method,
                blob: blob.clone(),
                body,
                object,
                index,
                previous: head.map(|h| h.version),
            }));
            outcomes.push(WriteOutcome::Written {
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
        Ok((steps, outcomes))
    }
}
