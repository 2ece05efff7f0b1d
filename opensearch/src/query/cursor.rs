//! The opaque cursor of a page: the direction and the sort values of the hit a page ends (or
//! starts) at, for `search_after`.

use hearth_store::StoreError;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor {
    pub(crate) backward: bool,
    pub(crate) key: Vec<Value>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        hex(json!({"b": self.backward, "k": self.key})
            .to_string()
            .as_bytes())
    }

    /// Decodes a cursor of a search sorted on `fields` fields; anything else is `Invalid`.
    pub(crate) fn decode(s: &str, fields: usize) -> Result<Cursor, StoreError> {
        let bad = || StoreError::Invalid(format!("invalid search cursor '{s}'"));
        let v: Value = unhex(s)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(bad)?;
        let backward = v.get("b").and_then(Value::as_bool).ok_or_else(bad)?;
        let key = v.get("k").and_then(Value::as_array).ok_or_else(bad)?;
        let scalar = |v: &Value| !matches!(v, Value::Array(_) | Value::Object(_));
        if key.len() != fields || !key.iter().all(scalar) {
            return Err(bad());
        }
        Ok(Cursor {
            backward,
            key: key.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use hearth_store::ErrorKind;

    use super::*;

    #[test]
    fn round_trip() {
        let c = Cursor {
            backward: true,
            key: vec![
                json!(9_223_372_036_854_775_807_i64),
                json!(null),
                json!("Patient"),
                json!("p1"),
            ],
        };
        assert_eq!(Cursor::decode(&c.encode(), 4).unwrap(), c);
    }

    #[test]
    fn malformed_cursors_are_invalid() {
        let good = Cursor {
            backward: false,
            key: vec![json!("Patient"), json!("a")],
        }
        .encode();
        for bad in ["", "zz", "abc", &good[..good.len() - 2], &hex(b"{\"b\":1}")] {
            let err = Cursor::decode(bad, 2).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad}");
        }
        assert!(Cursor::decode(&good, 3).is_err(), "another sort's cursor");
        let nested = hex(br#"{"b":false,"k":[{"x":1},"a"]}"#);
        assert!(Cursor::decode(&nested, 2).is_err());
    }
}
