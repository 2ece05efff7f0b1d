//! Format checks for the R4 primitive datatypes in their JSON form (datatypes.html, json.html).
//!
//! Each check mirrors the regex of the datatype's StructureDefinition, with `\s` read the Java
//! way (ASCII ` \t\n\x0B\x0C\r`), plus the ranges and calendar rules the regexes cannot express.

use serde_json::Value;

use super::datetime::{check_date, check_date_time, check_instant, check_time};
use crate::model::Primitive;

/// Largest `string` the spec allows (1 MiB characters).
const MAX_STRING_CHARS: usize = 1024 * 1024;

/// Why a JSON value is not a valid `primitive`; `Ok` when it is.
pub fn check_primitive(primitive: Primitive, value: &Value) -> Result<(), &'static str> {
    match primitive {
        Primitive::Boolean => match value {
            Value::Bool(_) => Ok(()),
            _ => Err("expected a JSON boolean"),
        },
        Primitive::Integer => integer(value, i64::from(i32::MIN)),
        Primitive::PositiveInt => integer(value, 1),
        Primitive::UnsignedInt => integer(value, 0),
        Primitive::Decimal => match value {
            // The JSON number grammar is the decimal regex; serde_json only builds valid numbers.
            Value::Number(_) => Ok(()),
            _ => Err("expected a JSON number"),
        },
        _ => {
            let Value::String(s) = value else {
                return Err("expected a JSON string");
            };
            if s.is_empty() {
                return Err("empty strings are not allowed");
            }
            check_string(primitive, s)
        }
    }
}

/// The string-valued primitives; `s` is not empty.
pub fn check_string(primitive: Primitive, s: &str) -> Result<(), &'static str> {
    match primitive {
        Primitive::String | Primitive::Markdown => {
            if s.bytes().any(|b| b == 0x0B || b == 0x0C) {
                Err("vertical tab and form feed are not allowed")
            } else if s.len() > MAX_STRING_CHARS && s.chars().count() > MAX_STRING_CHARS {
                Err("longer than 1 MiB characters")
            } else {
                Ok(())
            }
        }
        Primitive::Uri | Primitive::Url | Primitive::Canonical => {
            if s.bytes().any(is_space) {
                Err("whitespace is not allowed")
            } else {
                Ok(())
            }
        }
        Primitive::Code => code(s),
        Primitive::Id => {
            if s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                Ok(())
            } else {
                Err("expected 1-64 characters of A-Z, a-z, 0-9, '-' and '.'")
            }
        }
        Primitive::Oid => oid(s),
        Primitive::Uuid => uuid(s),
        Primitive::Base64Binary => base64(s),
        Primitive::Date => check_date(s),
        Primitive::DateTime => check_date_time(s),
        Primitive::Instant => check_instant(s),
        Primitive::Time => check_time(s),
        Primitive::Xhtml => xhtml(s),
        Primitive::Boolean
        | Primitive::Integer
        | Primitive::PositiveInt
        | Primitive::UnsignedInt
        | Primitive::Decimal => Err("expected a JSON string"),
    }
}

/// `\s` in the (Java) regexes of the definitions.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn integer(value: &Value, min: i64) -> Result<(), &'static str> {
    let Value::Number(n) = value else {
        return Err("expected a JSON number");
    };
    match n.as_i64() {
        Some(i) if i >= min && i <= i64::from(i32::MAX) => Ok(()),
        Some(_) if min == 1 => Err("expected an integer from 1 to 2147483647"),
        Some(_) if min == 0 => Err("expected an integer from 0 to 2147483647"),
        Some(_) => Err("integer out of the 32-bit range"),
        None => Err("expected an integer without fraction or exponent"),
    }
}

/// `[^\s]+(\s[^\s]+)*`: no leading, trailing or doubled whitespace.
fn code(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    let doubled = b.windows(2).any(|w| is_space(w[0]) && is_space(w[1]));
    if is_space(b[0]) || is_space(b[b.len() - 1]) || doubled {
        Err("codes have no leading, trailing or repeated whitespace")
    } else {
        Ok(())
    }
}

/// `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`.
fn oid(s: &str) -> Result<(), &'static str> {
    const FORMAT: &str = "expected urn:oid: followed by a dotted OID like 1.2.3";
    let Some(rest) = s.strip_prefix("urn:oid:") else {
        return Err(FORMAT);
    };
    let mut arcs = rest.split('.');
    if !matches!(arcs.next(), Some("0" | "1" | "2")) {
        return Err(FORMAT);
    }
    let mut count = 0;
    for arc in arcs {
        count += 1;
        let digits = !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit());
        if !digits || (arc.len() > 1 && arc.starts_with('0')) {
            return Err(FORMAT);
        }
    }
    if count == 0 { Err(FORMAT) } else { Ok(()) }
}

/// `urn:uuid:` and a lowercase 8-4-4-4-12 hex UUID.
fn uuid(s: &str) -> Result<(), &'static str> {
    const FORMAT: &str = "expected urn:uuid: followed by a lowercase UUID";
    let Some(rest) = s.strip_prefix("urn:uuid:") else {
        return Err(FORMAT);
    };
    let b = rest.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        });
    if ok { Ok(()) } else { Err(FORMAT) }
}

/// `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, with `=` only as padding at the end.
fn base64(s: &str) -> Result<(), &'static str> {
    let mut count = 0usize;
    let mut padding = 0usize;
    for b in s.bytes() {
        if is_space(b) {
            if !count.is_multiple_of(4) {
                return Err("whitespace inside a group of four base64 characters");
            }
            continue;
        }
        match b {
            b'=' => padding += 1,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if padding == 0 => {}
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                return Err("'=' is only allowed at the end");
            }
            _ => return Err("not a base64 character"),
        }
        count += 1;
    }
    if count == 0 {
        Err("no base64 content")
    } else if !count.is_multiple_of(4) {
        Err("base64 length is not a multiple of 4")
    } else if padding > 2 {
        Err("too much '=' padding")
    } else {
        Ok(())
    }
}

/// Narrative `div`: an XHTML `<div>` element, in the XHTML namespace, as a string.
fn xhtml(s: &str) -> Result<(), &'static str> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let Some(rest) = t
        .strip_prefix("<div")
        .filter(|r| r.starts_with([' ', '\t', '\n', '\r']))
    else {
        return Err("expected an XHTML <div> element with the XHTML namespace");
    };
    let open_tag = rest.split('>').next().unwrap_or_default();
    let namespaced = open_tag.contains("xmlns=\"http://www.w3.org/1999/xhtml\"")
        || open_tag.contains("xmlns='http://www.w3.org/1999/xhtml'");
    if !namespaced {
        Err("the <div> must declare xmlns=\"http://www.w3.org/1999/xhtml\"")
    } else if !t.ends_with('>') {
        Err("expected an XHTML <div> element")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
