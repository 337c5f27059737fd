//! Where a source's files are: one file, a folder, or a glob pattern, on
//! local disk or in object storage, each file with the Hive partition
//! values its path holds (`dt=2026-12-06/…`) and its compression.
//!
//! A file the format readers cannot read in place (an object in a bucket, a
//! `.gz` or `.zst` file) is *staged*: streamed once into a local temporary
//! file — decompressed on the way — while the original bytes are hashed,
//! so its SHA-256 is the stored object's, computed without a second read.
//! Parquet is then read from the staged copy by ranges, a slice at a time,
//! as a local file is; memory stays bounded by the chunk, not the object.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::spec::{format_of_name, Format, Location, Source};
use crate::storage::{self, Store};

/// How a file's bytes are compressed, by its name's last suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn of(name: &str) -> Compression {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".gz") || lower.ends_with(".gzip") {
            Compression::Gzip
        } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// One file of a source.
#[derive(Debug, Clone)]
pub(super) struct Part {
    /// How messages and the evidence name it: the local path or the URL.
    pub(super) name: String,
    origin: Origin,
    compression: Compression,
    /// Hive partition values of its path (`dt=2026-12-06` → `dt`), in path order.
    pub(super) hive: Vec<(String, Option<String>)>,
    /// Its size as listed (the stored, possibly compressed, bytes).
    pub(super) size: u64,
}

#[derive(Debug, Clone)]
enum Origin {
    Local(PathBuf),
    Remote(Store, storage::Object),
}

/// A part ready to read: a local file, staged or in place.
pub(super) struct Opened {
    /// The file the format readers read.
    pub(super) file: PathBuf,
    /// The original bytes' description, when the file is a staged copy
    /// (otherwise the reader hashes the file as it reads it).
    pub(super) original: Option<Original>,
    /// Keeps the staged copy until the part has been read.
    _staged: Option<tempfile::TempPath>,
}

/// What was read of a staged file's original: its hash, size and, for an
/// object, its ETag and version id.
#[derive(Debug, Clone)]
pub(super) struct Original {
    pub(super) sha256: String,
    pub(super) size: u64,
    pub(super) etag: Option<String>,
    pub(super) version: Option<String>,
    pub(super) hash_micros: u64,
}

/// Glob characters: a path holding one is a pattern.
fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// The files of `source`, in a stable order (by path or key). A pattern or
/// a folder that names no file is an input error naming it.
pub(super) fn parts(source: &Source) -> Result<Vec<Part>> {
    let parts = match &source.location {
        Location::Local(path) => local_parts(source, path)?,
        Location::Glob { root, pattern } => glob_parts(source, root, pattern)?,
        Location::Url(url) => remote_parts(source, url)?,
    };
    if parts.is_empty() {
        return Err(Error::input(&source.path, "no file matches").with_hint(
            "check the pattern or folder (and --var / {date} values); a folder's files must carry the \
             source's format in their names (`.csv`, `.csv.gz`, `.parquet`, ...)",
        ));
    }
    Ok(parts)
}

/// The files under `root` whose path relative to it matches `pattern`.
fn glob_parts(source: &Source, root: &Path, pattern: &str) -> Result<Vec<Part>> {
    let matcher = glob::Pattern::new(pattern)
        .map_err(|e| Error::input(&source.path, format!("is not a valid pattern: {}", e.msg)))?;
    let mut files = Vec::new();
    // A folder the pattern names that is not there holds no match.
    if root.is_dir() {
        walk(root, &mut files).map_err(|e| Error::io(root, e))?;
    }
    files.retain(|f| {
        let relative = f.strip_prefix(root).unwrap_or(f).to_string_lossy().replace('\\', "/");
        matcher.matches_with(&relative, MATCH)
    });
    files.sort();
    files.into_iter().map(|f| local_part(root, f)).collect()
}

fn local_parts(source: &Source, path: &Path) -> Result<Vec<Part>> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::input(path, format!("cannot open: {e}"))
            .with_hint("paths in the spec are relative to the spec file's folder")
    })?;
    if !meta.is_dir() {
        let mut part = local_part(path.parent().unwrap_or(Path::new("")), path.to_path_buf())?;
        // One named file: no partition values from the folders above it.
        part.hive.clear();
        return Ok(vec![part]);
    }
    let mut files = Vec::new();
    walk(path, &mut files).map_err(|e| Error::io(path, e))?;
    files.retain(|f| of_format(&f.to_string_lossy(), source.format));
    files.sort();
    files.into_iter().map(|f| local_part(path, f)).collect()
}

