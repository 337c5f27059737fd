//! The Parquet files a run writes and reads back itself: the bucket spill,
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
use polars_parquet::parquet::encoding::uleb128;
use polars_parquet::parquet::page::{CompressedDictPage, DataPage, DataPageHeader, DataPageHeaderV1};
use polars_parquet::parquet::schema::Repetition;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    to_parquet_schema, write_def_levels, CompressedDataPage, CompressedPage, CompressionOptions, Descriptor, DynIter,
    DynStreamingIterator, Encoding, FallibleStreamingIterator, FileWriter, ParquetPhysicalType, ParquetType,
    StatisticsOptions, Version, WriteOptions,
};

use crate::error::{Error, Result};

/// A Parquet file written a row group at a time.
pub struct WorkingWriter<W: Write> {
    writer: FileWriter<W>,
    /// Per column, its Parquet type.
    fields: Vec<ParquetType>,
    /// Per column, whether LZ4 pays for itself, learned from its first
    /// plain page.
    codecs: Vec<Codec>,
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
enum Codec {
    Unknown,
    Lz4,
    Raw,
}

impl Codec {
    /// The codec a first page of `raw` bytes that LZ4 took to `compressed` calls for.
    fn learned(raw: usize, compressed: usize) -> Codec {
        match compressed.saturating_mul(3) > raw.saturating_mul(2) {
            true => Codec::Raw,
            false => Codec::Lz4,
        }
    }
}

impl<W: Write> WorkingWriter<W> {
    /// A writer of rows with `schema` to `w` (nothing is written yet).
    pub fn new(w: W, schema: &Schema) -> PolarsResult<WorkingWriter<W>> {
        let arrow = schema.to_arrow(CompatLevel::newest());
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
        })
    }

    /// Writes one row group of `rows` rows given as each column's Parquet
    /// plain values ([`PlainColumn`]), in the schema's order: for optional
    /// text or binary columns whose values are laid out as they come,
    /// without building arrays that the writer would then walk again.
    /// Pages hold about [`PAGE_BYTES`] of values each; an
    /// [`PlainColumn::indexed`] column is a dictionary page and one page of
    /// indices.
    pub fn write_plain(&mut self, rows: usize, columns: &mut [PlainColumn]) -> PolarsResult<()> {
        polars_ensure!(
            columns.len() == self.fields.len(),
            ComputeError: "{} columns given for {}", columns.len(), self.fields.len()
        );
        let mut out = Vec::with_capacity(columns.len());
        for ((column, field), codec) in columns.iter_mut().zip(&self.fields).zip(self.codecs.iter_mut()) {
            let primitive = match field {
                ParquetType::PrimitiveType(p)
                    if p.physical_type == ParquetPhysicalType::ByteArray
                        && p.field_info.repetition == Repetition::Optional =>
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
            let pages = match (indexed, *codec) {
                (true, _) => ColumnPages::Ready(column.indexed_pages(rows, &descriptor)?.into_iter()),
                (false, Codec::Raw) => ColumnPages::Raw(column.pages(rows, &descriptor)?.into_iter()),
                (false, _) => ColumnPages::Lz4(column.pages(rows, &descriptor)?.into_iter()),
            };
            // A column's first plain chunk teaches its codec.
            let learn = (!indexed && *codec == Codec::Unknown).then_some(codec);
            out.push(Ok(DynStreamingIterator::new(Pages {
                pages,
                current: None,
                learn,
            })));
        }
        self.writer.write(rows as u64, DynIter::new(out.into_iter()))
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
    Ready(std::vec::IntoIter<CompressedPage>),
}

impl FallibleStreamingIterator for Pages<'_> {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> PolarsResult<()> {
        self.current = match &mut self.pages {
            ColumnPages::Lz4(pages) => pages.next().map(|p| lz4_page(p, self.learn.take())).transpose()?,
            ColumnPages::Raw(pages) => pages.next().map(raw_page).transpose()?,
            ColumnPages::Ready(pages) => pages.next(),
        };
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}

/// Bytes of values per page of [`WorkingWriter::write_plain`]: pages of a
/// few tens of MB (a state batch's hashes) were each a fresh allocation
/// that the kernel zeroed, for the page and again for its compressed copy
/// (10M rows: +1.7 s of system time).
const PAGE_BYTES: usize = 1 << 20;

