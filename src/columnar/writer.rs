//! The working Parquet files a run writes and reads back itself: the bucket spill,
//! the change state (`state.parquet`) and its partitions.
//!
//! They are written for speed, not size: columns plainly encoded, pages
//! compressed with fast LZ4, no column statistics (nothing reads them).
//! polars' own writer estimates every text column's cardinality and builds
//! a dictionary for the columns that repeat (a fifth of a 10M-row
//! partition's CPU), and compresses at LZ4's default effort (another
//! fifth), where hashes do not compress at all and spilled text little.
//! The one dictionary is the spill's, for a chunk's column with few
//! distinct values, found by their views as the chunk is scattered
//! ([`PlainColumn::indexed`]: its indices written uncompressed; 10M rows,
//! 3 paired runs: -3.8% wall, -4.2% CPU). (An uncompressed spill saved
//! about 1.4 s of a 10M-row partition in single runs, but a bucketed
//! 1M-row run then peaked at 315 MB of disk instead of 193 MB, and the
//! 100M-row spill is over 10 GB compressed.) A column whose first page
//! LZ4 shrank by less than a third (random digits: a phone number, an
//! amount) is stored uncompressed from its next column chunk on
//! ([`Codec`]; 10M rows, 5 paired runs: -1% wall and CPU).
//! The files are ordinary Parquet: any reader reads them.
//!
//! Columns are given as they are produced (the spill's scatter, the
//! state's rows): as Parquet plain values ([`PlainColumn`], written by
//! [`WorkingWriter::write_plain`]), without building polars arrays that an
//! encoder would walk again.

use std::io::Write;

use polars::prelude::*;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::parquet::page::DataPage;
use polars_parquet::parquet::schema::Repetition;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    to_parquet_schema, CompressedDataPage, CompressedPage, CompressionOptions, Descriptor, DynIter,
    DynStreamingIterator, FallibleStreamingIterator, FileWriter, ParquetPhysicalType, ParquetType, StatisticsOptions,
    Version, WriteOptions,
};

use crate::error::{Error, Result};

use super::{PlainColumn, Stored};

/// A Parquet file written a row group at a time.
pub struct WorkingWriter<W: Write> {
    writer: FileWriter<W>,
    /// Per column, its Parquet type.
    pub(super) fields: Vec<ParquetType>,
    /// Per column, whether LZ4 pays for itself, learned from its first
    /// plain page.
    codecs: Vec<Codec>,
    /// Per column, how its values are laid out.
    storage: Vec<Stored>,
}

/// Whether a column's plain pages are compressed. LZ4 at acceleration 8
/// compresses spilled text at 400–600 MB/s (about 2 ns of CPU a byte, with
/// reading it back); a byte it saves spares this VM about 3 ns of system
/// time (session 12: a spill 2.3 GB larger cost 6.7 s more). Text that
/// shrinks by less than a third (a phone number, an amount: random digits)
/// is cheaper stored as it is, so a column whose first page shrank less
/// is stored uncompressed from its next column chunk on (a chunk's pages
/// share one codec).
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Codec {
    Unknown,
    Lz4,
    Raw,
}

impl Codec {
    /// The codec a first page of `raw` bytes that LZ4 took to `compressed` calls for.
    pub(super) fn learned(raw: usize, compressed: usize) -> Codec {
        match compressed.saturating_mul(3) > raw.saturating_mul(2) {
            true => Codec::Raw,
            false => Codec::Lz4,
        }
    }
}

impl<W: Write> WorkingWriter<W> {
    /// A writer of rows with `schema` to `w` (nothing is written yet),
    /// every column [`Stored::Plain`].
    pub fn new(w: W, schema: &Schema) -> PolarsResult<WorkingWriter<W>> {
        WorkingWriter::with_storage(w, schema, &[])
    }

