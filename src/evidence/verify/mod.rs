//! Verification of a run folder's evidence, and of the hash chain between the
//! run folders of a reports directory.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::dsse::{self, Envelope};
use super::hash::{sha256_files_parallel, sha256_hex};
use super::keys::PublicKey;
use super::manifest::{list_folder, DSSE, EVIDENCE_FILES, MANIFEST, MINISIG, PREDICATE_TYPE, STATEMENT_TYPE};
use super::trust::TrustedKeys;
use super::{minisign, EvidenceError};

/// One thing wrong with the evidence: a plain sentence naming the file,
/// signature or chain link, with expected and actual digests where relevant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// The outcome of verifying one run folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub run_dir: PathBuf,
    /// Id of the public key used to verify (16 upper-case hex digits).
    pub key_id: String,
    pub problems: Vec<Problem>,
    /// Files listed in the manifest that were found and hashed.
    pub checked_files: usize,
}

impl Report {
    /// True when no problem was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, what: impl Into<String>) {
        self.problems.push(Problem { what: what.into() });
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A subject name must be a plain relative path inside the folder.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && name.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// What the chain check needs from a run's manifest.
struct RunInfo {
    folder: String,
    run_id: Option<String>,
    started_at: Option<String>,
    previous: Link,
    manifest_sha: String,
}

enum Link {
    Null,
    Hash(String),
    Absent,
    Invalid,
}

impl RunInfo {
    /// "run <id>" (with the folder when it differs from the id).
    fn label(&self) -> String {
        match &self.run_id {
            Some(id) if *id == self.folder => format!("run {id}"),
            Some(id) => format!("run {id} (folder {})", self.folder),
            None => format!("run in folder {}", self.folder),
        }
    }
}

/// Verify the evidence of one run folder with `pk`:
///
/// * `manifest.json` parses and is an in-toto Statement v1 with recon's
///   predicate type;
/// * every subject exists and its SHA-256 matches;
/// * the folder holds exactly the subjects and the three evidence files;
/// * `manifest.dsse.json` verifies with `pk` and its payload is byte-identical
///   to `manifest.json`;
/// * `manifest.json.minisig` verifies against `manifest.json` with `pk`;
/// * `predicate.signing_key_id` is `pk`'s key id.
///
/// Problems are collected in the [`Report`]; `Err` only when `run_dir` is not
/// a run folder at all (not a directory, no `manifest.json`) or cannot be read.
pub fn verify_run(run_dir: &Path, pk: &PublicKey) -> Result<Report, EvidenceError> {
    verify_run_trusting(run_dir, &TrustedKeys::single(*pk))
}

/// [`verify_run`] against a set of trusted keys (a trusted-keys file): the
/// run must be signed by one trusted for the day it started.
pub fn verify_run_trusting(run_dir: &Path, keys: &TrustedKeys) -> Result<Report, EvidenceError> {
    check_run(run_dir, keys).map(|checked| checked.report)
}

/// A verified run with what the chain check needs from it.
struct Checked {
    report: Report,
    /// `manifest.json`, when it parses.
    parsed: Option<Value>,
    /// SHA-256 (hex) of `manifest.json`'s bytes, as read for verification.
    manifest_sha: String,
}

fn check_run(run_dir: &Path, keys: &TrustedKeys) -> Result<Checked, EvidenceError> {
    let meta = fs::metadata(run_dir).map_err(|e| EvidenceError::io(run_dir, e))?;
    if !meta.is_dir() {
        return Err(EvidenceError::NotARunFolder {
            path: run_dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let manifest_path = run_dir.join(MANIFEST);
    let manifest = match fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(EvidenceError::NotARunFolder {
                path: run_dir.to_path_buf(),
                reason: format!("it has no {MANIFEST}"),
            })
        }
        Err(e) => return Err(EvidenceError::io(&manifest_path, e)),
    };
    let parsed: Option<Value> = serde_json::from_slice::<Value>(&manifest).ok();
    // The key the manifest names, if trusted for the run's day (the choice
    // is then checked: the signatures must verify with it).
    let predicate = parsed.as_ref().and_then(|v| v.get("predicate"));
    let named = |k: &str| predicate.and_then(|p| p.get(k)).and_then(Value::as_str);
    let (pk, untrusted) = match keys.for_run(named("signing_key_id"), named("started_at")) {
        Ok(pk) => (pk, None),
        Err(why) => (
            keys.all().next().ok_or_else(|| EvidenceError::NotARunFolder {
                path: run_dir.to_path_buf(),
                reason: "no trusted key to verify it with".into(),
            })?,
            Some(why),
        ),
    };
    let mut report = Report {
        run_dir: run_dir.to_path_buf(),
        key_id: pk.key_id_hex(),
        problems: Vec::new(),
        checked_files: 0,
    };
    if let Some(why) = untrusted {
        report.problem(why.0);
    }
    if parsed.is_none() {
        if let Err(e) = serde_json::from_slice::<Value>(&manifest) {
            report.problem(format!("{MANIFEST}: not valid JSON ({e})"));
        }
    }
    let subjects = match &parsed {
        Some(v) => check_statement(v, pk, &mut report),
        None => None,
    };
    check_files(run_dir, subjects.as_ref(), &mut report)?;
    check_dsse(run_dir, pk, &manifest, &mut report)?;
    check_minisig(run_dir, pk, &manifest, &mut report)?;
    Ok(Checked {
        report,
        parsed,
        manifest_sha: sha256_hex(&manifest),
    })
}

/// Statement-level checks; returns the subjects (name → sha256) when the
/// subject list could be read.
fn check_statement(v: &Value, pk: &PublicKey, report: &mut Report) -> Option<BTreeMap<String, String>> {
    let Some(obj) = v.as_object() else {
        report.problem(format!("{MANIFEST}: not a JSON object"));
        return None;
    };
    match obj.get("_type").and_then(Value::as_str) {
        Some(STATEMENT_TYPE) => {}
        other => report.problem(format!(
            "{MANIFEST}: _type is {}, expected \"{STATEMENT_TYPE}\"",
            show(other)
        )),
    }
    match obj.get("predicateType").and_then(Value::as_str) {
        Some(PREDICATE_TYPE) => {}
        other => report.problem(format!(
            "{MANIFEST}: predicateType is {}, expected \"{PREDICATE_TYPE}\"",
            show(other)
        )),
    }
    let want = pk.key_id_hex();
    match obj
        .get("predicate")
        .and_then(|p| p.get("signing_key_id"))
        .and_then(Value::as_str)
    {
        Some(id) if id.eq_ignore_ascii_case(&want) => {}
        Some(id) => report.problem(format!(
            "{MANIFEST}: predicate.signing_key_id is {id}, but the public key's id is {want}"
        )),
        None => report.problem(format!(
            "{MANIFEST}: predicate.signing_key_id is missing (expected {want})"
        )),
    }

    let Some(list) = obj.get("subject").and_then(Value::as_array) else {
        report.problem(format!("{MANIFEST}: has no subject list"));
        return None;
    };
    let mut subjects = BTreeMap::new();
    for (i, s) in list.iter().enumerate() {
        let name = s.get("name").and_then(Value::as_str);
        let digest = s.get("digest").and_then(|d| d.get("sha256")).and_then(Value::as_str);
        match (name, digest) {
            (Some(n), _) if !is_safe_name(n) || EVIDENCE_FILES.contains(&n) => {
                report.problem(format!("{MANIFEST}: subject {i} has an invalid name {n:?}"));
            }
            (Some(n), Some(d)) if is_sha256_hex(d) => {
                if subjects.insert(n.to_string(), d.to_string()).is_some() {
                    report.problem(format!("{MANIFEST}: subject {n} is listed twice"));
                }
            }
            (Some(n), _) => report.problem(format!("{MANIFEST}: subject {n} has no valid sha256 digest")),
            (None, _) => report.problem(format!("{MANIFEST}: subject {i} has no name")),
        }
    }
    Some(subjects)
}

fn show(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("\"{s}\""),
        None => "missing".to_string(),
    }
}

/// Subjects against the folder's content.
fn check_files(
    run_dir: &Path,
    subjects: Option<&BTreeMap<String, String>>,
    report: &mut Report,
) -> Result<(), EvidenceError> {
    let entries = list_folder(run_dir)?;
    let present: HashMap<&str, bool> = entries.iter().map(|e| (e.name.as_str(), e.regular)).collect();
    let empty = BTreeMap::new();
    let listed = subjects.unwrap_or(&empty);

    // Extra entries (only meaningful when the subject list was readable).
    if subjects.is_some() {
        for e in &entries {
            if EVIDENCE_FILES.contains(&e.name.as_str()) || listed.contains_key(&e.name) {
                continue;
            }
            if !e.utf8 {
                report.problem(format!(
                    "{}: file with a non-UTF-8 name, not listed in {MANIFEST} (added after sealing)",
                    e.name
                ));
            } else {
                report.problem(format!(
                    "{}: file not listed in {MANIFEST} (added after sealing)",
                    e.name
                ));
            }
        }
    }

    let mut to_hash: Vec<(&str, &str)> = Vec::new();
    for (name, want) in listed {
        match present.get(name.as_str()) {
            None => report.problem(format!("{name}: listed in {MANIFEST} but missing from the run folder")),
            Some(false) => report.problem(format!(
                "{name}: is a symbolic link or special file, not the regular file listed in {MANIFEST}"
            )),
            Some(true) => to_hash.push((name, want)),
        }
    }
    let paths: Vec<PathBuf> = to_hash.iter().map(|(n, _)| run_dir.join(n)).collect();
    for ((name, want), got) in to_hash.into_iter().zip(sha256_files_parallel(&paths)) {
        match got {
            Ok((got, _)) => {
                report.checked_files += 1;
                if got != want {
                    report.problem(format!("{name}: sha256 mismatch (manifest {want}, file {got})"));
                }
            }
            Err(EvidenceError::Io { source, .. }) => report.problem(format!("{name}: cannot be read ({source})")),
            Err(e) => report.problem(format!("{name}: cannot be read ({e})")),
        }
    }
    Ok(())
}

/// Read an evidence file; `None` (with a problem) when it is missing.
fn read_evidence(run_dir: &Path, name: &str, report: &mut Report) -> Result<Option<Vec<u8>>, EvidenceError> {
    let path = run_dir.join(name);
    match fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            report.problem(format!("{name}: missing"));
            Ok(None)
        }
        Err(e) => Err(EvidenceError::io(&path, e)),
    }
}

