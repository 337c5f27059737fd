//! The memory budget (`--memory-limit`): what an entity is estimated to
//! need in memory, and how many buckets keep one bucket within its share.

use polars::prelude::*;

use crate::source;
use crate::spec::{Entity, Format, Location, Side};

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
pub(super) const CHUNK_ROWS: usize = 500_000;

/// Most buckets per entity (a bucket is a file per side in the work folder).
pub const MAX_BUCKETS: usize = 4096;

/// Why a `--memory-limit` text is not a size; the message quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("`{text}` is not a size (e.g. 8GiB, 512M, 1073741824)")]
    NotANumber {
        text: String,
        #[source]
        source: std::num::ParseFloatError,
    },
    #[error("`{text}` has an unknown unit (use K, M, G or T)")]
    UnknownUnit { text: String },
    #[error("`{text}` is not a positive size")]
    NotPositive { text: String },
}

/// Parses a memory size: bytes, or a number with K, M, G, T (powers of
/// 1024; `KiB`, `MB`, `gb` and so on are accepted alike).
pub fn parse_size(text: &str) -> std::result::Result<u64, SizeError> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|source| SizeError::NotANumber {
        text: text.to_string(),
        source,
    })?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches('b').trim_end_matches('i');
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(SizeError::UnknownUnit { text: text.to_string() }),
    };
    let bytes = value * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(SizeError::NotPositive { text: text.to_string() });
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
        let one_local_file = matches!(&source.location, Location::Local(p) if p.is_file());
        total += match source.format {
            Format::Parquet if one_local_file => std::fs::File::open(&source.path)
                .ok()
                .and_then(|f| ParquetReader::new(f).num_rows().ok())
                .map_or(0, |rows| rows as u64 * cells * BYTES_PER_CELL),
            _ if one_local_file && !source::stored_size(source).1 => {
                std::fs::metadata(&source.path).map_or(0, |m| m.len() * BYTES_PER_TEXT_BYTE)
            }
            // Many files, objects in a bucket, compressed files: from the
            // listed sizes, as if text (Parquet and compressed bytes hold
            // about 4 times as much text).
            format => {
                let (bytes, compressed) = source::stored_size(source);
                let expand = if compressed || format == Format::Parquet { 4 } else { 1 };
                bytes * expand * BYTES_PER_TEXT_BYTE
            }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
