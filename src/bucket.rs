//! Memory-bounded mode: both sides of an entity split by a hash of the
//! normalized key into buckets spilled as Parquet to a work folder, so that
//! each bucket can be reconciled on its own.
//!
//! Owns the memory budget (`--memory-limit`), the estimate of what an
//! entity needs in memory, the bucket count, the partitioning and the work
//! folder's life. Rows with equal typed keys always land in the same bucket
//! (the bucket is a hash of the key's report JSON, which is a function of
//! the typed key), so drift, duplicates, masking and repairs need nothing
//! from other buckets; rules that look across rows get global facts from
//! [`crate::quality::global`].

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::display::Display;
use crate::error::{Error, Result};
use crate::prepare;
use crate::report::{push_plain, PlainColumn};
use crate::source::{self, Loaded};
use crate::spec::{Entity, Format, Side};

/// Bytes of memory one declared cell costs in an in-memory run (raw text,
/// typed cell, key, state hash and findings), measured on the harness's
/// 12-column pairs (2.8 GB for 2 × 1M rows × 12 columns ≈ 117 B) and
/// rounded up.
pub const BYTES_PER_CELL: u64 = 160;

/// Bytes of memory per byte of a CSV or NDJSON file (its cells are about
/// ten bytes of text each).
const BYTES_PER_TEXT_BYTE: u64 = 16;

/// Share of the budget one bucket may use; the rest is left for the global
/// facts, the findings and repairs gathered so far, and the allocator.
const BUCKET_SHARE: f64 = 0.5;

/// Largest estimated size of one bucket, whatever the budget. On this
/// project's 2-core VM the first touch of fresh memory is slow (0.4–2 GB/s:
/// the kernel zeroes each new page, and its host backs it), while a small
/// working set is reused bucket after bucket. Paired runs: 1M rows per
/// side in 3 buckets ran 20% faster than in memory (peak 0.9 against 1.6
/// GB), 10M in 28 buckets 6% faster than in the budget's 7 (peak 1.6
/// against 4.1 GB).
const MAX_BUCKET_BYTES: u64 = 1 << 30;

/// Most buckets [`MAX_BUCKET_BYTES`] alone asks for (the budget may ask for
/// more): beyond, a chunk's share of each bucket gets small and the
/// partition slow.
const MAX_SIZE_BUCKETS: usize = 64;

/// Rows per chunk read while partitioning.
const CHUNK_ROWS: usize = 500_000;

/// Most buckets per entity (a bucket is a file per side in the work folder).
pub const MAX_BUCKETS: usize = 4096;

/// Parses a memory size: bytes, or a number with K, M, G, T (powers of
/// 1024; `KiB`, `MB`, `gb` and so on are accepted alike).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 8GiB, 512M, 1073741824)"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches('b').trim_end_matches('i');
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("`{text}` has an unknown unit (use K, M, G or T)")),
    };
    let bytes = value * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("`{text}` is not a positive size"));
    }
    Ok(bytes as u64)
}

/// The default budget: half of the machine's memory (8 GiB when it cannot
/// be read).
pub fn default_limit() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    total.map_or(8 << 30, |t| t / 2)
}

/// Estimated bytes an in-memory reconciliation of `entity` needs. A file
/// that cannot be read counts as empty here: loading it reports the error.
pub fn estimate(entity: &Entity) -> u64 {
    let mut total = 0u64;
    for side in Side::BOTH {
        let source = &entity.sources[side.idx()];
        let cells = entity.columns(side).len() as u64;
        total += match source.format {
            Format::Parquet => std::fs::File::open(&source.path)
                .ok()
                .and_then(|f| ParquetReader::new(f).num_rows().ok())
                .map_or(0, |rows| rows as u64 * cells * BYTES_PER_CELL),
            _ => std::fs::metadata(&source.path).map_or(0, |m| m.len() * BYTES_PER_TEXT_BYTE),
        };
    }
    total
}

/// Buckets needed so that one bucket fits in its share of `limit` and in
/// [`MAX_BUCKET_BYTES`] (up to [`MAX_SIZE_BUCKETS`]).
pub fn buckets_for(estimate: u64, limit: u64) -> usize {
    let share = ((limit as f64 * BUCKET_SHARE) as u64).max(1);
    let by_budget = estimate.div_ceil(share) as usize;
    let by_size = (estimate.div_ceil(MAX_BUCKET_BYTES) as usize).min(MAX_SIZE_BUCKETS);
    by_budget.max(by_size).clamp(1, MAX_BUCKETS)
}

/// The bucket of a key (its report JSON): XXH3 (64 bits) with a fixed seed
/// over the JSON's bytes, so the same key lands in the same bucket on every
/// side, run and machine, scaled to `buckets` by a multiplication (the
/// high half of `hash × buckets`: a division per row took a third of the
/// routing). (SipHash-2-4 here was 3% of a partition's CPU.)
pub fn bucket_of(key_json: &str, buckets: usize) -> usize {
    if buckets <= 1 {
        return 0;
    }
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(key_json.as_bytes(), 0x7265_636f_6e5f_6275);
    ((u128::from(h) * buckets as u128) >> 64) as usize
}

