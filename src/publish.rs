//! Publishing run folders to object storage, and reading them back:
//! `run --out s3://bucket/reports`, `verify URL [--chain]`, `apply URL`.
//!
//! A run is built and sealed in a local folder exactly as on disk. Before
//! it starts, what it needs of the bucket is mirrored into that folder's
//! parent: the summary of every complete run (to choose the previous run
//! and the baseline) and the previous run whole (its state and manifest).
//! After it is sealed, the folder is uploaded with create-only puts — the
//! summary first, which claims the run id (an existing run is never
//! replaced, even by a concurrent writer), the signatures next and the
//! manifest last. A run folder in a bucket without its manifest is
//! incomplete: it is never taken as a previous run, nor verified as one.
//!
//! One run at a time per prefix, across machines: a run holds a lease
//! object (`<prefix>/.recon.lock`, created create-only, renewed by
//! compare-and-set while the run lasts, taken over once it has expired)
//! from choosing the previous run to uploading its manifest, so two runs
//! never chain to the same previous run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::evidence::{DSSE, MANIFEST, MINISIG};
use crate::storage::{self, Location, Settings, Store, Tag};

/// The lease object's name under a reports prefix.
pub const LEASE: &str = ".recon.lock";
/// How long a lease lasts without renewal: a run that died leaves a lease
/// the next run takes over this long after its last renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(120);
/// How often a live run renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(30);

/// The run folders under one prefix of a bucket.
pub struct RemoteRuns {
    store: Store,
    base: Location,
}

/// One run folder in the bucket: its objects' keys relative to the folder.
#[derive(Debug, Clone)]
pub struct RemoteRun {
    pub id: String,
    pub files: Vec<String>,
}

impl RemoteRun {
    /// Whether the run was uploaded completely (its manifest is there).
    pub fn complete(&self) -> bool {
        self.files.iter().any(|f| f == MANIFEST)
    }
}

impl RemoteRuns {
    /// The run folders under `url` (`s3://bucket/reports`).
    pub fn open(url: &str, settings: &Settings) -> Result<RemoteRuns> {
        let base = Location::parse(url.trim_end_matches('/'))?;
        let store = Store::open(&base, settings)?;
        Ok(RemoteRuns { store, base })
    }

    /// The URL of run `id` (or of the prefix itself for `""`).
    pub fn url(&self, id: &str) -> String {
        self.base.join(id).url()
    }

    /// Whether the prefix itself is a run folder (holds a manifest).
    pub fn has_manifest(&self) -> Result<bool> {
        Ok(self.store.head(&self.base.join(MANIFEST).key)?.is_some())
    }

    /// Every run folder under the prefix, complete or not, by id.
    pub fn runs(&self) -> Result<Vec<RemoteRun>> {
        let prefix = self.base.key.trim_matches('/');
        let mut runs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for object in self.store.list(prefix)? {
            let Some(relative) = object.key.strip_prefix(prefix) else {
                continue;
            };
            let relative = relative.trim_start_matches('/');
            let Some((id, file)) = relative.split_once('/') else {
                continue;
            };
            if id.starts_with('.') {
                continue;
            }
            runs.entry(id.to_string()).or_default().push(file.to_string());
        }
        Ok(runs.into_iter().map(|(id, files)| RemoteRun { id, files }).collect())
    }

    /// Mirrors into `local` what a run into this prefix needs: the summary
    /// of every complete run, and the latest complete run whole. Returns
    /// the ids mirrored.
    pub fn mirror_history(&self, local: &Path) -> Result<Vec<String>> {
        let complete: Vec<RemoteRun> = self.runs()?.into_iter().filter(RemoteRun::complete).collect();
        for run in &complete {
            if run.files.iter().any(|f| f == "summary.json") {
                self.download_file(&run.id, "summary.json", local)?;
            }
        }
        // The previous run is chosen as a local run would choose it.
        if let Some(latest) = crate::report::previous_runs(local).last() {
            let id = latest.path.file_name().map(|n| n.to_string_lossy().to_string());
            if let Some(run) = complete.iter().find(|r| Some(&r.id) == id.as_ref()) {
                self.download_run(run, local)?;
            }
        }
        Ok(complete.into_iter().map(|r| r.id).collect())
    }

    /// Downloads run `id` into `local/<id>` and returns that folder; a run
    /// with no object at all is an error naming its URL.
    pub fn fetch(&self, id: &str, local: &Path) -> Result<PathBuf> {
        let run = self.runs()?.into_iter().find(|r| r.id == id).ok_or_else(|| {
            storage::storage_error(
                &self.url(id),
                "not found: no run folder at this URL",
                Some(
                    "give the URL of a run folder (…/reports/<run id>) or, with --chain, of the reports prefix".into(),
                ),
            )
        })?;
        self.download_run(&run, local)
    }

