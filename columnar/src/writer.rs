//! [`ResourceWriter`]: a streaming Parquet file of one resource type, with bounded memory.

use std::io::Write;

use arrow_schema::SchemaRef;
use hearth_fhir::ResourceType;
use parquet::arrow::ArrowWriter;
use parquet::basic::ZstdLevel;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde_json::Value;

use crate::encoder::BatchEncoder;
use crate::error::Error;
use crate::options::{Compression, Options};
use crate::schema::RESOURCE_JSON;

/// Writes resources of one type to one Parquet file.
///
/// Rows are buffered in a [`BatchEncoder`] and handed to the Parquet writer every
/// [`Options::batch_rows`] rows (or [`Options::batch_bytes`] of text); row groups are cut at
/// [`Options::row_group_rows`] rows or [`Options::row_group_bytes`]. Memory therefore stays
/// bounded whatever the number of resources; roll to a new file when
/// [`Self::estimated_size`] reaches the size you want.
///
/// A [`Error::NotAResource`] or [`Error::Json`] from `write*` rejects that one resource and the
/// writer stays usable; after any other error the file is unusable and should be discarded.
pub struct ResourceWriter<W: Write + Send> {
    encoder: BatchEncoder,
    writer: ArrowWriter<Counted<W>>,
    batch_rows: usize,
    batch_bytes: usize,
    rows: u64,
}

impl<W: Write + Send> std::fmt::Debug for ResourceWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceWriter")
            .field("resource_type", &self.encoder.resource_type())
            .field("rows", &self.rows)
            .field("bytes_written", &self.writer.bytes_written())
            .finish_non_exhaustive()
    }
}

/// What [`ResourceWriter::finish`] hands back.
#[derive(Debug)]
pub struct Finished<W> {
    /// The output, after the Parquet footer.
    pub out: W,
    /// Resources written.
    pub rows: u64,
    /// Bytes of the whole file.
    pub bytes: u64,
}

impl<W: Write + Send> ResourceWriter<W> {
    pub fn new(out: W, rt: ResourceType, options: &Options) -> Result<Self, Error> {
        let encoder = BatchEncoder::new(rt, options)?;
        let compression = match options.compression {
            Compression::Zstd(level) => parquet::basic::Compression::ZSTD(
                ZstdLevel::try_new(level).map_err(|e| Error::Options(e.to_string()))?,
            ),
            Compression::Snappy => parquet::basic::Compression::SNAPPY,
            Compression::Uncompressed => parquet::basic::Compression::UNCOMPRESSED,
        };
        let mut props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(options.row_group_bytes.max(1)))
            // Unique per row: a dictionary would only be built to be dropped.
            .set_column_dictionary_enabled(ColumnPath::from("id"), false);
        if options.keep_json {
            props = props
                .set_column_dictionary_enabled(ColumnPath::from(RESOURCE_JSON), false)
                .set_column_statistics_enabled(
                    ColumnPath::from(RESOURCE_JSON),
                    EnabledStatistics::None,
                );
        }
        let writer = ArrowWriter::try_new(
            Counted {
                inner: out,
                bytes: 0,
            },
            encoder.schema(),
            Some(props.build()),
        )?;
        Ok(ResourceWriter {
            encoder,
            writer,
            batch_rows: options.batch_rows.max(1),
            batch_bytes: options.batch_bytes.max(1),
            rows: 0,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.encoder.schema()
    }

    /// Adds one resource (see [`BatchEncoder::push`]).
    pub fn write(&mut self, resource: &Value) -> Result<(), Error> {
        self.encoder.push(resource)?;
        self.added()
    }

    /// Parses and adds one resource, keeping `json` as its `resource_json` (see
    /// [`BatchEncoder::push_json`]): the fast path for stored JSON.
    pub fn write_json(&mut self, json: &str) -> Result<(), Error> {
        self.encoder.push_json(json)?;
        self.added()
    }

    /// Resources written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes written to the output so far (complete row groups).
    pub fn bytes_written(&self) -> u64 {
        self.writer.bytes_written() as u64
    }

    /// The file size if it were finished now: bytes written, the encoded size of the open row
    /// group, and the text of the rows not yet encoded (uncompressed, so an overestimate).
    pub fn estimated_size(&self) -> u64 {
        (self.writer.bytes_written()
            + self.writer.in_progress_size()
            + self.encoder.buffered_bytes()) as u64
    }

    /// Encodes the buffered rows and closes the open row group.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_batch()?;
        self.writer.flush()?;
        Ok(())
    }

    /// Writes the remaining rows and the footer.
    pub fn finish(mut self) -> Result<Finished<W>, Error> {
        self.write_batch()?;
        let rows = self.rows;
        let counted = self.writer.into_inner()?;
        Ok(Finished {
            bytes: counted.bytes,
            out: counted.inner,
            rows,
        })
    }

    fn added(&mut self) -> Result<(), Error> {
        self.rows += 1;
        if self.encoder.rows() >= self.batch_rows
            || self.encoder.buffered_bytes() >= self.batch_bytes
        {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), Error> {
        if self.encoder.rows() > 0 {
            let batch = self.encoder.finish_batch()?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }
}

/// The output, counting the bytes that reach it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
