//! The run manifest (an in-toto Statement v1 over every file of a run folder)
//! and sealing: writing `manifest.json`, `manifest.dsse.json` and
//! `manifest.json.minisig`.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::hash::{sha256_file, sha256_files_parallel, sha256_hex, FileDigest};
use super::keys::SigningKey;
use super::{dsse, minisign, EvidenceError};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://recon.dev/evidence/run/v1";
pub const MANIFEST: &str = "manifest.json";
pub const DSSE: &str = "manifest.dsse.json";
pub const MINISIG: &str = "manifest.json.minisig";
/// The evidence files, which the manifest does not list.
pub const EVIDENCE_FILES: [&str; 3] = [MANIFEST, DSSE, MINISIG];

/// One file of the run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Relative path inside the run folder, `/` separators.
    pub name: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Build the statement:
/// `{"_type", "subject": [{"name", "digest": {"sha256"}}] sorted by name,
/// "predicateType", "predicate": predicate}`.
pub fn statement(mut subjects: Vec<Subject>, predicate: Value) -> Value {
    subjects.sort_by(|a, b| a.name.cmp(&b.name));
    let subject: Vec<Value> = subjects
        .into_iter()
        .map(|s| json!({ "name": s.name, "digest": { "sha256": s.sha256 } }))
        .collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    })
}

/// Deterministic bytes of `v`: object keys sorted (byte order) at every
/// level, whatever the insertion order and whether or not serde_json's
/// `preserve_order` feature is on; pretty-printed with two-space indentation
/// exactly like `serde_json::to_vec_pretty`; trailing newline.
pub fn to_canonical_bytes(v: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out.push('\n');
    out.into_bytes()
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("{\n");
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                // A JSON string's Display is its quoted, escaped form.
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
        // scalars, [] and {}: compact form
        other => out.push_str(&other.to_string()),
    }
}

/// One non-directory entry of a run folder.
#[derive(Debug, Clone)]
pub(crate) struct FolderEntry {
    /// Relative path, `/` separators (lossy if the name is not UTF-8).
    pub name: String,
    pub path: PathBuf,
    pub utf8: bool,
    pub regular: bool,
}

