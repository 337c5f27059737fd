//! Loading one side of an entity into a polars frame of raw text columns.
//!
//! Owns file formats (CSV with encodings and dialects, Parquet, NDJSON), the
//! projection to the declared columns, input hashing and every input error.
//! A source may be many files (a folder, a glob) on local disk or in object
//! storage (`locate`); they read as one table, in path order, each hashed
//! and listed in the evidence.
//! All columns come out as text: typing is the spec's job (`normalize`), so a
//! leading zero, a long card number or `1E+10` never changes by inference.
//!
//! This file holds what every format shares (the loaded source, the entry
//! points, file checks, stacking parts); each format reads in its own
//! file, `bytes` hashes and decodes what they read, and `locate` finds
//! (and stages) the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::spec::{Encoding, Entity, Format, Side, Source};

mod bytes;
use bytes::Digest;
mod csv;
mod locate;
mod ndjson;
mod parquet;

pub use self::csv::{csv_fields, CsvField};
pub use self::parquet::parquet_type_problem;

/// One loaded source (one file or many read as one table).
#[derive(Debug)]
pub struct Loaded {
    /// The source as the spec names it (path, pattern or URL).
    pub path: PathBuf,
    /// Declared columns that exist, as text, in declared order.
    pub frame: DataFrame,
    /// Declared columns no file of the source has.
    pub missing: Vec<String>,
    /// Physical type of each present column as the files store it.
    pub physical_types: BTreeMap<String, String>,
    pub rows: usize,
    /// The file's SHA-256; for many files, the SHA-256 of their listing
    /// (`<sha256>  <name>` lines, in read order), like `sha256sum` prints.
    pub sha256: String,
    /// Bytes read, as stored (compressed bytes of a compressed file).
    pub size: u64,
    /// Time spent hashing the files' bytes (they are hashed from the same
    /// reads they are parsed from: each file is read once).
    pub hash_micros: u64,
    /// Every file read, in order.
    pub files: Vec<InputFile>,
}

/// One file of a source as the evidence lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// Its path (as given or matched) or URL.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// The object store's ETag and version id at the time of the read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Loaded {
    pub fn column(&self, name: &str) -> Option<&StringChunked> {
        self.frame.column(name).ok().and_then(|c| c.str().ok())
    }
}

/// Loads `columns` (deduplicated by the caller) from `source`.
pub fn load(source: &Source, columns: &[String]) -> Result<Loaded> {
    let mut loaded = read_parts(source, columns, |source, file, part| {
        let mut loaded = match source.format {
            Format::Csv => csv::load(source, file, columns),
            Format::Parquet => parquet::load(file, columns),
            Format::Ndjson => ndjson::load(file, columns, source.allow_empty),
        }?;
        loaded.frame = with_partitions(loaded.frame, part, columns, &mut loaded.missing, source.format)?;
        Ok(loaded)
    })?;
    loaded.frame = in_declared_order(loaded.frame, columns)?;
    finished(loaded, source)
}

