//! The JSON side of a write: the server-set `id` and `meta` members and the instant format.

use chrono::{DateTime, SecondsFormat, Utc};
use hearth_fhir::{ResourceType, VersionId};
use serde_json::{Map, Value};

use crate::StoreError;

/// Formats a FHIR instant with milliseconds in UTC: `2024-05-01T10:00:00.123Z`.
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn position(map: &Map<String, Value>, key: &str) -> Option<usize> {
    map.keys().position(|k| k == key)
}

/// Sets `id`, `meta.versionId` and `meta.lastUpdated`, keeping every other member in place.
/// New members go where FHIR JSON usually has them: `id` after `resourceType`, `meta` after
/// `id`, `versionId` and `lastUpdated` first in `meta`.
pub fn stamp(
    rt: ResourceType,
    body: &mut Map<String, Value>,
    id: &str,
    version: VersionId,
    last_updated: &str,
) -> Result<(), StoreError> {
    match body.get("resourceType") {
        None => {}
        Some(Value::String(s)) if s == rt.as_str() => {}
        Some(other) => {
            return Err(StoreError::Invalid(format!(
                "resourceType {other} does not match the key's type {rt}"
            )));
        }
    }
    if body.contains_key("id") {
        body.insert("id".to_owned(), Value::String(id.to_owned()));
    } else {
        let at = position(body, "resourceType").map_or(0, |i| i + 1);
        body.shift_insert(at, "id".to_owned(), Value::String(id.to_owned()));
    }
    if !body.contains_key("meta") {
        let at = position(body, "id").map_or(0, |i| i + 1);
        body.shift_insert(at, "meta".to_owned(), Value::Object(Map::new()));
    }
    let Some(Value::Object(meta)) = body.get_mut("meta") else {
        return Err(StoreError::Invalid("meta must be a JSON object".into()));
    };
    let version = Value::String(version.to_string());
    if meta.contains_key("versionId") {
        meta.insert("versionId".to_owned(), version);
    } else {
        meta.shift_insert(0, "versionId".to_owned(), version);
    }
    let instant = Value::String(last_updated.to_owned());
    if meta.contains_key("lastUpdated") {
        meta.insert("lastUpdated".to_owned(), instant);
    } else {
        let at = position(meta, "versionId").map_or(0, |i| i + 1);
        meta.shift_insert(at, "lastUpdated".to_owned(), instant);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let mut body: Map<String, Value> = serde_json::from_str(input).unwrap();
        stamp(
            "Patient".parse().unwrap(),
            &mut body,
            "p1",
            VersionId::new(3).unwrap(),
            "2024-05-01T10:00:00.123Z",
        )
        .unwrap();
        assert_eq!(serde_json::to_string(&body).unwrap(), expected, "{input}");
    }

    #[test]
    fn stamp_keeps_member_order() {
        check(
            r#"{"resourceType":"Patient","active":true}"#,
            r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2024-05-01T10:00:00.123Z"},"active":true}"#,
        );
        check(
            r#"{"active":true,"resourceType":"Patient","meta":{"source":"x","lastUpdated":"old"},"id":"old"}"#,
            r#"{"active":true,"resourceType":"Patient","meta":{"versionId":"3","source":"x","lastUpdated":"2024-05-01T10:00:00.123Z"},"id":"p1"}"#,
        );
        check(
            r#"{"resourceType":"Patient","id":"x","meta":{"versionId":"1"},"b":1.50}"#,
            r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2024-05-01T10:00:00.123Z"},"b":1.50}"#,
        );
    }

    #[test]
    fn stamp_rejects_a_wrong_type_or_meta() {
        for input in [r#"{"resourceType":"Observation"}"#, r#"{"meta":[]}"#] {
            let mut body: Map<String, Value> = serde_json::from_str(input).unwrap();
            assert!(
                stamp(
                    "Patient".parse().unwrap(),
                    &mut body,
                    "p",
                    VersionId::FIRST,
                    "t"
                )
                .is_err(),
                "{input}"
            );
        }
    }

    #[test]
    fn instants_have_milliseconds() {
        let t = DateTime::from_timestamp_millis(1_714_557_600_007).unwrap();
        assert_eq!(format_instant(t), "2024-05-01T10:00:00.007Z");
    }
}
