//! A `Write` target shared with its writer's owner: the Parquet writer appends encoded row
//! groups, the export drains them to the file after each page, so memory holds one page's
//! worth of encoded bytes at most.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    /// Moves everything written so far to the end of `out`.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        out.append(&mut buf);
    }
}

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_what_was_written() {
        let buf = SharedBuf::default();
        let mut writer = buf.clone();
        writer.write_all(b"abc").unwrap();
        let mut out = b"x".to_vec();
        buf.drain_into(&mut out);
        writer.write_all(b"d").unwrap();
        buf.drain_into(&mut out);
        assert_eq!(out, b"xabcd");
    }
}