/// One column of a row group: its values in Parquet's plain encoding, each
/// pushed with [`push_plain`] or, in a column whose rows all have one, with
/// [`PlainColumn::push`] (which marks where pages begin as it goes; a
/// column is filled one way only), and which rows have one (None: all).
#[derive(Default)]
pub struct PlainColumn {
    pub values: Vec<u8>,
    pub validity: Option<polars_arrow::bitmap::Bitmap>,
    /// The rows whose definition levels begin `values` ([`PlainColumn::leveled`]);
    /// 0 when they do not.
    leveled: usize,
    /// Values added by [`PlainColumn::push`].
    pushed: usize,
    /// Where each page after the first begins (its first row and byte),
    /// marked by [`PlainColumn::push`].
    marks: Vec<(usize, usize)>,
    /// For a column given as indices ([`PlainColumn::indexed`]), the
    /// values they index.
    dictionary: Option<std::sync::Arc<Dictionary>>,
    /// Per row with a value, its value's place in `dictionary`.
    indices: Vec<u32>,
}

/// Distinct values in Parquet's plain encoding, indexed by the columns of
/// [`PlainColumn::indexed`] (the buckets' shares of one spilled chunk's
/// column share one).
pub struct Dictionary {
    pub values: Vec<u8>,
    pub len: usize,
}

impl PlainColumn {
    /// A column of these values and validity.
    pub fn new(values: Vec<u8>, validity: Option<polars_arrow::bitmap::Bitmap>) -> PlainColumn {
        PlainColumn {
            values,
            validity,
            ..PlainColumn::default()
        }
    }

    /// Appends one value of a column whose rows all have one, noting where
    /// a page begins: a page ends at the first row past [`PAGE_BYTES`] of
    /// values, as [`PlainColumn::pages`] would find by walking them (a
    /// walk over every value of the change state's batches, 2% of a run).
    #[inline]
    pub fn push(&mut self, value: &[u8]) {
        let start = self.marks.last().map_or(0, |m| m.1);
        if self.values.len() - start >= PAGE_BYTES {
            self.marks.push((self.pushed, self.values.len()));
        }
        push_plain(&mut self.values, value);
        self.pushed += 1;
    }

    /// A column whose rows with a value (all, or those `validity` marks)
    /// hold `dictionary`'s value at their place in `indices`, in order.
    /// It is written as a dictionary page and one page of indices, both
    /// uncompressed: a column that repeats a few values (a status, a city,
    /// a small count) takes a few bits per row instead of its text, which
    /// LZ4 compressed at well under 1 GB/s and the reader decoded again.
    pub fn indexed(
        dictionary: std::sync::Arc<Dictionary>,
        indices: Vec<u32>,
        validity: Option<polars_arrow::bitmap::Bitmap>,
    ) -> PlainColumn {
        PlainColumn {
            validity,
            dictionary: Some(dictionary),
            indices,
            ..PlainColumn::default()
        }
    }

    /// Empties the column, keeping its buffer.
    pub fn clear(&mut self) {
        self.values.clear();
        self.validity = None;
        self.leveled = 0;
        self.pushed = 0;
        self.marks.clear();
        self.dictionary = None;
        self.indices.clear();
    }

    /// A column of `rows` rows that all have a value, its definition levels
    /// written first, with room for `capacity` bytes of values: it is
    /// written as one page whose body is `values` itself, handed over
    /// without a copy (a bucket's share of a spilled chunk: copying each
    /// into its page was a fifth of the scatter's CPU).
    pub fn leveled(rows: usize, capacity: usize) -> PolarsResult<PlainColumn> {
        let mut values = Vec::with_capacity(capacity + 16);
        write_def_levels(&mut values, true, None, rows, Version::V1)?;
        Ok(PlainColumn {
            values,
            leveled: rows,
            ..PlainColumn::default()
        })
    }

