//! Tests of verification: a fresh run verifies, each tampering (bytes,
//! files, keys, signatures, statement) is named, and the hash chain holds
//! or names its break.

use super::*;
use crate::evidence::keys::SigningKey;
use crate::evidence::manifest::seal;
use serde_json::json;

const DATA_FILES: [&str; 3] = ["findings.parquet", "run.json", "sub/data.csv"];

/// A run folder `reports/<id>` with a few files, sealed with `key`.
fn make_run(reports: &Path, id: &str, started_at: &str, previous: Option<&str>, key: &SigningKey) -> (PathBuf, String) {
    let dir = reports.join(id);
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("findings.parquet"), format!("PAR1 findings of {id} PAR1")).unwrap();
    fs::write(dir.join("run.json"), format!("{{\"run_id\": \"{id}\"}}\n")).unwrap();
    fs::write(dir.join("sub/data.csv"), b"id,amount\n1,10.00\n2,20.00\n").unwrap();
    let sha = seal(
        &dir,
        id,
        json!({
            "run_id": id,
            "started_at": started_at,
            "previous_manifest_sha256": previous,
        }),
        key,
    )
    .unwrap();
    (dir, sha)
}

fn mentions(report: &Report, needle: &str) -> bool {
    report.problems.iter().any(|p| p.what.contains(needle))
}

fn flip(path: &Path, at: usize) -> Vec<u8> {
    let orig = fs::read(path).unwrap();
    let mut b = orig.clone();
    b[at] ^= 0x01;
    fs::write(path, b).unwrap();
    orig
}

#[test]
fn fresh_run_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let (dir, _) = make_run(tmp.path(), "r1", "2024-01-01T00:00:00Z", None, &key);
    let r = verify_run(&dir, &key.public()).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.checked_files, 3);
    assert_eq!(r.key_id, key.key_id_hex());
    assert_eq!(r.run_dir, dir);
}

#[test]
fn not_a_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let pk = SigningKey::generate().unwrap().public();
    let err = verify_run(tmp.path(), &pk).unwrap_err();
    assert!(matches!(err, EvidenceError::NotARunFolder { .. }), "{err}");
    assert!(err.to_string().contains("manifest.json"), "{err}");
    assert!(matches!(
        verify_run(&tmp.path().join("nope"), &pk),
        Err(EvidenceError::Io { .. })
    ));
    // A manifest that is there but cannot be read is an error reading it,
    // not a folder without one.
    fs::create_dir(tmp.path().join(MANIFEST)).unwrap();
    let err = verify_run(tmp.path(), &pk).unwrap_err();
    assert!(matches!(err, EvidenceError::Io { .. }), "{err}");
}

#[test]
fn an_unreadable_signature_is_an_error_not_a_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    for name in [DSSE, MINISIG] {
        let (dir, _) = make_run(tmp.path(), name, "2024-01-01T00:00:00Z", None, &key);
        fs::remove_file(dir.join(name)).unwrap();
        let r = verify_run(&dir, &key.public()).unwrap();
        assert!(mentions(&r, &format!("{name}: missing")), "{:?}", r.problems);
        fs::create_dir(dir.join(name)).unwrap();
        let err = verify_run(&dir, &key.public()).unwrap_err();
        assert!(matches!(err, EvidenceError::Io { .. }), "{name}: {err}");
    }
}

#[test]
fn a_run_is_named_with_its_folder_when_they_differ() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let missing = "ab".repeat(32);
    make_run(tmp.path(), "run-a", "2024-01-01T00:00:00Z", Some(&missing), &key);
    let named = |reports: &Vec<Report>| reports[0].problems.iter().map(|p| p.what.clone()).collect::<Vec<_>>();
    let same = verify_chain(tmp.path(), &key.public()).unwrap();
    assert!(
        named(&same)[0].starts_with("run run-a: first run links to a missing run"),
        "{:?}",
        named(&same)
    );
    fs::rename(tmp.path().join("run-a"), tmp.path().join("renamed")).unwrap();
    let moved = verify_chain(tmp.path(), &key.public()).unwrap();
    assert!(
        named(&moved)[0].starts_with("run run-a (folder renamed): first run links to a missing run"),
        "{:?}",
        named(&moved)
    );
}

