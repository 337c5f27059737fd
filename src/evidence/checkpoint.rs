//! Retention checkpoints: what `recon prune` leaves of the runs it removes,
//! so the hash chain stays verifiable across the gap.
//!
//! `REPORTS/.recon-checkpoint.json` lists every pruned run in chain order
//! (run id, start time, manifest SHA-256 and its link to the run before),
//! from the first run of the chain on; a later prune appends to it.
//! `.recon-checkpoint.json.minisig` signs it with the run signing key, so
//! `verify --chain` trusts it as it trusts a manifest: the first kept run
//! must link to the last pruned one, and the pruned runs to each other.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::keys::SigningKey;
use super::trust::TrustedKeys;
use super::{minisign, EvidenceError};

pub const CHECKPOINT: &str = ".recon-checkpoint.json";
pub const CHECKPOINT_SIG: &str = ".recon-checkpoint.json.minisig";

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
/// it (a signature that does not verify against `pk`, a broken inner
/// chain). A checkpoint without its signature is a problem, not trusted.
pub fn read(reports_dir: &Path, keys: &TrustedKeys) -> Result<Option<(Checkpoint, Vec<String>)>, EvidenceError> {
    let path = reports_dir.join(CHECKPOINT);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EvidenceError::io(&path, e)),
    };
    let mut problems = Vec::new();
    match std::fs::read_to_string(reports_dir.join(CHECKPOINT_SIG)) {
        Ok(sig) => {
            // Signed by any trusted key (a prune runs with the key of its day).
            let results: Vec<_> = keys.all().map(|pk| minisign::verify(pk, &bytes, &sig)).collect();
            if !results.iter().any(Result::is_ok) {
                if let Some(Err(e)) = results.into_iter().next() {
                    problems.push(format!("{CHECKPOINT_SIG}: {e}"));
                }
            }
        }
        Err(_) => problems.push(format!("{CHECKPOINT_SIG} is missing: the checkpoint is not signed")),
    }
    let checkpoint: Checkpoint = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("{CHECKPOINT} is not a checkpoint: {e}"));
            Checkpoint {
                pruned: Vec::new(),
                written_at: String::new(),
                signing_key_id: String::new(),
            }
        }
    };
    problems.extend(checkpoint.problems());
    Ok(Some((checkpoint, problems)))
}

/// Writes `checkpoint` and its signature into `reports_dir`, each file
/// atomically, the signature last.
pub fn write(reports_dir: &Path, checkpoint: &Checkpoint, key: &SigningKey) -> Result<(), EvidenceError> {
    let bytes = serde_json::to_vec_pretty(checkpoint)
        .map_err(|e| EvidenceError::io(&reports_dir.join(CHECKPOINT), std::io::Error::other(e)))?;
    let sig = minisign::sign(
        key,
        &bytes,
        &format!("recon checkpoint of {} pruned run(s)", checkpoint.pruned.len()),
    );
    replace(&reports_dir.join(CHECKPOINT), &bytes)?;
    replace(&reports_dir.join(CHECKPOINT_SIG), sig.as_bytes())?;
    Ok(())
}

/// Writes `path` through a temporary file renamed over it (fsynced first),
/// so a reader sees the old file or the new one, never half of one.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| EvidenceError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| EvidenceError::io(&tmp, e))?;
    f.sync_all().map_err(|e| EvidenceError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| EvidenceError::io(path, e))
}