/// The work folder of one run: removed when dropped, whether the run
/// finished or failed.
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub fn create(out: &Path, run_id: &str) -> Result<WorkDir> {
        crate::report::sweep_stale(out);
        let path = out.join(format!(".work-{run_id}-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        crate::report::claim(&path);
        Ok(WorkDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        crate::report::release(&self.path);
    }
}

/// One entity split into buckets: each side's file description and, per
/// bucket, its spill file (None when no row of that side fell in it), but
/// for the first bucket, which is kept in memory.
pub struct Partitioned {
    pub buckets: usize,
    /// The source files as described by [`source::for_each_chunk`] (empty frames).
    pub meta: [Loaded; 2],
    files: [Vec<Option<PathBuf>>; 2],
    /// Per side, the first bucket's rows.
    first: [std::sync::Mutex<First>; 2],
    /// The present declared columns of each side, in declared order.
    present: [Vec<String>; 2],
}

/// Splits both sides of `entity` into `buckets` spill files under `work`.
pub fn partition(entity: &Entity, buckets: usize, work: &Path, display: &dyn Display) -> Result<Partitioned> {
    let (left, right) = rayon::join(
        || partition_side(entity, Side::Left, buckets, work, display),
        || partition_side(entity, Side::Right, buckets, work, display),
    );
    let (left, right) = (left?, right?);
    Ok(Partitioned {
        buckets,
        present: [left.present, right.present],
        first: [left.spilled.first, right.spilled.first]
            .map(|f| std::sync::Mutex::new(f.map_or(First::Empty, First::Kept))),
        files: [left.spilled.files, right.spilled.files],
        meta: [left.meta, right.meta],
    })
}

type Writer = crate::report::WorkingWriter<std::io::BufWriter<std::fs::File>>;

/// The spill files of one side, one per bucket that gets rows, and the
/// first bucket's rows, kept in memory: that bucket is reconciled right
/// after the partition, and reading it back could not overlap anything
/// (10M rows in 7 buckets: 1.0 s). The bucket count leaves room for one
/// bucket in memory.
///
/// A bucket's rows of each chunk are written as they come, one row group
/// each (a few thousand rows with many buckets: 14k of 500k over 36),
/// through a write buffer. Holding them back (compacted) until 65,536
/// were gathered cost more: at 10M rows in 36 buckets, compacting and
/// stacking them was a seventh of the partition's CPU, and paired runs
/// were 5.7% slower in wall time (3 pairs, 0.86–0.98).
struct Spills<'a> {
    entity: &'a Entity,
    side: Side,
    work: &'a Path,
    /// Per bucket, its file's writer once it has rows.
    writers: Vec<Option<Writer>>,
    /// The first bucket's rows, compacted.
    first: Vec<DataFrame>,
}

/// One side's first bucket, kept in memory.
enum First {
    Kept(DataFrame),
    /// No row fell in it.
    Empty,
    /// Read for the last time.
    Taken,
}

/// What one side's partition left: per bucket, its spill file if it got
/// rows, and the first bucket's rows if it got any.
struct Spilled {
    files: Vec<Option<PathBuf>>,
    first: Option<DataFrame>,
}

impl<'a> Spills<'a> {
    fn new(entity: &'a Entity, side: Side, buckets: usize, work: &'a Path) -> Spills<'a> {
        Spills {
            entity,
            side,
            work,
            writers: (0..buckets).map(|_| None).collect(),
            first: Vec::new(),
        }
    }

    fn path(&self, b: usize) -> PathBuf {
        self.work
            .join(format!("{}-{}-{b:05}.parquet", self.entity.name, self.side.as_str()))
    }

    /// Adds one chunk's rows, each to the bucket `routed` names: bucket 0's
    /// kept (compacted), every other bucket's written as a row group of its
    /// spill file.
    fn scatter(&mut self, frame: DataFrame, routed: &[u32]) -> Result<()> {
        let mut counts = vec![0usize; self.writers.len()];
        for &b in routed {
            counts[b as usize] += 1;
        }
        if counts[0] == frame.height() {
            return self.keep(frame);
        }
        if counts[0] > 0 {
            let rows: Vec<IdxSize> = (0..routed.len() as IdxSize)
                .filter(|&r| routed[r as usize] == 0)
                .collect();
            let part = frame.take(&IdxCa::from_vec("idx".into(), rows)).map_err(keep_err)?;
            self.keep(part)?;
        }
        let columns = scatter_values(&frame, routed, &counts).map_err(|e| Error::Internal(format!("spilling: {e}")))?;
        let schema = frame.schema().clone();
        drop(frame);
        let mut columns: Vec<std::vec::IntoIter<PlainColumn>> = columns.into_iter().map(Vec::into_iter).collect();
        for (b, &n) in counts.iter().enumerate() {
            let mut bucket: Vec<PlainColumn> = columns.iter_mut().map(|c| c.next().unwrap_or_default()).collect();
            if b == 0 || n == 0 {
                continue;
            }
            let path = self.path(b);
            let open = || {
                let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
                Ok(crate::report::buffered(file))
            };
            let w = crate::report::opened(&mut self.writers[b], &schema, open, |e| spill_err(&path, e))?;
            w.write_plain(n, &mut bucket).map_err(|e| spill_err(&path, e))?;
        }
        Ok(())
    }

    /// Keeps the first bucket's rows of one chunk, compacted.
    fn keep(&mut self, part: DataFrame) -> Result<()> {
        self.first.push(compact(part).map_err(keep_err)?);
        Ok(())
    }

    /// Closes every file.
    fn finish(mut self) -> Result<Spilled> {
        let mut files = Vec::with_capacity(self.writers.len());
        for (b, w) in std::mem::take(&mut self.writers).into_iter().enumerate() {
            let path = w.map(|w| {
                let path = self.path(b);
                w.finish().map(|_| path.clone()).map_err(|e| spill_err(&path, e))
            });
            files.push(path.transpose()?);
        }
        let first = stack(std::mem::take(&mut self.first)).map_err(keep_err)?;
        Ok(Spilled { files, first })
    }
}

