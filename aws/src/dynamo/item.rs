//! Items as the table holds them: decoding a current or version item into a [`Row`] (still
//! sealed), and the attribute helpers the other modules share.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use hearth_fhir::VersionId;
use hearth_store::{Method, ResourceKey, StoreError};
use hearth_tenancy::TenantId;

use super::table::{
    BLOB, BODY, CHUNKS, HISTORY_KEY, ID, LAST_UPDATED, METHOD, OBJECT, RT, SUPERSEDED, VERSION,
};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Where a version's sealed body is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SealedBody {
    Inline(Vec<u8>),
    /// In this many chunk items.
    Chunked(usize),
    /// In this blob-store object.
    Object(String),
    /// A delete version.
    Absent,
}

/// One version as stored: everything but the body is in the clear.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) key: ResourceKey,
    pub(crate) version: VersionId,
    pub(crate) last_updated_ms: i64,
    pub(crate) method: Method,
    pub(crate) body: SealedBody,
    pub(crate) blob: Option<String>,
    /// The version item's place in history (absent on the current item).
    pub(crate) history_key: Option<String>,
    /// When a later version replaced this one (version items only).
    pub(crate) superseded_ms: Option<i64>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::internal("decode resource item", format!("bad or missing {what}"))
}

pub(crate) fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(corrupt(name)),
    }
}

pub(crate) fn number(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt(name)),
        _ => Err(corrupt(name)),
    }
}

fn optional_number(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => number(item, name).map(Some),
    }
}

pub(crate) fn bytes<'a>(item: &'a Item, name: &str) -> Result<Option<&'a [u8]>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::B(b)) => Ok(Some(b.as_ref())),
        Some(_) => Err(corrupt(name)),
    }
}

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn b(value: Vec<u8>) -> AttributeValue {
    AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(value))
}

pub(crate) fn method_code(method: Method) -> &'static str {
    match method {
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
    }
}

fn method_of(code: &str) -> Result<Method, StoreError> {
    match code {
        "POST" => Ok(Method::Post),
        "PUT" => Ok(Method::Put),
        "DELETE" => Ok(Method::Delete),
        _ => Err(corrupt(METHOD)),
    }
}

/// Decodes a current or version item.
pub(crate) fn row_of(item: &Item) -> Result<Row, StoreError> {
    let key = ResourceKey::new(
        string(item, RT)?.parse().map_err(|_| corrupt(RT))?,
        string(item, ID)?.parse().map_err(|_| corrupt(ID))?,
    );
    let version = u64::try_from(number(item, VERSION)?)
        .ok()
        .and_then(VersionId::new)
        .ok_or_else(|| corrupt(VERSION))?;
    let method = method_of(string(item, METHOD)?)?;
    let body = match (bytes(item, BODY)?, optional_number(item, CHUNKS)?) {
        (None, None) if item.contains_key(OBJECT) => {
            SealedBody::Object(string(item, OBJECT)?.to_owned())
        }
        (Some(sealed), _) => SealedBody::Inline(sealed.to_vec()),
        (None, Some(chunks)) => {
            SealedBody::Chunked(usize::try_from(chunks).map_err(|_| corrupt(CHUNKS))?)
        }
        (None, None) if method == Method::Delete => SealedBody::Absent,
        (None, None) => return Err(corrupt(BODY)),
    };
    Ok(Row {
        key,
        version,
        last_updated_ms: number(item, LAST_UPDATED)?,
        method,
        body,
        blob: item
            .get(BLOB)
            .map(|_| string(item, BLOB).map(str::to_owned))
            .transpose()?,
        history_key: item
            .get(HISTORY_KEY)
            .map(|_| string(item, HISTORY_KEY).map(str::to_owned))
            .transpose()?,
        superseded_ms: optional_number(item, SUPERSEDED)?,
    })
}

/// What a version's sealed body is bound to: its tenant, resource and version.
pub(crate) fn body_aad(tenant: &TenantId, key: &ResourceKey, version: VersionId) -> Vec<u8> {
    format!("{tenant}/{}/{}/{}", key.rt, key.id, version.get()).into_bytes()
}

/// What a version's sealed index entries are bound to (apart from its body, so the two
/// cannot be swapped).
pub(crate) fn index_aad(tenant: &TenantId, key: &ResourceKey, version: VersionId) -> Vec<u8> {
    format!("{tenant}/{}/{}/{}/index", key.rt, key.id, version.get()).into_bytes()
}
