//! CSV sources: UTF-8 parsed while read, GBK decoded first, header checks,
//! null cells told from quoted empty strings, and CSV errors with their line.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::bytes::{decode, read_all, sha256, Hashing};
use super::{Loaded, Shape};
use crate::error::{Error, Result};
use crate::spec::Source;

pub(super) fn load(source: &Source, path: &Path, columns: &[String]) -> Result<Loaded> {
    let bytes = read_all(path)?;
    let digest = sha256(&bytes);
    let text = decode(path, &bytes, source.encoding)?;
    drop(bytes);
    let mut frame = DataFrame::empty();
    let shape = parse_csv(source, path, columns, text.as_bytes(), usize::MAX, |f| {
        frame = f;
        Ok(())
    })?;
    Ok(shape.loaded(path, frame, digest))
}

/// A UTF-8 CSV file parsed a chunk at a time while its bytes are hashed:
/// neither the file nor its text is ever held whole.
pub(super) fn stream(
    source: &Source,
    path: &Path,
    columns: &[String],
    chunk: usize,
    each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hashing = Hashing::new(file);
    let shape = {
        let mut text = std::io::BufReader::with_capacity(8 << 20, &mut hashing);
        let bom = text
            .fill_buf()
            .map_err(|e| Error::io(path, e))?
            .starts_with(b"\xEF\xBB\xBF");
        if bom {
            text.consume(3);
        }
        parse_csv(source, path, columns, text, chunk, each)?
    };
    // The parser stops at the end of the file: every byte has been hashed.
    Ok(shape.loaded(path, DataFrame::empty(), hashing.digest()))
}