#[test]
fn flipping_a_byte_in_a_data_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let (dir, _) = make_run(tmp.path(), "r1", "t", None, &key);
    for name in DATA_FILES {
        let path = dir.join(name);
        let orig = flip(&path, 3);
        let r = verify_run(&dir, &key.public()).unwrap();
        assert_eq!(r.problems.len(), 1, "{name}: {:?}", r.problems);
        let what = &r.problems[0].what;
        // What `recon verify` prints is the problem's sentence itself.
        assert_eq!(&r.problems[0].to_string(), what);
        assert!(
            what.starts_with(&format!("{name}: sha256 mismatch (manifest ")),
            "{what}"
        );
        assert!(what.contains(&sha256_hex(&orig)), "{what}");
        assert!(what.contains(&sha256_hex(&fs::read(&path).unwrap())), "{what}");
        fs::write(&path, orig).unwrap();
        assert!(verify_run(&dir, &key.public()).unwrap().ok());
    }
}

/// Every single-byte change of every evidence file is detected and the
/// problem names the file (the minisig's untrusted comment excepted: it is
/// unsigned by design).
#[test]
fn flipping_any_byte_of_an_evidence_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let pk = key.public();
    let (dir, _) = make_run(tmp.path(), "r1", "t", None, &key);
    for name in EVIDENCE_FILES {
        let path = dir.join(name);
        let orig = fs::read(&path).unwrap();
        let start = if name == MINISIG {
            orig.iter().position(|&b| b == b'\n').unwrap() + 1
        } else {
            0
        };
        for at in start..orig.len() {
            flip(&path, at);
            let r = verify_run(&dir, &pk).unwrap();
            assert!(
                mentions(&r, name),
                "{name} byte {at} flipped, not detected: {:?}",
                r.problems
            );
            fs::write(&path, &orig).unwrap();
        }
    }
    assert!(verify_run(&dir, &pk).unwrap().ok());
}

#[test]
fn deleted_and_added_files() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let pk = key.public();
    let (dir, _) = make_run(tmp.path(), "r1", "t", None, &key);

    let orig = fs::read(dir.join("sub/data.csv")).unwrap();
    fs::remove_file(dir.join("sub/data.csv")).unwrap();
    let r = verify_run(&dir, &pk).unwrap();
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert_eq!(
        r.problems[0].what,
        "sub/data.csv: listed in manifest.json but missing from the run folder"
    );
    assert_eq!(r.checked_files, 2);
    fs::write(dir.join("sub/data.csv"), orig).unwrap();

    for name in [DSSE, MINISIG] {
        let orig = fs::read(dir.join(name)).unwrap();
        fs::remove_file(dir.join(name)).unwrap();
        let r = verify_run(&dir, &pk).unwrap();
        assert_eq!(
            r.problems,
            vec![Problem {
                what: format!("{name}: missing")
            }]
        );
        fs::write(dir.join(name), orig).unwrap();
    }

    fs::write(dir.join("extra.csv"), b"x").unwrap();
    fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    fs::write(dir.join("sub/deeper/more.txt"), b"y").unwrap();
    let r = verify_run(&dir, &pk).unwrap();
    assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
    assert!(mentions(&r, "extra.csv: file not listed in manifest.json"));
    assert!(mentions(&r, "sub/deeper/more.txt: file not listed"));
    fs::remove_file(dir.join("extra.csv")).unwrap();
    fs::remove_dir_all(dir.join("sub/deeper")).unwrap();
    // an empty directory is not a file
    fs::create_dir_all(dir.join("empty")).unwrap();
    assert!(verify_run(&dir, &pk).unwrap().ok());

    #[cfg(unix)]
    {
        let orig = fs::read(dir.join("run.json")).unwrap();
        fs::remove_file(dir.join("run.json")).unwrap();
        let copy = tmp.path().join("run.json.copy");
        fs::write(&copy, orig).unwrap();
        std::os::unix::fs::symlink(&copy, dir.join("run.json")).unwrap();
        let r = verify_run(&dir, &pk).unwrap();
        assert!(mentions(&r, "run.json: is a symbolic link"), "{:?}", r.problems);
    }
}

