//! A source file's bytes: hashed as they are read (the file is read once),
//! and decoded to UTF-8 text.

use std::path::Path;

use crate::error::{Error, Result};
use crate::spec::Encoding;

/// A file's SHA-256 (hex), the microseconds spent on it, and its size.
pub(super) struct Digest {
    pub(super) sha256: String,
    pub(super) micros: u64,
    pub(super) size: u64,
}

/// SHA-256 of the input bytes, and how long it took in microseconds.
pub(super) fn sha256(bytes: &[u8]) -> Digest {
    let start = std::time::Instant::now();
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes));
    Digest {
        sha256,
        micros: start.elapsed().as_micros() as u64,
        size: bytes.len() as u64,
    }
}

/// SHA-256 of a file read in blocks (the file is not held in memory).
pub(super) fn sha256_file(path: &Path) -> Result<Digest> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hashing = Hashing::new(std::io::BufReader::with_capacity(8 << 20, file));
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
    Ok(hashing.digest())
}

/// A reader that SHA-256-hashes what passes through it.
pub(super) struct Hashing<R> {
    inner: R,
    ctx: ring::digest::Context,
    size: u64,
    micros: u64,
}

impl<R> Hashing<R> {
    pub(super) fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
            micros: 0,
        }
    }

    pub(super) fn digest(self) -> Digest {
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

pub(super) fn read_all(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Decodes the file to UTF-8 text, stripping a BOM.
pub(super) fn decode(path: &Path, bytes: &[u8], encoding: Encoding) -> Result<String> {
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
