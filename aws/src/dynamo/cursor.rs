//! Opaque cursors and snapshot marks: base64 of a tagged position, anything else `Invalid`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_store::StoreError;

use super::table::{SHARDS, is_history_key};

fn encode(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn decode(what: &str, cursor: &str) -> Result<String, StoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| StoreError::Invalid(format!("malformed {what}")))
}

/// A history cursor: the history key of the last entry returned.
pub(crate) fn history_cursor(history_key: &str) -> String {
    encode(&format!("h1|{history_key}"))
}

pub(crate) fn parse_history_cursor(cursor: &str) -> Result<String, StoreError> {
    let text = decode("history cursor", cursor)?;
    match text.strip_prefix("h1|") {
        Some(key) if is_history_key(key) => Ok(key.to_owned()),
        _ => Err(StoreError::Invalid("malformed history cursor".into())),
    }
}

/// A `changes` cursor: the shard being read and the last history key returned from it.
pub(crate) fn changes_cursor(shard: u32, after: Option<&str>) -> String {
    encode(&format!("c1|{shard}|{}", after.unwrap_or_default()))
}

pub(crate) fn parse_changes_cursor(cursor: &str) -> Result<(u32, Option<String>), StoreError> {
    let invalid = || StoreError::Invalid("malformed export cursor".into());
    let text = decode("export cursor", cursor)?;
    let mut parts = text.splitn(3, '|');
    if parts.next() != Some("c1") {
        return Err(invalid());
    }
    let shard: u32 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s < SHARDS)
        .ok_or_else(invalid)?;
    match parts.next() {
        Some("") => Ok((shard, None)),
        Some(key) if is_history_key(key) => Ok((shard, Some(key.to_owned()))),
        _ => Err(invalid()),
    }
}

/// A snapshot mark: the instant (ms) the snapshot holds.
pub(crate) fn mark(ms: i64) -> String {
    encode(&format!("s1|{ms}"))
}

pub(crate) fn parse_mark(mark: &str) -> Result<i64, StoreError> {
    let text = decode("snapshot mark", mark)?;
    text.strip_prefix("s1|")
        .and_then(|ms| ms.parse::<i64>().ok())
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| StoreError::Invalid("malformed snapshot mark".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "1714557600007#00000000000000000042#Patient#p1#000000000003";

    #[test]
    fn cursors_round_trip() {
        assert_eq!(parse_history_cursor(&history_cursor(KEY)).unwrap(), KEY);
        assert_eq!(
            parse_changes_cursor(&changes_cursor(3, Some(KEY))).unwrap(),
            (3, Some(KEY.to_owned()))
        );
        assert_eq!(
            parse_changes_cursor(&changes_cursor(0, None)).unwrap(),
            (0, None)
        );
        assert_eq!(
            parse_mark(&mark(1_714_557_600_007)).unwrap(),
            1_714_557_600_007
        );
    }

    #[test]
    fn malformed_cursors_are_invalid() {
        let bad = [
            "not a cursor".to_owned(),
            encode("h1|nope"),
            encode(&format!("c1|{SHARDS}|")),
            encode(&format!("c1|1|{KEY}x")),
        ];
        for cursor in &bad {
            assert!(
                matches!(parse_history_cursor(cursor), Err(StoreError::Invalid(_))),
                "{cursor}"
            );
            assert!(
                matches!(parse_changes_cursor(cursor), Err(StoreError::Invalid(_))),
                "{cursor}"
            );
            assert!(
                matches!(parse_mark(cursor), Err(StoreError::Invalid(_))),
                "{cursor}"
            );
        }
    }
}