fn check_dsse(run_dir: &Path, pk: &PublicKey, manifest: &[u8], report: &mut Report) -> Result<(), EvidenceError> {
    let Some(bytes) = read_evidence(run_dir, DSSE, report)? else {
        return Ok(());
    };
    let env: Envelope = match serde_json::from_slice(&bytes) {
        Ok(env) => env,
        Err(e) => {
            report.problem(format!("{DSSE}: not a valid DSSE envelope ({e})"));
            return Ok(());
        }
    };
    match dsse::verify_envelope(pk, &env) {
        Ok(payload) if payload == manifest => {}
        Ok(payload) => report.problem(format!(
            "{DSSE}: the signed payload is not {MANIFEST} (payload sha256 {}, {MANIFEST} sha256 {})",
            sha256_hex(&payload),
            sha256_hex(manifest)
        )),
        Err(reason) => report.problem(format!("{DSSE}: {reason}")),
    }
    Ok(())
}

fn check_minisig(run_dir: &Path, pk: &PublicKey, manifest: &[u8], report: &mut Report) -> Result<(), EvidenceError> {
    let Some(bytes) = read_evidence(run_dir, MINISIG, report)? else {
        return Ok(());
    };
    let Ok(text) = String::from_utf8(bytes) else {
        report.problem(format!("{MINISIG}: not a text file"));
        return Ok(());
    };
    match minisign::verify(pk, manifest, &text) {
        Ok(comment) => {
            // The trusted comment is signed; check the digest it names.
            let sha = sha256_hex(manifest);
            if let Some((_, named)) = comment.rsplit_once(" manifest sha256 ") {
                if named != sha {
                    report.problem(format!(
                        "{MINISIG}: trusted comment names manifest sha256 {named}, but {MANIFEST} has sha256 {sha}"
                    ));
                }
            }
        }
        Err(reason) => report.problem(format!("{MINISIG}: {reason} ({MANIFEST})")),
    }
    Ok(())
}

