//! Splitting a previous run's state.parquet like this run's buckets, so a
//! bucketed run reads only each bucket's keys ([`PartitionedState`]).

use polars::prelude::PlHashMap as HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::layout::{for_each_row, write_batch, Layout, StateBatch};
use super::model::EntityState;
use super::read::read_state_file;
use super::write::STATE_BATCH;
use super::STATE_FILE;
use crate::error::{Error, Result};
use crate::spec::Side;

/// Rows of the previous state read at a time while partitioning it.
const PARTITION_SLICE: usize = 1_000_000;

/// A previous run's state split like this run's buckets (bucketed runs),
/// so each bucket reads only its own keys: entity → one file per bucket.
pub struct PartitionedState {
    files: HashMap<String, Vec<Option<PathBuf>>>,
}

/// Splits `run_dir`'s state.parquet into `work`, one file per entity and
/// bucket, in the layout it has; `buckets` gives each entity's bucket count and `bucket_of` the
/// bucket of a key. None when the run has no state.
pub fn partition_state(
    run_dir: &Path,
    work: &Path,
    buckets: &HashMap<String, usize>,
    bucket_of: impl Fn(&str, usize) -> usize,
) -> Result<Option<PartitionedState>> {
    let path = run_dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let clock = std::time::Instant::now();
    let unreadable = |e: PolarsError| Error::input(&path, format!("previous state unreadable: {e}"));
    let open = || std::fs::File::open(&path).map_err(|e| Error::io(&path, e));
    let rows = ParquetReader::new(open()?).num_rows().map_err(unreadable)?;
    let mut parts: HashMap<(String, usize), Part> = HashMap::default();
    // The `fields` header in force for each entity and side.
    let mut header: HashMap<(String, Side), String> = HashMap::default();
    let mut layout = None;
    for offset in (0..rows).step_by(PARTITION_SLICE) {
        let df = ParquetReader::new(open()?)
            .with_slice(Some((offset, PARTITION_SLICE)))
            .finish()
            .map_err(unreadable)?;
        // Every slice has the file's columns; header rows of later slices
        // are checked too.
        let sliced = Layout::of(&path, &df)?;
        let layout = *layout.get_or_insert(sliced);
        for_each_row(&path, &df, layout, |row| {
            let Some(&n) = buckets.get(row.entity) else {
                return Ok(());
            };
            // A `both` row is in its left run, under the left's header.
            let run = row.side.run();
            if let Some(f) = row.fields {
                header.insert((row.entity.to_string(), run), f.to_string());
            }
            let Some(names) = header.get(&(row.entity.to_string(), run)) else {
                return Ok(());
            };
            let b = bucket_of(row.key, n);
            let part = parts.entry((row.entity.to_string(), b)).or_insert_with(|| Part {
                path: work.join(format!("state-{}-{b:05}.parquet", row.entity)),
                writer: None,
                batch: StateBatch::new(layout),
                header: None,
            });
            let current = (run, names.clone());
            let fields = (part.header.as_ref() != Some(&current)).then_some(names.as_str());
            part.batch.push(&super::layout::StoredRow { fields, ..row });
            part.header = Some(current);
            if part.batch.len >= STATE_BATCH {
                part.flush()?;
            }
            Ok(())
        })?;
    }
    let mut files: HashMap<String, Vec<Option<PathBuf>>> =
        buckets.iter().map(|(e, &n)| (e.clone(), vec![None; n])).collect();
    for ((entity, b), mut part) in parts {
        part.flush()?;
        if let Some(w) = part.writer.take() {
            w.finish()
                .map_err(|e| Error::polars(format!("writing {}", part.path.display()), e))?;
        }
        if let Some(slot) = files.get_mut(&entity).and_then(|v| v.get_mut(b)) {
            *slot = Some(part.path);
        }
    }
    let ms = clock.elapsed().as_millis() as u64;
    tracing::debug!(ms, ?layout, "previous state partitioned");
    Ok(Some(PartitionedState { files }))
}

/// One entity and bucket of a state being partitioned.
struct Part {
    path: PathBuf,
    writer: Option<crate::report::WorkingWriter<std::io::BufWriter<std::fs::File>>>,
    batch: StateBatch,
    /// The side and `fields` header of the last row written.
    header: Option<(Side, String)>,
}

impl Part {
    fn flush(&mut self) -> Result<()> {
        let path = &self.path;
        let open = || {
            let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
            Ok(crate::report::buffered(file))
        };
        write_batch(&mut self.batch, &mut self.writer, open, path)
    }
}

impl PartitionedState {
    /// The previous state of one bucket of `entity` (empty when it had no rows there).
    pub fn load(&self, entity: &str, b: usize) -> Result<EntityState> {
        match self.files.get(entity).and_then(|v| v.get(b)).and_then(|p| p.as_ref()) {
            Some(path) => Ok(read_state_file(path)?.remove(entity).unwrap_or_default()),
            None => Ok(EntityState::default()),
        }
    }
}
