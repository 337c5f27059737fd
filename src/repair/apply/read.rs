//! A snapshot file read for rewriting (CSV, NDJSON or Parquet), every
//! byte not edited kept as it was.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::source::{self};
use crate::spec::{Encoding, Format, Source};

use super::*;

impl Doc {
    pub(super) fn read(src: &Source) -> Result<Doc> {
        let path = &src.path;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (kind, columns, rows) = match src.format {
            Format::Csv => {
                let (text, bom) = match src.encoding {
                    Encoding::Gbk => {
                        let (t, _, bad) = encoding_rs::GB18030.decode(&bytes);
                        if bad {
                            return Err(input_err(path, "contains bytes that are not valid GBK/GB18030".into()));
                        }
                        (t.trim_start_matches('\u{feff}').to_string(), false)
                    }
                    Encoding::Utf8 => {
                        let bom = bytes.starts_with(b"\xEF\xBB\xBF");
                        let body = if bom { &bytes[3..] } else { &bytes[..] };
                        let t = std::str::from_utf8(body).map_err(|_| input_err(path, "invalid UTF-8".into()))?;
                        (t.to_string(), bom)
                    }
                };
                let crlf = text.contains("\r\n");
                let mut all = source::csv_fields(text.as_bytes(), src).map_err(|e| input_err(path, e.to_string()))?;
                if all.is_empty() {
                    return Err(input_err(path, "has no header row".into()));
                }
                let header = all.remove(0);
                let columns = header.iter().map(|h| h.text.trim().to_string()).collect();
                let rows = all.len();
                (
                    Kind::Csv {
                        bom,
                        crlf,
                        header,
                        records: all,
                    },
                    columns,
                    rows,
                )
            }
            Format::Ndjson => {
                let text = String::from_utf8(bytes).map_err(|_| input_err(path, "invalid UTF-8".into()))?;
                let text = text.trim_start_matches('\u{feff}');
                let lines: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .collect();
                let mut columns: Vec<String> = Vec::new();
                let mut kinds: Vec<char> = Vec::new();
                for l in &lines {
                    let obj: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(l).map_err(|e| input_err(path, format!("not a JSON object: {e}")))?;
                    for (k, v) in obj {
                        let kind = match v {
                            serde_json::Value::Null => None,
                            serde_json::Value::Number(_) => Some('n'),
                            serde_json::Value::Bool(_) => Some('b'),
                            _ => Some('s'),
                        };
                        match columns.iter().position(|c| *c == k) {
                            Some(i) => {
                                if kinds[i] == '?' {
                                    kinds[i] = kind.unwrap_or('?');
                                }
                            }
                            None => {
                                columns.push(k);
                                kinds.push(kind.unwrap_or('?'));
                            }
                        }
                    }
                }
                let rows = lines.len();
                (Kind::Ndjson { lines, kinds }, columns, rows)
            }
            Format::Parquet => {
                let df = ParquetReader::new(std::io::Cursor::new(bytes))
                    .finish()
                    .map_err(|e| input_err(path, format!("cannot be read as Parquet: {e}")))?;
                let columns = df.get_column_names().iter().map(|c| c.to_string()).collect();
                let rows = df.height();
                (Kind::Parquet { df }, columns, rows)
            }
        };
        Ok(Doc {
            kind,
            columns,
            rows,
            edits: BTreeMap::new(),
            deleted: vec![false; rows],
            inserts: Vec::new(),
        })
    }
}