    /// A writer whose columns are laid out as `storage` says, in the
    /// schema's order (columns past its end: [`Stored::Plain`]). A
    /// [`Stored::Fixed`] column is a binary column of the schema written as
    /// Parquet's fixed-length byte arrays (read back as binary).
    pub fn with_storage(w: W, schema: &Schema, storage: &[Stored]) -> PolarsResult<WorkingWriter<W>> {
        let storage: Vec<Stored> = (0..schema.len())
            .map(|i| storage.get(i).copied().unwrap_or_default())
            .collect();
        let mut arrow = schema.to_arrow(CompatLevel::newest());
        for (field, stored) in arrow.iter_values_mut().zip(&storage) {
            if let Stored::Fixed(width) = *stored {
                polars_ensure!(
                    matches!(field.dtype(), ArrowDataType::BinaryView | ArrowDataType::LargeBinary | ArrowDataType::Binary),
                    ComputeError: "column {} stored as fixed-length bytes is not binary", field.name
                );
                field.dtype = ArrowDataType::FixedSizeBinary(width);
            }
        }
        let fields = to_parquet_schema(&arrow)?.fields().to_vec();
        let options = WriteOptions {
            statistics: StatisticsOptions::empty(),
            version: Version::V1,
            compression: CompressionOptions::Lz4Raw,
            data_page_size: None,
        };
        Ok(WorkingWriter {
            writer: FileWriter::try_new(w, arrow, options)?,
            codecs: vec![Codec::Unknown; fields.len()],
            fields,
            storage,
        })
    }

    /// Writes one row group of `rows` rows given as each column's Parquet
    /// plain values ([`PlainColumn`]), in the schema's order: for optional
    /// text or binary columns whose values are laid out as they come,
    /// without building arrays that the writer would then walk again.
    /// Pages hold about [`PAGE_BYTES`](super::plain::PAGE_BYTES) of values each; an
    /// [`PlainColumn::indexed`] column is a dictionary page and one page of
    /// indices.
    pub fn write_plain(&mut self, rows: usize, columns: &mut [PlainColumn]) -> PolarsResult<()> {
        polars_ensure!(
            columns.len() == self.fields.len(),
            ComputeError: "{} columns given for {}", columns.len(), self.fields.len()
        );
        let mut out = Vec::with_capacity(columns.len());
        for (((column, field), codec), &stored) in columns
            .iter_mut()
            .zip(&self.fields)
            .zip(self.codecs.iter_mut())
            .zip(&self.storage)
        {
            let primitive = match field {
                ParquetType::PrimitiveType(p)
                    if p.field_info.repetition == Repetition::Optional && holds(p.physical_type, stored) =>
                {
                    p
                }
                other => polars_bail!(
                    ComputeError: "column {} is not an optional byte array", other.name()
                ),
            };
            let descriptor = Descriptor {
                primitive_type: primitive.clone(),
                max_def_level: 1,
                max_rep_level: 0,
            };
            let indexed = column.dictionary.is_some();
            let pages = match indexed {
                true => ColumnPages::Ready(column.indexed_pages(rows, &descriptor)?.into_iter()),
                false => {
                    let plain = column.pages(rows, &descriptor, stored)?.into_iter();
                    // A plain column's codec is the learned one (LZ4 until
                    // its first page says otherwise).
                    let learned = match *codec {
                        Codec::Raw => Compression::Uncompressed,
                        Codec::Unknown | Codec::Lz4 => Compression::Lz4Raw,
                    };
                    match stored.codec().unwrap_or(learned) {
                        Compression::Zstd => ColumnPages::Zstd(plain),
                        Compression::Uncompressed => ColumnPages::Raw(plain),
                        _ => ColumnPages::Lz4(plain),
                    }
                }
            };
            // A plain column's first chunk teaches its codec.
            let learn = (!indexed && stored == Stored::Plain && *codec == Codec::Unknown).then_some(codec);
            out.push(Ok(DynStreamingIterator::new(Pages {
                pages,
                current: None,
                learn,
            })));
        }
        self.writer.write(rows as u64, DynIter::new(out.into_iter()))
    }