    /// Downloads every complete run into `local/<id>` (for `verify --chain`).
    pub fn fetch_complete(&self, local: &Path) -> Result<Vec<String>> {
        let complete: Vec<RemoteRun> = self.runs()?.into_iter().filter(RemoteRun::complete).collect();
        for run in &complete {
            self.download_run(run, local)?;
        }
        Ok(complete.into_iter().map(|r| r.id).collect())
    }

    fn download_run(&self, run: &RemoteRun, local: &Path) -> Result<PathBuf> {
        for file in &run.files {
            self.download_file(&run.id, file, local)?;
        }
        Ok(local.join(&run.id))
    }

    fn download_file(&self, id: &str, file: &str, local: &Path) -> Result<()> {
        let to = local.join(id).join(file);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut out = std::io::BufWriter::new(std::fs::File::create(&to).map_err(|e| Error::io(&to, e))?);
        let key = self.base.join(id).join(file).key;
        self.store.download(&key, &mut out)?;
        Ok(())
    }

    /// Uploads the sealed run folder `folder` as run `id`: the summary
    /// first (create-only: it claims the id), then every other file, the
    /// signatures, and the manifest last, right after `before_manifest`
    /// (the lease's last renewal) succeeds. Returns the run's URL.
    pub fn upload_run(&self, folder: &Path, id: &str, before_manifest: &dyn Fn() -> Result<()>) -> Result<String> {
        let mut files = Vec::new();
        walk(folder, folder, &mut files)?;
        let rank = |name: &str| match name {
            "summary.json" => 0,
            n if n == DSSE || n == MINISIG => 2,
            n if n == MANIFEST => 3,
            _ => 1,
        };
        files.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
        let run = self.base.join(id);
        for name in &files {
            if name == MANIFEST {
                before_manifest()?;
            }
            let key = run.join(name).key;
            self.store.upload(&folder.join(name), &key)?;
        }
        Ok(run.url())
    }
}

/// Work folders under the prefix that are not runs (the parts of a
/// sharded run, `.shards/RUN_ID/I/…`): each writer replaces its own, a
/// reader takes them all.
impl RemoteRuns {
    /// Uploads the local folder `dir` to `relative` under the prefix,
    /// replacing what an earlier attempt left there: the `marker` object
    /// is removed first, then the old objects, then every file is
    /// uploaded, `marker` last (a reader trusts a folder with its marker).
    /// Returns the folder's URL.
    pub fn replace_folder(&self, dir: &Path, relative: &str, marker: &str) -> Result<String> {
        let prefix = self.base.join(relative);
        self.store.delete(&prefix.join(marker).key)?;
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        files.sort_by_key(|f| (f == marker, f.clone()));
        // An earlier attempt's objects go: none may outlive it unlisted.
        for old in self.store.list(&prefix.key)? {
            self.store.delete(&old.key)?;
        }
        for name in &files {
            self.store.upload(&dir.join(name), &prefix.join(name).key)?;
        }
        Ok(prefix.url())
    }

    /// Downloads every object under `relative` into `local`, keeping
    /// their paths; returns how many objects were read.
    pub fn fetch_folder(&self, relative: &str, local: &Path) -> Result<usize> {
        self.fetch_folder_files(relative, "", local)
    }

    /// [`RemoteRuns::fetch_folder`], only the objects whose name (the last
    /// part of the key) is `name` (all of them for `""`).
    pub fn fetch_folder_files(&self, relative: &str, name: &str, local: &Path) -> Result<usize> {
        let prefix = self.base.join(relative);
        let root = prefix.key.trim_matches('/').to_string();
        let mut n = 0;
        for object in self.store.list(&root)? {
            let Some(relative) = object.key.strip_prefix(&root) else {
                continue;
            };
            let relative = relative.trim_start_matches('/');
            if relative.is_empty() || relative.split('/').any(|p| p.is_empty() || p == "..") {
                continue;
            }
            if !name.is_empty() && relative.rsplit('/').next() != Some(name) {
                continue;
            }
            let to = local.join(relative);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let mut out = std::io::BufWriter::new(std::fs::File::create(&to).map_err(|e| Error::io(&to, e))?);
            self.store.download(&object.key, &mut out)?;
            std::io::Write::flush(&mut out).map_err(|e| Error::io(&to, e))?;
            n += 1;
        }
        Ok(n)
    }

    /// Removes every object under `relative`.
    pub fn delete_folder(&self, relative: &str) -> Result<()> {
        let prefix = self.base.join(relative);
        for object in self.store.list(prefix.key.trim_matches('/'))? {
            self.store.delete(&object.key)?;
        }
        Ok(())
    }
}

