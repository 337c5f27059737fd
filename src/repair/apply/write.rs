//! The repaired snapshot written atomically in its own format: CSV that
//! reads back as the values it holds, NDJSON with each column's JSON kind,
//! Parquet with its column types.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::display::push_json_str;
use crate::error::{Error, Result};
use crate::files::write_file;
use crate::normalize::Value;
use crate::prepare::convert;
use crate::source::CsvField;
use crate::spec::{self, Encoding, Entity, Side, Source};

use super::*;

/// Writes CSV records so that they read back as the values they hold: a
/// null as an unquoted null text, the empty string (or a text that is one
/// of the source's `null_values`) quoted, a field that was quoted empty in
/// the file quoted again.
struct CsvWriter<'a> {
    src: &'a Source,
    terminator: &'static str,
}

impl CsvWriter<'_> {
    /// The field that reads back as `value`. A null is the first of the
    /// source's `null_values` (the empty cell by default).
    fn field(&self, value: Option<&str>) -> CsvField {
        match value {
            None => CsvField {
                text: self.src.null_values.first().cloned().unwrap_or_default(),
                quoted: false,
            },
            Some(t) => CsvField {
                text: t.to_string(),
                quoted: t.is_empty() || self.src.null_values.iter().any(|n| n == t),
            },
        }
    }

    fn record(&self, out: &mut String, fields: impl Iterator<Item = CsvField>) {
        let (delimiter, quote) = (char::from(self.src.delimiter), char::from(self.src.quote));
        let start = out.len();
        let mut n = 0;
        for f in fields {
            if n > 0 {
                out.push(delimiter);
            }
            n += 1;
            let needs = f.quoted || f.text.contains([delimiter, quote, '\r', '\n']);
            if needs {
                out.push(quote);
                for c in f.text.chars() {
                    if c == quote {
                        out.push(quote);
                    }
                    out.push(c);
                }
                out.push(quote);
            } else {
                out.push_str(&f.text);
            }
        }
        // A record of one empty field would be a blank line, which readers skip.
        if n == 1 && out.len() == start {
            out.push(quote);
            out.push(quote);
        }
        out.push_str(self.terminator);
    }
}

