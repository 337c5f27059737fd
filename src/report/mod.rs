//! Writing what a run found: findings.parquet, summary.json, report.html
//! (`page`), the human summary on stderr, and the atomic run folder that
//! holds them.
//!
//! Owns file layout and serialization only; deciding what is a finding or
//! whether the run failed happens upstream.

mod baseline;
mod folder;
mod lock;
mod metrics;
pub mod page;
pub mod summary;

pub use crate::columnar::{buffered, opened, push_plain, Dictionary, PlainColumn, Stored, WorkingWriter};
pub use baseline::{choose_baseline, BaselineInfo};
pub use folder::{claim, owner_tag, previous_runs, release, sweep_stale, validate_run_id, PreviousRun, RunFolder};
pub use lock::{hostname, parse_wait, read_holder, HistoryLock, LockHolder, DEFAULT_WAIT, LOCK_FILE};
pub use metrics::{write_quality_metrics, EntityMetrics};
pub use summary::{human_summary, EntitySummary, SideInfo, Summary};

use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::finding::Finding;

/// One finding row as written, with its id and first sighting.
pub struct FindingRow<'a> {
    pub finding: &'a Finding,
    pub id: String,
    pub first_seen: String,
}

pub fn write_findings(path: &Path, run_id: &str, rows: &[FindingRow<'_>]) -> Result<()> {
    let columns = vec![
        text_column("run_id", rows, |_| Some(run_id)),
        text_column("finding_id", rows, |r| Some(&r.id)),
        text_column("entity", rows, |r| Some(&r.finding.entity)),
        text_column("category", rows, |r| Some(r.finding.category.as_str())),
        text_column("kind", rows, |r| Some(&r.finding.kind)),
        text_column("rule", rows, |r| Some(&r.finding.rule)),
        text_column("severity", rows, |r| Some(r.finding.severity.as_str())),
        text_column("side", rows, |r| Some(r.finding.side)),
        text_column("key", rows, |r| Some(&r.finding.key)),
        text_column("field", rows, |r| r.finding.field.as_deref()),
        text_column("left_value", rows, |r| r.finding.left_value.as_deref()),
        text_column("right_value", rows, |r| r.finding.right_value.as_deref()),
        text_column("detail", rows, |r| Some(&r.finding.detail)),
        text_column("first_seen", rows, |r| Some(&r.first_seen)),
    ];
    write_parquet(path, columns, rows.len())
}

/// A text column of one value per row, built without copying the rows' strings.
pub fn text_column<'a, T>(name: &str, rows: &'a [T], value: impl Fn(&'a T) -> Option<&'a str>) -> Column {
    let mut b = StringChunkedBuilder::new(name.into(), rows.len());
    for r in rows {
        b.append_option(value(r));
    }
    b.finish().into_column()
}

/// Starts writing `file`'s dirty pages to disk without waiting for them
/// (Linux: `sync_file_range` with `SYNC_FILE_RANGE_WRITE`), so that the
/// final fsync of a file written over a whole run finds little left to
/// write: the kernel would otherwise hold a 1 GB state.parquet in memory
/// until that fsync (10M rows: 0.4 s at the end of the run). It only
/// starts the write: the fsync still makes the file durable, and where
/// the call is missing or fails nothing changes.
pub fn start_writeback(file: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor stays open while `file` is borrowed, and
        // the call takes no pointer.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Writes string columns as a zstd Parquet file (the caller's folder is the
/// temporary run folder, so no partial file can surface).
pub fn write_parquet(path: &Path, columns: Vec<Column>, height: usize) -> Result<()> {
    let mut df =
        DataFrame::new(height, columns).map_err(|e| Error::polars(format!("building {}", path.display()), e))?;
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    ParquetWriter::new(&file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .map_err(|e| Error::polars(format!("writing {}", path.display()), e))?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// `finding_id → first_seen` from a previous run's findings.parquet.
pub fn read_first_seen(run_dir: &Path) -> Result<std::collections::HashMap<String, String>> {
    let path = run_dir.join("findings.parquet");
    let mut out = std::collections::HashMap::new();
    if !path.exists() {
        return Ok(out);
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let df = ParquetReader::new(file)
        .with_columns(Some(vec!["finding_id".into(), "first_seen".into()]))
        .finish()
        .map_err(|e| Error::input(&path, format!("previous findings unreadable: {e}")))?;
    let ids = df.column("finding_id").and_then(|c| c.str().cloned());
    let seen = df.column("first_seen").and_then(|c| c.str().cloned());
    if let (Ok(ids), Ok(seen)) = (ids, seen) {
        for (id, s) in ids.iter().zip(seen.iter()) {
            if let (Some(id), Some(s)) = (id, s) {
                out.insert(id.to_string(), s.to_string());
            }
        }
    }
    Ok(out)
}