fn spill_err(path: &Path, e: PolarsError) -> Error {
    Error::Internal(format!("spilling to {}: {e}", path.display()))
}

fn keep_err(e: PolarsError) -> Error {
    Error::Internal(format!("keeping the first bucket in memory: {e}"))
}

/// `parts` one under the other as one chunk per column (None when there
/// are none).
fn stack(parts: Vec<DataFrame>) -> PolarsResult<Option<DataFrame>> {
    let mut parts = parts.into_iter();
    let Some(mut frame) = parts.next() else { return Ok(None) };
    for part in parts {
        frame.vstack_mut_owned(part)?;
    }
    frame.rechunk_mut_par();
    Ok(Some(frame))
}

/// A frame whose text columns own only the bytes of their rows: a slice
/// gathered from a chunk shares all of the chunk's text buffers.
fn compact(frame: DataFrame) -> PolarsResult<DataFrame> {
    let height = frame.height();
    let columns = frame
        .into_columns()
        .into_iter()
        .map(|c| match c.dtype() {
            DataType::String => {
                let ca = c.str()?;
                let chunks = ca.downcast_iter().map(|a| a.clone().gc());
                Ok(StringChunked::from_chunk_iter(c.name().clone(), chunks).into_column())
            }
            _ => Ok(c),
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(height, columns)
}

/// One side's part of [`Partitioned`].
struct SidePartition {
    meta: Loaded,
    spilled: Spilled,
    present: Vec<String>,
}

fn partition_side(
    entity: &Entity,
    side: Side,
    buckets: usize,
    work: &Path,
    display: &dyn Display,
) -> Result<SidePartition> {
    let source = &entity.sources[side.idx()];
    let columns = entity.columns(side);
    let key_columns: Vec<String> = entity
        .key
        .iter()
        .map(|&k| entity.fields[k].columns[side.idx()].clone())
        .collect();
    let mut spills = Spills::new(entity, side, buckets, work);
    let mut present: Vec<String> = Vec::new();
    let meta = source::for_each_chunk(source, &columns, CHUNK_ROWS, |frame| {
        present = frame.get_column_names().iter().map(|n| n.to_string()).collect();
        let missing: Vec<String> = columns.iter().filter(|c| !present.contains(c)).cloned().collect();
        source::key_columns_present(entity, side, &missing)?;
        if frame.height() == 0 {
            return Ok(());
        }
        let routed = routes(entity, side, &frame, &key_columns, buckets, display)?;
        spills.scatter(frame, &routed)
    })?;
    let spilled = spills.finish()?;
    // NDJSON knows which columns no record has only at the end.
    source::key_columns_present(entity, side, &meta.missing)?;
    let present = columns
        .into_iter()
        .filter(|c| present.contains(c) && !meta.missing.contains(c))
        .collect();
    Ok(SidePartition { meta, spilled, present })
}

/// The bucket of each row of `frame`, from the keys typed as the spec
/// says (every row in bucket 0 when there is one bucket).
fn routes(
    entity: &Entity,
    side: Side,
    frame: &DataFrame,
    key_columns: &[String],
    buckets: usize,
    display: &dyn Display,
) -> Result<Vec<u32>> {
    if buckets == 1 {
        return Ok(vec![0; frame.height()]);
    }
    let keys_only: Vec<Column> = key_columns
        .iter()
        .filter_map(|c| frame.column(c).ok().cloned())
        .collect();
    let loaded = Loaded {
        path: entity.sources[side.idx()].path.clone(),
        frame: DataFrame::new(frame.height(), keys_only).map_err(|e| Error::Internal(e.to_string()))?,
        missing: Vec::new(),
        physical_types: Default::default(),
        rows: frame.height(),
        sha256: String::new(),
        size: 0,
        hash_micros: 0,
    };
    let prepared = prepare::prepare_fields(entity, side, &loaded, Some(&entity.key));
    Ok(prepare::map_key_jsons(entity, &prepared, display, |json| {
        bucket_of(json, buckets) as u32
    }))
}

/// Per column of `frame` (all text), per bucket, the rows `routed` there
/// as Parquet plain values; bucket 0's (kept in memory) and those of
/// buckets without rows are empty.
fn scatter_values(frame: &DataFrame, routed: &[u32], counts: &[usize]) -> PolarsResult<Vec<Vec<PlainColumn>>> {
    frame
        .columns()
        .par_iter()
        .map(|c| scatter_column(c.str()?, routed, counts))
        .collect()
}

/// One text column's rows, laid out per bucket as indices into the chunk's
/// dictionary where it has few distinct values ([`chunk_dictionary`]), else
/// as Parquet plain values in one pass over the column (gathering each
/// bucket's rows and encoding them took a sweep over the column per bucket
/// and copied every text twice: at 10M rows in 36 buckets, 40% of the
/// partition's CPU).
fn scatter_column(ca: &StringChunked, routed: &[u32], counts: &[usize]) -> PolarsResult<Vec<PlainColumn>> {
    let spilled = |b: usize| b > 0 && counts[b] > 0;
    let files = (0..counts.len()).filter(|&b| spilled(b)).count();
    if let Some(indexed) = chunk_dictionary(ca, files) {
        return Ok(scatter_indices(indexed, ca.null_count() > 0, routed, counts));
    }
    let room = plain_bytes(ca, routed, counts.len());
    let mut rows = routed.iter().map(|&b| b as usize);
    if ca.null_count() == 0 {
        let mut columns = (0..counts.len())
            .map(|b| match spilled(b) {
                true => PlainColumn::leveled(counts[b], room[b]),
                false => Ok(PlainColumn::default()),
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        for array in ca.downcast_iter() {
            for (i, view) in array.views().iter().enumerate() {
                match rows.next() {
                    Some(0) | None => {}
                    Some(b) => push_view(&mut columns[b].values, view, || array.value(i)),
                }
            }
        }
        return Ok(columns);
    }
    let mut values: Vec<Vec<u8>> = (0..counts.len())
        .map(|b| match spilled(b) {
            true => Vec::with_capacity(room[b]),
            false => Vec::new(),
        })
        .collect();
    let mut valid: Vec<polars_arrow::bitmap::MutableBitmap> = counts
        .iter()
        .enumerate()
        .map(|(b, &n)| polars_arrow::bitmap::MutableBitmap::with_capacity(if spilled(b) { n } else { 0 }))
        .collect();
    for value in ca.downcast_iter().flat_map(|a| a.iter()) {
        match rows.next() {
            Some(0) | None => {}
            Some(b) => {
                valid[b].push(value.is_some());
                if let Some(v) = value {
                    push_plain(&mut values[b], v.as_bytes());
                }
            }
        }
    }
    Ok(values
        .into_iter()
        .zip(valid)
        .map(|(values, valid)| PlainColumn::new(values, Some(valid.into())))
        .collect())
}

/// Most distinct values a spilled chunk's column may have to be written
/// with a dictionary (and at most one per eight rows).
const DICTIONARY_VALUES: usize = 4096;

/// One chunk's column as indices into its distinct values.
struct ChunkDictionary {
    dictionary: std::sync::Arc<crate::report::Dictionary>,
    /// Per row, its value's place in the dictionary; `u32::MAX` when null.
    ids: Vec<u32>,
}

/// `ca` as indices into its distinct values, when it has few enough
/// (see [`DICTIONARY_VALUES`]) that the dictionary, written once per
/// bucket's file (`files`), takes less than half of what the values would
/// in plain encoding; None otherwise (a column of identifiers, phone
/// numbers or timestamps gives up after a few thousand rows).
///
/// Values are told apart by their views: a text of at most 12 bytes is
/// inline in its view, so equal texts have equal views; a longer one's
/// view names its place in its array's buffers, so equal views are equal
/// texts (those a Parquet dictionary page gave the reader share a place;
/// equal texts at two places take two entries, which costs room, never
/// correctness).
fn chunk_dictionary(ca: &StringChunked, files: usize) -> Option<ChunkDictionary> {
    let limit = DICTIONARY_VALUES.min(ca.len() / 8);
    if limit == 0 || files == 0 {
        return None;
    }
    let mask = (2 * limit).next_power_of_two() - 1;
    // Per slot, 1 + the entry found there; 0 when free.
    let mut slots = vec![0u32; mask + 1];
    let mut keys: Vec<(u128, u32)> = Vec::with_capacity(limit);
    let mut values = Vec::new();
    let mut ids = Vec::with_capacity(ca.len());
    let mut plain = 0usize;
    for (a, array) in ca.downcast_iter().enumerate() {
        let validity = polars_arrow::array::Array::validity(array);
        for (i, view) in array.views().iter().enumerate() {
            if validity.is_some_and(|v| !v.get_bit(i)) {
                ids.push(u32::MAX);
                continue;
            }
            plain += 4 + view.length as usize;
            let key = (view.as_u128(), if view.is_inline() { 0 } else { a as u32 + 1 });
            let folded = (key.0 as u64) ^ ((key.0 >> 64) as u64).rotate_left(29) ^ u64::from(key.1);
            let mut slot = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & mask;
            loop {
                match slots[slot] {
                    0 => {
                        if keys.len() == limit {
                            return None;
                        }
                        keys.push(key);
                        crate::report::push_plain(&mut values, array.value(i).as_bytes());
                        slots[slot] = keys.len() as u32;
                        ids.push(keys.len() as u32 - 1);
                        break;
                    }
                    s if keys[s as usize - 1] == key => {
                        ids.push(s - 1);
                        break;
                    }
                    _ => slot = (slot + 1) & mask,
                }
            }
        }
    }
    // A column without a value (all null) stays plain: a dictionary has
    // at least one value.
    if keys.is_empty() || values.len().saturating_mul(files).saturating_mul(2) > plain {
        return None;
    }
    let dictionary = crate::report::Dictionary {
        values,
        len: keys.len(),
    };
    Some(ChunkDictionary {
        dictionary: std::sync::Arc::new(dictionary),
        ids,
    })
}

/// A chunk's column laid out per bucket as indices into its dictionary
/// ([`PlainColumn::indexed`]); bucket 0's and those of buckets without
/// rows are empty.
fn scatter_indices(chunk: ChunkDictionary, nulls: bool, routed: &[u32], counts: &[usize]) -> Vec<PlainColumn> {
    let spilled = |b: usize| b > 0 && counts[b] > 0;
    let mut indices: Vec<Vec<u32>> = (0..counts.len())
        .map(|b| Vec::with_capacity(if spilled(b) { counts[b] } else { 0 }))
        .collect();
    let mut valid: Vec<polars_arrow::bitmap::MutableBitmap> = (0..counts.len())
        .map(|b| polars_arrow::bitmap::MutableBitmap::with_capacity(if nulls && spilled(b) { counts[b] } else { 0 }))
        .collect();
    for (&b, &id) in routed.iter().zip(&chunk.ids) {
        let b = b as usize;
        if b == 0 {
            continue;
        }
        if nulls {
            valid[b].push(id != u32::MAX);
        }
        if id != u32::MAX {
            indices[b].push(id);
        }
    }
    indices
        .into_iter()
        .zip(valid)
        .enumerate()
        .map(|(b, (indices, valid))| match spilled(b) {
            true => PlainColumn::indexed(chunk.dictionary.clone(), indices, nulls.then(|| valid.into())),
            false => PlainColumn::default(),
        })
        .collect()
}

/// Per bucket, the bytes of plain values its rows of `ca` take (a null
/// row's counted as if it had one), and room for [`push_view`]'s last
/// copy: from the views' lengths, so that no bucket's buffer grows while
/// it is filled (an average per row had some grow, copied into fresh
/// memory).
fn plain_bytes(ca: &StringChunked, routed: &[u32], buckets: usize) -> Vec<usize> {
    let mut bytes = vec![16usize; buckets];
    let mut rows = routed.iter();
    for array in ca.downcast_iter() {
        for view in array.views().iter() {
            if let Some(&b) = rows.next() {
                bytes[b as usize] += 4 + view.length as usize;
            }
        }
    }
    bytes
}

/// Appends a text's plain value from its view: a text of at most 12 bytes
/// is inline in the view, after its length, so its 16 bytes are copied at
/// once and the excess cut (a copy of fixed size, where a call to `memcpy`
/// per text was most of the scatter's time); a longer one is read from its
/// buffer (`text`).
#[inline]
fn push_view<'a>(out: &mut Vec<u8>, view: &polars_arrow::array::View, text: impl FnOnce() -> &'a str) {
    let len = view.length as usize;
    if view.is_inline() {
        let at = out.len();
        let inline = view.as_u128().to_ne_bytes();
        out.extend_from_slice(&view.length.to_le_bytes());
        out.extend_from_slice(&inline[4..16]);
        out.truncate(at + 4 + len);
    } else {
        push_plain(out, text().as_bytes());
    }
}

impl Partitioned {
    /// Bucket `b` of both sides, as if each were the whole file: the frame
    /// holds that bucket's rows of `columns` (all present declared columns
    /// when None), in file order; the description is the whole file's.
    pub fn load(&self, b: usize, columns: Option<&[String]>) -> Result<[Loaded; 2]> {
        self.read(b, columns, false)
    }

    /// Bucket `b` of both sides, every present declared column, read for
    /// the last time: its spill files are removed once read, so that the
    /// spill shrinks while the change state grows (the disk holds about
    /// one of them at the peak, not both).
    pub fn take(&self, b: usize) -> Result<[Loaded; 2]> {
        self.read(b, None, true)
    }

    fn read(&self, b: usize, columns: Option<&[String]>, last: bool) -> Result<[Loaded; 2]> {
        let load = |side: Side| -> Result<Loaded> {
            let i = side.idx();
            let wanted: Vec<String> = match columns {
                None => self.present[i].clone(),
                Some(c) => c.iter().filter(|c| self.present[i].contains(c)).cloned().collect(),
            };
            let frame = match b {
                0 => self.first_bucket(side, &wanted, last)?,
                _ => self.spill(side, b, &wanted, last)?,
            };
            let frame = match frame {
                Some(frame) => frame,
                None => {
                    let cols: Vec<Column> = wanted
                        .iter()
                        .map(|n| Column::new_empty(n.as_str().into(), &DataType::String))
                        .collect();
                    DataFrame::new(0, cols).map_err(|e| Error::Internal(e.to_string()))?
                }
            };
            let m = &self.meta[i];
            Ok(Loaded {
                path: m.path.clone(),
                rows: frame.height(),
                frame,
                missing: m.missing.clone(),
                physical_types: m.physical_types.clone(),
                sha256: m.sha256.clone(),
                size: m.size,
                hash_micros: 0,
            })
        };
        Ok([load(Side::Left)?, load(Side::Right)?])
    }

    /// The `wanted` columns of one side's spill of bucket `b` (None when no
    /// row fell in it); the file is removed when `last`.
    fn spill(&self, side: Side, b: usize, wanted: &[String], last: bool) -> Result<Option<DataFrame>> {
        let Some(path) = &self.files[side.idx()][b] else {
            return Ok(None);
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let frame = ParquetReader::new(file)
            .with_columns(Some(wanted.to_vec()))
            .finish()
            .map_err(|e| Error::Internal(format!("reading spill {}: {e}", path.display())))?;
        if last {
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        }
        Ok(Some(frame))
    }

    /// The `wanted` columns of one side's first bucket (None when no row
    /// fell in it); taken out of memory when `last`.
    fn first_bucket(&self, side: Side, wanted: &[String], last: bool) -> Result<Option<DataFrame>> {
        let mut first = self.first[side.idx()]
            .lock()
            .map_err(|_| Error::Internal("a spill reader panicked".into()))?;
        let frame = match &*first {
            First::Kept(frame) => frame,
            First::Empty => return Ok(None),
            First::Taken => {
                return Err(Error::Internal(format!(
                    "bucket 0 of the {} side was read twice",
                    side.as_str()
                )))
            }
        };
        let frame = frame
            .select(wanted.iter().map(|c| c.as_str()))
            .map_err(|e| Error::Internal(e.to_string()))?;
        if last {
            *first = First::Taken;
        }
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{keyed_by_id, Plain};

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("8GiB").unwrap(), 8 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("64kb").unwrap(), 64 << 10);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn bucket_count_follows_the_budget_and_the_bucket_size() {
        assert_eq!(buckets_for(100, 1000), 1);
        assert_eq!(buckets_for(1000, 1000), 2);
        assert_eq!(buckets_for(10_000, 1000), 20);
        assert_eq!(buckets_for(u64::MAX / 2, 1), MAX_BUCKETS);
        // Plenty of memory: buckets of at most MAX_BUCKET_BYTES, up to
        // MAX_SIZE_BUCKETS of them; a small entity stays in memory.
        let tib = 1u64 << 40;
        assert_eq!(buckets_for(MAX_BUCKET_BYTES, tib), 1);
        assert_eq!(buckets_for(MAX_BUCKET_BYTES + 1, tib), 2);
        assert_eq!(buckets_for(10 * MAX_BUCKET_BYTES, tib), 10);
        assert_eq!(buckets_for(1000 * MAX_BUCKET_BYTES, tib), MAX_SIZE_BUCKETS);
        // The budget still asks for more where it must.
        assert_eq!(buckets_for(1000 * MAX_BUCKET_BYTES, 2 * MAX_BUCKET_BYTES), 1000);
    }

    #[test]
    fn scattered_chunks_read_back_as_each_bucket_rows_in_order() {
        let spec = keyed_by_id("");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut spills = Spills::new(&spec.entities[0], Side::Left, 4, dir.path());
        // Short texts (inline in their views), long ones, empty ones and
        // nulls; each chunk in two arrays, as a slice of a file can be.
        let chunk = |from: usize, n: usize| -> DataFrame {
            let half = |lo: usize, hi: usize| {
                let ids: Vec<String> = (lo..hi).map(|i| format!("{i}")).collect();
                let notes: Vec<Option<String>> = (lo..hi)
                    .map(|i| match i % 5 {
                        0 => None,
                        1 => Some(String::new()),
                        _ => Some(format!("note {i} long enough to live in a buffer")),
                    })
                    .collect();
                // Texts of 0 to 16 bytes, inline in their views or not, no null.
                let texts: Vec<String> = (lo..hi).map(|i| "é".repeat(i % 9)).collect();
                let n = hi - lo;
                let columns = vec![
                    Column::new("id".into(), ids),
                    Column::new("note".into(), notes),
                    Column::new("text".into(), texts),
                ];
                DataFrame::new(n, columns).unwrap_or_else(|e| panic!("{e}"))
            };
            let mut frame = half(from, from + n / 2);
            frame
                .vstack_mut_owned(half(from + n / 2, from + n))
                .unwrap_or_else(|e| panic!("{e}"));
            frame
        };
        // Bucket 3 gets no row; bucket 1 every third row.
        let route = |i: usize| -> u32 { [1, 0, 2, 1, 2, 1][i % 6] };
        let chunks = [chunk(0, 60), chunk(60, 31)];
        for (c, start) in chunks.iter().zip([0, 60]) {
            assert_eq!(c.column("id").map(|c| c.n_chunks()).ok(), Some(2));
            let routed: Vec<u32> = (start..start + c.height()).map(route).collect();
            spills.scatter(c.clone(), &routed).unwrap_or_else(|e| panic!("{e}"));
        }
        let Spilled { files, first } = spills.finish().unwrap_or_else(|e| panic!("{e}"));
        let mut all = chunks[0].clone();
        all.vstack_mut(&chunks[1]).unwrap_or_else(|e| panic!("{e}"));
        let expected = |b: u32| -> DataFrame {
            let rows: Vec<IdxSize> = (0..all.height() as IdxSize)
                .filter(|&i| route(i as usize) == b)
                .collect();
            all.take(&IdxCa::from_vec("idx".into(), rows))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let first = first.expect("bucket 0's rows");
        assert!(first.equals_missing(&expected(0)));
        assert_eq!(
            first.column("note").map(|c| c.n_chunks()).ok(),
            Some(1),
            "kept compacted"
        );
        assert!(files[0].is_none() && files[3].is_none());
        for b in [1, 2] {
            let path = files[b].as_ref().expect("a spill file");
            let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{e}"));
            let mut reader = ParquetReader::new(file);
            let groups = reader.get_metadata().map(|m| m.row_groups.len()).unwrap_or(0);
            let read = reader.finish().unwrap_or_else(|e| panic!("{e}"));
            assert!(read.equals_missing(&expected(b as u32)), "bucket {b}: {read}");
            assert_eq!(groups, 2, "a row group per chunk");
        }
    }

    #[test]
    fn repeating_columns_spill_as_dictionary_indices() {
        let spec = keyed_by_id("");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut spills = Spills::new(&spec.entities[0], Side::Left, 3, dir.path());
        // Each half its own array, so both halves' long note has the same
        // place (buffer 0, offset 0), length and prefix, but another text:
        // their views differ only by the array they belong to. Within a
        // half, the notes are gathered from four values, so equal long
        // notes share a place, as a Parquet dictionary page gives them.
        let half = |tag: char, lo: usize, hi: usize| -> DataFrame {
            let ids: Vec<String> = (lo..hi).map(|i| format!("{i}")).collect();
            let status: Vec<&str> = (lo..hi).map(|i| ["A", "I", "P"][i % 3]).collect();
            let long = format!("a long note of half {tag}, longer than a view");
            let four = [None, Some(""), Some(long.as_str()), Some("short")];
            let picks = IdxCa::from_vec("idx".into(), (lo..hi).map(|i| (i % 4) as IdxSize).collect());
            let notes = Column::new("note".into(), four)
                .take(&picks)
                .unwrap_or_else(|e| panic!("{e}"));
            let one: Vec<&str> = (lo..hi).map(|_| "same").collect();
            let none: Vec<Option<&str>> = (lo..hi).map(|_| None).collect();
            // A value in bucket 1's rows only: bucket 2's share of it is
            // all null, indices of none.
            let rare: Vec<Option<&str>> = (lo..hi).map(|i| (i % 7 % 3 == 1).then_some("x")).collect();
            let columns = vec![
                Column::new("id".into(), ids),
                Column::new("status".into(), status),
                notes,
                Column::new("one".into(), one),
                Column::new("none".into(), none)
                    .cast(&DataType::String)
                    .unwrap_or_else(|e| panic!("{e}")),
                Column::new("rare".into(), rare),
            ];
            DataFrame::new(hi - lo, columns).unwrap_or_else(|e| panic!("{e}"))
        };
        let mut chunk = half('x', 0, 400);
        chunk
            .vstack_mut_owned(half('y', 400, 800))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chunk.column("note").map(|c| c.n_chunks()).ok(), Some(2));
        // A second chunk whose statuses all differ: its row group holds
        // them plain, after the first one's dictionary.
        let mut second = half('z', 800, 1000);
        let distinct: Vec<String> = (800..1000).map(|i| format!("status {i}")).collect();
        second
            .replace("status", Column::new("status".into(), distinct))
            .unwrap_or_else(|e| panic!("{e}"));
        let routed: Vec<u32> = (0..1000).map(|i| (i % 7 % 3) as u32).collect();
        spills
            .scatter(chunk.clone(), &routed[..800])
            .unwrap_or_else(|e| panic!("{e}"));
        spills
            .scatter(second.clone(), &routed[800..])
            .unwrap_or_else(|e| panic!("{e}"));
        let Spilled { files, .. } = spills.finish().unwrap_or_else(|e| panic!("{e}"));
        chunk.vstack_mut(&second).unwrap_or_else(|e| panic!("{e}"));
        for b in [1u32, 2] {
            let rows: Vec<IdxSize> = (0..1000).filter(|&i| routed[i as usize] == b).collect();
            let expected = chunk
                .take(&IdxCa::from_vec("idx".into(), rows))
                .unwrap_or_else(|e| panic!("{e}"));
            let path = files[b as usize].as_ref().expect("a spill file");
            let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{e}"));
            let mut reader = ParquetReader::new(file);
            let meta = reader.get_metadata().cloned().unwrap_or_else(|e| panic!("{e}"));
            let read = reader.finish().unwrap_or_else(|e| panic!("{e}"));
            assert!(read.equals_missing(&expected), "bucket {b}: {read}");
            // The identifiers (800 distinct in 800 rows) and the column
            // of nulls stay plain; the others are indices into a dictionary.
            let dictionaries: Vec<bool> = meta.row_groups[0]
                .parquet_columns()
                .iter()
                .map(|c| c.dictionary_page_offset().is_some())
                .collect();
            assert_eq!(dictionaries, [false, true, true, true, false, true], "bucket {b}");
            let status = |group: usize| meta.row_groups[group].parquet_columns()[1].dictionary_page_offset();
            assert!(status(0).is_some() && status(1).is_none(), "bucket {b}");
        }
    }

    #[test]
    fn kept_rows_own_only_their_bytes() {
        // Two rows gathered from a chunk of 200 share its text buffers;
        // compacted, they keep only their own bytes.
        let value = |i: usize| format!("row {i:03} with a text longer than twelve bytes");
        let ids: Vec<String> = (0..200).map(value).collect();
        let big = DataFrame::new(200, vec![Column::new("id".into(), ids)]).unwrap_or_else(|e| panic!("{e}"));
        let buffers = |f: &DataFrame| -> usize {
            f.column("id")
                .and_then(|c| c.str().map(|s| s.downcast_iter().map(|a| a.total_buffer_len()).sum()))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let part = big
            .take(&IdxCa::from_vec("idx".into(), vec![3, 150]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(buffers(&part), buffers(&big));
        let kept = compact(part.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            buffers(&kept) < buffers(&big) / 50,
            "{} of {}",
            buffers(&kept),
            buffers(&big)
        );
        assert!(kept.equals(&part));
    }

    #[test]
    fn a_bucket_read_for_the_last_time_leaves_no_spill_behind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let rows: String = (0..40).map(|i| format!("{i},v{i}\n")).collect();
        for side in ["l", "r"] {
            std::fs::write(dir.path().join(format!("{side}.csv")), format!("id,v\n{rows}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let text = format!(
            "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
             [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {{ path = \"{0}/l.csv\" }}\nright = {{ path = \"{0}/r.csv\" }}\n\
             [[entity.field]]\nname = \"id\"\ntype = \"int\"\n[[entity.field]]\nname = \"v\"\n",
            dir.path().display()
        );
        let spec = crate::spec::parse(Path::new("t.toml"), &text, String::new()).unwrap_or_else(|e| panic!("{e}"));
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap_or_else(|e| panic!("{e}"));
        let spills = || {
            std::fs::read_dir(&work)
                .map(|d| d.count())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let parts = partition(&spec.entities[0], 3, &work, &Plain).unwrap_or_else(|e| panic!("{e}"));
        // The first bucket stays in memory.
        assert_eq!(spills(), 4);
        let mut seen = 0;
        for b in 0..3 {
            // Read as often as needed (the global rule pass reads columns)...
            let some = parts
                .load(b, Some(&["v".to_string()]))
                .unwrap_or_else(|e| panic!("{e}"));
            // ...then once more for the bucket itself, which removes its files.
            let [left, right] = parts.take(b).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(left.frame.height(), some[0].frame.height());
            assert_eq!(left.frame.get_column_names(), ["id", "v"]);
            assert!(left.frame.equals(&right.frame));
            seen += left.frame.height();
            assert_eq!(spills(), 4 - 2 * b);
            // Taken, a bucket is gone.
            assert!(parts.load(b, None).is_err());
        }
        assert_eq!(seen, 40);
    }

    #[test]
    fn buckets_are_stable_and_spread() {
        let mut counts = [0usize; 8];
        for i in 0..8000 {
            let b = bucket_of(&format!("{{\"id\":\"C{i:06}\"}}"), 8);
            assert_eq!(b, bucket_of(&format!("{{\"id\":\"C{i:06}\"}}"), 8));
            counts[b] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800 && c < 1200), "{counts:?}");
        assert_eq!(bucket_of("{\"id\":\"x\"}", 1), 0);
        for n in [3, 7, 36, 64] {
            let mut counts = vec![0usize; n];
            for i in 0..1000 * n {
                counts[bucket_of(&format!("{{\"id\":\"C{i:06}\"}}"), n)] += 1;
            }
            assert!(counts.iter().all(|&c| c > 800 && c < 1200), "{n}: {counts:?}");
        }
        // The function is XXH3's: its reference answer for the empty input.
        assert_eq!(xxhash_rust::xxh3::xxh3_64_with_seed(b"", 0), 0x2D06_8005_38D3_94C2);
    }
}
