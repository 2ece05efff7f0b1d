//! Writing Bundles straight into bytes, splicing stored resource JSON in without re-parsing it.

use serde_json::Value;

/// Builds a Bundle's JSON text entry by entry.
pub struct BundleWriter {
    buf: Vec<u8>,
    entries: usize,
}

/// One entry of a Bundle.
#[derive(Default)]
pub struct Entry<'a> {
    pub full_url: Option<&'a str>,
    /// The resource's JSON text, spliced in as is.
    pub resource: Option<&'a [u8]>,
    /// `entry.search.mode` (`match`, `include`, `outcome`).
    pub search_mode: Option<&'static str>,
    pub request: Option<Value>,
    pub response: Option<Value>,
}

fn push_json(buf: &mut Vec<u8>, value: &impl serde::Serialize) {
    // Serializing a Value or a string into a Vec cannot fail.
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.extend_from_slice(b"null");
    }
}

impl BundleWriter {
    /// Starts a Bundle of `bundle_type` with its `id`, `meta.lastUpdated`, optional `total`
    /// and `link`s (relation, url).
    pub fn new(
        bundle_type: &str,
        id: &str,
        last_updated: &str,
        total: Option<u64>,
        links: &[(&str, &str)],
    ) -> BundleWriter {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"id\":");
        push_json(&mut buf, &id);
        buf.extend_from_slice(b",\"meta\":{\"lastUpdated\":");
        push_json(&mut buf, &last_updated);
        buf.extend_from_slice(b"},\"type\":");
        push_json(&mut buf, &bundle_type);
        if let Some(total) = total {
            buf.extend_from_slice(format!(",\"total\":{total}").as_bytes());
        }
        if !links.is_empty() {
            buf.extend_from_slice(b",\"link\":[");
            for (i, (relation, url)) in links.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(b"{\"relation\":");
                push_json(&mut buf, relation);
                buf.extend_from_slice(b",\"url\":");
                push_json(&mut buf, url);
                buf.push(b'}');
            }
            buf.push(b']');
        }
        BundleWriter { buf, entries: 0 }
    }

    pub fn entry(&mut self, entry: Entry<'_>) {
        self.buf.extend_from_slice(if self.entries == 0 {
            b",\"entry\":[{"
        } else {
            b",{"
        });
        self.entries += 1;
        let mut first = true;
        let mut key = |buf: &mut Vec<u8>, name: &str| {
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.push(b'"');
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(b"\":");
        };
        if let Some(url) = entry.full_url {
            key(&mut self.buf, "fullUrl");
            push_json(&mut self.buf, &url);
        }
        if let Some(resource) = entry.resource {
            key(&mut self.buf, "resource");
            self.buf.extend_from_slice(resource);
        }
        if let Some(mode) = entry.search_mode {
            key(&mut self.buf, "search");
            self.buf.extend_from_slice(b"{\"mode\":");
            push_json(&mut self.buf, &mode);
            self.buf.push(b'}');
        }
        if let Some(request) = &entry.request {
            key(&mut self.buf, "request");
            push_json(&mut self.buf, request);
        }
        if let Some(response) = &entry.response {
            key(&mut self.buf, "response");
            push_json(&mut self.buf, response);
        }
        self.buf.push(b'}');
    }

    pub fn finish(mut self) -> Vec<u8> {
        if self.entries > 0 {
            self.buf.push(b']');
        }
        self.buf.push(b'}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_valid_bundle_json() {
        let mut w = BundleWriter::new(
            "history",
            "b1",
            "2024-01-01T00:00:00.000Z",
            Some(2),
            &[("self", "http://x/_history")],
        );
        w.entry(Entry {
            full_url: Some("http://x/Patient/1"),
            resource: Some(br#"{"resourceType":"Patient","id":"1"}"#),
            request: Some(json!({"method": "PUT", "url": "Patient/1"})),
            ..Entry::default()
        });
        w.entry(Entry {
            full_url: Some("http://x/Patient/2"),
            response: Some(json!({"status": "410"})),
            ..Entry::default()
        });
        let v: Value = serde_json::from_slice(&w.finish()).unwrap();
        assert_eq!(v["total"], 2);
        assert_eq!(v["entry"][0]["resource"]["id"], "1");
        assert_eq!(v["entry"][1]["response"]["status"], "410");
        assert_eq!(v["link"][0]["relation"], "self");
        let empty: Value = serde_json::from_slice(
            &BundleWriter::new("batch-response", "b", "t", None, &[]).finish(),
        )
        .unwrap();
        assert!(empty.get("entry").is_none());
    }
}