    /// The column's data pages for `rows` rows; a [`PlainColumn::leveled`]
    /// column's values are moved into its page.
    fn pages(&mut self, rows: usize, descriptor: &Descriptor) -> PolarsResult<Vec<DataPage>> {
        polars_ensure!(rows > 0, ComputeError: "a row group without rows");
        if self.leveled > 0 {
            polars_ensure!(
                self.leveled == rows && self.validity.is_none(),
                ComputeError: "a column leveled for {} rows written as {rows}", self.leveled
            );
            // The scatter pushes one value per row routed here; walking them
            // to check was 4% of a partition's CPU.
            debug_assert_eq!(
                self.value_end(4 + self.length_at(0).unwrap_or(0), 0, rows).ok(),
                Some(self.values.len())
            );
            let body = std::mem::take(&mut self.values);
            self.leveled = 0;
            return Ok(vec![data_page(body, rows, descriptor)?]);
        }
        if self.pushed > 0 {
            polars_ensure!(
                self.pushed == rows && self.validity.is_none(),
                ComputeError: "{} values pushed for {rows} rows", self.pushed
            );
            return self.marked_pages(descriptor);
        }
        let mut pages = Vec::new();
        let (mut row, mut at) = (0usize, 0usize);
        while row < rows {
            let first = row;
            let start = at;
            // The page ends at the first row past PAGE_BYTES of values.
            let mut n = 0;
            while first + n < rows && at - start < PAGE_BYTES {
                at = self.value_end(at, first + n, first + n + 1)?;
                n += 1;
            }
            row = first + n;
            let validity = self.validity.as_ref().map(|v| v.clone().sliced(first, n));
            pages.push(page_with_levels(
                &self.values[start..at],
                validity.as_ref(),
                n,
                descriptor,
            )?);
        }
        polars_ensure!(at == self.values.len(), ComputeError: "plain values left after {rows} rows");
        Ok(pages)
    }

    /// The dictionary page and the page of indices of an
    /// [`PlainColumn::indexed`] column of `rows` rows, uncompressed.
    fn indexed_pages(&mut self, rows: usize, descriptor: &Descriptor) -> PolarsResult<Vec<CompressedPage>> {
        let dictionary = self
            .dictionary
            .take()
            .ok_or_else(|| polars_err!(ComputeError: "a column without its dictionary"))?;
        let indices = std::mem::take(&mut self.indices);
        let valid = match &self.validity {
            Some(v) => {
                polars_ensure!(v.len() == rows, ComputeError: "validity of {} rows written as {rows}", v.len());
                rows - v.unset_bits()
            }
            None => rows,
        };
        polars_ensure!(
            rows > 0 && indices.len() == valid,
            ComputeError: "{} indices for {valid} values of {rows} rows", indices.len()
        );
        polars_ensure!(
            dictionary.len > 0 && indices.iter().all(|&i| (i as usize) < dictionary.len),
            ComputeError: "an index past a dictionary of {} values", dictionary.len
        );
        let bits = (usize::BITS - (dictionary.len - 1).leading_zeros()).max(1);
        let mut body = Vec::with_capacity(rows / 8 + 32 + indices.len() * bits as usize / 8);
        write_def_levels(&mut body, true, self.validity.as_ref(), rows, Version::V1)?;
        body.push(bits as u8);
        bit_pack(&mut body, &indices, bits);
        let header = page_header(rows, Encoding::RleDictionary)?;
        let size = body.len();
        Ok(vec![
            CompressedPage::Dict(CompressedDictPage::new(
                CowBuffer::Owned(dictionary.values.clone()),
                Compression::Uncompressed,
                dictionary.values.len(),
                dictionary.len,
                false,
            )),
            CompressedPage::Data(CompressedDataPage::new(
                header,
                CowBuffer::Owned(body),
                Compression::Uncompressed,
                size,
                descriptor.clone(),
                rows,
            )),
        ])
    }

    /// The pages of a column given by [`PlainColumn::push`], cut where it
    /// marked them.
    fn marked_pages(&mut self, descriptor: &Descriptor) -> PolarsResult<Vec<DataPage>> {
        let ends = self.marks.iter().copied().chain([(self.pushed, self.values.len())]);
        let mut pages = Vec::with_capacity(self.marks.len() + 1);
        let (mut row, mut at) = (0usize, 0usize);
        for (end_row, end) in ends {
            pages.push(page_with_levels(
                &self.values[at..end],
                None,
                end_row - row,
                descriptor,
            )?);
            (row, at) = (end_row, end);
        }
        Ok(pages)
    }

