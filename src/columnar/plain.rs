//! Columns as Parquet plain values (or indices into a dictionary), laid
//! out as they are produced, and cut into data pages.

use polars::prelude::*;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::parquet::encoding::{delta_byte_array, uleb128};
use polars_parquet::parquet::page::{CompressedDictPage, DataPage, DataPageHeader, DataPageHeaderV1};
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{write_def_levels, CompressedDataPage, CompressedPage, Descriptor, Encoding, Version};

use super::Bitmap;

/// Bytes of values per page of [`WorkingWriter::write_plain`]: pages of a
/// few tens of MB (a state batch's hashes) were each a fresh allocation
/// that the kernel zeroed, for the page and again for its compressed copy
/// (10M rows: +1.7 s of system time).
pub(super) const PAGE_BYTES: usize = 1 << 20;

/// How a column's values are laid out on disk. Every column is given as
/// plain values ([`PlainColumn`]); all but `Plain` are re-encoded page by
/// page as they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Stored {
    /// Parquet's plain encoding, LZ4-compressed when that pays (the
    /// writer learns it from the column's first page).
    #[default]
    Plain,
    /// Text whose neighbours share their beginnings (sorted keys):
    /// DELTA_BYTE_ARRAY (each value as the length of the prefix it shares
    /// with the one before and the rest), zstd-compressed. The change
    /// state's keys: 5.6 bytes a key in plain LZ4, 1.7 in this (1M keys
    /// `{"id":"K0000000010"}`).
    Sorted,
    /// Parquet's plain encoding, always LZ4-compressed: a column whose
    /// files must come out the same however they are cut (the change
    /// state, whose per-bucket files a merge copies page for page).
    Lz4,
    /// Values of exactly this many bytes each (hashes):
    /// FIXED_LEN_BYTE_ARRAY, without plain's 4-byte length per value, and
    /// uncompressed (random bytes do not compress).
    Fixed(usize),
}

