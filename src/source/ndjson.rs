//! NDJSON sources: one JSON object per line, values kept as their exact
//! text (a number never passes through an f64).

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::bytes::{decode, read_all, sha256, Hashing};
use super::{Loaded, Shape};
use crate::error::{Error, Result};
use crate::spec::Encoding;

pub(super) fn load(path: &Path, columns: &[String], allow_empty: bool) -> Result<Loaded> {
    let bytes = read_all(path)?;
    let digest = sha256(&bytes);
    let text = decode(path, &bytes, Encoding::Utf8)?;
    drop(bytes);
    let mut frame = DataFrame::empty();
    let shape = parse_ndjson(path, columns, allow_empty, text.as_bytes(), usize::MAX, |f| {
        frame = f;
        Ok(())
    })?;
    // Only the columns some record has.
    let frame = frame.drop_many(shape.missing.iter().map(|m| m.as_str()));
    Ok(shape.loaded(path, frame, digest))
}

/// An NDJSON file parsed a chunk at a time while its bytes are hashed.
/// Every frame holds every declared column: which ones no record has is
/// known at the end (`missing` of the result).
pub(super) fn stream(
    path: &Path,
    columns: &[String],
    allow_empty: bool,
    chunk: usize,
    each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hashing = Hashing::new(file);
    let shape = parse_ndjson(
        path,
        columns,
        allow_empty,
        std::io::BufReader::with_capacity(8 << 20, &mut hashing),
        chunk,
        each,
    )?;
    Ok(shape.loaded(path, DataFrame::empty(), hashing.digest()))
}

/// Parses NDJSON (one object per line, blank lines skipped, a leading BOM
/// ignored) into frames of at most `chunk` records of every declared
/// column, in file order. Without records it is an input error, unless
/// `allow_empty`: then one frame of zero rows of every declared column,
/// none of them reported missing (no record shows one absent).
fn parse_ndjson(
    path: &Path,
    columns: &[String],
    allow_empty: bool,
    mut text: impl std::io::BufRead,
    chunk: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Shape> {
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
    let mut seen = vec![false; columns.len()];
    let mut all_names = std::collections::BTreeSet::new();
    let (mut rows, mut in_chunk, mut line_no) = (0usize, 0usize, 0u64);
    let mut flush = |values: &mut Vec<Vec<Option<String>>>, height: usize| -> Result<()> {
        let cols = columns
            .iter()
            .zip(values.iter_mut())
            .map(|(name, v)| Column::new(name.as_str().into(), std::mem::take(v)))
            .collect();
        each(
            DataFrame::new(height, cols)
                .map_err(|e| Error::polars(format!("building a chunk of {}", path.display()), e))?,
        )
    };
    let mut line = String::new();
    loop {
        line.clear();
        line_no += 1;
        let n = text.read_line(&mut line).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: Some(line_no),
            field: None,
            message: match e.kind() {
                std::io::ErrorKind::InvalidData => "invalid UTF-8".into(),
                _ => format!("cannot be read: {e}"),
            },
            hint: Some("NDJSON sources are UTF-8, one JSON object per line".into()),
        })?;
        if n == 0 {
            break;
        }
        let record = if line_no == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            line.as_str()
        };
        if record.trim().is_empty() {
            continue;
        }
        // Values as their raw JSON text: a number is kept as written, never
        // read through an f64.
        let obj: std::collections::HashMap<String, &serde_json::value::RawValue> = serde_json::from_str(record)
            .map_err(|e| Error::Input {
                path: path.to_path_buf(),
                line: Some(line_no),
                field: None,
                message: format!("not a JSON object: {e}"),
                hint: Some("NDJSON sources hold one JSON object per line".into()),
            })?;
        rows += 1;
        in_chunk += 1;
        if columns.is_empty() {
            all_names.extend(obj.keys().cloned());
        }
        for (c, name) in columns.iter().enumerate() {
            let v = obj.get(name);
            seen[c] |= v.is_some();
            let text = v.map(|raw| json_text(raw)).transpose().map_err(|e| Error::Input {
                path: path.to_path_buf(),
                line: Some(line_no),
                field: Some(name.clone()),
                message: format!("value cannot be read: {e}"),
                hint: None,
            })?;
            values[c].push(text.flatten());
        }
        if in_chunk == chunk {
            flush(&mut values, in_chunk)?;
            in_chunk = 0;
        }
    }
    if rows == 0 {
        if !allow_empty {
            return Err(Error::input(path, "holds no records").with_hint(
                "an empty export usually means the export job failed; check it before reconciling \
                 (`allow_empty = true` on the source accepts an empty table)",
            ));
        }
        // Nothing shows a declared column absent: all are present, empty.
        seen.iter_mut().for_each(|s| *s = true);
    }
    if in_chunk > 0 || rows == 0 {
        flush(&mut values, in_chunk)?;
    }
    let mut missing = Vec::new();
    let mut physical_types = BTreeMap::new();
    for (name, seen) in columns.iter().zip(seen) {
        if seen {
            physical_types.insert(name.clone(), "json".to_string());
        } else {
            missing.push(name.clone());
        }
    }
    for n in all_names {
        physical_types.insert(n, "json".to_string());
    }
    Ok(Shape {
        rows,
        missing,
        physical_types,
    })
}

/// A JSON value as the text a CSV cell would hold: null is none, a string
/// its unescaped text, a number its exact digits ([`plain_number`]), an
/// object or array its compact JSON.
fn json_text(raw: &serde_json::value::RawValue) -> serde_json::Result<Option<String>> {
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        None | Some(b'n') => None,
        Some(b'"') => Some(serde_json::from_str::<String>(text)?),
        Some(b't') => Some("true".into()),
        Some(b'f') => Some("false".into()),
        Some(b'-' | b'0'..=b'9') => Some(plain_number(text)),
        Some(_) => Some(serde_json::from_str::<serde_json::Value>(text)?.to_string()),
    })
}

/// A JSON number's exact value in plain decimal notation: `1.5e3` is
/// `1500`, `12e-4` is `0.0012`; without an exponent the text as written.
/// (An f64 would turn `12345678901234567.89` into `12345678901234568`.)
/// Exponents beyond ±400 stay as written: no declared type holds them.
pub(super) fn plain_number(text: &str) -> String {
    let Some((mantissa, exp)) = text.split_once(['e', 'E']) else {
        return text.to_string();
    };
    let Some(exp) = exp.parse::<i32>().ok().filter(|e| e.abs() <= 400) else {
        return text.to_string();
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    // The decimal point's place in `digits` after the shift.
    let point = int.len() as i32 + exp;
    let (int, frac) = if point <= 0 {
        (
            String::new(),
            format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        let (i, f) = digits.split_at(point as usize);
        (i.to_string(), f.to_string())
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}