    /// Appends every row group of `file`, a whole Parquet file written
    /// with this writer's schema and storage, page for page as stored:
    /// nothing is decoded or compressed again, so the output holds the
    /// very bytes the file's writer produced (a shard's change state,
    /// copied by the merge). A file of another schema or storage is
    /// refused, as is one with dictionary pages or learned codecs, whose
    /// copies would not be what one writer writes.
    pub fn copy_row_groups(&mut self, file: Vec<u8>) -> PolarsResult<()> {
        use polars_parquet::parquet::read::{read_metadata, PageReader};
        polars_ensure!(
            self.storage.iter().all(|s| s.codec().is_some()),
            ComputeError: "a writer with learned codecs copies no row groups"
        );
        let buffer = polars_buffer::Buffer::from(file);
        let meta = read_metadata(&mut std::io::Cursor::new(buffer.clone()))?;
        let same = meta.schema().fields().len() == self.fields.len()
            && meta
                .schema()
                .fields()
                .iter()
                .zip(&self.fields)
                .all(|(a, b)| a.name() == b.name() && physical(a) == physical(b));
        polars_ensure!(same, ComputeError: "a file of another schema");
        for group in &meta.row_groups {
            let mut columns = Vec::with_capacity(self.fields.len());
            for (chunk, &stored) in group.parquet_columns().iter().zip(&self.storage) {
                polars_ensure!(
                    Some(chunk.compression()) == stored.codec() && chunk.dictionary_page_offset().is_none(),
                    ComputeError: "column {} stored otherwise than this writer stores it", chunk.descriptor().path_in_schema.join(".")
                );
                let mut cursor = std::io::Cursor::new(buffer.clone());
                std::io::Seek::seek(&mut cursor, std::io::SeekFrom::Start(chunk.byte_range().start))?;
                let pages = PageReader::new(cursor, chunk, Vec::new(), usize::MAX)
                    .map(|page| {
                        let mut page = page?;
                        if let CompressedPage::Data(data) = &mut page {
                            // Flat columns: a row per value.
                            data.num_rows = Some(data.num_values());
                        }
                        Ok(page)
                    })
                    .collect::<PolarsResult<Vec<CompressedPage>>>()?;
                columns.push(Ok(DynStreamingIterator::new(Pages {
                    pages: ColumnPages::Ready(pages.into_iter()),
                    current: None,
                    learn: None,
                })));
            }
            self.writer
                .write(group.num_rows() as u64, DynIter::new(columns.into_iter()))?;
        }
        Ok(())
    }

    /// Writes the footer and flushes the output; returns the file's size.
    pub fn finish(mut self) -> PolarsResult<u64> {
        let size = self.writer.end(None)?;
        self.writer.into_inner().flush()?;
        Ok(size)
    }
}

/// LZ4's acceleration (1 is its default; LZ4_RAW pages read the same
/// whatever it was). At 10M rows per side in 7 buckets, two runs each:
/// user CPU 74-76 s at 1, 62-68 s at 8, 60-65 s at 32; the spill 1,154,
/// 1,250 and 1,535 MB, state.parquet 1,072, 1,049 and 1,264 MB.
const LZ4_ACCELERATION: i32 = 8;

/// `raw` as one LZ4 block at [`LZ4_ACCELERATION`], written straight into
/// the output's spare capacity: zeroing the bound first (the `lz4` crate's
/// `compress_to_buffer` takes an initialized buffer) was half a percent of
/// a 10M-row run's CPU.
fn lz4_block(raw: &[u8]) -> PolarsResult<Vec<u8>> {
    use lz4::liblz4::{LZ4_compressBound, LZ4_compress_fast};
    let len = i32::try_from(raw.len()).map_err(|_| polars_err!(ComputeError: "a page of {} bytes", raw.len()))?;
    // SAFETY: LZ4_compressBound only computes a size.
    let bound = unsafe { LZ4_compressBound(len) };
    polars_ensure!(bound > 0, ComputeError: "a page of {} bytes", raw.len());
    let mut out: Vec<u8> = Vec::with_capacity(bound as usize);
    // SAFETY: LZ4 reads `len` bytes of `raw` and writes at most `bound`
    // bytes to `out`'s capacity; `out`'s length is set to what it wrote.
    let size = unsafe {
        LZ4_compress_fast(
            raw.as_ptr().cast(),
            out.as_mut_ptr().cast(),
            len,
            bound,
            LZ4_ACCELERATION,
        )
    };
    polars_ensure!(size > 0 && size <= bound, ComputeError: "LZ4 could not compress a page");
    // SAFETY: the first `size` bytes were written by LZ4 just above.
    unsafe { out.set_len(size as usize) };
    Ok(out)
}

/// A data page compressed as LZ4_RAW at [`LZ4_ACCELERATION`]; `learn`
/// (a column's first page) is told whether that paid.
fn lz4_page(data: DataPage, learn: Option<&mut Codec>) -> PolarsResult<CompressedPage> {
    let raw = data.buffer();
    let out = lz4_block(raw)?;
    if let Some(codec) = learn {
        *codec = Codec::learned(raw.len(), out.len());
    }
    let size = raw.len();
    compressed_page(data, CowBuffer::Owned(out), size, Compression::Lz4Raw)
}

impl Stored {
    /// The codec of the column's pages; None for [`Stored::Plain`], whose
    /// codec the writer learns from its first page.
    fn codec(self) -> Option<Compression> {
        match self {
            Stored::Plain => None,
            Stored::Lz4 => Some(Compression::Lz4Raw),
            Stored::Sorted => Some(Compression::Zstd),
            Stored::Fixed(_) => Some(Compression::Uncompressed),
        }
    }
}

