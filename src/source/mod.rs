//! Loading one side of an entity into a polars frame of raw text columns.
//!
//! Owns file formats (CSV with encodings and dialects, Parquet, NDJSON), the
//! projection to the declared columns, input hashing and every input error.
//! All columns come out as text: typing is the spec's job (`normalize`), so a
//! leading zero, a long card number or `1E+10` never changes by inference.
//!
//! This file holds what every format shares (the loaded file, the entry
//! points, file checks); each format reads in its own file, and `bytes`
//! hashes and decodes what they read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::spec::{Encoding, Entity, Format, Side, Source};

mod bytes;
use bytes::Digest;
mod csv;
mod ndjson;
mod parquet;

pub use self::csv::{csv_fields, CsvField};
pub use self::parquet::parquet_type_problem;

/// One loaded snapshot file.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    /// Declared columns that exist, as text, in declared order.
    pub frame: DataFrame,
    /// Declared columns the file does not have.
    pub missing: Vec<String>,
    /// Physical type of each present column as the file stores it.
    pub physical_types: BTreeMap<String, String>,
    pub rows: usize,
    pub sha256: String,
    pub size: u64,
    /// Time spent hashing the file's bytes (they are hashed from the same
    /// buffer they are parsed from: the file is read once).
    pub hash_micros: u64,
}

impl Loaded {
    pub fn column(&self, name: &str) -> Option<&StringChunked> {
        self.frame.column(name).ok().and_then(|c| c.str().ok())
    }
}

/// Loads `columns` (deduplicated by the caller) from `source`.
pub fn load(source: &Source, columns: &[String]) -> Result<Loaded> {
    check_file(source)?;
    match source.format {
        Format::Csv => csv::load(source, columns),
        Format::Parquet => parquet::load(&source.path, columns),
        Format::Ndjson => ndjson::load(&source.path, columns, source.allow_empty),
    }
}

/// A side without one of its key columns cannot be reconciled at all.
pub fn key_columns_present(entity: &Entity, side: Side, missing: &[String]) -> Result<()> {
    for &k in &entity.key {
        let col = &entity.fields[k].columns[side.idx()];
        if missing.contains(col) {
            return Err(Error::Input {
                path: entity.sources[side.idx()].path.clone(),
                line: None,
                field: Some(col.clone()),
                message: format!("key column `{col}` (field `{}`) is missing", entity.fields[k].name),
                hint: Some("a key column must exist on both sides; check the column name in the spec".into()),
            });
        }
    }
    Ok(())
}

/// Streams `columns` of `source` to `each` in frames of at most `chunk` rows
/// and returns the file's description (hash, size, columns, rows) with an
/// empty frame. Parquet is read a slice at a time, so memory stays bounded
/// by the chunk; where its row groups are uniform a slice is a whole number
/// of them, at most 4 × `chunk` rows ([`parquet::aligned_chunk`]). So are UTF-8 CSV and NDJSON, parsed while they are
/// read (an NDJSON chunk holds every declared column: which ones no record
/// has is known at the end, in `missing`); GBK CSV is decoded whole first
/// and then handed out in chunks.
pub fn for_each_chunk(
    source: &Source,
    columns: &[String],
    chunk: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    check_file(source)?;
    let chunk = chunk.max(1);
    match source.format {
        Format::Csv if source.encoding == Encoding::Utf8 => return csv::stream(source, columns, chunk, each),
        Format::Ndjson => return ndjson::stream(&source.path, columns, source.allow_empty, chunk, each),
        _ => {}
    }
    if source.format != Format::Parquet {
        let mut loaded = load(source, columns)?;
        let frame = std::mem::take(&mut loaded.frame);
        for offset in (0..loaded.rows).step_by(chunk) {
            each(frame.slice(offset as i64, chunk))?;
        }
        return Ok(loaded);
    }
    parquet::stream(&source.path, columns, chunk, each)
}

/// The file exists, is a file and is not empty; with `allow_empty`, an
/// NDJSON file may be (zero bytes are zero records). A zero-byte CSV stays
/// an error whatever `allow_empty` says: without a header it has no
/// columns, so it is not an empty table but a failed export; nor is a
/// zero-byte file Parquet (a zero-row Parquet file still holds its schema).
fn check_file(source: &Source) -> Result<()> {
    let path = source.path.as_path();
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::input(path, format!("cannot open: {e}"))
            .with_hint("paths in the spec are relative to the spec file's folder")
    })?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory, expected a data file"));
    }
    if meta.len() == 0 && !(source.allow_empty && source.format == Format::Ndjson) {
        let needs = "a snapshot needs at least a header row (CSV) or one record";
        return Err(match source.format {
            Format::Csv if source.allow_empty => Error::input(path, "file is empty: the header row is missing")
                .with_hint(
                    "`allow_empty = true` accepts a CSV with a header and no data rows; without a header \
                     the file names no columns (the export probably failed)",
                ),
            Format::Ndjson => Error::input(path, "file is empty").with_hint(format!(
                "{needs} (`allow_empty = true` on the source accepts an NDJSON file without records)"
            )),
            _ => Error::input(path, "file is empty").with_hint(needs),
        });
    }
    Ok(())
}

/// Column names a source file offers, without loading rows (for `recon check`).
pub fn column_names(source: &Source) -> Result<Vec<String>> {
    Ok(column_types(source, &[])?.into_iter().map(|(n, _)| n).collect())
}

/// Columns a source file offers, each with its physical type where the
/// format stores one (Parquet; `None` for CSV and NDJSON, whose values are
/// text), without loading rows (for `recon check`). An NDJSON file without
/// records (accepted by `allow_empty`) names no columns but can show none
/// missing either: it offers the `declared` ones, as a run reads it.
pub fn column_types(source: &Source, declared: &[String]) -> Result<Vec<(String, Option<DataType>)>> {
    check_file(source)?;
    let loaded = match source.format {
        Format::Csv => csv::load(source, &[])?,
        Format::Parquet => {
            let types = parquet::column_types(&source.path)?;
            return Ok(types.into_iter().map(|(n, t)| (n, Some(t))).collect());
        }
        Format::Ndjson => ndjson::load(&source.path, &[], source.allow_empty)?,
    };
    if source.format == Format::Ndjson && loaded.rows == 0 {
        return Ok(declared.iter().map(|n| (n.clone(), None)).collect());
    }
    Ok(loaded.physical_types.into_keys().map(|n| (n, None)).collect())
}

/// What reading a file found besides its rows.
struct Shape {
    rows: usize,
    missing: Vec<String>,
    physical_types: BTreeMap<String, String>,
}

impl Shape {
    fn loaded(self, path: &Path, frame: DataFrame, digest: Digest) -> Loaded {
        Loaded {
            path: path.to_path_buf(),
            frame,
            missing: self.missing,
            physical_types: self.physical_types,
            rows: self.rows,
            sha256: digest.sha256,
            hash_micros: digest.micros,
            size: digest.size,
        }
    }
}

#[cfg(test)]
mod tests;
