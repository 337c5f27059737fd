//! The run folder: created under a hidden temporary name, filled, sealed,
//! then renamed into place so it appears complete or not at all.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct RunFolder {
    tmp: PathBuf,
    final_path: PathBuf,
    done: bool,
}

impl RunFolder {
    /// Reserves `out/run_id`; an existing run is never overwritten.
    pub fn create(out: &Path, run_id: &str) -> Result<RunFolder> {
        validate_run_id(run_id)?;
        let final_path = out.join(run_id);
        if final_path.exists() {
            return Err(Error::usage(
                format!("run folder {} already exists", final_path.display()),
                Some("choose another --run-id; existing runs are evidence and are never overwritten".into()),
            ));
        }
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        sweep_stale(out);
        let tmp = out.join(format!(".tmp-{run_id}-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        claim(&tmp);
        Ok(RunFolder {
            tmp,
            final_path,
            done: false,
        })
    }

    /// Where files are written until `commit`.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Moves the finished folder into place.
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.final_path.exists() {
            return Err(Error::usage(
                format!("run folder {} appeared while running", self.final_path.display()),
                None,
            ));
        }
        std::fs::rename(&self.tmp, &self.final_path).map_err(|e| Error::io(&self.final_path, e))?;
        release(&self.tmp);
        if let Some(parent) = self.final_path.parent() {
            if let Ok(dir) = std::fs::File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        self.done = true;
        Ok(self.final_path.clone())
    }
}

impl Drop for RunFolder {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
            release(&self.tmp);
        }
    }
}

/// Removes the hidden folders that runs killed by a signal left in `dir`
/// (their `Drop` never ran): `.tmp-RUN-PID` and `.work-RUN-PID` folders
/// whose owner file (see [`claim`]) names this machine's boot and process
/// namespace and a process that no longer exists. A folder without an
/// owner file, or made on another machine or in another container sharing
/// the folder (whose processes this one cannot see), is left alone, as is
/// everything where `/proc` is missing.
pub fn sweep_stale(dir: &Path) {
    let Some(mine) = owner_tag(0) else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let hidden = name.starts_with(".tmp-") || name.starts_with(".work-");
        if !hidden || name.ends_with(OWNER_SUFFIX) {
            continue;
        }
        let folder = entry.path();
        let owner_file = owner_path(&folder);
        let Ok(owner) = std::fs::read_to_string(&owner_file) else {
            continue;
        };
        let Some((place, pid)) = owner.trim().rsplit_once(' ') else {
            continue;
        };
        let same_place = mine.rsplit_once(' ').is_some_and(|(p, _)| p == place);
        if !same_place || Path::new("/proc").join(pid).exists() {
            continue;
        }
        match std::fs::remove_dir_all(&folder) {
            Ok(()) => {
                let _ = std::fs::remove_file(&owner_file);
                tracing::info!(folder = %folder.display(), "removed the leftover of a killed run");
            }
            Err(e) => {
                tracing::warn!(folder = %folder.display(), error = %e, "could not remove the leftover of a killed run")
            }
        }
    }
}

const OWNER_SUFFIX: &str = ".owner";

/// `<folder>.owner`, beside the folder (inside it, it would be sealed
/// into the run).
fn owner_path(folder: &Path) -> PathBuf {
    let mut name = folder.file_name().unwrap_or_default().to_os_string();
    name.push(OWNER_SUFFIX);
    folder.with_file_name(name)
}

/// `BOOT_ID PID_NAMESPACE PID` of this process (with `pid`, or this
/// process's own when 0); None without `/proc`.
pub fn owner_tag(pid: u32) -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let pid = if pid == 0 { std::process::id() } else { pid };
    Some(format!("{} {} {pid}", boot.trim(), namespace.display()))
}

/// Marks `folder` as this process's, for [`sweep_stale`] (best effort:
/// without the mark a leftover is merely never swept).
pub fn claim(folder: &Path) {
    if let Some(tag) = owner_tag(0) {
        let _ = std::fs::write(owner_path(folder), tag);
    }
}

/// Removes the mark [`claim`] left.
pub fn release(folder: &Path) {
    let _ = std::fs::remove_file(owner_path(folder));
}

/// A run id names a folder and an object prefix: letters, digits, `-`, `_`, `.`.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let ok = !run_id.is_empty()
        && !run_id.starts_with('.')
        && run_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("invalid run id `{run_id}`"),
            Some("use letters, digits, '-', '_' and '.', not starting with '.'".into()),
        ))
    }
}

/// A finished earlier run in the same reports folder.
#[derive(Debug, Clone)]
pub struct PreviousRun {
    pub run_id: String,
    pub path: PathBuf,
    pub finished_at: String,
    pub exit_code: i64,
}

/// Finished runs in `out`, oldest first (by finish time, then id).
pub fn previous_runs(out: &Path) -> Vec<PreviousRun> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut runs: Vec<PreviousRun> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| {
            let path = e.path();
            let text = std::fs::read_to_string(path.join("summary.json")).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            Some(PreviousRun {
                run_id: v.get("run_id")?.as_str()?.to_string(),
                finished_at: v.get("finished_at")?.as_str()?.to_string(),
                exit_code: v.get("exit_code")?.as_i64()?,
                path,
            })
        })
        .collect();
    runs.sort_by(|a, b| (&a.finished_at, &a.run_id).cmp(&(&b.finished_at, &b.run_id)));
    runs
}
