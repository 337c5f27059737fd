//! Loading one side of an entity into a polars frame of raw text columns.
//!
//! Owns file formats (CSV with encodings and dialects, Parquet, NDJSON), the
//! projection to the declared columns, input hashing and every input error.
//! All columns come out as text: typing is the spec's job (`normalize`), so a
//! leading zero, a long card number or `1E+10` never changes by inference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::spec::{Encoding, Entity, Format, Side, Source};

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
    check_file(&source.path)?;
    match source.format {
        Format::Csv => load_csv(source, columns),
        Format::Parquet => load_parquet(&source.path, columns),
        Format::Ndjson => load_ndjson(&source.path, columns),
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
/// of them, at most 4 × `chunk` rows ([`aligned_chunk`]). So are UTF-8 CSV and NDJSON, parsed while they are
/// read (an NDJSON chunk holds every declared column: which ones no record
/// has is known at the end, in `missing`); GBK CSV is decoded whole first
/// and then handed out in chunks.
pub fn for_each_chunk(
    source: &Source,
    columns: &[String],
    chunk: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    check_file(&source.path)?;
    let chunk = chunk.max(1);
    match source.format {
        Format::Csv if source.encoding == Encoding::Utf8 => return stream_csv(source, columns, chunk, each),
        Format::Ndjson => return stream_ndjson(&source.path, columns, chunk, each),
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
    let path = &source.path;
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

/// Rows per slice of a Parquet file whose row groups (`groups`, their
/// heights) are all as tall but the last: the multiple of that height
/// nearest to `chunk`, so that no slice starts inside a row group (a slice
/// across two row groups decodes both whole: the pairs' 499,020-row groups
/// read in 500k-row slices decoded every row twice). `chunk` where the
/// groups differ or one group is over 4 × `chunk` (the memory of a slice).
fn aligned_chunk(groups: &[usize], chunk: usize) -> usize {
    let Some((&height, rest)) = groups.split_last().and_then(|(_, full)| full.split_first()) else {
        return chunk;
    };
    if height == 0 || height > 4 * chunk || rest.iter().any(|&h| h != height) {
        return chunk;
    }
    height * (chunk as f64 / height as f64).round().max(1.0) as usize
}

/// The file exists, is a file and is not empty.
fn check_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::input(path, format!("cannot open: {e}"))
            .with_hint("paths in the spec are relative to the spec file's folder")
    })?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory, expected a data file"));
    }
    if meta.len() == 0 {
        return Err(
            Error::input(path, "file is empty").with_hint("a snapshot needs at least a header row (CSV) or one record")
        );
    }
    Ok(())
}

/// Column names a source file offers, without loading rows (for `recon check`).
pub fn column_names(source: &Source) -> Result<Vec<String>> {
    let loaded = match source.format {
        Format::Csv => load_csv(source, &[])?,
        Format::Parquet => {
            let mut reader = open_parquet(&source.path)?;
            let schema = reader.schema().map_err(|e| not_parquet(&source.path, e))?;
            return Ok(schema.iter_names().map(|n| n.to_string()).collect());
        }
        Format::Ndjson => load_ndjson(&source.path, &[])?,
    };
    Ok(loaded.physical_types.keys().cloned().collect())
}

/// A file's SHA-256 (hex), the microseconds spent on it, and its size.
struct Digest {
    sha256: String,
    micros: u64,
    size: u64,
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

/// SHA-256 of the input bytes, and how long it took in microseconds.
fn sha256(bytes: &[u8]) -> Digest {
    let start = std::time::Instant::now();
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes));
    Digest {
        sha256,
        micros: start.elapsed().as_micros() as u64,
        size: bytes.len() as u64,
    }
}