fn local_part(base: &Path, file: PathBuf) -> Result<Part> {
    let size = std::fs::metadata(&file).map_err(|e| Error::io(&file, e))?.len();
    let relative = file
        .strip_prefix(base)
        .unwrap_or(&file)
        .to_string_lossy()
        .replace('\\', "/");
    let name = file.to_string_lossy().to_string();
    Ok(Part {
        hive: hive_values(&relative),
        compression: Compression::of(&name),
        name,
        origin: Origin::Local(file),
        size,
    })
}

/// Every file under `dir`, skipping hidden and `_`-prefixed entries
/// (`.crc`, `_SUCCESS`, `_delta_log`).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if hidden(&name) {
            continue;
        }
        let path = if dir.as_os_str().is_empty() {
            PathBuf::from(&*name)
        } else {
            entry.path()
        };
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether a relative path passes through a hidden or `_`-prefixed entry
/// (`.crc`, `_SUCCESS`, `_temporary/`): not data of the source.
fn hidden(relative: &str) -> bool {
    relative
        .split('/')
        .any(|seg| seg.starts_with('.') || seg.starts_with('_'))
}

fn of_format(name: &str, format: Format) -> bool {
    format_of_name(name) == Some(format)
}

fn remote_parts(source: &Source, url: &str) -> Result<Vec<Part>> {
    let location = storage::Location::parse(url)?;
    let web = location.root.starts_with("http://") || location.root.starts_with("https://");
    if web && location.key.contains(['?', '#']) {
        return Err(storage::storage_error(
            url,
            "an https:// source with a query (a presigned or SAS URL) is not supported",
            Some("read it from its bucket URL (s3://, gs://, az://) with credentials from the environment".into()),
        ));
    }
    let store = Store::open(&location, &source.storage)?;
    let key = location.key.trim_start_matches('/');
    let (objects, base) = if !web && is_pattern(key) {
        let pattern = glob::Pattern::new(key)
            .map_err(|e| Error::input(&source.path, format!("is not a valid pattern: {}", e.msg)))?;
        let literal = &key[..key.find(['*', '?', '[']).unwrap_or(key.len())];
        let base = &literal[..literal.rfind('/').map_or(0, |i| i + 1)];
        let mut objects = store.list(base)?;
        objects.retain(|o| !hidden(o.key.strip_prefix(base).unwrap_or(&o.key)) && pattern.matches_with(&o.key, MATCH));
        (objects, base.to_string())
    } else if let Some(object) = (!key.is_empty()).then(|| store.head(key)).transpose()?.flatten() {
        let base = key[..key.rfind('/').map_or(0, |i| i + 1)].to_string();
        let mut part = remote_part(&store, &base, object);
        part.hive.clear();
        return Ok(vec![part]);
    } else {
        let folder = match key.trim_end_matches('/') {
            "" => String::new(),
            k => format!("{k}/"),
        };
        let mut objects = store.list(&folder)?;
        if objects.is_empty() {
            return Err(storage::storage_error(
                &location.url(),
                "not found: no object at this URL and none under it",
                Some("check the bucket, the key (and --var / {date} values) and the endpoint".into()),
            ));
        }
        objects.retain(|o| {
            !hidden(o.key.strip_prefix(folder.as_str()).unwrap_or(&o.key)) && of_format(&o.key, source.format)
        });
        (objects, folder)
    };
    Ok(objects.into_iter().map(|o| remote_part(&store, &base, o)).collect())
}

fn remote_part(store: &Store, base: &str, object: storage::Object) -> Part {
    let relative = object.key.strip_prefix(base).unwrap_or(&object.key).to_string();
    Part {
        name: object.url.clone(),
        hive: hive_values(&relative),
        compression: Compression::of(&object.key),
        size: object.size,
        origin: Origin::Remote(store.clone(), object),
    }
}