/// Every file of `source`, read by `read` (given the source as each file
/// is read, the local file and the part) and stacked in path order.
fn read_parts(
    source: &Source,
    columns: &[String],
    mut read: impl FnMut(&Source, &Path, &locate::Part) -> Result<Loaded>,
) -> Result<Loaded> {
    let parts = locate::parts(source)?;
    let each = per_part(source, parts.len());
    let mut stacked: Option<Loaded> = None;
    for part in parts {
        let opened = part.open()?;
        let file = &opened.file;
        let loaded = check_file(&each, file, &part.name)
            .and_then(|()| read(&each, file, &part))
            .map_err(|e| renamed(e, file, &part.name))?;
        let loaded = described(loaded, &part, &opened);
        stacked = Some(match stacked {
            None => loaded,
            Some(acc) => stack(acc, loaded, &each, columns)?,
        });
    }
    stacked.ok_or_else(|| Error::input(&source.path, "no file matches"))
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
/// and returns the source's description (hashes, sizes, columns, rows) with
/// an empty frame; the files of a many-file source follow one another.
/// Parquet is read a slice at a time, so memory stays bounded by the chunk;
/// where its row groups are uniform a slice is a whole number of them, at
/// most 4 × `chunk` rows ([`parquet::aligned_chunk`]). So are UTF-8 CSV and
/// NDJSON, parsed while they are read (an NDJSON chunk holds every declared
/// column: which ones no record has is known at the end, in `missing`); GBK
/// CSV is decoded whole first and then handed out in chunks.
pub fn for_each_chunk(
    source: &Source,
    columns: &[String],
    chunk: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    let chunk = chunk.max(1);
    // The columns of the first frame: every later frame must have them.
    let mut shape: Option<(String, Vec<String>)> = None;
    let loaded = read_parts(source, columns, |source, file, part| {
        let mut each_part = |frame: DataFrame| -> Result<()> {
            let mut missing = Vec::new();
            let frame = with_partitions(frame, part, columns, &mut missing, source.format)?;
            let frame = in_declared_order(frame, columns)?;
            let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
            match &shape {
                None => shape = Some((part.name.clone(), names)),
                Some((first, expected)) if *expected != names => {
                    return Err(different_columns(source, &part.name, first, expected, &names))
                }
                Some(_) => {}
            }
            each(frame)
        };
        let mut loaded = match source.format {
            Format::Csv if source.encoding == Encoding::Utf8 => {
                csv::stream(source, file, columns, chunk, &mut each_part)
            }
            Format::Ndjson => ndjson::stream(file, columns, source.allow_empty, chunk, &mut each_part),
            Format::Parquet => parquet::stream(file, columns, chunk, &mut each_part),
            Format::Csv => {
                let mut loaded = csv::load(source, file, columns)?;
                let frame = std::mem::take(&mut loaded.frame);
                for offset in (0..loaded.rows.max(1)).step_by(chunk) {
                    each_part(frame.slice(offset as i64, chunk))?;
                }
                Ok(loaded)
            }
        }?;
        loaded.missing.retain(|m| !part.hive.iter().any(|(k, _)| k == m));
        Ok(loaded)
    })?;
    finished(loaded, source)
}

/// The names (paths or URLs) and sizes of the files `source` names, in the
/// order a run reads them (for `recon check`).
pub fn files(source: &Source) -> Result<Vec<(String, u64)>> {
    Ok(locate::parts(source)?.into_iter().map(|p| (p.name, p.size)).collect())
}

/// Bytes the files of `source` hold as stored (0 when they cannot be
/// listed: loading them reports why), and whether any is compressed.
pub fn stored_size(source: &Source) -> (u64, bool) {
    match locate::parts(source) {
        Ok(parts) => (
            parts.iter().map(|p| p.size).sum(),
            parts
                .iter()
                .any(|p| crate::spec::COMPRESSION_SUFFIXES.iter().any(|s| p.name.ends_with(s))),
        ),
        Err(_) => (0, false),
    }
}

/// A loaded part described by what was read: its listed name, and for a
/// staged copy the original's hash and size instead of the copy's.
fn described(mut loaded: Loaded, part: &locate::Part, opened: &locate::Opened) -> Loaded {
    loaded.path = PathBuf::from(&part.name);
    let (etag, version) = match &opened.original {
        Some(o) => {
            loaded.sha256 = o.sha256.clone();
            loaded.size = o.size;
            loaded.hash_micros = o.hash_micros;
            (o.etag.clone(), o.version.clone())
        }
        None => (None, None),
    };
    loaded.files = vec![InputFile {
        name: part.name.clone(),
        size: loaded.size,
        sha256: loaded.sha256.clone(),
        etag,
        version,
    }];
    loaded
}

/// The SHA-256 of a many-file source: of the lines `<sha256>  <name>\n` of
/// its files in read order — `sha256sum`'s output over them, so a verifier
/// recomputes it from the listed files. The names are as the caller lists
/// them (the summary lists local files relative to the spec's folder).
pub fn listing_sha256(files: &[InputFile]) -> String {
    let listing: String = files.iter().map(|f| format!("{}  {}\n", f.sha256, f.name)).collect();
    hex::encode(ring::digest::digest(&ring::digest::SHA256, listing.as_bytes()))
}

/// How each file of a source of `parts` files is read: one file is the
/// source; of many, one may hold no rows (a Spark job writes empty part
/// files) — the source as a whole must hold some ([`finished`]).
fn per_part(source: &Source, parts: usize) -> Source {
    let mut each = source.clone();
    if parts > 1 {
        each.allow_empty = true;
    }
    each
}

/// The source as a whole: named as the spec names it, with the hash of
/// its listing when it is many files, which together must hold a row
/// unless `allow_empty`.
fn finished(mut loaded: Loaded, source: &Source) -> Result<Loaded> {
    loaded.path = source.path.clone();
    if loaded.files.len() > 1 {
        if loaded.rows == 0 && !source.allow_empty {
            return Err(Error::input(
                &source.path,
                format!("none of its {} files holds a row", loaded.files.len()),
            )
            .with_hint("`allow_empty = true` on the source accepts an empty table"));
        }
        loaded.sha256 = listing_sha256(&loaded.files);
    }
    Ok(loaded)
}

/// `acc` with the next part's rows below its own. Columns must agree: a
/// column one CSV or Parquet file has and another lacks is an input error
/// (NDJSON records may leave a column out: those rows read it as null).
fn stack(mut acc: Loaded, next: Loaded, source: &Source, columns: &[String]) -> Result<Loaded> {
    let first = acc.files.first().map(|f| f.name.clone()).unwrap_or_default();
    let this = next.files.first().map(|f| f.name.clone()).unwrap_or_default();
    if source.format != Format::Ndjson && acc.missing != next.missing {
        let have =
            |missing: &[String]| -> Vec<String> { columns.iter().filter(|c| !missing.contains(c)).cloned().collect() };
        return Err(different_columns(
            source,
            &this,
            &first,
            &have(&acc.missing),
            &have(&next.missing),
        ));
    }
    acc.missing.retain(|m| next.missing.contains(m));
    for (name, ty) in next.physical_types {
        acc.physical_types.entry(name).or_insert(ty);
    }
    if acc.frame.width() > 0 || next.frame.width() > 0 {
        let mut top = with_columns(acc.frame, columns, &acc.missing)?;
        let bottom = with_columns(next.frame, columns, &acc.missing)?;
        top.vstack_mut_owned(bottom)
            .map_err(|e| Error::polars(format!("stacking {this} below {first}"), e))?;
        acc.frame = top;
    }
    acc.rows += next.rows;
    acc.size += next.size;
    acc.hash_micros += next.hash_micros;
    acc.files.extend(next.files);
    Ok(acc)
}

fn different_columns(source: &Source, this: &str, first: &str, expected: &[String], found: &[String]) -> Error {
    let lacks: Vec<&String> = expected.iter().filter(|c| !found.contains(c)).collect();
    let extra: Vec<&String> = found.iter().filter(|c| !expected.contains(c)).collect();
    let mut what = Vec::new();
    if !lacks.is_empty() {
        what.push(format!("lacks {lacks:?}"));
    }
    if !extra.is_empty() {
        what.push(format!("has {extra:?} that it lacks"));
    }
    Error::input(
        Path::new(this),
        format!(
            "declared columns differ from the first file of the source ({first}): this file {}",
            what.join(" and ")
        ),
    )
    .with_hint(format!(
        "every file of `{}` must have the same declared columns",
        source.path.display()
    ))
}

/// `frame` with every declared column that is neither missing from the
/// source nor in the frame added as nulls, in declared order.
fn with_columns(frame: DataFrame, columns: &[String], missing: &[String]) -> Result<DataFrame> {
    let height = frame.height();
    let mut frame = frame;
    for c in columns {
        if !missing.contains(c) && frame.column(c).is_err() {
            frame
                .with_column(Column::full_null(c.as_str().into(), height, &DataType::String))
                .map_err(|e| Error::polars(format!("adding column `{c}`"), e))?;
        }
    }
    in_declared_order(frame, columns)
}

fn in_declared_order(frame: DataFrame, columns: &[String]) -> Result<DataFrame> {
    let order: Vec<&str> = columns
        .iter()
        .map(|c| c.as_str())
        .filter(|c| frame.column(c).is_ok())
        .collect();
    let current: Vec<&str> = frame.get_column_names().iter().map(|n| n.as_str()).collect();
    if order == current {
        return Ok(frame);
    }
    frame
        .select(order)
        .map_err(|e| Error::polars("putting columns in declared order", e))
}

/// `frame` with the part's Hive partition values as columns: a declared
/// column a file does not have is taken from its path (`dt=2026-12-06/`);
/// in NDJSON, where a chunk carries every declared column, one no record
/// of the chunk has (all null) is too. Such columns leave `missing`.
fn with_partitions(
    mut frame: DataFrame,
    part: &locate::Part,
    columns: &[String],
    missing: &mut Vec<String>,
    format: Format,
) -> Result<DataFrame> {
    let height = frame.height();
    for (key, value) in &part.hive {
        if !columns.contains(key) {
            continue;
        }
        let take = match frame.column(key) {
            Err(_) => true,
            Ok(c) => format == Format::Ndjson && c.null_count() == height,
        };
        if take {
            let column = match value {
                Some(v) => Column::new_scalar(
                    key.as_str().into(),
                    Scalar::new(DataType::String, AnyValue::StringOwned(v.as_str().into())),
                    height,
                ),
                None => Column::full_null(key.as_str().into(), height, &DataType::String),
            };
            frame
                .with_column(column)
                .map_err(|e| Error::polars(format!("adding partition column `{key}`"), e))?;
        }
        missing.retain(|m| m != key);
    }
    Ok(frame)
}

/// An error about the file `file` (a staged copy) told about `name` (what
/// the user named: the URL or the compressed file).
fn renamed(e: Error, file: &Path, name: &str) -> Error {
    match e {
        Error::Input {
            path,
            line,
            field,
            message,
            hint,
        } if path == file => Error::Input {
            path: PathBuf::from(name),
            line,
            field,
            message,
            hint,
        },
        Error::Io { path, source } if path == file => Error::Io {
            path: PathBuf::from(name),
            source,
        },
        other => other,
    }
}

/// The file is not empty; with `allow_empty`, an NDJSON file may be (zero
/// bytes are zero records). A zero-byte CSV stays an error whatever
/// `allow_empty` says: without a header it has no columns, so it is not an
/// empty table but a failed export; nor is a zero-byte file Parquet (a
/// zero-row Parquet file still holds its schema).
fn check_file(source: &Source, file: &Path, name: &str) -> Result<()> {
    let meta = std::fs::metadata(file).map_err(|e| Error::io(Path::new(name), e))?;
    let path = Path::new(name);
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

/// Column names a source offers, without loading rows (for `recon check`).
pub fn column_names(source: &Source) -> Result<Vec<String>> {
    Ok(column_types(source, &[])?.into_iter().map(|(n, _)| n).collect())
}

/// Columns a source offers (its first file, and the partition columns of
/// that file's path), each with its physical type where the format stores
/// one (Parquet; `None` for CSV and NDJSON, whose values are text),
/// without loading rows (for `recon check`). An NDJSON file without
/// records (accepted by `allow_empty`) names no columns but can show none
/// missing either: it offers the `declared` ones, as a run reads it.
pub fn column_types(source: &Source, declared: &[String]) -> Result<Vec<(String, Option<DataType>)>> {
    let parts = locate::parts(source)?;
    let part = &parts[0];
    let opened = part.open()?;
    let file = &opened.file;
    let hive = part.hive.iter().map(|(k, _)| (k.clone(), None));
    let found = check_file(source, file, &part.name).and_then(|()| {
        let loaded = match source.format {
            Format::Csv => csv::load(source, file, &[])?,
            Format::Parquet => {
                let types = parquet::column_types(file)?;
                return Ok(types.into_iter().map(|(n, t)| (n, Some(t))).collect::<Vec<_>>());
            }
            Format::Ndjson => ndjson::load(file, &[], source.allow_empty)?,
        };
        if source.format == Format::Ndjson && loaded.rows == 0 {
            return Ok(declared.iter().map(|n| (n.clone(), None)).collect());
        }
        Ok(loaded.physical_types.into_keys().map(|n| (n, None)).collect())
    });
    let mut found = found.map_err(|e| renamed(e, file, &part.name))?;
    for (k, t) in hive {
        if !found.iter().any(|(n, _)| *n == k) {
            found.push((k, t));
        }
    }
    Ok(found)
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
            files: Vec::new(),
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