/// SHA-256 of a file read in blocks (the file is not held in memory).
fn sha256_file(path: &Path) -> Result<Digest> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hashing = Hashing::new(std::io::BufReader::with_capacity(8 << 20, file));
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
    Ok(hashing.digest())
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Decodes the file to UTF-8 text, stripping a BOM.
fn decode(path: &Path, bytes: &[u8], encoding: Encoding) -> Result<String> {
    match encoding {
        Encoding::Gbk => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
            if had_errors {
                return Err(Error::input(path, "contains bytes that are not valid GBK/GB18030"));
            }
            Ok(text.trim_start_matches('\u{feff}').to_string())
        }
        Encoding::Utf8 => {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            match std::str::from_utf8(bytes) {
                Ok(s) => Ok(s.to_string()),
                Err(e) => {
                    let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
                    Err(Error::Input {
                        path: path.to_path_buf(),
                        line: Some(line),
                        field: None,
                        message: "invalid UTF-8".into(),
                        hint: Some("if the export is GBK-encoded, add encoding = \"gbk\" to the source".into()),
                    })
                }
            }
        }
    }
}

fn load_csv(source: &Source, columns: &[String]) -> Result<Loaded> {
    let path = &source.path;
    let bytes = read_all(path)?;
    let digest = sha256(&bytes);
    let text = decode(path, &bytes, source.encoding)?;
    drop(bytes);
    let mut frame = DataFrame::empty();
    let shape = parse_csv(source, columns, text.as_bytes(), usize::MAX, |f| {
        frame = f;
        Ok(())
    })?;
    Ok(shape.loaded(path, frame, digest))
}

/// A UTF-8 CSV file parsed a chunk at a time while its bytes are hashed:
/// neither the file nor its text is ever held whole.
fn stream_csv(
    source: &Source,
    columns: &[String],
    chunk: usize,
    each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    use std::io::BufRead;
    let path = &source.path;
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
        parse_csv(source, columns, text, chunk, each)?
    };
    // The parser stops at the end of the file: every byte has been hashed.
    Ok(shape.loaded(path, DataFrame::empty(), hashing.digest()))
}

/// A reader that SHA-256-hashes what passes through it.
struct Hashing<R> {
    inner: R,
    ctx: ring::digest::Context,
    size: u64,
    micros: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
            micros: 0,
        }
    }

    fn digest(self) -> Digest {
        Digest {
            sha256: hex::encode(self.ctx.finish()),
            micros: self.micros,
            size: self.size,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = std::time::Instant::now();
        self.ctx.update(&buf[..n]);
        self.micros += start.elapsed().as_micros() as u64;
        self.size += n as u64;
        Ok(n)
    }
}

/// Parses UTF-8 CSV text into frames of at most `chunk` rows of the wanted
/// columns (at least one frame), handed to `each` in file order.
fn parse_csv(
    source: &Source,
    columns: &[String],
    text: impl std::io::Read,
    chunk: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Shape> {
    let path = &source.path;
    let raw = RawRecords::default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(source.delimiter)
        .quote(source.quote)
        .has_headers(true)
        .flexible(false)
        .from_reader(raw.recording(text));
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
        each(DataFrame::new(height, cols).map_err(|e| Error::Internal(e.to_string()))?)
    };
    let mut record = csv::StringRecord::new();
    let (mut rows, mut in_chunk) = (0usize, 0usize);
    let is_null_text = |v: &str| source.null_values.iter().any(|n| n == v);
    let mut quoted: Vec<bool> = Vec::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        rows += 1;
        in_chunk += 1;
        // Which fields were quoted is read off the record's bytes, only for
        // a record with a field that reads as null unless it was quoted.
        let start = record.position().map_or(0, |p| p.byte());
        let end = reader.position().byte();
        quoted.clear();
        for (slot, (_, i)) in values.iter_mut().zip(&present) {
            let cell = record.get(*i);
            let null = cell.is_some_and(is_null_text) && {
                if quoted.is_empty() {
                    raw.quoted_fields(start, end, source.delimiter, source.quote, &mut quoted);
                }
                !quoted.get(*i).copied().unwrap_or(false)
            };
            slot.append_option(if null { None } else { cell });
        }
        raw.consumed(end);
        if in_chunk == chunk {
            flush(&mut values, in_chunk)?;
            in_chunk = 0;
        }
    }
    if rows == 0 {
        return Err(Error::input(path, "has a header but no data rows")
            .with_hint("an empty export usually means the export job failed; check it before reconciling"));
    }
    if in_chunk > 0 {
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
    let raw = RawRecords::default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(source.delimiter)
        .quote(source.quote)
        .has_headers(false)
        .flexible(false)
        .from_reader(raw.recording(text));
    let mut record = csv::StringRecord::new();
    let mut quoted = Vec::new();
    let mut out = Vec::new();
    while reader.read_record(&mut record)? {
        let start = record.position().map_or(0, |p| p.byte());
        let end = reader.position().byte();
        quoted.clear();
        if record
            .iter()
            .any(|f| f.is_empty() || source.null_values.iter().any(|n| n == f))
        {
            raw.quoted_fields(start, end, source.delimiter, source.quote, &mut quoted);
        }
        out.push(
            record
                .iter()
                .enumerate()
                .map(|(i, f)| CsvField {
                    text: f.to_string(),
                    quoted: quoted.get(i).copied().unwrap_or(false),
                })
                .collect(),
        );
        raw.consumed(end);
    }
    Ok(out)
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

fn open_parquet(path: &Path) -> Result<ParquetReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(ParquetReader::new(file))
}

