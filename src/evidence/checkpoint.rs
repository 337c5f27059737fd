//! Retention checkpoints: what `recon prune` leaves of the runs it removes,
//! so the hash chain stays verifiable across the gap.
//!
//! `REPORTS/.recon-checkpoint.json` lists every pruned run in chain order
//! (run id, start time, manifest SHA-256 and its link to the run before),
//! from the first run of the chain on; a later prune appends to it. The
//! file holds the list as signed text and its minisign signature by the run
//! signing key (one file, replaced in one rename: never a list without its
//! signature), so `verify --chain` trusts it as it trusts a manifest: the
//! first kept run must link to the last pruned one, and the pruned runs to
//! each other. A run folder the list names is a removal a prune had not
//! finished: verify passes over it, and the next prune removes it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::keys::SigningKey;
use super::trust::TrustedKeys;
use super::{minisign, EvidenceError};

pub const CHECKPOINT: &str = ".recon-checkpoint.json";

/// The file: the checkpoint as the exact text that was signed, and the
/// minisign signature of that text.
#[derive(Serialize, Deserialize)]
struct Envelope {
    signed: String,
    minisig: String,
}

/// The runs pruned from a reports folder, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub pruned: Vec<PrunedRun>,
    /// When the latest prune wrote it (RFC 3339 UTC).
    pub written_at: String,
    pub signing_key_id: String,
}

/// One removed run, as its manifest said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedRun {
    pub run_id: String,
    pub started_at: String,
    pub manifest_sha256: String,
    pub previous_manifest_sha256: Option<String>,
}

impl Checkpoint {
    /// The manifest SHA-256 the first kept run must link to.
    pub fn last_manifest(&self) -> Option<&str> {
        self.pruned.last().map(|r| r.manifest_sha256.as_str())
    }

    /// Breaks in the chain of the pruned runs themselves.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, r) in self.pruned.iter().enumerate() {
            let want = if i == 0 {
                None
            } else {
                Some(self.pruned[i - 1].manifest_sha256.as_str())
            };
            if r.previous_manifest_sha256.as_deref() != want {
                out.push(format!(
                    "{CHECKPOINT}: pruned run {} links to {}, expected {}",
                    r.run_id,
                    r.previous_manifest_sha256.as_deref().unwrap_or("nothing"),
                    want.unwrap_or("nothing (the first run of the chain)")
                ));
            }
        }
        out
    }
}

/// The reports folder's checkpoint, if it has one, with what is wrong with
/// it (a signature that does not verify with a key trusted on the day it
/// was written, a broken inner chain). A checkpoint with a problem is
/// reported, never trusted.
pub fn read(reports_dir: &Path, keys: &TrustedKeys) -> Result<Option<(Checkpoint, Vec<String>)>, EvidenceError> {
    let path = reports_dir.join(CHECKPOINT);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EvidenceError::io(&path, e)),
    };
    let empty = Checkpoint {
        pruned: Vec::new(),
        written_at: String::new(),
        signing_key_id: String::new(),
    };
    let envelope: Envelope = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(e) => return Ok(Some((empty, vec![format!("{CHECKPOINT} is not a checkpoint: {e}")]))),
    };
    let checkpoint: Checkpoint = match serde_json::from_str(&envelope.signed) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Some((
                empty,
                vec![format!("{CHECKPOINT}: the signed list is not a checkpoint: {e}")],
            )))
        }
    };
    let mut problems = Vec::new();
    // The key it names, trusted on the day it was written; then its signature.
    match keys.for_run(Some(&checkpoint.signing_key_id), Some(&checkpoint.written_at)) {
        Err(why) => problems.push(format!("{CHECKPOINT}: {why}")),
        Ok(pk) => {
            if let Err(e) = minisign::verify(pk, envelope.signed.as_bytes(), &envelope.minisig) {
                problems.push(format!("{CHECKPOINT}: signature: {e}"));
            }
        }
    }
    if let Some(last) = checkpoint.pruned.last() {
        if checkpoint.written_at < last.started_at {
            problems.push(format!(
                "{CHECKPOINT}: written at {}, before the run {} it lists started ({})",
                checkpoint.written_at, last.run_id, last.started_at
            ));
        }
    }
    problems.extend(checkpoint.problems());
    Ok(Some((checkpoint, problems)))
}