/// The physical type of a flat column (None for a group).
fn physical(column: &ParquetType) -> Option<ParquetPhysicalType> {
    match column {
        ParquetType::PrimitiveType(p) => Some(p.physical_type),
        _ => None,
    }
}

/// Whether a Parquet column of `physical` type holds values laid out as `stored`.
fn holds(physical: ParquetPhysicalType, stored: Stored) -> bool {
    match (physical, stored) {
        (ParquetPhysicalType::ByteArray, Stored::Plain | Stored::Lz4 | Stored::Sorted) => true,
        (ParquetPhysicalType::FixedLenByteArray(n), Stored::Fixed(width)) => n == width,
        _ => false,
    }
}

/// zstd's level for [`Stored::Sorted`] columns: on 1M sorted keys, levels
/// 1, 3, 5 and 7 gave 1.78, 1.67, 1.62 and 1.61 MB; 3 is zstd's default.
const ZSTD_LEVEL: i32 = 3;

/// A data page compressed as ZSTD at [`ZSTD_LEVEL`].
fn zstd_page(data: DataPage) -> PolarsResult<CompressedPage> {
    let raw = data.buffer();
    let out = zstd::bulk::compress(raw, ZSTD_LEVEL).map_err(|e| polars_err!(ComputeError: "zstd: {e}"))?;
    let size = raw.len();
    compressed_page(data, CowBuffer::Owned(out), size, Compression::Zstd)
}

/// A data page stored as it is (its body moved, not copied).
fn raw_page(mut data: DataPage) -> PolarsResult<CompressedPage> {
    let body = std::mem::take(data.buffer_mut());
    let size = body.len();
    compressed_page(data, CowBuffer::Owned(body), size, Compression::Uncompressed)
}

/// `data`'s page with its body (`size` bytes uncompressed) in `compression`.
fn compressed_page(
    data: DataPage,
    body: CowBuffer,
    size: usize,
    compression: Compression,
) -> PolarsResult<CompressedPage> {
    let num_rows = data
        .num_rows
        .ok_or_else(|| polars_err!(ComputeError: "a data page without its row count"))?;
    Ok(CompressedPage::Data(CompressedDataPage::new(
        data.header().clone(),
        body,
        compression,
        size,
        data.descriptor.clone(),
        num_rows,
    )))
}

/// A column's pages as the writer asks for them: plain pages compressed
/// (or stored, [`Codec::Raw`]) one at a time, or a dictionary-indexed
/// column's pages, ready.
struct Pages<'a> {
    pages: ColumnPages,
    current: Option<CompressedPage>,
    /// The column's codec, to be learned from this chunk's first page.
    learn: Option<&'a mut Codec>,
}

enum ColumnPages {
    Lz4(std::vec::IntoIter<DataPage>),
    Raw(std::vec::IntoIter<DataPage>),
    Zstd(std::vec::IntoIter<DataPage>),
    Ready(std::vec::IntoIter<CompressedPage>),
}

impl FallibleStreamingIterator for Pages<'_> {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> PolarsResult<()> {
        self.current = match &mut self.pages {
            ColumnPages::Lz4(pages) => pages.next().map(|p| lz4_page(p, self.learn.take())).transpose()?,
            ColumnPages::Raw(pages) => pages.next().map(raw_page).transpose()?,
            ColumnPages::Zstd(pages) => pages.next().map(zstd_page).transpose()?,
            ColumnPages::Ready(pages) => pages.next(),
        };
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}

/// `w` behind a write buffer: the writer writes each page header and page
/// on its own, which unbuffered is a system call apiece (many for a spill
/// of small row groups). [`WorkingWriter::finish`] flushes it.
pub fn buffered<W: Write>(w: W) -> std::io::BufWriter<W> {
    std::io::BufWriter::with_capacity(1 << 20, w)
}

/// The working file's writer, opened for `schema` (its columns laid out
/// as `storage` says, [`WorkingWriter::with_storage`]) on `open`'s output
/// if it is not yet.
pub fn opened<'w, W: Write>(
    writer: &'w mut Option<WorkingWriter<W>>,
    schema: &Schema,
    storage: &[Stored],
    open: impl FnOnce() -> Result<W>,
    error: impl Fn(PolarsError) -> Error,
) -> Result<&'w mut WorkingWriter<W>> {
    match writer {
        Some(w) => Ok(w),
        None => Ok(writer.insert(WorkingWriter::with_storage(open()?, schema, storage).map_err(error)?)),
    }
}
