//! The encrypted file format of `FsBlobStore`: a blob sealed with AES-256-GCM under a fresh
//! data key of the tenant's key, in segments so it streams both ways.
//!
//! File: `"HBS1" | u16 BE wrapped length | wrapped data key | 8-byte random nonce prefix`,
//! then segments of [`SEGMENT`] plaintext bytes (the last one shorter, possibly empty for an
//! empty blob), each followed by its 16-byte tag. Segment `i` has the nonce `prefix || i`
//! (u32 BE) and the associated data `tenant, blob key, i, last-segment flag`, so a segment
//! moved to another place, blob or tenant, a reordering and a truncation all fail to open.
//! The plaintext size follows from the file size, so `get` reports it before streaming.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hearth_tenancy::TenantId;

use crate::{BlobKey, StoreError};

/// Plaintext bytes per segment.
pub(super) const SEGMENT: usize = 64 * 1024;
/// The GCM tag after each segment.
pub(super) const TAG: usize = 16;
const MAGIC: &[u8; 4] = b"HBS1";
const PREFIX_LEN: usize = 8;
/// Bytes before the wrapped key: magic and its length.
pub(super) const LEAD: usize = MAGIC.len() + 2;

/// Seals a blob's segments in order.
pub(super) struct Sealer {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX_LEN],
    aad: Vec<u8>,
    index: u32,
}

impl Sealer {
    /// A sealer under `key` (whose wrapped form is `wrapped`), and the file header.
    pub(super) fn new(
        key: &[u8; 32],
        wrapped: &[u8],
        tenant: &TenantId,
        blob: &BlobKey,
    ) -> Result<(Sealer, Vec<u8>), StoreError> {
        let wrapped_len = u16::try_from(wrapped.len())
            .map_err(|_| StoreError::internal("seal blob", "wrapped data key too long"))?;
        let mut prefix = [0u8; PREFIX_LEN];
        OsRng.fill_bytes(&mut prefix);
        let mut header = Vec::with_capacity(LEAD + wrapped.len() + PREFIX_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&wrapped_len.to_be_bytes());
        header.extend_from_slice(wrapped);
        header.extend_from_slice(&prefix);
        let sealer = Sealer {
            cipher: cipher(key)?,
            prefix,
            aad: aad_base(tenant, blob),
            index: 0,
        };
        Ok((sealer, header))
    }

    /// The next segment, sealed; `last` for the final one.
    pub(super) fn seal(&mut self, plaintext: &[u8], last: bool) -> Result<Vec<u8>, StoreError> {
        let aad = segment_aad(&self.aad, self.index, last);
        let sealed = self
            .cipher
            .encrypt(
                &nonce(&self.prefix, self.index),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::internal("seal blob", "encryption failed"))?;
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| StoreError::Invalid("blob too large to seal".into()))?;
        Ok(sealed)
    }
}

/// The wrapped key length in a header's first [`LEAD`] bytes; `None` when it is not one.
pub(super) fn wrapped_len(lead: &[u8; LEAD]) -> Option<usize> {
    (lead[..MAGIC.len()] == MAGIC[..]).then(|| usize::from(u16::from_be_bytes([lead[4], lead[5]])))
}

/// Bytes of the header after the lead: the wrapped key and the nonce prefix.
pub(super) fn header_rest_len(wrapped_len: usize) -> usize {
    wrapped_len + PREFIX_LEN
}

/// The segments and plaintext size of a body (the file after its header) of `body` bytes;
/// `None` when no sealed blob has that length.
pub(super) fn layout(body: u64) -> Option<(u64, u64)> {
    let full = (SEGMENT + TAG) as u64;
    if body < TAG as u64 {
        return None;
    }
    let segments = body.div_ceil(full);
    let last = body - (segments - 1) * full;
    if last < TAG as u64 || segments > u64::from(u32::MAX) {
        return None;
    }
    Some((segments, body - segments * TAG as u64))
}

/// Opens a blob's segments in order.
pub(super) struct Opener {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX_LEN],
    aad: Vec<u8>,
    index: u32,
    segments: u64,
}

impl Opener {
    /// An opener of a blob of `segments` segments whose header rest (after the lead) is `rest`.
    pub(super) fn new(
        key: &[u8; 32],
        rest: &[u8],
        tenant: &TenantId,
        blob: &BlobKey,
        segments: u64,
    ) -> Result<Opener, StoreError> {
        let prefix: [u8; PREFIX_LEN] = rest
            .get(rest.len().saturating_sub(PREFIX_LEN)..)
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| StoreError::internal("open blob", "damaged header"))?;
        Ok(Opener {
            cipher: cipher(key)?,
            prefix,
            aad: aad_base(tenant, blob),
            index: 0,
            segments,
        })
    }

    /// The sealed length of the next segment given the body bytes left; `None` when done.
    pub(super) fn next_len(&self, remaining: u64) -> Option<usize> {
        if u64::from(self.index) >= self.segments {
            return None;
        }
        let full = (SEGMENT + TAG) as u64;
        Some(usize::try_from(remaining.min(full)).unwrap_or(SEGMENT + TAG))
    }

    /// The next segment's plaintext; an error when it does not open in its place.
    pub(super) fn open(&mut self, sealed: &[u8]) -> Result<Vec<u8>, std::io::Error> {
        let last = u64::from(self.index) + 1 == self.segments;
        let aad = segment_aad(&self.aad, self.index, last);
        let plain = self
            .cipher
            .decrypt(
                &nonce(&self.prefix, self.index),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "blob segment {} does not open: altered or moved",
                        self.index
                    ),
                )
            })?;
        self.index += 1;
        Ok(plain)
    }
}

/// The wrapped key in a header rest (after the lead).
pub(super) fn wrapped_of(rest: &[u8]) -> &[u8] {
    &rest[..rest.len().saturating_sub(PREFIX_LEN)]
}

fn cipher(key: &[u8; 32]) -> Result<Aes256Gcm, StoreError> {
    Aes256Gcm::new_from_slice(key)
        .map_err(|_| StoreError::internal("load data key", "not 32 bytes"))
}

fn nonce(prefix: &[u8; PREFIX_LEN], index: u32) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut bytes = [0u8; 12];
    bytes[..PREFIX_LEN].copy_from_slice(prefix);
    bytes[PREFIX_LEN..].copy_from_slice(&index.to_be_bytes());
    Nonce::from(bytes)
}

fn aad_base(tenant: &TenantId, blob: &BlobKey) -> Vec<u8> {
    let mut aad = b"hearth-blob\0".to_vec();
    aad.extend_from_slice(tenant.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(blob.as_str().as_bytes());
    aad.push(0);
    aad
}

fn segment_aad(base: &[u8], index: u32, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(base.len() + 5);
    aad.extend_from_slice(base);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let full = (SEGMENT + TAG) as u64;
        let check = |body: u64, expected: Option<(u64, u64)>| {
            assert_eq!(layout(body), expected, "body of {body} bytes");
        };
        check(0, None);
        check(15, None);
        check(16, Some((1, 0)));
        check(17, Some((1, 1)));
        check(full, Some((1, SEGMENT as u64)));
        check(full + 15, None);
        check(full + 17, Some((2, SEGMENT as u64 + 1)));
        check(3 * full, Some((3, 3 * SEGMENT as u64)));
    }
}