fn not_parquet(path: &Path, e: PolarsError) -> Error {
    Error::input(path, format!("cannot be read as Parquet: {e}"))
        .with_hint("check `format` in the spec, or the file extension")
}

fn load_parquet(path: &Path, columns: &[String]) -> Result<Loaded> {
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

/// The `present` columns of a Parquet frame as text, with their physical types.
fn text_frame(path: &Path, present: &[String], frame: DataFrame) -> Result<(DataFrame, BTreeMap<String, String>)> {
    let rows = frame.height();
    let mut physical_types = BTreeMap::new();
    let mut text_cols = Vec::new();
    for name in present {
        let col = frame.column(name).map_err(|e| Error::Internal(e.to_string()))?;
        physical_types.insert(name.clone(), col.dtype().to_string());
        text_cols.push(as_text(col).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: None,
            field: Some(name.clone()),
            message: format!("column cannot be read as text: {e}"),
            hint: None,
        })?);
    }
    let frame = DataFrame::new(rows, text_cols).map_err(|e| Error::Internal(e.to_string()))?;
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
            let mut buf = String::new();
            let out: StringChunked = phys
                .i64()?
                .iter()
                .map(|v| {
                    v.map(|v| {
                        buf.clear();
                        render_instant(&mut buf, v, nanos_per, unit_name, aware);
                        buf.clone()
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

fn load_ndjson(path: &Path, columns: &[String]) -> Result<Loaded> {
    let bytes = read_all(path)?;
    let digest = sha256(&bytes);
    let text = decode(path, &bytes, Encoding::Utf8)?;
    drop(bytes);
    let mut frame = DataFrame::empty();
    let shape = parse_ndjson(path, columns, text.as_bytes(), usize::MAX, |f| {
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
fn stream_ndjson(
    path: &Path,
    columns: &[String],
    chunk: usize,
    each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<Loaded> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hashing = Hashing::new(file);
    let shape = parse_ndjson(
        path,
        columns,
        std::io::BufReader::with_capacity(8 << 20, &mut hashing),
        chunk,
        each,
    )?;
    Ok(shape.loaded(path, DataFrame::empty(), hashing.digest()))
}

/// Parses NDJSON (one object per line, blank lines skipped, a leading BOM
/// ignored) into frames of at most `chunk` records of every declared
/// column, in file order.
fn parse_ndjson(
    path: &Path,
    columns: &[String],
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
        each(DataFrame::new(height, cols).map_err(|e| Error::Internal(e.to_string()))?)
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
        return Err(Error::input(path, "holds no records"));
    }
    if in_chunk > 0 {
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
fn plain_number(text: &str) -> String {
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

    fn source(path: &Path, format: Format) -> Source {
        Source {
            path: path.to_path_buf(),
            format,
            encoding: Encoding::Utf8,
            delimiter: b',',
            quote: b'"',
            timezone: chrono_tz::UTC,
            null_values: vec![String::new()],
        }
    }

    /// The chunks of a file, stacked, are the file as `load` reads it, and
    /// the description (hash, size, types, missing columns) is the same.
    fn chunks_equal_whole(src: &Source, columns: &[String]) {
        let whole = load(src, columns).unwrap();
        let mut parts: Vec<DataFrame> = Vec::new();
        let meta = for_each_chunk(src, columns, 7, |f| {
            // Parquet slices follow uniform row groups up to 4x the chunk.
            assert!(f.height() <= 4 * 7);
            parts.push(f);
            Ok(())
        })
        .unwrap();
        let mut stacked = parts[0].clone();
        for p in &parts[1..] {
            stacked.vstack_mut(p).unwrap();
        }
        assert!(stacked.equals_missing(&whole.frame));
        assert_eq!(
            (meta.rows, &meta.sha256, meta.size, &meta.physical_types, &meta.missing),
            (
                whole.rows,
                &whole.sha256,
                whole.size,
                &whole.physical_types,
                &whole.missing
            )
        );
    }

    #[test]
    fn parquet_csv_and_ndjson_stream_in_chunks_equal_to_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let n = 50;
        let mut df = df!(
            "id" => (0..n).map(|i| format!("K{i:03}")).collect::<Vec<_>>(),
            "amount" => (0..n).map(|i| (i % 3 != 0).then_some(i as i64 * 7)).collect::<Vec<_>>(),
        )
        .unwrap();
        let pq = dir.path().join("x.parquet");
        ParquetWriter::new(std::fs::File::create(&pq).unwrap())
            .with_row_group_size(Some(9))
            .finish(&mut df)
            .unwrap();
        let columns = vec!["id".to_string(), "amount".to_string(), "absent".to_string()];
        chunks_equal_whole(&source(&pq, Format::Parquet), &columns);
        let csv = dir.path().join("x.csv");
        let text: String = std::iter::once("id,amount\n".to_string())
            .chain((0..n).map(|i| format!("K{i:03},{}\n", i * 7)))
            .collect();
        std::fs::write(&csv, &text).unwrap();
        chunks_equal_whole(&source(&csv, Format::Csv), &columns);
        let bom = dir.path().join("bom.csv");
        std::fs::write(&bom, [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()).unwrap();
        chunks_equal_whole(&source(&bom, Format::Csv), &columns);
        let nd = dir.path().join("x.ndjson");
        let text: String = (0..n)
            .map(|i| format!("{{\"id\":\"K{i:03}\",\"amount\":{}}}\n", i * 7))
            .collect::<Vec<_>>()
            .join(if n % 2 == 0 { "\n" } else { "" });
        std::fs::write(&nd, text).unwrap();
        let src = source(&nd, Format::Ndjson);
        chunks_equal_whole(&src, &columns[..2]);
        // A declared column no record has: a null column in every chunk,
        // reported missing at the end, as by a whole read.
        let meta = for_each_chunk(&src, &columns, 7, |f| {
            assert_eq!(f.column("absent").unwrap().null_count(), f.height());
            Ok(())
        })
        .unwrap();
        assert_eq!(meta.missing, load(&src, &columns).unwrap().missing);
        assert_eq!(meta.missing, vec!["absent".to_string()]);
    }

    #[test]
    fn streamed_errors_name_the_line_like_a_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let columns = vec!["id".to_string()];
        for (name, bytes, line, format) in [
            ("ragged.csv", b"id,v\n1,a\n2,b\n3,c,d\n".to_vec(), 4, Format::Csv),
            ("latin1.csv", b"id,v\n1,a\n2,b\n3,\xE9t\xE9\n".to_vec(), 4, Format::Csv),
            (
                "bad.ndjson",
                b"{\"id\":1}\n\n{\"id\":2}\n[1]\n".to_vec(),
                4,
                Format::Ndjson,
            ),
            (
                "latin1.ndjson",
                b"{\"id\":1}\n{\"id\":\"\xE9\"}\n".to_vec(),
                2,
                Format::Ndjson,
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let src = source(&path, format);
            let whole = load(&src, &columns).unwrap_err().to_string();
            let streamed = for_each_chunk(&src, &columns, 2, |_| Ok(())).unwrap_err().to_string();
            assert!(streamed.contains(&format!("{name}:{line}")), "{streamed}");
            assert!(whole.contains(&format!("{name}:{line}")), "{whole}");
        }
    }
}