/// Verify every run folder of `reports_dir` (its subdirectories holding a
/// `manifest.json`; names starting with `.` are ignored) and the hash chain
/// between them. Runs are ordered by `predicate.started_at` (compared as
/// strings: RFC 3339 UTC timestamps) then run id; each run's
/// `predicate.previous_manifest_sha256` must be the SHA-256 of the previous
/// run's `manifest.json`, and the first run's must be null. Broken links are
/// reported, naming the runs involved, in the report of the run whose link is
/// broken. Returns the reports in chain order.
///
/// After `recon prune`, the signed checkpoint of the removed runs comes
/// first (its report leads the list): the first kept run must link to the
/// last pruned one.
///
/// The chain cannot reveal a replaced or removed *last* run: keep the newest
/// manifest's sha256 elsewhere (the run's output, a log) to anchor it, or
/// name the newest run to `verify --latest`.
pub fn verify_chain(reports_dir: &Path, pk: &PublicKey) -> Result<Vec<Report>, EvidenceError> {
    verify_chain_trusting(reports_dir, &TrustedKeys::single(*pk))
}

/// [`verify_chain`] against a set of trusted keys: each run must be signed
/// by a key trusted for the day it started, so a chain that spans a key
/// rotation verifies.
pub fn verify_chain_trusting(reports_dir: &Path, keys: &TrustedKeys) -> Result<Vec<Report>, EvidenceError> {
    let meta = fs::metadata(reports_dir).map_err(|e| EvidenceError::io(reports_dir, e))?;
    if !meta.is_dir() {
        return Err(EvidenceError::NotARunFolder {
            path: reports_dir.to_path_buf(),
            reason: "the reports directory is not a directory".into(),
        });
    }
    let mut dirs = Vec::new();
    let rd = fs::read_dir(reports_dir).map_err(|e| EvidenceError::io(reports_dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| EvidenceError::io(reports_dir, e))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| EvidenceError::io(&path, e))?;
        let folder = entry.file_name().to_string_lossy().into_owned();
        if !ft.is_dir() || folder.starts_with('.') {
            continue;
        }
        if fs::symlink_metadata(path.join(MANIFEST)).is_ok() {
            dirs.push((path, folder));
        }
    }

    let mut runs: Vec<(Report, RunInfo)> = Vec::with_capacity(dirs.len());
    for (dir, folder) in dirs {
        let Checked {
            report,
            parsed,
            manifest_sha,
        } = check_run(&dir, keys)?;
        let pred = parsed.as_ref().and_then(|v| v.get("predicate"));
        let get_str = |k: &str| pred.and_then(|p| p.get(k)).and_then(Value::as_str).map(str::to_string);
        let previous = match pred.and_then(|p| p.get("previous_manifest_sha256")) {
            None => Link::Absent,
            Some(Value::Null) => Link::Null,
            Some(Value::String(h)) => Link::Hash(h.to_ascii_lowercase()),
            Some(_) => Link::Invalid,
        };
        let info = RunInfo {
            run_id: get_str("run_id"),
            started_at: get_str("started_at"),
            folder,
            previous,
            manifest_sha,
        };
        runs.push((report, info));
    }
    runs.sort_by(|a, b| {
        let ka = (&a.1.started_at, a.1.run_id.as_ref().unwrap_or(&a.1.folder), &a.1.folder);
        let kb = (&b.1.started_at, b.1.run_id.as_ref().unwrap_or(&b.1.folder), &b.1.folder);
        ka.cmp(&kb)
    });

    // A prune's checkpoint stands for the removed runs: the first kept run
    // links to the last of them.
    let checkpoint = super::checkpoint::read(reports_dir, keys)?;
    let anchor: Option<String> = checkpoint
        .as_ref()
        .and_then(|(c, problems)| problems.is_empty().then(|| c.last_manifest().map(String::from)))
        .flatten();
    // Run folders the (trusted) checkpoint lists are removals a prune had
    // not finished: they are accounted for there, not in the chain.
    if anchor.is_some() {
        if let Some((c, _)) = &checkpoint {
            let pruned: std::collections::HashSet<&str> = c.pruned.iter().map(|r| r.manifest_sha256.as_str()).collect();
            runs.retain(|(_, info)| !pruned.contains(info.manifest_sha.as_str()));
        }
    }

    let mut by_sha: HashMap<&str, usize> = HashMap::new();
    let mut chain_problems: Vec<Vec<String>> = vec![Vec::new(); runs.len()];
    for (i, (_, info)) in runs.iter().enumerate() {
        if let Some(&j) = by_sha.get(info.manifest_sha.as_str()) {
            chain_problems[i].push(format!(
                "{}: {MANIFEST} is identical to that of {} (a copied run folder)",
                info.label(),
                runs[j].1.label()
            ));
        } else {
            by_sha.insert(info.manifest_sha.as_str(), i);
        }
    }
    let mut seen_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (_, info)) in runs.iter().enumerate() {
        if let Some(id) = info.run_id.as_deref() {
            if let Some(&j) = seen_ids.get(id) {
                chain_problems[i].push(format!(
                    "run id {id} appears in two folders ({} and {})",
                    runs[j].1.folder, info.folder
                ));
            } else {
                seen_ids.insert(id, i);
            }
        }
    }

    for i in 0..runs.len() {
        let info = &runs[i].1;
        let me = info.label();
        let prev = if i == 0 { None } else { Some(&runs[i - 1].1) };
        let msg = match (&info.previous, prev) {
            (Link::Null, None) if anchor.is_none() => None,
            (Link::Hash(h), None) if anchor.as_deref() == Some(h.as_str()) => None,
            (Link::Null, None) => Some(format!(
                "{me}: previous_manifest_sha256 is null, but the checkpoint of pruned runs ends with manifest sha256 {}: the chain was restarted",
                anchor.as_deref().unwrap_or("")
            )),
            (Link::Hash(h), Some(p)) if *h == p.manifest_sha => None,
            (Link::Absent, _) => Some(format!(
                "{me}: {MANIFEST} has no predicate.previous_manifest_sha256, so its link to the previous run cannot be checked"
            )),
            (Link::Invalid, _) => Some(format!(
                "{me}: predicate.previous_manifest_sha256 in {MANIFEST} is neither a sha256 string nor null"
            )),
            (Link::Null, Some(p)) => Some(format!(
                "{me}: previous_manifest_sha256 is null, but {} (manifest sha256 {}) precedes it: the chain was restarted or {} was inserted",
                p.label(),
                p.manifest_sha,
                p.label()
            )),
            (Link::Hash(h), None) => Some(match by_sha.get(h.as_str()) {
                Some(&j) if j == i => format!("{me}: links to itself"),
                Some(&j) => format!(
                    "{me}: first run by started_at, but it links to {} (manifest sha256 {h}), which starts later: runs were reordered",
                    runs[j].1.label()
                ),
                None => format!(
                    "{me}: first run links to a missing run (previous_manifest_sha256 {h} matches no manifest in {})",
                    reports_dir.display()
                ),
            }),
            (Link::Hash(h), Some(p)) => Some(match by_sha.get(h.as_str()) {
                Some(&j) if j == i => format!("{me}: links to itself"),
                Some(&j) => format!(
                    "{me}: links to {} (manifest sha256 {h}), but {} precedes it by started_at: runs were reordered or the chain forks",
                    runs[j].1.label(),
                    p.label()
                ),
                None => format!(
                    "{me}: links to a missing run (previous_manifest_sha256 {h} matches no manifest in {}); the run before it is {} (manifest sha256 {}): a run between them was removed, or {} was replaced",
                    reports_dir.display(),
                    p.label(),
                    p.manifest_sha,
                    p.label()
                ),
            }),
        };
        if let Some(m) = msg {
            chain_problems[i].push(m);
        }
    }

    let mut out = Vec::with_capacity(runs.len() + 1);
    if let Some((c, problems)) = checkpoint {
        out.push(Report {
            run_dir: reports_dir.join(super::checkpoint::CHECKPOINT),
            key_id: c.signing_key_id.clone(),
            problems: problems.into_iter().map(|what| Problem { what }).collect(),
            checked_files: c.pruned.len(),
        });
    }
    for ((mut report, _), extra) in runs.into_iter().zip(chain_problems) {
        for what in extra {
            report.problem(what);
        }
        out.push(report);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