impl Doc {
    /// Writes the repaired snapshot atomically (temporary file, fsync, rename).
    pub(super) fn write(&self, src: &Source, out: &Path, entity: &Entity, side: Side) -> Result<()> {
        let bytes = match &self.kind {
            Kind::Csv {
                bom,
                crlf,
                header,
                records,
            } => {
                let csv = CsvWriter {
                    src,
                    terminator: if *crlf { "\r\n" } else { "\n" },
                };
                let mut text = String::new();
                csv.record(&mut text, header.iter().cloned());
                for row in self.kept() {
                    let rec = (0..self.columns.len()).map(|c| match self.edits.get(&(row, c)) {
                        Some(v) => csv.field(v.as_deref()),
                        None => records[row].get(c).cloned().unwrap_or_default(),
                    });
                    csv.record(&mut text, rec);
                }
                for new in &self.inserts {
                    csv.record(&mut text, new.iter().map(|v| csv.field(v.as_deref())));
                }
                match src.encoding {
                    Encoding::Gbk => {
                        let (b, _, bad) = encoding_rs::GBK.encode(&text);
                        if bad {
                            return Err(input_err(out, "a repaired value cannot be encoded in GBK".into()));
                        }
                        b.into_owned()
                    }
                    Encoding::Utf8 => {
                        let mut b = if *bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
                        b.extend_from_slice(text.as_bytes());
                        b
                    }
                }
            }
            Kind::Ndjson { lines, kinds } => {
                let mut text = String::new();
                // A value as JSON text: a number column's value as its exact
                // digits (never through an f64), a string quoted.
                let typed = |c: usize, v: &Option<String>| -> String {
                    match v {
                        None => "null".into(),
                        Some(t) if kinds[c] == 'n' && is_json_number(t) => t.clone(),
                        Some(t) if kinds[c] == 'b' && (t == "true" || t == "false") => t.clone(),
                        Some(t) => {
                            let mut json = String::new();
                            push_json_str(&mut json, t);
                            json
                        }
                    }
                };
                for row in self.kept() {
                    let edits: Vec<(usize, &Option<String>)> = self
                        .edits
                        .range((row, 0)..(row + 1, 0))
                        .map(|((_, c), v)| (*c, v))
                        .collect();
                    if edits.is_empty() {
                        text.push_str(&lines[row]);
                    } else {
                        // The line's members in their order, values as written;
                        // an edited member replaced in place, a new one appended.
                        let RawObject(mut members) = serde_json::from_str(&lines[row])
                            .map_err(|e| Error::json("re-reading an NDJSON line to repair it", e))?;
                        for (c, v) in edits {
                            let name = &self.columns[c];
                            let value = typed(c, v);
                            match members.iter_mut().find(|(k, _)| k == name) {
                                Some(member) => member.1 = value,
                                None => members.push((name.clone(), value)),
                            }
                        }
                        push_object(&mut text, &members);
                    }
                    text.push('\n');
                }
                for new in &self.inserts {
                    let members: Vec<(String, String)> = new
                        .iter()
                        .enumerate()
                        .map(|(c, v)| (self.columns[c].clone(), typed(c, v)))
                        .collect();
                    push_object(&mut text, &members);
                    text.push('\n');
                }
                text.into_bytes()
            }
            Kind::Parquet { df } => {
                let mut cols = Vec::new();
                for (c, name) in self.columns.iter().enumerate() {
                    let orig = df
                        .column(name)
                        .map_err(|e| Error::polars(format!("reading column `{name}` of the snapshot"), e))?;
                    let field = entity.fields.iter().find(|f| f.columns[side.idx()] == *name);
                    cols.push(self.parquet_column(c, orig, field, side, out)?);
                }
                let height = self.kept().count() + self.inserts.len();
                let tmp = temp_path(out);
                return crate::report::write_parquet(&tmp, cols, height)
                    .and_then(|()| finish_rename(&tmp, out))
                    .inspect_err(|_| {
                        let _ = std::fs::remove_file(&tmp);
                    });
            }
        };
        let tmp = temp_path(out);
        write_file(&tmp, &bytes)
            .and_then(|()| finish_rename(&tmp, out))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
    }