/// The files under `dir`, as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// The lease a run holds on a reports prefix (see the module doc); renewed
/// on a thread of its own, renewed once more right before the manifest is
/// uploaded, and released when dropped.
pub struct Lease {
    store: Store,
    key: String,
    url: String,
    /// The lease object's version as this run last wrote it.
    tag: Arc<Mutex<Tag>>,
    /// When this run last renewed it (or took it).
    renewed: Arc<Mutex<Instant>>,
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

impl Lease {
    /// Fails (exit 2) when the lease is lost or may be: another run took
    /// the prefix over, or no renewal succeeded for most of [`LEASE_TTL`]
    /// (a stall, a network outage), so another run may take it any moment.
    pub fn check(&self) -> Result<()> {
        let stale = self
            .renewed
            .lock()
            .map_or(true, |at| at.elapsed() + LEASE_MARGIN > LEASE_TTL);
        if self.lost.load(Ordering::SeqCst) || stale {
            return Err(Error::usage(
                format!(
                    "lost the lease on {}: another run may take the reports prefix over",
                    self.url
                ),
                Some("this run could not renew its lease in time (a stall, a network outage); run it again".into()),
            ));
        }
        Ok(())
    }

    /// Renews the lease now, by compare-and-set: the last step before the
    /// manifest goes up, so no other run can hold the prefix at that moment.
    pub fn renew_now(&self) -> Result<()> {
        self.check()?;
        let mut tag = self
            .tag
            .lock()
            .map_err(|_| Error::Internal("the lease's tag lock is poisoned".into()))?;
        match self
            .store
            .try_replace(&self.key, lease_body(chrono::Utc::now()), &tag)?
        {
            Some(next) => {
                *tag = next;
                if let Ok(mut at) = self.renewed.lock() {
                    *at = Instant::now();
                }
                Ok(())
            }
            None => {
                self.lost.store(true, Ordering::SeqCst);
                self.check()
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
        // Released by compare-and-set to an expired lease: if another run
        // has taken it over meanwhile, its lease is left alone.
        if self.lost.load(Ordering::SeqCst) {
            return;
        }
        let Ok(tag) = self.tag.lock() else { return };
        let expired = chrono::Utc::now() - chrono::Duration::from_std(LEASE_TTL).unwrap_or_default();
        if let Err(e) = self.store.try_replace(&self.key, lease_body(expired), &tag) {
            tracing::warn!(error = %e, "could not release the lease; it expires by itself");
        }
    }
}

/// A lease not renewed for `LEASE_TTL - LEASE_MARGIN` counts as lost by its
/// holder, before another run may take it.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

fn lease_body(now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let expires = now + chrono::Duration::from_std(LEASE_TTL).unwrap_or_default();
    serde_json::json!({
        "pid": std::process::id(),
        "host": crate::report::hostname(),
        "since": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
    .to_string()
    .into_bytes()
}

impl RemoteRuns {
    /// Takes the lease on this prefix, waiting up to `wait` for a live one
    /// to be released; an expired lease is taken over.
    pub fn lease(&self, wait: Duration) -> Result<Lease> {
        let key = self.base.join(LEASE).key;
        let url = self.url(LEASE);
        let started = Instant::now();
        loop {
            let now = chrono::Utc::now();
            if let Some(tag) = self.store.try_create(&key, lease_body(now))? {
                return self.hold(key, url, tag);
            }
            let Some((bytes, tag)) = self.store.read_tagged(&key)? else {
                continue; // released between the two requests
            };
            let holder: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let expires = holder["expires_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            // Unreadable, or expired: the holder is gone; take it over,
            // unless another run does so first.
            if expires.is_none_or(|e| e < now) {
                if let Some(tag) = self.store.try_replace(&key, lease_body(now), &tag)? {
                    return self.hold(key, url, tag);
                }
                continue;
            }
            if started.elapsed() >= wait {
                return Err(Error::usage(
                    format!(
                        "{} is locked by another run (pid {} on {}, since {}; its lease expires {} unless renewed)",
                        self.url(""),
                        holder["pid"],
                        holder["host"].as_str().unwrap_or("?"),
                        holder["since"].as_str().unwrap_or("?"),
                        holder["expires_at"].as_str().unwrap_or("?"),
                    ),
                    Some(format!(
                        "one run at a time writes to a reports prefix; wait longer with --wait, or, if that run \
                         is dead, its lease ({url}) expires {}s after its last renewal",
                        LEASE_TTL.as_secs()
                    )),
                ));
            }
            std::thread::sleep(Duration::from_millis(500).min(wait.saturating_sub(started.elapsed())));
        }
    }

    fn hold(&self, key: String, url: String, tag: Tag) -> Result<Lease> {
        let tag = Arc::new(Mutex::new(tag));
        let renewed = Arc::new(Mutex::new(Instant::now()));
        let lost = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (store, key, tag, renewed, lost, stop) = (
                self.store.clone(),
                key.clone(),
                Arc::clone(&tag),
                Arc::clone(&renewed),
                Arc::clone(&lost),
                Arc::clone(&stop),
            );
            std::thread::Builder::new()
                .name("recon-lease".into())
                .spawn(move || {
                    let mut last = Instant::now();
                    while !stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(200));
                        if last.elapsed() < RENEW_EVERY {
                            continue;
                        }
                        last = Instant::now();
                        let Ok(mut current) = tag.lock() else { return };
                        match store.try_replace(&key, lease_body(chrono::Utc::now()), &current) {
                            Ok(Some(next)) => {
                                *current = next;
                                if let Ok(mut at) = renewed.lock() {
                                    *at = Instant::now();
                                }
                            }
                            Ok(None) => {
                                lost.store(true, Ordering::SeqCst);
                                return;
                            }
                            // Retried at the next turn; `check` notices when
                            // renewals fail for too long.
                            Err(e) => tracing::warn!(error = %e, "could not renew the lease"),
                        }
                    }
                })
                .map_err(|e| Error::thread("lease renewer", e))?
        };
        Ok(Lease {
            store: self.store.clone(),
            key,
            url,
            tag,
            renewed,
            lost,
            stop,
            renewer: Some(renewer),
        })
    }
}

/// Downloads the run folder at `url` into `local/<id>` (for `verify` and
/// `apply`), with the environment's storage settings.
pub fn fetch_run(url: &str, local: &Path) -> Result<PathBuf> {
    let (parent, id) = split_run_url(url)?;
    if id.is_empty() {
        return Err(storage::storage_error(
            url,
            "names a bucket, not a run folder",
            Some("give the URL of a run folder: …/reports/<run id>".into()),
        ));
    }
    RemoteRuns::open(&parent, &env_settings()?)?.fetch(&id, local)
}

/// Downloads every complete run of the chain `url` belongs to into
/// `local/<id>` (for `verify --chain`): `url` names a run folder (its
/// parent is the chain) or the prefix the runs are under. Returns the URL
/// of the prefix.
pub fn fetch_chain(url: &str, local: &Path) -> Result<String> {
    let here = RemoteRuns::open(url, &env_settings()?)?;
    let runs = if here.has_manifest()? {
        let (parent, _) = split_run_url(url)?;
        RemoteRuns::open(&parent, &env_settings()?)?
    } else {
        here
    };
    if runs.fetch_complete(local)?.is_empty() {
        return Err(storage::storage_error(
            &runs.url(""),
            "holds no complete run folder (none with its manifest)",
            Some("give the URL of the reports prefix (…/reports) or of one run folder in it".into()),
        ));
    }
    Ok(runs.url(""))
}

/// Storage settings from the environment alone (no spec at hand).
pub fn env_settings() -> Result<Settings> {
    Settings::from_env().map_err(|m| Error::usage(m.to_string(), None))
}

/// `s3://bucket/reports/run1` → (`s3://bucket/reports`, `run1`); a URL
/// naming only a bucket has no run id (`""`).
pub fn split_run_url(url: &str) -> Result<(String, String)> {
    let location = Location::parse(url)?;
    let key = location.key.trim_matches('/');
    let (parent, id) = key.rsplit_once('/').unwrap_or(("", key));
    Ok((
        format!("{}/{parent}", location.root).trim_end_matches('/').to_string(),
        id.to_string(),
    ))
}

/// A local folder for a run bound for a bucket (under `work` if given,
/// else the system's temporary folder), removed when dropped unless kept.
/// The run folder `run` names: itself, or for a URL a local copy fetched
/// into a staging folder (returned too: the copy lasts as long as it).
pub fn local_run(run: &Path) -> Result<(Option<tempfile::TempDir>, PathBuf)> {
    let url = run.to_string_lossy().to_string();
    if !crate::storage::is_url(&url) {
        return Ok((None, run.to_path_buf()));
    }
    let staging = staging_folder(None)?;
    let dir = fetch_run(&url, staging.path())?;
    Ok((Some(staging), dir))
}

pub fn staging_folder(work: Option<&Path>) -> Result<tempfile::TempDir> {
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix(".recon-out-");
        b
    };
    match work {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            builder.tempdir_in(dir).map_err(|e| Error::io(dir, e))
        }
        None => builder.tempdir().map_err(|e| Error::io(&std::env::temp_dir(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_urls_split_into_prefix_and_id() {
        assert_eq!(
            split_run_url("s3://bucket/reports/run1/").unwrap(),
            ("s3://bucket/reports".into(), "run1".into())
        );
        assert_eq!(
            split_run_url("s3://bucket/run1").unwrap(),
            ("s3://bucket".into(), "run1".into())
        );
        assert_eq!(
            split_run_url("s3://bucket").unwrap(),
            ("s3://bucket".into(), String::new())
        );
    }
}
