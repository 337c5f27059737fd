//! Tamper-evident evidence for a run folder: Ed25519 keys (ring),
//! minisign-format signatures and public keys, DSSE envelopes over an in-toto
//! Statement v1, the hash chain between runs, and verification. Owns the
//! evidence files; knows nothing about findings.
//!
//! A sealed run folder holds, next to the files the caller wrote:
//!
//! * `manifest.json`: an in-toto Statement v1 whose subjects are every other
//!   regular file of the folder (relative path, sha256), with the caller's
//!   predicate (`predicateType` [`manifest::PREDICATE_TYPE`]);
//! * `manifest.dsse.json`: a DSSE envelope whose payload is the exact bytes of
//!   `manifest.json`, signed with Ed25519;
//! * `manifest.json.minisig`: a minisign signature of `manifest.json`, so that
//!   `minisign -Vm manifest.json -p recon.pub` verifies it without recon.
//!
//! The predicate carries `previous_manifest_sha256`, which links each run to
//! the manifest of the run before it; [`verify::verify_chain`] checks the links.

pub mod checkpoint;
pub mod dsse;
pub mod hash;
pub mod keys;
pub mod manifest;
pub mod minisign;
#[cfg(test)]
mod testing;
pub mod trust;
pub mod verify;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use hash::{FileDigest, HashingWriter};
pub use keys::{read_secret, write_keypair, PublicKey, SigningKey};
pub use manifest::{manifest_sha256, seal, seal_with, DSSE, MANIFEST, MINISIG, PREDICATE_TYPE, STATEMENT_TYPE};

pub use trust::TrustedKeys;
pub use verify::{verify_chain, verify_chain_trusting, verify_run, verify_run_trusting, Problem, Report};

/// Errors of the evidence module. Each message names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: not a valid key file: {reason}", path.display())]
    KeyFormat {
        path: PathBuf,
        #[source]
        reason: keys::KeyFormatError,
    },

    #[error(
        "{}: secret key is accessible by group or others (mode {:03o}); restrict it with: chmod 600 {}",
        path.display(),
        mode & 0o777,
        path.display()
    )]
    KeyPermissions { path: PathBuf, mode: u32 },

    #[error("{}: key file already exists; refusing to overwrite it", path.display())]
    KeyExists { path: PathBuf },

    #[error("cryptographic operation failed: system random generator failed")]
    Random(#[source] ring::error::Unspecified),

    #[error("cryptographic operation failed: Ed25519 seed rejected: {0}")]
    SeedRejected(#[source] ring::error::KeyRejected),

    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{}: not a run folder: {reason}", path.display())]
    NotARunFolder { path: PathBuf, reason: String },

    #[error("{}: not a trusted-keys file: {reason}", path.display())]
    TrustedKeys { path: PathBuf, reason: String },
}

impl EvidenceError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> EvidenceError {
        EvidenceError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn key_format(path: &Path, reason: keys::KeyFormatError) -> EvidenceError {
        EvidenceError::KeyFormat {
            path: path.to_path_buf(),
            reason,
        }
    }

    /// A one-line fix the binary prints after the error, when one is obvious.
    /// (`KeyPermissions` carries its `chmod 600` fix in the message itself.)
    pub fn hint(&self) -> Option<String> {
        match self {
            EvidenceError::KeyExists { .. } => Some(
                "move the existing key away or choose another path; keys are never overwritten"
                    .to_string(),
            ),
            EvidenceError::KeyFormat { .. } => Some(
                "public keys are minisign public key files (recon.pub); secret keys are files written by recon's key generation"
                    .to_string(),
            ),
            EvidenceError::NotARunFolder { .. } => Some(
                "point at a run folder sealed by recon (it contains manifest.json)".to_string(),
            ),
            EvidenceError::TrustedKeys { .. } => Some(
                "a trusted-keys file is TOML: [[key]] tables with public_key (recon.pub's base64 line) and optional valid_from / valid_until dates".to_string(),
            ),
            _ => None,
        }
    }

    /// True when the error itself shows the evidence is broken (an evidence
    /// file that is not even valid JSON), as opposed to a usage or I/O problem.
    /// Verification problems are normally reported in [`Report`], not as errors.
    pub fn is_invalid_evidence(&self) -> bool {
        matches!(self, EvidenceError::Json { .. })
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path in the same directory as `path`, for atomic replacement.
fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "evidence".to_string());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id()))
}

/// Create `tmp` (which must not exist) with `mode`, write `bytes`, fsync.
fn write_new_file(tmp: &Path, bytes: &[u8], mode: u32) -> Result<(), EvidenceError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(tmp).map_err(|e| EvidenceError::io(tmp, e))?;
    f.write_all(bytes).map_err(|e| EvidenceError::io(tmp, e))?;
    f.sync_all().map_err(|e| EvidenceError::io(tmp, e))?;
    Ok(())
}

/// Write `bytes` to `path` atomically: temporary file in the same directory,
/// fsync, rename over `path`. The directory itself is not fsynced here.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), EvidenceError> {
    let tmp = temp_path_for(path);
    let result =
        write_new_file(&tmp, bytes, mode).and_then(|()| fs::rename(&tmp, path).map_err(|e| EvidenceError::io(path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Like [`write_atomic`] but never replaces an existing `path`
/// ([`EvidenceError::KeyExists`] then). Uses a hard link, which fails
/// atomically when the target exists; falls back to a checked rename on file
/// systems without hard links.
pub(crate) fn write_atomic_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), EvidenceError> {
    let tmp = temp_path_for(path);
    let result = write_new_file(&tmp, bytes, mode).and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(EvidenceError::KeyExists {
            path: path.to_path_buf(),
        }),
        Err(_) => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(EvidenceError::KeyExists {
                    path: path.to_path_buf(),
                });
            }
            fs::rename(&tmp, path).map_err(|e| EvidenceError::io(path, e))
        }
    });
    let _ = fs::remove_file(&tmp);
    result
}

/// fsync a directory so that renames inside it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), EvidenceError> {
    #[cfg(unix)]
    {
        let d = fs::File::open(dir).map_err(|e| EvidenceError::io(dir, e))?;
        d.sync_all().map_err(|e| EvidenceError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_permissions_hint() {
        let e = EvidenceError::KeyPermissions {
            path: PathBuf::from("/k/recon.key"),
            mode: 0o100644,
        };
        let s = e.to_string();
        assert!(s.contains("/k/recon.key"), "{s}");
        assert!(s.contains("chmod 600"), "{s}");
        assert!(s.contains("644"), "{s}");
        let e = EvidenceError::KeyExists {
            path: PathBuf::from("a/b.key"),
        };
        assert!(e.to_string().contains("a/b.key"));
        assert!(e.hint().is_some());
        assert!(!e.is_invalid_evidence());
    }

    #[test]
    fn atomic_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        write_atomic(&p, b"one", 0o644).unwrap();
        write_atomic(&p, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let q = dir.path().join("k");
        write_atomic_new(&q, b"secret", 0o600).unwrap();
        assert!(matches!(
            write_atomic_new(&q, b"other", 0o600),
            Err(EvidenceError::KeyExists { .. })
        ));
        assert_eq!(fs::read(&q).unwrap(), b"secret");
        fsync_dir(dir.path()).unwrap();
        // no temporary files left behind
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