#[test]
fn manifest_resigned_with_another_key() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let other = SigningKey::generate().unwrap();
    let (dir, _) = make_run(tmp.path(), "r1", "t", None, &key);
    // attacker edits a file and re-seals with their own key
    fs::write(dir.join("findings.parquet"), b"doctored").unwrap();
    seal(
        &dir,
        "r1",
        json!({"run_id": "r1", "started_at": "t", "previous_manifest_sha256": null}),
        &other,
    )
    .unwrap();
    let r = verify_run(&dir, &key.public()).unwrap();
    assert!(!r.ok());
    assert!(
        mentions(&r, &format!("{DSSE}: no signature by key {}", key.key_id_hex())),
        "{:?}",
        r.problems
    );
    assert!(
        mentions(&r, &format!("{MINISIG}: signed by key {}", other.key_id_hex())),
        "{:?}",
        r.problems
    );
    assert!(mentions(&r, "predicate.signing_key_id"), "{:?}", r.problems);
    // the file itself matches the forged manifest
    assert!(!mentions(&r, "findings.parquet"));
    // the attacker's key does verify it: the public key is the trust anchor
    assert!(verify_run(&dir, &other.public()).unwrap().ok());

    // same key id, different key material
    let impostor = PublicKey {
        key_id: other.public().key_id,
        bytes: key.public().bytes,
    };
    let r = verify_run(&dir, &impostor).unwrap();
    assert!(mentions(&r, &format!("{DSSE}: signature by key")), "{:?}", r.problems);
    assert!(
        mentions(&r, &format!("{MINISIG}: signature does not match")),
        "{:?}",
        r.problems
    );
}

#[test]
fn swapped_signature_files_between_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let pk = key.public();
    let (a, _) = make_run(tmp.path(), "ra", "1", None, &key);
    let (b, _) = make_run(tmp.path(), "rb", "2", None, &key);
    for name in [DSSE, MINISIG] {
        let x = fs::read(a.join(name)).unwrap();
        let y = fs::read(b.join(name)).unwrap();
        fs::write(a.join(name), y).unwrap();
        fs::write(b.join(name), x).unwrap();
    }
    for dir in [&a, &b] {
        let r = verify_run(dir, &pk).unwrap();
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(mentions(
            &r,
            &format!("{DSSE}: the signed payload is not manifest.json")
        ));
        assert!(mentions(&r, &format!("{MINISIG}: signature does not match")));
    }
    // swapping the whole evidence (manifest too) moves the mismatch to the files
    for name in [MANIFEST, DSSE, MINISIG] {
        let x = fs::read(a.join(name)).unwrap();
        let y = fs::read(b.join(name)).unwrap();
        fs::write(a.join(name), y).unwrap();
        fs::write(b.join(name), x).unwrap();
    }
    let r = verify_run(&a, &pk).unwrap();
    assert!(mentions(&r, "findings.parquet: sha256 mismatch"), "{:?}", r.problems);
    assert!(mentions(&r, "run.json: sha256 mismatch"), "{:?}", r.problems);
}

#[test]
fn statement_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let pk = key.public();
    let dir = tmp.path().join("r");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("a.txt"), b"a").unwrap();
    // a hand-made, correctly signed manifest with bad content
    let manifest = crate::evidence::manifest::to_canonical_bytes(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "other",
        "predicate": {"signing_key_id": key.key_id_hex()},
        "subject": [
            {"name": "../etc/passwd", "digest": {"sha256": sha256_hex(b"a")}},
            {"name": "a.txt", "digest": {"sha256": "XYZ"}},
            // 64 digits but upper case; lower-case hex but short
            {"name": "b.txt", "digest": {"sha256": "AB".repeat(32)}},
            {"name": "c.txt", "digest": {"sha256": "abc"}},
            {"digest": {"sha256": sha256_hex(b"a")}},
        ]
    }));
    fs::write(dir.join(MANIFEST), &manifest).unwrap();
    fs::write(
        dir.join(DSSE),
        serde_json::to_vec(&dsse::sign_envelope(&key, &manifest)).unwrap(),
    )
    .unwrap();
    fs::write(dir.join(MINISIG), minisign::sign(&key, &manifest, "x")).unwrap();
    let r = verify_run(&dir, &pk).unwrap();
    let all: Vec<&str> = r.problems.iter().map(|p| p.what.as_str()).collect();
    assert!(
        mentions(&r, "_type is \"https://in-toto.io/Statement/v0.1\""),
        "{all:?}"
    );
    assert!(mentions(&r, "predicateType is \"other\""), "{all:?}");
    assert!(mentions(&r, "invalid name \"../etc/passwd\""), "{all:?}");
    assert!(mentions(&r, "a.txt has no valid sha256"), "{all:?}");
    assert!(mentions(&r, "b.txt has no valid sha256"), "{all:?}");
    assert!(mentions(&r, "c.txt has no valid sha256"), "{all:?}");
    assert!(mentions(&r, "subject 4 has no name"), "{all:?}");
    assert!(mentions(&r, "a.txt: file not listed"), "{all:?}");
    assert_eq!(r.checked_files, 0);
    assert!(!mentions(&r, DSSE) && !mentions(&r, MINISIG), "{all:?}");
}