    /// The 4-byte little-endian length at byte `at` of `values` (a value's,
    /// or the definition levels' of a leveled column); None past the end.
    fn length_at(&self, at: usize) -> Option<usize> {
        let bytes = self.values.get(at..at.checked_add(4)?)?;
        <[u8; 4]>::try_from(bytes).ok().map(|b| u32::from_le_bytes(b) as usize)
    }

    /// Where the values of rows `from..to` end, the first starting at byte
    /// `at` (rows without a value take no bytes).
    fn value_end(&self, mut at: usize, from: usize, to: usize) -> PolarsResult<usize> {
        for row in from..to {
            if self.validity.as_ref().is_some_and(|v| !v.get_bit(row)) {
                continue;
            }
            let len = self
                .length_at(at)
                .ok_or_else(|| polars_err!(ComputeError: "plain values end before row {row}"))?;
            at += 4 + len;
            polars_ensure!(at <= self.values.len(), ComputeError: "plain values end before row {row}");
        }
        Ok(at)
    }
}

/// A data page of `rows` rows: their definition levels (from `validity`;
/// None: all have a value), then a copy of their plain `values`.
fn page_with_levels(
    values: &[u8],
    validity: Option<&polars_arrow::bitmap::Bitmap>,
    rows: usize,
    descriptor: &Descriptor,
) -> PolarsResult<DataPage> {
    let mut body = Vec::with_capacity(values.len() + rows / 8 + 16);
    write_def_levels(&mut body, true, validity, rows, Version::V1)?;
    body.extend_from_slice(values);
    data_page(body, rows, descriptor)
}

/// Appends `values` of `bits` bits each (1 to 32) as one bit-packed run of
/// Parquet's RLE / bit-packing hybrid: its header (the count of 8-value
/// groups, shifted, with the low bit set) and the values, least
/// significant bit first, the last group padded with zeros. (polars'
/// encoder, which looks for repeats to run-length encode, was 0.8% of a
/// 10M-row run's CPU.)
fn bit_pack(out: &mut Vec<u8>, values: &[u32], bits: u32) {
    debug_assert!((1..=32).contains(&bits));
    let groups = values.len().div_ceil(8);
    let mut header = [0u8; 10];
    let used = uleb128::encode(((groups as u64) << 1) | 1, &mut header);
    out.extend_from_slice(&header[..used]);
    out.reserve(groups * bits as usize);
    let (mut acc, mut held) = (0u64, 0u32);
    let padding = groups * 8 - values.len();
    for &v in values.iter().chain(std::iter::repeat_n(&0, padding)) {
        acc |= u64::from(v) << held;
        held += bits;
        while held >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            held -= 8;
        }
    }
    debug_assert_eq!(held, 0, "8 values of any width fill whole bytes");
}

/// A plain data page (version 1) of `rows` rows whose `body` holds their
/// definition levels and values.
fn data_page(body: Vec<u8>, rows: usize, descriptor: &Descriptor) -> PolarsResult<DataPage> {
    let header = page_header(rows, Encoding::Plain)?;
    Ok(DataPage::new(header, CowBuffer::Owned(body), descriptor.clone(), rows))
}

/// The header of a data page (version 1) of `rows` rows whose values are
/// in `encoding`, their definition levels run-length encoded.
fn page_header(rows: usize, encoding: Encoding) -> PolarsResult<DataPageHeader> {
    let num_values = i32::try_from(rows).map_err(|_| polars_err!(ComputeError: "{rows} rows in one page"))?;
    Ok(DataPageHeader::V1(DataPageHeaderV1 {
        num_values,
        encoding: encoding.into(),
        definition_level_encoding: Encoding::Rle.into(),
        repetition_level_encoding: Encoding::Rle.into(),
        statistics: None,
    }))
}

/// Appends one value to a column's plain values: its length (4 bytes,
/// little-endian) and its bytes, Parquet's plain encoding of a byte array.
#[inline]
pub fn push_plain(values: &mut Vec<u8>, value: &[u8]) {
    values.extend_from_slice(&(value.len() as u32).to_le_bytes());
    values.extend_from_slice(value);
}

/// `w` behind a write buffer: the writer writes each page header and page
/// on its own, which unbuffered is a system call apiece (many for a spill
/// of small row groups). [`WorkingWriter::finish`] flushes it.
pub fn buffered<W: Write>(w: W) -> std::io::BufWriter<W> {
    std::io::BufWriter::with_capacity(1 << 20, w)
}