/// Parses UTF-8 CSV text into frames of at most `chunk` rows of the wanted
/// columns (at least one frame), handed to `each` in file order.
fn parse_csv(
    source: &Source,
    path: &Path,
    columns: &[String],
    text: impl std::io::Read,
    chunk: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Shape> {
    let mut reader = QuotingReader::new(source, text, true);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    check_headers(path, &headers)?;
    let mut present: Vec<(&str, usize)> = Vec::new();
    let mut missing = Vec::new();
    let mut physical_types = BTreeMap::new();
    for c in columns {
        match headers.iter().position(|h| h == c) {
            Some(i) => {
                present.push((c.as_str(), i));
                physical_types.insert(c.clone(), "utf8".to_string());
            }
            None => missing.push(c.clone()),
        }
    }
    if columns.is_empty() {
        for h in &headers {
            physical_types.insert(h.clone(), "utf8".to_string());
        }
    }
    // Cells go straight into Arrow string builders: no String per cell.
    let builders = || -> Vec<StringChunkedBuilder> {
        present
            .iter()
            .map(|(name, _)| StringChunkedBuilder::new((*name).into(), 1024))
            .collect()
    };
    let mut values = builders();
    let mut flush = |values: &mut Vec<StringChunkedBuilder>, height: usize| -> Result<()> {
        let cols = std::mem::replace(values, builders())
            .into_iter()
            .map(|b| b.finish().into_column())
            .collect();
        each(
            DataFrame::new(height, cols)
                .map_err(|e| Error::polars(format!("building a chunk of {}", path.display()), e))?,
        )
    };
    let mut record = csv::StringRecord::new();
    let (mut rows, mut in_chunk) = (0usize, 0usize);
    let is_null_text = |v: &str| source.null_values.iter().any(|n| n == v);
    loop {
        match reader.read(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        rows += 1;
        in_chunk += 1;
        for (slot, (_, i)) in values.iter_mut().zip(&present) {
            let cell = record.get(*i);
            // A null text is null unless it was quoted.
            let null = cell.is_some_and(is_null_text) && !reader.quoted(*i);
            slot.append_option(if null { None } else { cell });
        }
        if in_chunk == chunk {
            flush(&mut values, in_chunk)?;
            in_chunk = 0;
        }
    }
    if rows == 0 && !source.allow_empty {
        return Err(Error::input(path, "has a header but no data rows").with_hint(
            "an empty export usually means the export job failed; check it before reconciling \
             (`allow_empty = true` on the source accepts an empty table)",
        ));
    }
    if in_chunk > 0 || rows == 0 {
        flush(&mut values, in_chunk)?;
    }
    Ok(Shape {
        rows,
        missing,
        physical_types,
    })
}

/// Header names are the columns' identities: an empty or repeated one
/// would make a declared column ambiguous or unreachable.
fn check_headers(path: &Path, headers: &[String]) -> Result<()> {
    if headers.iter().all(|h| h.is_empty()) {
        return Err(
            Error::input(path, "has no header row").with_hint("CSV sources need a header row naming the columns")
        );
    }
    let header_error = |field: String, message: String| Error::Input {
        path: path.to_path_buf(),
        line: Some(1),
        field: Some(field),
        message,
        hint: Some("every CSV column needs a name of its own; fix the export's header row".into()),
    };
    if let Some(i) = headers.iter().position(|h| h.is_empty()) {
        return Err(header_error(
            format!("#{}", i + 1),
            format!("header column {} has no name", i + 1),
        ));
    }
    for (i, h) in headers.iter().enumerate() {
        if let Some(j) = headers[..i].iter().position(|earlier| earlier == h) {
            return Err(header_error(
                h.clone(),
                format!("header names column `{h}` twice (columns {} and {})", j + 1, i + 1),
            ));
        }
    }
    Ok(())
}

/// One CSV field as written: its text, and whether it was quoted (which
/// tells the empty string `""` from an empty, null cell).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvField {
    pub text: String,
    pub quoted: bool,
}

/// Every record of CSV `text`, the header included, each field with
/// whether it was quoted (looked up only where the text is empty or one of
/// `null_values`: elsewhere quoting changes no value and `quoted` is
/// false). For rewriting a file without changing what it says.
pub fn csv_fields(text: &[u8], source: &Source) -> std::result::Result<Vec<Vec<CsvField>>, csv::Error> {
    let mut reader = QuotingReader::new(source, text, false);
    let mut record = csv::StringRecord::new();
    let mut out = Vec::new();
    while reader.read(&mut record)? {
        let fields = record.iter().enumerate().map(|(i, f)| CsvField {
            text: f.to_string(),
            quoted: (f.is_empty() || source.null_values.iter().any(|n| n == f)) && reader.quoted(i),
        });
        out.push(fields.collect());
    }
    Ok(out)
}

/// A CSV reader that can tell which fields of the record it last read were
/// quoted (the parser's records do not say): it looks at the record's raw
/// bytes, and only when asked.
struct QuotingReader<R> {
    reader: csv::Reader<Recording<R>>,
    raw: RawRecords,
    delimiter: u8,
    quote: u8,
    /// Stream offsets of the last record read.
    span: (u64, u64),
    /// Its fields' quoting, once looked up (empty before).
    quoted: Vec<bool>,
}

impl<R: std::io::Read> QuotingReader<R> {
    fn new(source: &Source, text: R, has_headers: bool) -> QuotingReader<R> {
        let raw = RawRecords::default();
        let reader = csv::ReaderBuilder::new()
            .delimiter(source.delimiter)
            .quote(source.quote)
            .has_headers(has_headers)
            .flexible(false)
            .from_reader(raw.recording(text));
        QuotingReader {
            reader,
            raw,
            delimiter: source.delimiter,
            quote: source.quote,
            span: (0, 0),
            quoted: Vec::new(),
        }
    }

    fn headers(&mut self) -> std::result::Result<&csv::StringRecord, csv::Error> {
        self.reader.headers()
    }

    /// Reads the next record into `record`; false at the end.
    fn read(&mut self, record: &mut csv::StringRecord) -> std::result::Result<bool, csv::Error> {
        // The record before is done with: its bytes may go.
        self.raw.consumed(self.span.1);
        let more = self.reader.read_record(record)?;
        self.span = (record.position().map_or(0, |p| p.byte()), self.reader.position().byte());
        self.quoted.clear();
        Ok(more)
    }

    /// Whether field `i` of the last record read was quoted.
    fn quoted(&mut self, i: usize) -> bool {
        if self.quoted.is_empty() {
            let (start, end) = self.span;
            self.raw
                .quoted_fields(start, end, self.delimiter, self.quote, &mut self.quoted);
        }
        self.quoted.get(i).copied().unwrap_or(false)
    }
}

/// The bytes the CSV parser has been given and not yet released, so that a
/// record's raw text can be looked at after it is parsed (the parser's
/// records do not say whether a field was quoted).
#[derive(Default, Clone)]
struct RawRecords {
    inner: std::rc::Rc<std::cell::RefCell<RawBuffer>>,
}

#[derive(Default)]
struct RawBuffer {
    /// Stream offset of `bytes[0]`.
    base: u64,
    bytes: Vec<u8>,
}

/// Bytes kept before those of parsed records are released.
const RAW_RELEASE_AT: usize = 1 << 20;

impl RawRecords {
    fn recording<R: std::io::Read>(&self, inner: R) -> Recording<R> {
        Recording {
            inner,
            raw: self.clone(),
        }
    }

    /// Records before stream offset `end` are parsed: their bytes may go.
    fn consumed(&self, end: u64) {
        let mut buf = self.inner.borrow_mut();
        if buf.bytes.len() >= RAW_RELEASE_AT {
            let n = usize::try_from(end.saturating_sub(buf.base)).map_or(0, |n| n.min(buf.bytes.len()));
            buf.bytes.drain(..n);
            buf.base += n as u64;
        }
    }

    /// Whether each field of the record at stream bytes `start..end` was
    /// quoted, into `out` (at least one entry).
    fn quoted_fields(&self, start: u64, end: u64, delimiter: u8, quote: u8, out: &mut Vec<bool>) {
        let buf = self.inner.borrow();
        let at = |offset: u64| usize::try_from(offset.saturating_sub(buf.base)).map_or(0, |n| n.min(buf.bytes.len()));
        quoted_fields(&buf.bytes[at(start)..at(end)], delimiter, quote, out);
    }
}

/// A reader that keeps what it reads in a [`RawRecords`].
struct Recording<R> {
    inner: R,
    raw: RawRecords,
}

impl<R: std::io::Read> std::io::Read for Recording<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.raw.inner.borrow_mut().bytes.extend_from_slice(&out[..n]);
        Ok(n)
    }
}

