//! Parquet sources: read whole or a slice at a time (slices aligned to row
//! groups), and typed columns rendered as text without losing precision.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::bytes::{read_all, sha256, sha256_file};
use super::ndjson::plain_number;
use super::{Loaded, Shape};
use crate::error::{Error, Result};
use crate::normalize::FieldType;

pub(super) fn load(path: &Path, columns: &[String]) -> Result<Loaded> {
    let bytes = read_all(path)?;
    let digest = sha256(&bytes);
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let schema = reader.schema().map_err(|e| not_parquet(path, e))?;
    let present: Vec<String> = columns.iter().filter(|c| schema.contains(c)).cloned().collect();
    let missing: Vec<String> = columns.iter().filter(|c| !schema.contains(c)).cloned().collect();
    let frame = reader
        .with_columns(Some(present.clone()))
        .finish()
        .map_err(|e| not_parquet(path, e))?;
    let rows = frame.height();
    let (frame, physical_types) = text_frame(path, &present, frame)?;
    let shape = Shape {
        rows,
        missing,
        physical_types,
    };
    Ok(shape.loaded(path, frame, digest))
}

/// A Parquet file read a slice at a time (see [`super::for_each_chunk`]).
pub(super) fn stream(
    path: &Path,
    columns: &[String],
    chunk: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    let digest = sha256_file(path)?;
    let mut reader = open_parquet(path)?;
    let schema = reader.schema().map_err(|e| not_parquet(path, e))?;
    let rows = reader.num_rows().map_err(|e| not_parquet(path, e))?;
    let groups: Vec<usize> = match reader.get_metadata() {
        Ok(m) => m.row_groups.iter().map(|g| g.num_rows()).collect(),
        Err(_) => Vec::new(),
    };
    let chunk = aligned_chunk(&groups, chunk);
    let present: Vec<String> = columns.iter().filter(|c| schema.contains(c)).cloned().collect();
    let missing: Vec<String> = columns.iter().filter(|c| !schema.contains(c)).cloned().collect();
    let mut physical_types = BTreeMap::new();
    // At least one read, so that an empty file still reports its column types.
    for offset in (0..rows.max(1)).step_by(chunk) {
        let frame = open_parquet(path)?
            .with_columns(Some(present.clone()))
            .with_slice(Some((offset, chunk)))
            .finish()
            .map_err(|e| not_parquet(path, e))?;
        let (frame, types) = text_frame(path, &present, frame)?;
        physical_types = types;
        each(frame)?;
    }
    let shape = Shape {
        rows,
        missing,
        physical_types,
    };
    Ok(shape.loaded(path, DataFrame::empty(), digest))
}

/// Columns a Parquet file offers with their physical types, from its schema alone.
pub(super) fn column_types(path: &Path) -> Result<Vec<(String, DataType)>> {
    let mut reader = open_parquet(path)?;
    let schema = reader.schema().map_err(|e| not_parquet(path, e))?;
    Ok(schema
        .iter()
        .map(|(n, f)| (n.to_string(), DataType::from_arrow_field(f)))
        .collect())
}

/// Why a Parquet column of physical type `physical` can never hold the
/// declared type `declared`, or `None` when some value might convert.
///
/// Conservative: only pairs where *no* value of the column can ever convert
/// (whatever the spec's formats and spellings) are reported. A `bool` column
/// reads as `true`/`false`, which no integer, decimal, date or timestamp
/// parses; a date, time or timestamp column reads as ISO text, which no
/// integer or decimal parses. Everything else may convert for some values (a
/// float as `decimal` when its digits fit, an integer as a `%Y%m%d` date, any
/// column as `bool` with matching `true_values`) and is left to `run`, which
/// reports each unconvertible value.
pub fn parquet_type_problem(physical: &DataType, declared: &FieldType) -> Option<String> {
    let why = match (physical, declared) {
        (
            DataType::Boolean,
            FieldType::Int | FieldType::Decimal { .. } | FieldType::Date { .. } | FieldType::Timestamp { .. },
        ) => "a boolean column reads as `true`/`false`",
        (DataType::Date | DataType::Datetime(..) | DataType::Time, FieldType::Int | FieldType::Decimal { .. }) => {
            "a temporal column reads as date/time text"
        }
        _ => return None,
    };
    Some(format!(
        "physical type {physical} can never hold declared type `{}`: {why}",
        declared.name()
    ))
}

/// Rows per slice of a Parquet file whose row groups (`groups`, their
/// heights) are all as tall but the last: the multiple of that height
/// nearest to `chunk`, so that no slice starts inside a row group (a slice
/// across two row groups decodes both whole: the pairs' 499,020-row groups
/// read in 500k-row slices decoded every row twice). `chunk` where the
/// groups differ or one group is over 4 × `chunk` (the memory of a slice).
pub(super) fn aligned_chunk(groups: &[usize], chunk: usize) -> usize {
    let Some((&height, rest)) = groups.split_last().and_then(|(_, full)| full.split_first()) else {
        return chunk;
    };
    if height == 0 || height > 4 * chunk || rest.iter().any(|&h| h != height) {
        return chunk;
    }
    height * (chunk as f64 / height as f64).round().max(1.0) as usize
}

fn open_parquet(path: &Path) -> Result<ParquetReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(ParquetReader::new(file))
}

fn not_parquet(path: &Path, e: PolarsError) -> Error {
    Error::input(path, format!("cannot be read as Parquet: {e}"))
        .with_hint("check `format` in the spec, or the file extension")
}

