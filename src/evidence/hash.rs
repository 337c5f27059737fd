//! SHA-256 of files (streaming, optionally in parallel) and of byte slices.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use ring::digest;

use super::EvidenceError;

const BUF_SIZE: usize = 256 * 1024;

/// SHA-256 (lower-case hex) and size in bytes of the file at `path`, read in
/// 256 KiB chunks.
pub fn sha256_file(path: &Path) -> Result<(String, u64), EvidenceError> {
    let mut file = File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; BUF_SIZE];
    let mut size: u64 = 0;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(EvidenceError::io(path, e)),
        };
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(ctx.finish().as_ref()), size))
}

/// [`sha256_file`] for each path, in parallel; results in the order of `paths`.
pub fn sha256_files_parallel(paths: &[PathBuf]) -> Vec<Result<(String, u64), EvidenceError>> {
    paths.par_iter().map(|p| sha256_file(p)).collect()
}

/// A file's SHA-256 (lower-case hex) and size, taken while it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub sha256: String,
    pub size: u64,
}

/// A writer that hashes every byte it writes, so that a large file (the
/// change state) need not be read back to be sealed. Clones share the
/// digest: one is handed to the encoder, another reads the digest after.
#[derive(Clone)]
pub struct HashingWriter<W> {
    inner: W,
    ctx: std::sync::Arc<std::sync::Mutex<(digest::Context, u64)>>,
}

impl<W: std::io::Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            ctx: std::sync::Arc::new(std::sync::Mutex::new((digest::Context::new(&digest::SHA256), 0))),
        }
    }

    /// A second writer onto `inner` sharing this one's digest.
    pub fn share<V: std::io::Write>(&self, inner: V) -> HashingWriter<V> {
        HashingWriter {
            inner,
            ctx: self.ctx.clone(),
        }
    }

    /// The digest of everything written so far through any clone.
    pub fn digest(&self) -> FileDigest {
        let guard = self.ctx.lock().unwrap_or_else(|e| e.into_inner());
        FileDigest {
            sha256: hex::encode(guard.0.clone().finish().as_ref()),
            size: guard.1,
        }
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let mut guard = self.ctx.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.update(&buf[..n]);
        guard.1 += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn a_file_that_cannot_be_read_is_an_error_not_a_retry() {
        // A directory opens but does not read (EISDIR): only an
        // interrupted read is retried.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(sha256_file(dir.path()).is_err());
    }

    #[test]
    fn a_hashing_writer_flushes_what_it_wraps() {
        use std::io::Write;
        let mut w = HashingWriter::new(std::io::BufWriter::new(Vec::new()));
        w.write_all(b"abc").unwrap_or_else(|e| panic!("{e}"));
        assert!(w.get_ref().get_ref().is_empty(), "still in the buffer");
        w.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.get_ref().get_ref().as_slice(), b"abc");
    }

    #[test]
    fn a_hashing_writer_digests_what_it_writes() {
        use std::io::Write;
        let mut w = HashingWriter::new(Vec::new());
        let mut other = w.share(Vec::new());
        w.write_all(b"ab").unwrap();
        other.write_all(b"c").unwrap();
        assert_eq!(
            w.digest(),
            FileDigest {
                sha256: ABC.into(),
                size: 3
            }
        );
        assert_eq!(HashingWriter::new(Vec::new()).digest().sha256, EMPTY);
        assert_eq!(w.get_ref(), b"ab");
    }

    #[test]
    fn known_answers() {
        assert_eq!(sha256_hex(b""), EMPTY);
        assert_eq!(sha256_hex(b"abc"), ABC);
    }

    #[test]
    fn files_streaming_and_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let big = dir.path().join("big");
        std::fs::write(&a, b"abc").unwrap();
        std::fs::write(&b, b"").unwrap();
        // larger than one buffer, not a multiple of it
        let data: Vec<u8> = (0..(BUF_SIZE * 2 + 12345)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &data).unwrap();
        assert_eq!(sha256_file(&a).unwrap(), (ABC.to_string(), 3));
        let r = sha256_files_parallel(&[a.clone(), b, big, dir.path().join("missing")]);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].as_ref().unwrap().0, ABC);
        assert_eq!(r[1].as_ref().unwrap(), &(EMPTY.to_string(), 0));
        assert_eq!(r[2].as_ref().unwrap(), &(sha256_hex(&data), data.len() as u64));
        let err = r[3].as_ref().unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