/// Writes `checkpoint` with its signature into `reports_dir`, in one
/// atomic replacement.
pub fn write(reports_dir: &Path, checkpoint: &Checkpoint, key: &SigningKey) -> Result<(), EvidenceError> {
    let path = reports_dir.join(CHECKPOINT);
    let signed =
        serde_json::to_string_pretty(checkpoint).map_err(|e| EvidenceError::io(&path, std::io::Error::other(e)))?;
    let minisig = minisign::sign(
        key,
        signed.as_bytes(),
        &format!("recon checkpoint of {} pruned run(s)", checkpoint.pruned.len()),
    );
    let bytes = serde_json::to_vec_pretty(&Envelope { signed, minisig })
        .map_err(|e| EvidenceError::io(&path, std::io::Error::other(e)))?;
    // Durable before any pruned folder is removed.
    super::write_atomic(&path, &bytes, 0o644)?;
    super::fsync_dir(reports_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, started: &str, sha: &str, previous: Option<&str>) -> PrunedRun {
        PrunedRun {
            run_id: id.into(),
            started_at: started.into(),
            manifest_sha256: sha.into(),
            previous_manifest_sha256: previous.map(String::from),
        }
    }

    fn checkpoint(pruned: Vec<PrunedRun>, written_at: &str, key: &SigningKey) -> Checkpoint {
        Checkpoint {
            pruned,
            written_at: written_at.into(),
            signing_key_id: key.key_id_hex(),
        }
    }

    #[test]
    fn a_signed_checkpoint_reads_back_without_problems() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let c = checkpoint(
            vec![
                run("r1", "2026-01-01T00:00:00Z", "a1", None),
                run("r2", "2026-01-02T00:00:00Z", "b2", Some("a1")),
            ],
            "2026-02-01T00:00:00Z",
            &key,
        );
        write(dir.path(), &c, &key).unwrap();
        let (read_back, problems) = read(dir.path(), &TrustedKeys::single(key.public())).unwrap().unwrap();
        assert_eq!(read_back, c);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(read_back.last_manifest(), Some("b2"));
    }

    #[test]
    fn a_signed_but_broken_list_and_a_date_before_its_runs_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        // r2 does not link to r1, and the list claims to predate r2.
        let c = checkpoint(
            vec![
                run("r1", "2026-01-01T00:00:00Z", "a1", None),
                run("r2", "2026-01-02T00:00:00Z", "b2", Some("zz")),
            ],
            "2026-01-01T12:00:00Z",
            &key,
        );
        write(dir.path(), &c, &key).unwrap();
        let (_, problems) = read(dir.path(), &TrustedKeys::single(key.public())).unwrap().unwrap();
        assert!(
            problems.iter().any(|p| p.contains("pruned run r2 links to zz")),
            "{problems:?}"
        );
        assert!(problems.iter().any(|p| p.contains("before the run r2")), "{problems:?}");
        // The first pruned run must link to nothing.
        let first = Checkpoint {
            pruned: vec![run("r0", "2026-01-01T00:00:00Z", "a0", Some("x"))],
            ..c.clone()
        };
        assert_eq!(first.problems().len(), 1);
    }

    #[test]
    fn no_checkpoint_is_none_and_an_unreadable_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let keys = TrustedKeys::single(key.public());
        assert!(read(dir.path(), &keys).unwrap().is_none());
        std::fs::create_dir(dir.path().join(CHECKPOINT)).unwrap();
        assert!(
            read(dir.path(), &keys).is_err(),
            "a folder in its place is not \"no checkpoint\""
        );
    }
}
