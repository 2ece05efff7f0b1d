//! The stored form of a version's search index entries: JSON, zlib-compressed (entries repeat
//! parameter names and systems, so a Provenance naming hundreds of targets shrinks about
//! tenfold), sealed afterwards by the caller.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use hearth_fhir::search::index::IndexEntry;
use hearth_store::StoreError;

/// The compressed JSON of `entries`.
pub(crate) fn encode(entries: &[IndexEntry]) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(entries)
        .map_err(|e| StoreError::internal("serialize index entries", e))?;
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
    encoder
        .write_all(&json)
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::internal("compress index entries", e))
}

/// The entries of [`encode`]'s output; plain JSON (a leading `[`, never a zlib header) is
/// read as it is.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<IndexEntry>, StoreError> {
    let decode_err =
        |e: &dyn std::fmt::Display| StoreError::internal("decode index entries", e.to_string());
    if bytes.first() == Some(&b'[') {
        return serde_json::from_slice(bytes).map_err(|e| decode_err(&e));
    }
    let mut json = Vec::with_capacity(bytes.len() * 4);
    ZlibDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| decode_err(&e))?;
    serde_json::from_slice(&json).map_err(|e| decode_err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_fhir::search::index::EntryValue;

    #[test]
    fn round_trips_and_reads_plain_json() {
        let entries: Vec<IndexEntry> = (0..500)
            .map(|i| IndexEntry {
                param: "target".into(),
                group: 0,
                value: EntryValue::Reference {
                    target_type: Some("Observation".into()),
                    target_id: Some(format!("obs-{i}")),
                    url: None,
                },
            })
            .collect();
        let encoded = encode(&entries).unwrap();
        let json = serde_json::to_vec(&entries).unwrap();
        assert!(
            encoded.len() * 5 < json.len(),
            "{} vs {}",
            encoded.len(),
            json.len()
        );
        assert_eq!(decode(&encoded).unwrap(), entries);
        assert_eq!(decode(&json).unwrap(), entries);
        assert!(decode(b"not zlib").is_err());
    }
}