/// Per field of one raw CSV record, whether it opened with the quote
/// character (as the parser reads it: a quote only opens a field at its
/// start, `""` inside quotes is a literal quote).
fn quoted_fields(record: &[u8], delimiter: u8, quote: u8, out: &mut Vec<bool>) {
    out.clear();
    let (mut at_start, mut in_quotes) = (true, false);
    // The parser's record position may sit before blank lines it skipped.
    let first = record
        .iter()
        .position(|b| !matches!(b, b'\n' | b'\r'))
        .unwrap_or(record.len());
    let mut bytes = record[first..].iter().copied().peekable();
    out.push(false);
    while let Some(b) = bytes.next() {
        if in_quotes {
            if b == quote {
                if bytes.peek() == Some(&quote) {
                    bytes.next();
                } else {
                    in_quotes = false;
                }
            }
            continue;
        }
        if at_start && b == quote {
            in_quotes = true;
            if let Some(last) = out.last_mut() {
                *last = true;
            }
            at_start = false;
        } else if b == delimiter {
            out.push(false);
            at_start = true;
        } else if b == b'\n' || b == b'\r' {
            break;
        } else {
            at_start = false;
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let mut hint = None;
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => {
            hint = Some("if the export is GBK-encoded, add encoding = \"gbk\" to the source".into());
            "invalid UTF-8".to_string()
        }
        _ => e.to_string(),
    };
    Error::Input {
        path: path.to_path_buf(),
        line,
        field: None,
        message,
        hint,
    }
}