/// Every non-directory entry under `dir`, recursively, without following
/// symbolic links; sorted by name.
pub(crate) fn list_folder(dir: &Path) -> Result<Vec<FolderEntry>, EvidenceError> {
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, String, bool)> = vec![(dir.to_path_buf(), String::new(), true)];
    while let Some((abs, rel, utf8)) = stack.pop() {
        let rd = fs::read_dir(&abs).map_err(|e| EvidenceError::io(&abs, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| EvidenceError::io(&abs, e))?;
            let path = entry.path();
            let ft = entry.file_type().map_err(|e| EvidenceError::io(&path, e))?;
            let os_name = entry.file_name();
            let (part, ok) = match os_name.to_str() {
                Some(s) => (s.to_string(), utf8),
                None => (os_name.to_string_lossy().into_owned(), false),
            };
            let name = if rel.is_empty() { part } else { format!("{rel}/{part}") };
            if ft.is_dir() {
                stack.push((path, name, ok));
            } else {
                out.push(FolderEntry {
                    name,
                    path,
                    utf8: ok,
                    regular: ft.is_file(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn not_a_run_folder(dir: &Path, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::NotARunFolder {
        path: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// Hash every regular file in `run_dir` (recursively, except the three
/// evidence files at its top), build the statement with `predicate` (a JSON
/// object, or null for an empty one) into which `signing_key_id` is inserted
/// (and `run_id`, when the caller's predicate has none), and write
/// `manifest.json`, `manifest.dsse.json` and `manifest.json.minisig` (trusted
/// comment `recon run <run_id> manifest sha256 <hex>`), each atomically, then
/// fsync the folder. Returns the SHA-256 (hex) of `manifest.json`.
///
/// Refuses folders containing symbolic links, other special files or
/// non-UTF-8 names ([`EvidenceError::NotARunFolder`]): the evidence covers
/// regular files only and must cover everything.
pub fn seal(run_dir: &Path, run_id: &str, predicate: Value, key: &SigningKey) -> Result<String, EvidenceError> {
    seal_with(run_dir, run_id, predicate, key, &[])
}

/// [`seal`], taking the digests of `known` files (name, digest) as they were
/// taken while the files were written; every other file is read and
/// hashed. A known file that is missing, or whose size on disk differs
/// from what was written, changed after it was written: an error.
pub fn seal_with(
    run_dir: &Path,
    run_id: &str,
    predicate: Value,
    key: &SigningKey,
    known: &[(&str, FileDigest)],
) -> Result<String, EvidenceError> {
    let meta = fs::metadata(run_dir).map_err(|e| EvidenceError::io(run_dir, e))?;
    if !meta.is_dir() {
        return Err(not_a_run_folder(run_dir, "not a directory"));
    }
    let manifest_path = run_dir.join(MANIFEST);
    let mut predicate = match predicate {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(EvidenceError::Json {
                path: manifest_path,
                source: <serde_json::Error as serde::de::Error>::custom(format!(
                    "the predicate must be a JSON object, not {other}"
                )),
            })
        }
    };
    predicate.insert("signing_key_id".into(), Value::String(key.key_id_hex()));
    predicate
        .entry("run_id")
        .or_insert_with(|| Value::String(run_id.to_string()));

    let mut files = Vec::new();
    for e in list_folder(run_dir)? {
        if EVIDENCE_FILES.contains(&e.name.as_str()) {
            continue;
        }
        if !e.utf8 {
            return Err(not_a_run_folder(
                run_dir,
                format!("file name is not valid UTF-8: {}", e.name),
            ));
        }
        if !e.regular {
            return Err(not_a_run_folder(
                run_dir,
                format!(
                    "{} is not a regular file (symbolic link or special file); evidence covers regular files only",
                    e.name
                ),
            ));
        }
        files.push(e);
    }
    for (name, d) in known {
        let path = run_dir.join(name);
        let size = fs::metadata(&path).map_err(|e| EvidenceError::io(&path, e))?.len();
        if size != d.size || !files.iter().any(|e| e.name == *name) {
            let message = format!(
                "{} bytes on disk, {} written: it changed after it was written",
                size, d.size
            );
            return Err(EvidenceError::io(&path, std::io::Error::other(message)));
        }
    }
    let digests: Vec<Option<String>> = files
        .iter()
        .map(|e| {
            known
                .iter()
                .find(|(name, _)| *name == e.name)
                .map(|(_, d)| d.sha256.clone())
        })
        .collect();
    let paths: Vec<PathBuf> = files
        .iter()
        .zip(&digests)
        .filter(|(_, d)| d.is_none())
        .map(|(e, _)| e.path.clone())
        .collect();
    let mut hashed = sha256_files_parallel(&paths).into_iter();
    let mut subjects = Vec::with_capacity(files.len());
    for (e, d) in files.into_iter().zip(digests) {
        let sha256 = match d {
            Some(d) => d,
            None => match hashed.next() {
                Some(r) => r?.0,
                None => return Err(EvidenceError::io(&e.path, std::io::Error::other("file not hashed"))),
            },
        };
        subjects.push(Subject { name: e.name, sha256 });
    }

    let manifest = to_canonical_bytes(&statement(subjects, Value::Object(predicate)));
    let manifest_sha = sha256_hex(&manifest);
    let envelope = dsse::sign_envelope(key, &manifest);
    let envelope_value = serde_json::to_value(&envelope).map_err(|e| EvidenceError::Json {
        path: run_dir.join(DSSE),
        source: e,
    })?;
    let minisig = minisign::sign(
        key,
        &manifest,
        &format!("recon run {run_id} manifest sha256 {manifest_sha}"),
    );

    super::write_atomic(&manifest_path, &manifest, 0o644)?;
    super::write_atomic(&run_dir.join(DSSE), &to_canonical_bytes(&envelope_value), 0o644)?;
    super::write_atomic(&run_dir.join(MINISIG), minisig.as_bytes(), 0o644)?;
    super::fsync_dir(run_dir)?;
    Ok(manifest_sha)
}

/// SHA-256 (hex) of `run_dir/manifest.json`, or `None` when there is none:
/// what the next run puts in `previous_manifest_sha256`.
pub fn manifest_sha256(run_dir: &Path) -> Result<Option<String>, EvidenceError> {
    match sha256_file(&run_dir.join(MANIFEST)) {
        Ok((h, _)) => Ok(Some(h)),
        Err(EvidenceError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_sort_keys_recursively() {
        // Build maps in reverse order; with `preserve_order` this would keep
        // insertion order, so sorting must not rely on the map type.
        let mut inner = Map::new();
        inner.insert("z".into(), json!(1));
        inner.insert("a".into(), json!([true, null, {"y": 1, "b": "x"}]));
        let mut outer = Map::new();
        outer.insert("zz".into(), Value::Object(inner));
        outer.insert("aa".into(), json!({}));
        outer.insert("mm".into(), json!([]));
        outer.insert("q\"uote\n".into(), json!(1.5));
        let v = Value::Object(outer);
        let s = String::from_utf8(to_canonical_bytes(&v)).unwrap();
        let expected = r#"{
  "aa": {},
  "mm": [],
  "q\"uote\n": 1.5,
  "zz": {
    "a": [
      true,
      null,
      {
        "b": "x",
        "y": 1
      }
    ],
    "z": 1
  }
}
"#;
        assert_eq!(s, expected);
        // identical to serde_json's pretty printer on sorted input
        let sorted: Value = serde_json::from_str(expected).unwrap();
        let mut pretty = serde_json::to_vec_pretty(&sorted).unwrap();
        pretty.push(b'\n');
        assert_eq!(to_canonical_bytes(&sorted), pretty);
        assert_eq!(to_canonical_bytes(&json!("é")), "\"é\"\n".as_bytes());
    }

    #[test]
    fn statement_shape() {
        let st = statement(
            vec![
                Subject {
                    name: "b.csv".into(),
                    sha256: "bb".into(),
                },
                Subject {
                    name: "a/x.json".into(),
                    sha256: "aa".into(),
                },
            ],
            json!({"previous_manifest_sha256": null}),
        );
        assert_eq!(st["_type"], STATEMENT_TYPE);
        assert_eq!(st["predicateType"], PREDICATE_TYPE);
        assert_eq!(st["subject"][0]["name"], "a/x.json");
        assert_eq!(st["subject"][0]["digest"]["sha256"], "aa");
        assert_eq!(st["subject"][1]["name"], "b.csv");
        assert!(st["predicate"]["previous_manifest_sha256"].is_null());
    }

    #[test]
    fn known_digests_are_taken_and_a_changed_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run-1");
        fs::create_dir_all(&run).unwrap();
        fs::write(run.join("state.parquet"), b"PAR1state").unwrap();
        fs::write(run.join("b.csv"), b"x\n").unwrap();
        let key = SigningKey::generate().unwrap();
        let subjects = |known: &[(&str, FileDigest)]| -> Value {
            seal_with(&run, "r", Value::Null, &key, known).unwrap();
            let v: Value = serde_json::from_slice(&fs::read(run.join(MANIFEST)).unwrap()).unwrap();
            v["subject"].clone()
        };
        let plain = subjects(&[]);
        let right = FileDigest {
            sha256: sha256_hex(b"PAR1state"),
            size: 9,
        };
        assert_eq!(subjects(&[("state.parquet", right)]), plain);
        // A digest taken while writing is trusted as it is for that size...
        let taken = FileDigest {
            sha256: "ab".repeat(32),
            size: 9,
        };
        let v = subjects(&[("state.parquet", taken)]);
        assert_eq!(v[1]["digest"]["sha256"], "ab".repeat(32));
        assert_eq!(v[0], plain[0]);
        // ...and a file whose size differs, or that is gone, changed after
        // it was written: sealing refuses.
        let stale = FileDigest {
            sha256: "ab".repeat(32),
            size: 8,
        };
        let err = seal_with(&run, "r", Value::Null, &key, &[("state.parquet", stale.clone())]).unwrap_err();
        assert!(err.to_string().contains("state.parquet"), "{err}");
        assert!(seal_with(&run, "r", Value::Null, &key, &[("gone.parquet", stale)]).is_err());
        // A known digest for a file the manifest does not list (here the
        // manifest itself, of the right size) is refused too.
        let manifest = FileDigest {
            sha256: "ab".repeat(32),
            size: fs::metadata(run.join(MANIFEST)).unwrap().len(),
        };
        assert!(seal_with(&run, "r", Value::Null, &key, &[(MANIFEST, manifest)]).is_err());
        // The only file of a folder, known, is taken.
        let lone = dir.path().join("run-2");
        fs::create_dir_all(&lone).unwrap();
        fs::write(lone.join("state.parquet"), b"PAR1state").unwrap();
        let right = FileDigest {
            sha256: sha256_hex(b"PAR1state"),
            size: 9,
        };
        seal_with(&lone, "r", Value::Null, &key, &[("state.parquet", right)]).unwrap();
    }

    #[test]
    fn a_missing_manifest_is_none_and_an_unreadable_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(manifest_sha256(dir.path()).unwrap(), None);
        fs::write(dir.path().join(MANIFEST), b"{}").unwrap();
        assert_eq!(manifest_sha256(dir.path()).unwrap(), Some(sha256_hex(b"{}")));
        // A manifest that exists but cannot be read must not start a new
        // chain as if there were no previous run.
        fs::remove_file(dir.path().join(MANIFEST)).unwrap();
        fs::create_dir(dir.path().join(MANIFEST)).unwrap();
        assert!(manifest_sha256(dir.path()).is_err());
    }

    #[test]
    fn seal_writes_three_verifiable_files() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run-1");
        fs::create_dir_all(run.join("sub")).unwrap();
        fs::write(run.join("findings.parquet"), b"PAR1data").unwrap();
        fs::write(run.join("sub/x.csv"), b"a,b\n1,2\n").unwrap();
        let key = SigningKey::generate().unwrap();
        assert_eq!(manifest_sha256(&run).unwrap(), None);
        let sha = seal(
            &run,
            "run-1",
            json!({"previous_manifest_sha256": null, "started_at": "2024-01-01T00:00:00Z"}),
            &key,
        )
        .unwrap();
        let bytes = fs::read(run.join(MANIFEST)).unwrap();
        assert_eq!(sha256_hex(&bytes), sha);
        assert_eq!(manifest_sha256(&run).unwrap(), Some(sha.clone()));
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(to_canonical_bytes(&v), bytes);
        let names: Vec<&str> = v["subject"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["findings.parquet", "sub/x.csv"]);
        assert_eq!(v["predicate"]["signing_key_id"], key.key_id_hex());
        assert_eq!(v["predicate"]["run_id"], "run-1");
        assert_eq!(v["subject"][0]["digest"]["sha256"], sha256_hex(b"PAR1data"));

        let env: dsse::Envelope = serde_json::from_slice(&fs::read(run.join(DSSE)).unwrap()).unwrap();
        assert_eq!(dsse::verify_envelope(&key.public(), &env).unwrap(), bytes);
        let sig = fs::read_to_string(run.join(MINISIG)).unwrap();
        assert_eq!(
            minisign::verify(&key.public(), &bytes, &sig).unwrap(),
            format!("recon run run-1 manifest sha256 {sha}")
        );

        // sealing again (evidence files excluded) gives the same manifest
        let again = seal(
            &run,
            "run-1",
            json!({"previous_manifest_sha256": null, "started_at": "2024-01-01T00:00:00Z"}),
            &key,
        )
        .unwrap();
        assert_eq!(again, sha);
        // no temporary files left
        let all: Vec<String> = list_folder(&run).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(
            all,
            [
                "findings.parquet",
                "manifest.dsse.json",
                "manifest.json",
                "manifest.json.minisig",
                "sub/x.csv"
            ]
        );
    }

    /// The contract's command, on a folder sealed with a key from
    /// `write_keypair`/`read_secret`: `minisign -Vm manifest.json -p recon.pub`.
    #[test]
    fn sealed_folder_verifies_with_real_minisign() {
        if !crate::evidence::testing::require_tool("minisign", "-v") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (_, pub_path) = crate::evidence::keys::write_keypair(&tmp.path().join("keys/recon.key")).unwrap();
        let key = crate::evidence::keys::read_secret(&tmp.path().join("keys/recon.key")).unwrap();
        let run = tmp.path().join("run 1");
        fs::create_dir_all(&run).unwrap();
        fs::write(run.join("findings.parquet"), b"PAR1").unwrap();
        seal(&run, "run 1", json!({"previous_manifest_sha256": null}), &key).unwrap();
        let out = std::process::Command::new("minisign")
            .current_dir(&run)
            .args(["-Vm", MANIFEST, "-p"])
            .arg(&pub_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("recon run run 1 manifest sha256 "), "{stdout}");
    }

    #[test]
    fn seal_rejects_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let err = seal(&dir.path().join("nope"), "r", Value::Null, &key).unwrap_err();
        assert!(matches!(err, EvidenceError::Io { .. }));
        fs::write(dir.path().join("f"), b"x").unwrap();
        let err = seal(&dir.path().join("f"), "r", Value::Null, &key).unwrap_err();
        assert!(matches!(err, EvidenceError::NotARunFolder { .. }));
        let err = seal(dir.path(), "r", json!([1]), &key).unwrap_err();
        assert!(err.to_string().contains("predicate must be a JSON object"), "{err}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
            let err = seal(dir.path(), "r", Value::Null, &key).unwrap_err();
            assert!(matches!(err, EvidenceError::NotARunFolder { .. }));
            assert!(err.to_string().contains("link"), "{err}");
            assert!(!dir.path().join(MANIFEST).exists());
        }
    }
}
