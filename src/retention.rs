//! Retention: removing old runs from a reports folder while keeping its
//! hash chain verifiable (`recon prune`).
//!
//! Before any folder is removed, the chain is verified whole and the
//! removed runs are appended to the folder's signed checkpoint
//! (`evidence::checkpoint`); `verify --chain` then checks the kept runs
//! against it. A broken chain is never pruned: that would hide evidence.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::evidence::checkpoint::{self, Checkpoint, PrunedRun};
use crate::evidence::{self, SigningKey, TrustedKeys, MANIFEST};

/// Which runs stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The newest N runs (at least 1).
    Newest(usize),
    /// Runs that started within the last D days (and always the newest).
    Days(u32),
}

/// What a prune did.
#[derive(Debug)]
pub enum Pruned {
    /// Removed these run ids (oldest first); `kept` runs remain.
    Done { removed: Vec<String>, kept: usize },
    /// The chain does not verify: nothing was removed.
    Refused(Vec<String>),
}

/// Prunes the reports folder `out` down to `keep`, under its lock.
pub fn prune(out: &Path, keep: Keep, key: &SigningKey, trusted: &TrustedKeys, wait: Duration) -> Result<Pruned> {
    let _lock = crate::report::HistoryLock::acquire(out, wait)?;
    let reports = evidence::verify_chain_trusting(out, trusted)?;
    let problems: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(move |p| format!("{}: {}", r.run_dir.display(), p.what))
        })
        .collect();
    if !problems.is_empty() {
        return Ok(Pruned::Refused(problems));
    }
    let finished = finish_interrupted(out, trusted)?;
    // The runs in chain order (the checkpoint's report, if any, comes first).
    let runs: Vec<&Path> = reports
        .iter()
        .map(|r| r.run_dir.as_path())
        .filter(|d| d.join(MANIFEST).exists())
        .collect();
    let mut described = Vec::with_capacity(runs.len());
    for dir in &runs {
        described.push(describe(dir)?);
    }
    let cut = match keep {
        Keep::Newest(n) => described.len().saturating_sub(n.max(1)),
        Keep::Days(d) => {
            let since = (chrono::Utc::now() - chrono::Duration::days(i64::from(d)))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let old = described.iter().take_while(|r| r.started_at < since).count();
            old.min(described.len().saturating_sub(1))
        }
    };
    if cut == 0 {
        return Ok(Pruned::Done {
            removed: finished,
            kept: described.len(),
        });
    }
    let mut pruned = match checkpoint::read(out, trusted)? {
        Some((c, _)) => c.pruned,
        None => Vec::new(),
    };
    pruned.extend(described[..cut].iter().cloned());
    let written = Checkpoint {
        pruned,
        written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        signing_key_id: key.key_id_hex(),
    };
    // The checkpoint first: a prune stopped halfway leaves runs it already
    // accounts for, which verify still accepts (they chain as before).
    checkpoint::write(out, &written, key)?;
    let mut removed = finished;
    for (dir, run) in runs[..cut].iter().zip(&described[..cut]) {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        removed.push(run.run_id.clone());
    }
    Ok(Pruned::Done {
        removed,
        kept: described.len() - cut,
    })
}

/// Removes the run folders the checkpoint already lists (a prune stopped
/// between writing the checkpoint and removing them); their ids.
fn finish_interrupted(out: &Path, trusted: &TrustedKeys) -> Result<Vec<String>> {
    let Some((c, problems)) = checkpoint::read(out, trusted)? else {
        return Ok(Vec::new());
    };
    if !problems.is_empty() {
        return Ok(Vec::new());
    }
    let listed: std::collections::HashSet<&str> = c.pruned.iter().map(|r| r.manifest_sha256.as_str()).collect();
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(out).map_err(|e| Error::io(out, e))? {
        let dir = entry.map_err(|e| Error::io(out, e))?.path();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') || !dir.join(MANIFEST).is_file() {
            continue;
        }
        let run = describe(&dir)?;
        if listed.contains(run.manifest_sha256.as_str()) {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            removed.push(run.run_id);
        }
    }
    removed.sort();
    Ok(removed)
}

/// A run as its manifest describes it.
fn describe(dir: &Path) -> Result<PrunedRun> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::input(&path, format!("is not JSON: {e}")))?;
    let p = &v["predicate"];
    let text = |k: &str| p[k].as_str().map(String::from);
    Ok(PrunedRun {
        run_id: text("run_id").unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        }),
        started_at: text("started_at").unwrap_or_default(),
        manifest_sha256: evidence::hash::sha256_hex(&bytes),
        previous_manifest_sha256: text("previous_manifest_sha256"),
    })
}