/// Three chained runs in `reports/`.
fn three_runs(reports: &Path, key: &SigningKey) -> [(PathBuf, String); 3] {
    let a = make_run(reports, "run-a", "2024-01-01T00:00:00Z", None, key);
    let b = make_run(reports, "run-b", "2024-01-02T00:00:00Z", Some(&a.1), key);
    let c = make_run(reports, "run-c", "2024-01-03T00:00:00Z", Some(&b.1), key);
    [a, b, c]
}

fn chain_problems(reports: &[Report]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| r.problems.iter().map(|p| p.what.clone()))
        .collect()
}

#[test]
fn intact_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let runs = three_runs(tmp.path(), &key);
    // ignored: dot folders, plain files, folders without a manifest
    fs::create_dir_all(tmp.path().join(".staging-run-d")).unwrap();
    fs::write(tmp.path().join(".staging-run-d/manifest.json"), b"{}").unwrap();
    fs::create_dir_all(tmp.path().join("notes")).unwrap();
    fs::write(tmp.path().join("README"), b"x").unwrap();
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    assert_eq!(reports.len(), 3);
    for (r, (dir, _)) in reports.iter().zip(&runs) {
        assert_eq!(&r.run_dir, dir);
        assert!(r.ok(), "{:?}", r.problems);
    }
    let empty = tempfile::tempdir().unwrap();
    assert!(verify_chain(empty.path(), &key.public()).unwrap().is_empty());
}

#[test]
fn chain_with_middle_run_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let [_, (b, b_sha), _] = three_runs(tmp.path(), &key);
    fs::remove_dir_all(&b).unwrap();
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports[0].ok());
    let p = chain_problems(&reports);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("run run-c: links to a missing run"), "{p:?}");
    assert!(p[0].contains(&b_sha) && p[0].contains("run run-a"), "{p:?}");
}

#[test]
fn chain_with_middle_run_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let [(_, a_sha), (b, b_sha), _] = three_runs(tmp.path(), &key);
    // re-made with different content, correctly signed, linked to run-a
    fs::remove_dir_all(&b).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(b.join("findings.parquet"), b"nothing to see").unwrap();
    let b2_sha = seal(
        &b,
        "run-b",
        json!({
            "run_id": "run-b",
            "started_at": "2024-01-02T00:00:00Z",
            "previous_manifest_sha256": a_sha,
        }),
        &key,
    )
    .unwrap();
    assert_ne!(b_sha, b2_sha);
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    assert!(reports[0].ok() && reports[1].ok(), "{:?}", chain_problems(&reports));
    let p = chain_problems(&reports);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("run run-c: links to a missing run"), "{p:?}");
    assert!(p[0].contains(&b_sha) && p[0].contains(&b2_sha), "{p:?}");
    assert!(p[0].contains("run run-b was replaced"), "{p:?}");
}

#[test]
fn chain_first_run_removed_and_reordered() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let [(a, a_sha), _, _] = three_runs(tmp.path(), &key);
    fs::remove_dir_all(&a).unwrap();
    let p = chain_problems(&verify_chain(tmp.path(), &key.public()).unwrap());
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("run run-b: first run links to a missing run"), "{p:?}");
    assert!(p[0].contains(&a_sha), "{p:?}");

    // reordered: run-y claims to start after run-z but run-z links to it
    let tmp = tempfile::tempdir().unwrap();
    let (_, x) = make_run(tmp.path(), "run-x", "2024-01-01", None, &key);
    let (_, y) = make_run(tmp.path(), "run-y", "2024-01-09", Some(&x), &key);
    make_run(tmp.path(), "run-z", "2024-01-03", Some(&y), &key);
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    let order: Vec<String> = reports
        .iter()
        .map(|r| r.run_dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(order, ["run-x", "run-z", "run-y"]);
    let p = chain_problems(&reports);
    assert!(
        p.iter().any(|m| m.starts_with("run run-z: links to run run-y")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.starts_with("run run-y: links to run run-x")),
        "{p:?}"
    );
}