/// One column of a row group: its values in Parquet's plain encoding, each
/// pushed with [`push_plain`] or, in a column whose rows all have one, with
/// [`PlainColumn::push`] (which marks where pages begin as it goes; a
/// column is filled one way only), and which rows have one (None: all).
#[derive(Default)]
pub struct PlainColumn {
    pub values: Vec<u8>,
    pub validity: Option<Bitmap>,
    /// The rows whose definition levels begin `values` ([`PlainColumn::leveled`]);
    /// 0 when they do not.
    leveled: usize,
    /// Values added by [`PlainColumn::push`].
    pub(super) pushed: usize,
    /// Where each page after the first begins (its first row and byte),
    /// marked by [`PlainColumn::push`].
    pub(super) marks: Vec<(usize, usize)>,
    /// For a column given as indices ([`PlainColumn::indexed`]), the
    /// values they index.
    pub(super) dictionary: Option<std::sync::Arc<Dictionary>>,
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
    pub fn new(values: Vec<u8>, validity: Option<Bitmap>) -> PlainColumn {
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
    pub fn indexed(dictionary: std::sync::Arc<Dictionary>, indices: Vec<u32>, validity: Option<Bitmap>) -> PlainColumn {
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
    pub(super) fn pages(
        &mut self,
        rows: usize,
        descriptor: &Descriptor,
        stored: Stored,
    ) -> PolarsResult<Vec<DataPage>> {
        polars_ensure!(rows > 0, ComputeError: "a row group without rows");
        if self.leveled > 0 {
            polars_ensure!(
                self.leveled == rows && self.validity.is_none() && stored == Stored::Plain,
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
            return self.marked_pages(descriptor, stored);
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
                stored,
            )?);
        }
        polars_ensure!(at == self.values.len(), ComputeError: "plain values left after {rows} rows");
        Ok(pages)
    }

    /// The dictionary page and the page of indices of an
    /// [`PlainColumn::indexed`] column of `rows` rows, uncompressed.
    pub(super) fn indexed_pages(&mut self, rows: usize, descriptor: &Descriptor) -> PolarsResult<Vec<CompressedPage>> {
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
    fn marked_pages(&mut self, descriptor: &Descriptor, stored: Stored) -> PolarsResult<Vec<DataPage>> {
        let ends = self.marks.iter().copied().chain([(self.pushed, self.values.len())]);
        let mut pages = Vec::with_capacity(self.marks.len() + 1);
        let (mut row, mut at) = (0usize, 0usize);
        for (end_row, end) in ends {
            pages.push(page_with_levels(
                &self.values[at..end],
                None,
                end_row - row,
                descriptor,
                stored,
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
/// None: all have a value), then their plain `values` as `stored` lays
/// them out.
fn page_with_levels(
    plain: &[u8],
    validity: Option<&Bitmap>,
    rows: usize,
    descriptor: &Descriptor,
    stored: Stored,
) -> PolarsResult<DataPage> {
    let mut body = Vec::with_capacity(plain.len() + rows / 8 + 16);
    write_def_levels(&mut body, true, validity, rows, Version::V1)?;
    let encoding = match stored {
        Stored::Plain | Stored::Lz4 => {
            body.extend_from_slice(plain);
            Encoding::Plain
        }
        Stored::Fixed(width) => {
            for value in plain_values(plain) {
                let value = value?;
                polars_ensure!(
                    value.len() == width,
                    ComputeError: "a value of {} bytes in a column of {width}-byte values", value.len()
                );
                body.extend_from_slice(value);
            }
            Encoding::Plain
        }
        Stored::Sorted => {
            let values = plain_values(plain).collect::<PolarsResult<Vec<&[u8]>>>()?;
            // polars' encoder (0.55) overflows on a value that is a
            // shorter prefix of the one before (`""` or `"10"` after
            // `"100"`): such a page stays plain (a column chunk's pages
            // may each have their own encoding).
            match values
                .windows(2)
                .any(|w| w[1].len() < w[0].len() && w[0].starts_with(w[1]))
            {
                true => {
                    body.extend_from_slice(plain);
                    Encoding::Plain
                }
                false => {
                    delta_byte_array::encode(values.iter().copied(), &mut body);
                    Encoding::DeltaByteArray
                }
            }
        }
    };
    let header = page_header(rows, encoding)?;
    Ok(DataPage::new(header, CowBuffer::Owned(body), descriptor.clone(), rows))
}

/// The values of a run of plain-encoded byte arrays, in order.
fn plain_values(mut values: &[u8]) -> impl Iterator<Item = PolarsResult<&[u8]>> {
    std::iter::from_fn(move || {
        if values.is_empty() {
            return None;
        }
        let value = values
            .split_first_chunk::<4>()
            .map(|(len, rest)| (u32::from_le_bytes(*len) as usize, rest))
            .and_then(|(len, rest)| (len <= rest.len()).then(|| rest.split_at(len)));
        Some(match value {
            Some((value, rest)) => {
                values = rest;
                Ok(value)
            }
            None => {
                values = &[];
                Err(polars_err!(ComputeError: "plain values cut short"))
            }
        })
    })
}

/// Appends `values` of `bits` bits each (1 to 32) as one bit-packed run of
/// Parquet's RLE / bit-packing hybrid: its header (the count of 8-value
/// groups, shifted, with the low bit set) and the values, least
/// significant bit first, the last group padded with zeros. (polars'
/// encoder, which looks for repeats to run-length encode, was 0.8% of a
/// 10M-row run's CPU.)
pub(super) fn bit_pack(out: &mut Vec<u8>, values: &[u32], bits: u32) {
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
pub(super) fn data_page(body: Vec<u8>, rows: usize, descriptor: &Descriptor) -> PolarsResult<DataPage> {
    let header = page_header(rows, Encoding::Plain)?;
    Ok(DataPage::new(header, CowBuffer::Owned(body), descriptor.clone(), rows))
}

/// The header of a data page (version 1) of `rows` rows whose values are
/// in `encoding`, their definition levels run-length encoded.
pub(super) fn page_header(rows: usize, encoding: Encoding) -> PolarsResult<DataPageHeader> {
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