/// The working file's writer, opened for `schema` on `open`'s output if
/// it is not yet.
pub fn opened<'w, W: Write>(
    writer: &'w mut Option<WorkingWriter<W>>,
    schema: &Schema,
    open: impl FnOnce() -> Result<W>,
    error: impl Fn(PolarsError) -> Error,
) -> Result<&'w mut WorkingWriter<W>> {
    match writer {
        Some(w) => Ok(w),
        None => Ok(writer.insert(WorkingWriter::new(open()?, schema).map_err(error)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_files_are_plain_lz4_parquet_without_dictionaries() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("w.parquet");
        // Few distinct texts: polars' own writer would build a dictionary.
        let status = |i: usize| format!("status number {} of a few", i % 3);
        let schema = Schema::from_iter([Field::new("status".into(), DataType::String)]);
        let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut writer = WorkingWriter::new(file, &schema).unwrap_or_else(|e| panic!("{e}"));
        for (from, n) in [(0, 5000), (5000, 3000)] {
            let mut column = PlainColumn::default();
            (from..from + n).for_each(|i| push_plain(&mut column.values, status(i).as_bytes()));
            writer.write_plain(n, &mut [column]).unwrap_or_else(|e| panic!("{e}"));
        }
        writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = ParquetReader::new(file);
        let meta = reader.get_metadata().cloned().unwrap_or_else(|e| panic!("{e}"));
        let read = reader.finish().unwrap_or_else(|e| panic!("{e}"));
        let expected: Vec<String> = (0..8000).map(status).collect();
        assert!(read.equals(
            &DataFrame::new(8000, vec![Column::new("status".into(), expected)]).unwrap_or_else(|e| panic!("{e}"))
        ));
        assert_eq!(meta.row_groups.len(), 2);
        for group in &meta.row_groups {
            for column in group.parquet_columns() {
                assert_eq!(column.compression(), Compression::Lz4Raw);
                assert_eq!(column.dictionary_page_offset(), None);
            }
        }
    }

    #[test]
    fn a_column_lz4_barely_shrinks_is_stored_uncompressed_from_its_next_chunk() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("c.parquet");
        // Phone-like random digits (LZ4 keeps over 80% of them) beside
        // timestamps that share most of their text.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut digits = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("1{:010}", state % 10_000_000_000)
        };
        let stamp = |i: usize| format!("2025-12-{:02} 0{}:00:00", 1 + i % 28, i % 10);
        let schema = Schema::from_iter([
            Field::new("phone".into(), DataType::String),
            Field::new("at".into(), DataType::String),
        ]);
        let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut writer = WorkingWriter::new(file, &schema).unwrap_or_else(|e| panic!("{e}"));
        let (mut phones, mut stamps) = (Vec::new(), Vec::new());
        for (from, n) in [(0, 20_000), (20_000, 20_000), (40_000, 7)] {
            let [mut p, mut t] = [PlainColumn::default(), PlainColumn::default()];
            for i in from..from + n {
                let phone = digits();
                push_plain(&mut p.values, phone.as_bytes());
                push_plain(&mut t.values, stamp(i).as_bytes());
                phones.push(phone);
                stamps.push(stamp(i));
            }
            writer.write_plain(n, &mut [p, t]).unwrap_or_else(|e| panic!("{e}"));
        }
        writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = ParquetReader::new(file);
        let meta = reader.get_metadata().cloned().unwrap_or_else(|e| panic!("{e}"));
        let read = reader.finish().unwrap_or_else(|e| panic!("{e}"));
        let expected = DataFrame::new(
            phones.len(),
            vec![Column::new("phone".into(), phones), Column::new("at".into(), stamps)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(read.equals(&expected));
        let codecs: Vec<Vec<Compression>> = meta
            .row_groups
            .iter()
            .map(|g| g.parquet_columns().iter().map(|c| c.compression()).collect())
            .collect();
        // The first chunk of each is compressed while its codec is learned.
        assert_eq!(
            codecs,
            vec![
                vec![Compression::Lz4Raw, Compression::Lz4Raw],
                vec![Compression::Uncompressed, Compression::Lz4Raw],
                vec![Compression::Uncompressed, Compression::Lz4Raw],
            ]
        );
    }

    #[test]
    fn learned_codecs_keep_lz4_only_where_it_saves_a_third() {
        assert_eq!(Codec::learned(300, 199), Codec::Lz4);
        assert_eq!(Codec::learned(300, 200), Codec::Lz4);
        assert_eq!(Codec::learned(300, 201), Codec::Raw);
        assert_eq!(Codec::learned(10, 12), Codec::Raw);
        assert_eq!(Codec::learned(0, 1), Codec::Raw);
    }

    #[test]
    fn plain_values_read_back_as_written_across_pages_and_row_groups() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("p.parquet");
        // Over three pages of text per row group, nulls and empty texts
        // among them, and a binary column without nulls.
        let text = |i: usize| match i % 7 {
            0 => None,
            1 => Some(String::new()),
            _ => Some(format!("value {i} of a column long enough for several pages")),
        };
        let expected = |from: usize, n: usize| -> DataFrame {
            let texts: Vec<Option<String>> = (from..from + n).map(text).collect();
            let bytes: Vec<Vec<u8>> = (from..from + n).map(|i| (i as u64).to_le_bytes().to_vec()).collect();
            DataFrame::new(n, vec![Column::new("t".into(), texts), Column::new("b".into(), bytes)])
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let columns = |from: usize, n: usize| -> [PlainColumn; 2] {
            let mut t = PlainColumn::default();
            let mut valid = polars_arrow::bitmap::MutableBitmap::new();
            let mut b = PlainColumn::default();
            for i in from..from + n {
                valid.push(text(i).is_some());
                if let Some(v) = text(i) {
                    push_plain(&mut t.values, v.as_bytes());
                }
                push_plain(&mut b.values, &(i as u64).to_le_bytes());
            }
            t.validity = Some(valid.into());
            [t, b]
        };
        let schema = expected(0, 1).schema().clone();
        let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut writer = WorkingWriter::new(file, &schema).unwrap_or_else(|e| panic!("{e}"));
        for (from, n) in [(0, 100_000), (100_000, 1)] {
            let mut cols = columns(from, n);
            assert!(n == 1 || cols[0].values.len() > 3 * PAGE_BYTES);
            writer.write_plain(n, &mut cols).unwrap_or_else(|e| panic!("{e}"));
        }
        // Values that end before the rows they claim are refused.
        let [mut short, b] = columns(0, 10);
        short.values.truncate(short.values.len() - 1);
        assert!(writer.write_plain(10, &mut [short, b]).is_err());
        // A column leveled for its rows goes as one page, without a copy;
        // written for another number of rows, it is refused.
        let leveled = |n: usize| {
            let mut t = PlainColumn::leveled(n, 64).unwrap_or_else(|e| panic!("{e}"));
            let mut b = PlainColumn::default();
            for i in 100_001..100_001 + n {
                push_plain(&mut t.values, text(i).unwrap_or_default().as_bytes());
                push_plain(&mut b.values, &(i as u64).to_le_bytes());
            }
            [t, b]
        };
        assert!(writer.write_plain(2, &mut leveled(3)).is_err());
        let mut cols = leveled(3);
        writer.write_plain(3, &mut cols).unwrap_or_else(|e| panic!("{e}"));
        assert!(cols[0].values.is_empty(), "the leveled values were moved into the page");
        writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let read = ParquetReader::new(file).finish().unwrap_or_else(|e| panic!("{e}"));
        let mut all = expected(0, 100_001);
        let last: Vec<Option<String>> = (100_001..100_004).map(|i| Some(text(i).unwrap_or_default())).collect();
        let last_bytes: Vec<Vec<u8>> = (100_001..100_004).map(|i| (i as u64).to_le_bytes().to_vec()).collect();
        let last = DataFrame::new(
            3,
            vec![Column::new("t".into(), last), Column::new("b".into(), last_bytes)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        all.vstack_mut(&last).unwrap_or_else(|e| panic!("{e}"));
        assert!(read.equals_missing(&all));
    }

    #[test]
    fn pushed_values_are_paged_as_a_walk_over_them_would_page_them() {
        let schema = Schema::from_iter([Field::new("v".into(), DataType::Binary)]);
        let writer = WorkingWriter::new(Vec::new(), &schema).unwrap_or_else(|e| panic!("{e}"));
        let descriptor = Descriptor {
            primitive_type: match &writer.fields[0] {
                ParquetType::PrimitiveType(p) => p.clone(),
                other => panic!("{other:?}"),
            },
            max_def_level: 1,
            max_rep_level: 0,
        };
        // Values of varied sizes, some larger than a page, over several pages.
        let value = |i: usize| vec![(i % 251) as u8; if i % 1000 == 7 { PAGE_BYTES + 3 } else { i % 97 }];
        for rows in [1, 2, 20_000, 60_000] {
            let (mut pushed, mut walked) = (PlainColumn::default(), PlainColumn::default());
            for i in 0..rows {
                pushed.push(&value(i));
                push_plain(&mut walked.values, &value(i));
            }
            let a = pushed.pages(rows, &descriptor).unwrap_or_else(|e| panic!("{e}"));
            let b = walked.pages(rows, &descriptor).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(a.len(), b.len(), "{rows} rows");
            assert!(rows < 20_000 || a.len() > 2, "{rows} rows in {} pages", a.len());
            for (a, b) in a.iter().zip(&b) {
                assert_eq!((a.buffer(), a.num_values()), (b.buffer(), b.num_values()));
            }
            // Pushed for other rows than written: refused.
            assert!(pushed.pages(rows + 1, &descriptor).is_err());
            pushed.clear();
            assert!(pushed.values.is_empty() && pushed.marks.is_empty() && pushed.pushed == 0);
        }
    }

    #[test]
    fn bit_packed_runs_decode_as_written() {
        use polars_parquet::parquet::encoding::hybrid_rle::HybridRleDecoder;
        for bits in [1u32, 2, 3, 7, 8, 10, 13, 16, 31, 32] {
            for len in [1usize, 7, 8, 9, 64, 1000, 1030] {
                let max = if bits == 32 { u32::MAX } else { (1u32 << bits) - 1 };
                let values: Vec<u32> = (0..len as u64)
                    .map(|i| (i.wrapping_mul(0x9E37_79B9) % (u64::from(max) + 1)) as u32)
                    .collect();
                let mut out = Vec::new();
                bit_pack(&mut out, &values, bits);
                let decoded = HybridRleDecoder::new(&out, bits, len)
                    .collect()
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(decoded, values, "{bits} bits, {len} values");
            }
        }
    }

    #[test]
    fn indexed_columns_check_their_indices_against_their_rows() {
        let schema = Schema::from_iter([Field::new("v".into(), DataType::String)]);
        let mut writer = WorkingWriter::new(Vec::new(), &schema).unwrap_or_else(|e| panic!("{e}"));
        let mut values = Vec::new();
        push_plain(&mut values, b"a");
        push_plain(&mut values, b"b");
        let dictionary = std::sync::Arc::new(Dictionary { values, len: 2 });
        let column = |indices: Vec<u32>, validity: Option<Vec<bool>>| {
            PlainColumn::indexed(dictionary.clone(), indices, validity.map(|v| v.into_iter().collect()))
        };
        // Too few or too many indices for the rows with a value, and an
        // index past the dictionary, are refused.
        assert!(writer.write_plain(3, &mut [column(vec![0, 1], None)]).is_err());
        assert!(writer
            .write_plain(3, &mut [column(vec![0, 1, 1], Some(vec![true, false, true]))])
            .is_err());
        assert!(writer.write_plain(2, &mut [column(vec![0, 2], None)]).is_err());
        assert!(writer
            .write_plain(3, &mut [column(vec![1, 0], Some(vec![true, false, true]))])
            .is_ok());
    }

    #[test]
    fn a_file_without_rows_still_has_the_columns() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("w.parquet");
        let schema = Schema::from_iter([Field::new("key".into(), DataType::String)]);
        let mut writer = None;
        let open = || std::fs::File::create(&path).map_err(|e| Error::io(&path, e));
        opened(&mut writer, &schema, open, |e| Error::Internal(e.to_string())).unwrap_or_else(|e| panic!("{e}"));
        writer
            .map(WorkingWriter::finish)
            .transpose()
            .unwrap_or_else(|e| panic!("{e}"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let read = ParquetReader::new(file).finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.height(), 0);
        assert_eq!(read.get_column_names(), ["key"]);
    }
}
