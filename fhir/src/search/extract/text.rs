//! The text the server indexes itself for `_text` (the narrative, `text.div` without its
//! markup) and `_content` (every string value of the resource but the narrative, `meta` and
//! base64 `data`), normalized like strings and cut into overlapping chunks.
//!
//! Matching rule (FHIR leaves it to the server): the search value, normalized the same way
//! (lowercase, accents removed, whitespace runs collapsed to one space), must occur as a
//! substring of one chunk. Chunks hold at most [`CHUNK_CHARS`] characters and overlap by
//! [`OVERLAP_CHARS`], so a value up to that long is found wherever it lies in the text.

use serde_json::Value;

use super::convert::normalize_string;

/// Longest chunk, in characters (below the keyword limit of the OpenSearch mapping).
pub const CHUNK_CHARS: usize = 4_000;
/// Characters a chunk repeats from the end of the one before.
pub const OVERLAP_CHARS: usize = 200;
/// Most text indexed per parameter and resource, in characters.
const MAX_TEXT_CHARS: usize = 65_536;

/// Normalized as strings are, with whitespace runs collapsed to one space and trimmed.
pub fn normalize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        // Most words are ASCII and need no decomposition.
        let start = out.len();
        if word.is_ascii() {
            out.push_str(word);
            out[start..].make_ascii_lowercase();
        } else {
            let normalized = normalize_string(word);
            if normalized.is_empty() {
                continue;
            }
            out.push_str(&normalized);
        }
        out.push(' ');
    }
    out.pop();
    out
}

/// The chunks of `_text` for `resource`: its narrative without markup.
pub fn narrative(resource: &Value) -> Vec<String> {
    let Some(div) = resource.pointer("/text/div").and_then(Value::as_str) else {
        return Vec::new();
    };
    let div = truncate(div, MAX_TEXT_CHARS * 2);
    chunks(&normalize_text(&strip_markup(div)))
}

/// The chunks of `_content` for `resource`: its string values, space-separated.
pub fn content(resource: &Value) -> Vec<String> {
    let mut text = String::new();
    if let Value::Object(fields) = resource {
        for (key, v) in fields {
            if !matches!(key.as_str(), "resourceType" | "meta" | "text") {
                strings(v, &mut text);
            }
        }
    }
    chunks(&normalize_text(&text))
}

/// At most `bytes` of `s`, cut at a character boundary.
fn truncate(s: &str, bytes: usize) -> &str {
    let mut end = bytes.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn strings(v: &Value, out: &mut String) {
    if out.len() > MAX_TEXT_CHARS {
        return;
    }
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push(' ');
        }
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(fields) => {
            for (key, v) in fields {
                if !matches!(key.as_str(), "data" | "div") {
                    strings(v, out);
                }
            }
        }
        _ => {}
    }
}

/// The character data of XHTML: tags and comments dropped (as a space), the common entities
/// decoded.
fn strip_markup(xhtml: &str) -> String {
    let mut out = String::with_capacity(xhtml.len());
    let mut rest = xhtml;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            let end = if rest.starts_with("<!--") {
                rest.find("-->").map(|e| e + 3)
            } else {
                rest.find('>').map(|e| e + 1)
            };
            out.push(' ');
            rest = &rest[end.unwrap_or(rest.len())..];
            continue;
        }
        let entity = rest.find(';').filter(|e| *e <= 10).map(|e| &rest[1..e]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => {
                let n = match e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => e.strip_prefix('#').and_then(|d| d.parse().ok()),
                };
                n.and_then(char::from_u32)
            }
        });
        match (entity, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` cut into chunks of at most [`CHUNK_CHARS`] characters, each starting
/// [`OVERLAP_CHARS`] before the end of the previous one (at a character boundary).
fn chunks(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    if text.len() <= CHUNK_CHARS {
        return vec![text.to_owned()];
    }
    let chars: Vec<char> = text.chars().take(MAX_TEXT_CHARS).collect();
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + CHUNK_CHARS).min(chars.len());
        out.push(chars[start..end].iter().collect());
        if end == chars.len() {
            return out;
        }
        start = end - OVERLAP_CHARS;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check_strip(xhtml: &str, expected: &str) {
        assert_eq!(normalize_text(&strip_markup(xhtml)), expected, "{xhtml}");
    }

    #[test]
    fn markup_is_stripped() {
        for (xhtml, expected) in [
            ("<div>Hello <b>World</b></div>", "hello world"),
            ("<div>a&amp;b &lt;c&gt; &#233;t&#xE9;</div>", "a&b <c> ete"),
            ("<div><!-- note -->x<br/>y</div>", "x y"),
            ("<div>R&D & co</div>", "r&d & co"),
            (
                "<div>Ünïcödé   spaces\n\tand tabs</div>",
                "unicode spaces and tabs",
            ),
        ] {
            check_strip(xhtml, expected);
        }
    }

    #[test]
    fn narrative_and_content() {
        let r = json!({
            "resourceType": "Patient",
            "meta": {"versionId": "1"},
            "text": {"status": "generated", "div": "<div>Peter <i>Chalmers</i></div>"},
            "name": [{"family": "Chalmers", "given": ["Péter", "James"]}],
            "photo": [{"data": "AAAA", "title": "Portrait"}],
            "active": true
        });
        assert_eq!(narrative(&r), vec!["peter chalmers"]);
        assert_eq!(content(&r), vec!["chalmers peter james portrait"]);
        assert!(narrative(&json!({"resourceType": "Patient"})).is_empty());
    }

    #[test]
    fn long_text_overlaps() {
        let text: String = (0..CHUNK_CHARS * 2)
            .map(|i| if i % 7 == 0 { ' ' } else { 'a' })
            .collect();
        let c = chunks(&text);
        assert_eq!(c.len(), 3);
        assert!(c.iter().all(|c| c.chars().count() <= CHUNK_CHARS));
        let tail: String = c[0].chars().skip(CHUNK_CHARS - OVERLAP_CHARS).collect();
        assert!(c[1].starts_with(&tail));
    }
}