/// `a=1/b=x%20y/file.csv` → `[(a, 1), (b, x y)]`: the folders of a path
/// (not its file name) that read `name=value`. Hive's null partition
/// (`__HIVE_DEFAULT_PARTITION__`) is a null value.
pub(super) fn hive_values(relative: &str) -> Vec<(String, Option<String>)> {
    let mut segments: Vec<&str> = relative.split('/').collect();
    segments.pop();
    segments
        .into_iter()
        .filter_map(|seg| {
            let (name, value) = seg.split_once('=')?;
            let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            if !valid {
                return None;
            }
            let value = percent_decode(value);
            let value = (value != "__HIVE_DEFAULT_PARTITION__").then_some(value);
            Some((name.to_string(), value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Part {
    /// The part as a local file the readers can open: in place when it is
    /// a plain local file, else staged (see the module doc).
    pub(super) fn open(&self) -> Result<Opened> {
        let (Origin::Local(path), Compression::None) = (&self.origin, self.compression) else {
            return self.stage();
        };
        Ok(Opened {
            file: path.clone(),
            original: None,
            _staged: None,
        })
    }

    fn stage(&self) -> Result<Opened> {
        let staged = tempfile::Builder::new()
            .prefix(".recon-staged-")
            .tempfile()
            .map_err(|e| Error::io(&std::env::temp_dir(), e))?;
        let (file, path) = staged.into_parts();
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        let original = match &self.origin {
            Origin::Remote(store, object) => {
                let mut sink = decoder(self.compression, out, &self.name)?;
                let fetched = store.download(&object.key, &mut sink)?;
                sink.finish().map_err(|e| self.decompress_error(e))?;
                Original {
                    sha256: fetched.sha256,
                    size: fetched.size,
                    etag: fetched.etag,
                    version: fetched.version,
                    hash_micros: fetched.hash_micros,
                }
            }
            Origin::Local(local) => {
                let file = std::fs::File::open(local).map_err(|e| Error::io(local, e))?;
                let mut hashing = super::bytes::Hashing::new(std::io::BufReader::with_capacity(1 << 20, file));
                let mut sink = decoder(self.compression, out, &self.name)?;
                std::io::copy(&mut hashing, &mut sink).map_err(|e| self.decompress_error(e))?;
                sink.finish().map_err(|e| self.decompress_error(e))?;
                let digest = hashing.digest();
                Original {
                    sha256: digest.sha256,
                    size: digest.size,
                    etag: None,
                    version: None,
                    hash_micros: digest.micros,
                }
            }
        };
        Ok(Opened {
            file: path.to_path_buf(),
            original: Some(original),
            _staged: Some(path),
        })
    }

    fn decompress_error(&self, e: std::io::Error) -> Error {
        let what = match self.compression {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "its bytes",
        };
        Error::input(Path::new(&self.name), format!("cannot read as {what}: {e}"))
            .with_hint("the name's suffix (.gz, .zst) says how the file is compressed; check the export")
    }
}

/// Where staged bytes go: through a decompressor when the name says so.
enum Sink<W: Write> {
    Plain(W),
    /// Every member: `cat a.gz b.gz` is one valid gzip file.
    Gzip(Box<flate2::write::MultiGzDecoder<W>>),
    /// zstd's own writer, whose `finish` refuses a truncated frame.
    Zstd(zstd::stream::zio::Writer<W, zstd::stream::raw::Decoder<'static>>),
}

fn decoder<W: Write>(compression: Compression, out: W, name: &str) -> Result<Sink<W>> {
    Ok(match compression {
        Compression::None => Sink::Plain(out),
        Compression::Gzip => Sink::Gzip(Box::new(flate2::write::MultiGzDecoder::new(out))),
        Compression::Zstd => Sink::Zstd(zstd::stream::zio::Writer::new(
            out,
            zstd::stream::raw::Decoder::new()
                .map_err(|e| Error::input(Path::new(name), format!("cannot start zstd: {e}")))?,
        )),
    })
}

impl<W: Write> Sink<W> {
    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Gzip(d) => d.finish()?.flush(),
            Sink::Zstd(mut d) => {
                d.finish()?;
                d.into_inner().0.flush()
            }
        }
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(d) => d.write(buf),
            Sink::Zstd(d) => d.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(d) => d.flush(),
            Sink::Zstd(d) => d.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_partition_values_come_from_folders_only() {
        assert_eq!(
            hive_values("dt=2026-12-06/region=north%20east/part-0.csv"),
            vec![
                ("dt".to_string(), Some("2026-12-06".to_string())),
                ("region".to_string(), Some("north east".to_string()))
            ]
        );
        assert_eq!(hive_values("a=1.csv"), vec![]);
        assert_eq!(hive_values("plain/x=/f"), vec![("x".to_string(), Some(String::new()))]);
        assert_eq!(
            hive_values("dt=__HIVE_DEFAULT_PARTITION__/f"),
            vec![("dt".to_string(), None)]
        );
        assert_eq!(hive_values("we ird=1/f"), vec![]);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }

    #[test]
    fn compression_is_told_by_the_last_suffix() {
        assert_eq!(Compression::of("a.csv.gz"), Compression::Gzip);
        assert_eq!(Compression::of("a.NDJSON.ZST"), Compression::Zstd);
        assert_eq!(Compression::of("a.csv"), Compression::None);
        assert_eq!(Compression::of("gz"), Compression::None);
    }
}
