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
//!
//! This file holds the bucket function, the work folder and the partition's
//! entry point; `budget` sizes the buckets, `spill` writes them and
//! `readback` reads one back.

use std::path::{Path, PathBuf};

use crate::display::Display;
use crate::error::{Error, Result};
use crate::source::Loaded;
use crate::spec::{Entity, Side};

mod budget;
mod readback;
mod spill;

pub use budget::{buckets_for, default_limit, estimate, parse_size, SizeError, BYTES_PER_CELL, MAX_BUCKETS};
use spill::{partition_side, First};

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
    /// The source files as described by [`crate::source::for_each_chunk`] (empty frames).
    pub meta: [Loaded; 2],
    files: [Vec<Option<PathBuf>>; 2],
    /// Per side, the first bucket's rows.
    first: [std::sync::Mutex<First>; 2],
    /// The present declared columns of each side, in declared order.
    present: [Vec<String>; 2],
}

/// Which buckets a partition keeps (a shard's own); the others' rows are
/// dropped as they are read, and those buckets read back empty.
pub type Keep<'a> = &'a (dyn Fn(usize) -> bool + Sync);

/// Splits both sides of `entity` into `buckets` spill files under `work`,
/// only the buckets `keep` accepts when it is given.
pub fn partition(
    entity: &Entity,
    buckets: usize,
    work: &Path,
    display: &dyn Display,
    keep: Option<Keep<'_>>,
) -> Result<Partitioned> {
    let (left, right) = rayon::join(
        || partition_side(entity, Side::Left, buckets, work, display, keep),
        || partition_side(entity, Side::Right, buckets, work, display, keep),
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

#[cfg(test)]
mod tests {
    use super::*;

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