/// The `present` columns of a Parquet frame as text, with their physical types.
fn text_frame(path: &Path, present: &[String], frame: DataFrame) -> Result<(DataFrame, BTreeMap<String, String>)> {
    let rows = frame.height();
    let mut physical_types = BTreeMap::new();
    let mut text_cols = Vec::new();
    for name in present {
        let col = frame
            .column(name)
            .map_err(|e| Error::polars(format!("reading column `{name}` of {}", path.display()), e))?;
        physical_types.insert(name.clone(), col.dtype().to_string());
        text_cols.push(as_text(col).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: None,
            field: Some(name.clone()),
            message: format!("column cannot be read as text: {e}"),
            hint: None,
        })?);
    }
    let frame = DataFrame::new(rows, text_cols)
        .map_err(|e| Error::polars(format!("building the text frame of {}", path.display()), e))?;
    Ok((frame, physical_types))
}

/// Renders a typed column as text the normalizers understand. Datetimes
/// become RFC 3339 at their stored precision (nanoseconds kept; `Z` when
/// the column carries a time zone, naive otherwise), so that no precision
/// or zone information is lost; an instant beyond the calendar's range is
/// written as its raw count (which no `timestamp` field converts: it is
/// reported `unconvertible` with that text, never clamped to a default).
fn as_text(col: &Column) -> PolarsResult<Column> {
    match col.dtype() {
        DataType::String => Ok(col.clone()),
        DataType::Datetime(unit, tz) => {
            let (nanos_per, unit_name) = match unit {
                TimeUnit::Nanoseconds => (1i128, "ns"),
                TimeUnit::Microseconds => (1_000, "us"),
                TimeUnit::Milliseconds => (1_000_000, "ms"),
            };
            let aware = tz.is_some();
            let phys = col.cast(&DataType::Int64)?;
            let out: StringChunked = phys
                .i64()?
                .iter()
                .map(|v| {
                    v.map(|v| {
                        let mut text = String::new();
                        render_instant(&mut text, v, nanos_per, unit_name, aware);
                        text
                    })
                })
                .collect();
            Ok(out.with_name(col.name().clone()).into_column())
        }
        // Floats in plain notation (`1e+20` is `100000000000000000000`):
        // their shortest exact text, which a `decimal` field can type.
        DataType::Float32 | DataType::Float64 => {
            let text = col.cast(&DataType::String)?;
            let out: StringChunked = text.str()?.iter().map(|v| v.map(plain_number)).collect();
            Ok(out.with_name(col.name().clone()).into_column())
        }
        // A list as a JSON array of its elements' text (what a `set`
        // field reads without a separator); a null element stays null.
        DataType::List(inner) => {
            if !inner.is_primitive() && !matches!(**inner, DataType::String | DataType::Datetime(..)) {
                polars_bail!(ComputeError: "a list of {inner} cannot be read as text; recon reads lists of text, numbers, booleans, dates and timestamps");
            }
            let lists = col.list()?;
            let mut out: Vec<Option<String>> = Vec::with_capacity(lists.len());
            for list in lists.amortized_iter() {
                let Some(list) = list else {
                    out.push(None);
                    continue;
                };
                let text = as_text(&list.as_ref().clone().into_column())?;
                let items: Vec<serde_json::Value> = text
                    .str()?
                    .iter()
                    .map(|v| v.map_or(serde_json::Value::Null, |t| serde_json::Value::String(t.to_string())))
                    .collect();
                out.push(Some(serde_json::Value::Array(items).to_string()));
            }
            Ok(StringChunked::from_iter(out)
                .with_name(col.name().clone())
                .into_column())
        }
        _ => col.cast(&DataType::String),
    }
}

/// `count` units of `nanos_per` nanoseconds since the epoch as RFC 3339
/// (6 fraction digits, 9 where the nanoseconds need them), or as
/// `<count> <unit> since 1970-01-01 (out of range)` past year 9999.
fn render_instant(out: &mut String, count: i64, nanos_per: i128, unit: &str, aware: bool) {
    use std::fmt::Write;
    let at = crate::normalize::Instant::from_nanos(i128::from(count) * nanos_per)
        .and_then(|t| t.to_utc())
        .filter(|t| (0..=9999).contains(&chrono::Datelike::year(t)));
    let Some(at) = at else {
        let _ = write!(out, "{count} {unit} since 1970-01-01 (out of range)");
        return;
    };
    let naive = at.naive_utc();
    let _ = match chrono::Timelike::nanosecond(&naive) % 1_000 {
        0 => write!(out, "{}", naive.format("%Y-%m-%dT%H:%M:%S%.6f")),
        _ => write!(out, "{}", naive.format("%Y-%m-%dT%H:%M:%S%.9f")),
    };
    if aware {
        out.push('Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_uniform_row_groups() {
        // The generated pairs: 499,020-row groups, read a group at a time.
        assert_eq!(aligned_chunk(&[499_020, 499_020, 499_020, 1_000], 500_000), 499_020);
        // Small groups: whole groups up to about the chunk.
        assert_eq!(aligned_chunk(&[100_000; 12], 500_000), 500_000);
        assert_eq!(aligned_chunk(&[65_536; 40], 500_000), 524_288);
        // Taller than the chunk but within 4x: one group per slice.
        assert_eq!(aligned_chunk(&[1_048_576, 1_048_576, 5], 500_000), 1_048_576);
        // Too tall, uneven, or too few groups to tell: the chunk as asked.
        assert_eq!(aligned_chunk(&[4_000_000, 4_000_000, 1], 500_000), 500_000);
        assert_eq!(aligned_chunk(&[300_000, 200_000, 300_000, 9], 500_000), 500_000);
        assert_eq!(aligned_chunk(&[499_020], 500_000), 500_000);
        assert_eq!(aligned_chunk(&[], 500_000), 500_000);
    }
}