    /// One output column: kept rows (edited or original) then inserted rows,
    /// in the original column's type.
    fn parquet_column(
        &self,
        c: usize,
        orig: &Column,
        field: Option<&spec::Field>,
        side: Side,
        out: &Path,
    ) -> Result<Column> {
        let internal = |e: PolarsError| Error::polars(format!("rebuilding Parquet column `{}`", orig.name()), e);
        let dtype = orig.dtype().clone();
        let name = orig.name().clone();
        let cells: Vec<Option<&Option<String>>> = self
            .kept()
            .map(|r| self.edits.get(&(r, c)))
            .chain(self.inserts.iter().map(|n| Some(&n[c])))
            .collect();
        let kept: Vec<usize> = self.kept().collect();
        let bad = || {
            input_err(
                out,
                format!("a repaired value cannot be stored in Parquet column `{name}` ({dtype})"),
            )
        };
        // Canonical value of new text through the field's conversion.
        let canon = |t: &str| -> Result<Value> {
            let f = field.ok_or_else(bad)?;
            convert(f, side, Some(t)).ok().flatten().ok_or_else(bad)
        };
        let column = match &dtype {
            DataType::String => {
                let o = orig.str().map_err(internal)?;
                let v: Vec<Option<String>> = cells
                    .iter()
                    .enumerate()
                    .map(|(i, e)| match e {
                        Some(v) => (*v).clone(),
                        None => o.get(kept[i]).map(str::to_string),
                    })
                    .collect();
                Column::new(name, v)
            }
            // A list of text (a `set` field written without a separator):
            // the repaired text is the JSON array `repr` wrote.
            DataType::List(inner) if **inner == DataType::String => {
                let o = orig.list().map_err(internal)?;
                let mut v: Vec<Option<Series>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get_as_series(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => {
                            let items: Vec<String> = serde_json::from_str(t).map_err(|_| bad())?;
                            Some(Series::new(PlSmallStr::EMPTY, items))
                        }
                    });
                }
                let mut list: ListChunked = v.into_iter().collect();
                list.rename(name);
                list.into_column()
            }
            DataType::Boolean => {
                let o = orig.bool().map_err(internal)?;
                let mut v: Vec<Option<bool>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => match canon(t) {
                            Ok(Value::Bool(b)) => Some(b),
                            _ => match t.as_str() {
                                "true" => Some(true),
                                "false" => Some(false),
                                _ => return Err(bad()),
                            },
                        },
                    });
                }
                Column::new(name, v)
            }
            DataType::Float32 | DataType::Float64 => {
                let phys = orig.cast(&DataType::Float64).map_err(internal)?;
                let o = phys.f64().map_err(internal)?;
                let mut v: Vec<Option<f64>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => Some(t.trim().parse::<f64>().map_err(|_| bad())?),
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            DataType::Datetime(unit, tz) => {
                let phys = orig.cast(&DataType::Int64).map_err(internal)?;
                let o = phys.i64().map_err(internal)?;
                let nanos_per: i128 = match unit {
                    TimeUnit::Nanoseconds => 1,
                    TimeUnit::Microseconds => 1_000,
                    TimeUnit::Milliseconds => 1_000_000,
                };
                let mut v: Vec<Option<i64>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => {
                            let Value::Ts(utc) = canon(t)? else { return Err(bad()) };
                            // A naive column holds the local wall time in the field's zone.
                            let nanos = match (tz, field.map(|f| &f.ty[side.idx()])) {
                                (None, Some(crate::normalize::FieldType::Timestamp { timezone, .. })) => {
                                    use chrono::{Offset, TimeZone};
                                    let dt = utc.to_utc().ok_or_else(bad)?;
                                    let offset = timezone.offset_from_utc_datetime(&dt.naive_utc()).fix();
                                    utc.nanos() + i128::from(offset.local_minus_utc()) * 1_000_000_000
                                }
                                _ => utc.nanos(),
                            };
                            if nanos % nanos_per != 0 {
                                return Err(bad());
                            }
                            Some(i64::try_from(nanos / nanos_per).map_err(|_| bad())?)
                        }
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            DataType::Date => {
                let phys = orig.cast(&DataType::Int32).map_err(internal)?;
                let o = phys.i32().map_err(internal)?;
                let mut v: Vec<Option<i32>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => match canon(t)? {
                            Value::Date(d) => Some(d),
                            _ => return Err(bad()),
                        },
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            d if d.is_integer() => {
                let phys = orig.cast(&DataType::Int64).map_err(internal)?;
                let o = phys.i64().map_err(internal)?;
                let mut v: Vec<Option<i64>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => Some(t.trim().parse::<i64>().map_err(|_| bad())?),
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            _ if cells.iter().all(Option::is_none) || cells.iter().all(|e| matches!(e, None | Some(None))) => {
                let idx: Vec<IdxSize> = kept.iter().map(|&r| r as IdxSize).collect();
                let taken = orig.take_slice(&idx).map_err(internal)?;
                let nulls = Column::full_null(name, self.inserts.len(), &dtype);
                let mut t = taken;
                t.append(&nulls).map_err(internal)?;
                t
            }
            _ => return Err(bad()),
        };
        Ok(column)
    }
}

/// Writes `bytes` to `out` atomically (temporary file, fsync, rename).
pub(crate) fn write_atomically(out: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(out);
    write_file(&tmp, bytes)
        .and_then(|()| finish_rename(&tmp, out))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "output".into());
    out.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

fn finish_rename(tmp: &Path, out: &Path) -> Result<()> {
    std::fs::rename(tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        Error::io(out, e)
    })?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// A JSON object's members in file order, each value as its raw JSON text.
struct RawObject(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for RawObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<RawObject, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = RawObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawObject, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Box<serde_json::value::RawValue>>()? {
                    members.push((k, v.get().to_string()));
                }
                Ok(RawObject(members))
            }
        }
        d.deserialize_map(Members)
    }
}

/// `{"k":v,...}` from members whose values are JSON text already.
fn push_object(out: &mut String, members: &[(String, String)]) {
    out.push('{');
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, k);
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
}

/// Whether `text` is exactly one JSON number literal.
fn is_json_number(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9'))
        && serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok_and(|raw| raw.get() == text)
}