#[test]
fn chain_restart_copy_and_tampered_member() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let [(a, _), _, (c, _)] = three_runs(tmp.path(), &key);
    // a run that starts a new chain in the middle
    make_run(tmp.path(), "run-b2", "2024-01-02T12:00:00Z", None, &key);
    // a copy of run-a under another name
    let copy = tmp.path().join("run-a-copy");
    fs::create_dir_all(copy.join("sub")).unwrap();
    for name in DATA_FILES.iter().chain(EVIDENCE_FILES.iter()) {
        fs::copy(a.join(name), copy.join(name)).unwrap();
    }
    // tampered data in run-c
    fs::write(c.join("run.json"), b"{}").unwrap();
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    let p = chain_problems(&reports);
    assert!(
        p.iter().any(|m| m.contains("is identical to that of run run-a")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("run id run-a appears in two folders")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("run run-b2: previous_manifest_sha256 is null")),
        "{p:?}"
    );
    assert!(p.iter().any(|m| m.starts_with("run.json: sha256 mismatch")), "{p:?}");
    let c_report = reports.iter().find(|r| r.run_dir == c).unwrap();
    assert!(!c_report.ok());
}

/// A trusted checkpoint in `reports` that lists `pruned` (oldest first) as
/// removed by a prune.
fn write_checkpoint(reports: &Path, pruned: &[(&str, &str, &str, Option<&str>)], key: &SigningKey) {
    use crate::evidence::checkpoint::{self, Checkpoint, PrunedRun};
    let pruned = pruned
        .iter()
        .map(|&(run_id, started_at, sha, previous)| PrunedRun {
            run_id: run_id.into(),
            started_at: started_at.into(),
            manifest_sha256: sha.into(),
            previous_manifest_sha256: previous.map(String::from),
        })
        .collect();
    let c = Checkpoint {
        pruned,
        written_at: "2024-02-01T00:00:00Z".into(),
        signing_key_id: key.key_id_hex(),
    };
    checkpoint::write(reports, &c, key).unwrap();
}

fn folders(reports: &[Report]) -> Vec<String> {
    reports
        .iter()
        .map(|r| r.run_dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_checkpoint_stands_for_the_runs_it_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let [(a, a_sha), _, _] = three_runs(tmp.path(), &key);
    write_checkpoint(tmp.path(), &[("run-a", "2024-01-01T00:00:00Z", &a_sha, None)], &key);

    // an interrupted prune: run-a is listed and still there; it is left out
    // of the chain, and run-b, which the checkpoint does not list, chains to it
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    assert_eq!(
        folders(&reports),
        [crate::evidence::checkpoint::CHECKPOINT, "run-b", "run-c"]
    );
    assert!(chain_problems(&reports).is_empty(), "{:?}", chain_problems(&reports));

    // the prune finished: the first kept run links to the checkpoint's last manifest
    fs::remove_dir_all(&a).unwrap();
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    assert_eq!(
        folders(&reports),
        [crate::evidence::checkpoint::CHECKPOINT, "run-b", "run-c"]
    );
    assert!(chain_problems(&reports).is_empty(), "{:?}", chain_problems(&reports));
}

#[test]
fn a_chain_restarted_after_a_checkpoint_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let (a, a_sha) = make_run(tmp.path(), "run-a", "2024-01-01T00:00:00Z", None, &key);
    write_checkpoint(tmp.path(), &[("run-a", "2024-01-01T00:00:00Z", &a_sha, None)], &key);
    fs::remove_dir_all(&a).unwrap();
    // the first kept run starts a new chain instead of linking to run-a
    make_run(tmp.path(), "run-b", "2024-01-02T00:00:00Z", None, &key);
    let p = chain_problems(&verify_chain(tmp.path(), &key.public()).unwrap());
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("run run-b: previous_manifest_sha256 is null, but the checkpoint of pruned runs ends with"),
        "{p:?}"
    );
    assert!(p[0].contains(&a_sha), "{p:?}");
}

#[test]
fn a_first_run_linking_to_a_later_one_was_reordered() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    // run-x was sealed first; run-y links to it but claims an earlier start
    let (_, x_sha) = make_run(tmp.path(), "run-x", "2024-01-05T00:00:00Z", None, &key);
    make_run(tmp.path(), "run-y", "2024-01-01T00:00:00Z", Some(&x_sha), &key);
    let reports = verify_chain(tmp.path(), &key.public()).unwrap();
    assert_eq!(folders(&reports), ["run-y", "run-x"]);
    let p = chain_problems(&reports);
    assert!(
        p.iter().any(
            |m| m.starts_with("run run-y: first run by started_at, but it links to run run-x")
                && m.ends_with("which starts later: runs were reordered")
        ),
        "{p:?}"
    );
    assert!(!p.iter().any(|m| m.contains("links to itself")), "{p:?}");
}
