//! Partitioning one side: its chunks routed by key and written to the
//! bucket's spill file as they come, the first bucket kept in memory.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::bucket_of;
use super::budget::CHUNK_ROWS;
use crate::columnar::{self, PlainColumn};
use crate::display::Display;
use crate::error::{Error, Result};
use crate::prepare;
use crate::source::{self, Loaded};
use crate::spec::{Entity, Side};

type Writer = columnar::WorkingWriter<std::io::BufWriter<std::fs::File>>;

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
pub(super) enum First {
    Kept(DataFrame),
    /// No row fell in it.
    Empty,
    /// Read for the last time.
    Taken,
}

/// What one side's partition left: per bucket, its spill file if it got
/// rows, and the first bucket's rows if it got any.
pub(super) struct Spilled {
    pub(super) files: Vec<Option<PathBuf>>,
    pub(super) first: Option<DataFrame>,
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
        let columns = columnar::scatter_values(&frame, routed, &counts).map_err(|e| Error::polars("spilling", e))?;
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
                Ok(columnar::buffered(file))
            };
            let w = columnar::opened(&mut self.writers[b], &schema, &[], open, |e| spill_err(&path, e))?;
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
    Error::polars(format!("spilling to {}", path.display()), e)
}

fn keep_err(e: PolarsError) -> Error {
    Error::polars("keeping the first bucket in memory", e)
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
pub(super) struct SidePartition {
    pub(super) meta: Loaded,
    pub(super) spilled: Spilled,
    pub(super) present: Vec<String>,
}

pub(super) fn partition_side(
    entity: &Entity,
    side: Side,
    buckets: usize,
    work: &Path,
    display: &dyn Display,
    keep: Option<super::Keep<'_>>,
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
        match keep {
            Some(keep) if !routed.iter().all(|&b| keep(b as usize)) => {
                let rows: Vec<IdxSize> = (0..routed.len() as IdxSize)
                    .filter(|&r| keep(routed[r as usize] as usize))
                    .collect();
                if rows.is_empty() {
                    return Ok(());
                }
                let routed: Vec<u32> = rows.iter().map(|&r| routed[r as usize]).collect();
                let kept = frame
                    .take(&IdxCa::from_vec("idx".into(), rows))
                    .map_err(|e| Error::polars("keeping a shard's rows", e))?;
                spills.scatter(kept, &routed)
            }
            _ => spills.scatter(frame, &routed),
        }
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
        frame: DataFrame::new(frame.height(), keys_only).map_err(|e| Error::polars("routing rows to buckets", e))?,
        missing: Vec::new(),
        physical_types: Default::default(),
        rows: frame.height(),
        sha256: String::new(),
        size: 0,
        hash_micros: 0,
        files: Vec::new(),
    };
    let prepared = prepare::prepare_fields(entity, side, &loaded, Some(&entity.key));
    Ok(prepare::map_key_jsons(entity, &prepared, display, |json| {
        bucket_of(json, buckets) as u32
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::keyed_by_id;

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
}
