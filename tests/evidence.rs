//! The evidence folder end to end through the CLI: a run verifies, every
//! tampering is caught and named, the chain detects removed or replaced
//! runs, keys are handled safely, and the real tools agree.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// Two CSV sides keyed by `id` with one compared field `v`.
const SPEC: &str = TWO_COLUMN_SPEC;

fn small(env: &Env) -> PathBuf {
    env.write("l.csv", "id,v\n1,a\n2,b\n");
    env.write("r.csv", "id,v\n1,a\n2,c\n");
    env.write("s.toml", SPEC)
}

fn verify(env: &Env, args: &[&str]) -> (i32, String) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let out = env.recon(&all);
    (code(&out), stderr(&out))
}

fn files(run: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_demo_run_verifies_and_every_flipped_byte_is_named() {
    let env = Env::new();
    assert_eq!(
        code(&env.run(&project_root().join("rules/callcenter-crm.toml"), "d")),
        1
    );
    let run = env.reports().join("d");
    let run_s = run.to_str().unwrap().to_string();
    let (c, err) = verify(&env, &[&run_s]);
    assert_eq!(c, 0, "{err}");
    assert!(err.contains("trusting key id"), "{err}");
    for name in files(&run) {
        let p = run.join(&name);
        let original = std::fs::read(&p).unwrap();
        let mut bytes = original.clone();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&p, &bytes).unwrap();
        let (c, err) = verify(&env, &[&run_s]);
        assert_eq!(c, 1, "flipping a byte of {name} must fail: {err}");
        assert!(err.contains(&name), "the failure names {name}: {err}");
        std::fs::write(&p, &original).unwrap();
    }
    assert_eq!(verify(&env, &[&run_s]).0, 0);
}

#[test]
fn deleted_added_and_resigned_files_are_detected() {
    let env = Env::new();
    let spec = small(&env);
    assert_eq!(code(&env.run(&spec, "r1")), 1);
    let run = env.reports().join("r1");
    let run_s = run.to_str().unwrap().to_string();
    // an added file
    std::fs::write(run.join("extra.txt"), "x").unwrap();
    let (c, err) = verify(&env, &[&run_s]);
    assert!(c == 1 && err.contains("extra.txt"), "{err}");
    std::fs::remove_file(run.join("extra.txt")).unwrap();
    // a deleted file
    let summary = std::fs::read(run.join("summary.json")).unwrap();
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let (c, err) = verify(&env, &[&run_s]);
    assert!(c == 1 && err.contains("summary.json"), "{err}");
    std::fs::write(run.join("summary.json"), summary).unwrap();
    // a manifest re-signed by another key: rerun the same spec with another key, swap its evidence in
    let other = env.path().join("other.key");
    let o = env.recon(&["keygen", "--out", other.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reports = env.path().join("other-reports");
    let o = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
        "--run-id",
        "r1",
        "--key",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    for f in [
        "manifest.json",
        "manifest.dsse.json",
        "manifest.json.minisig",
        "summary.json",
        "findings.parquet",
        "report.html",
    ] {
        std::fs::copy(reports.join("r1").join(f), run.join(f)).unwrap();
    }
    let (c, err) = verify(&env, &[&run_s]);
    assert_eq!(c, 1, "a folder signed by an untrusted key fails: {err}");
    // ...and verifies against that key when it is the trusted one
    let other_pub = env.path().join("recon.pub");
    let (c, err) = verify(&env, &[&run_s, "--pubkey", other_pub.to_str().unwrap()]);
    assert_eq!(c, 0, "{err}");
}

#[test]
fn swapped_signatures_between_runs_are_detected() {
    let env = Env::new();
    let spec = small(&env);
    assert_eq!(code(&env.run(&spec, "a")), 1);
    assert_eq!(code(&env.run(&spec, "b")), 1);
    let (a, b) = (env.reports().join("a"), env.reports().join("b"));
    for f in ["manifest.dsse.json", "manifest.json.minisig"] {
        let x = std::fs::read(a.join(f)).unwrap();
        std::fs::copy(b.join(f), a.join(f)).unwrap();
        let (c, err) = verify(&env, &[a.to_str().unwrap()]);
        assert!(c == 1 && err.contains(f), "{f}: {err}");
        std::fs::write(a.join(f), x).unwrap();
    }
}

#[test]
fn chain_detects_a_removed_or_replaced_middle_run_and_copies_still_verify() {
    let env = Env::new();
    let spec = small(&env);
    for id in ["r1", "r2", "r3"] {
        assert_eq!(code(&env.run(&spec, id)), 1);
    }
    let r3 = env.reports().join("r3");
    let (c, err) = verify(&env, &[r3.to_str().unwrap(), "--chain"]);
    assert_eq!(c, 0, "{err}");
    let m1 = std::fs::read_to_string(env.reports().join("r1/manifest.json")).unwrap();
    let m2 = std::fs::read_to_string(env.reports().join("r2/manifest.json")).unwrap();
    let h1 = hex::encode(ring::digest::digest(&ring::digest::SHA256, m1.as_bytes()));
    assert!(m2.contains(&h1), "r2 links to r1's manifest");
    assert!(!m1.contains("/tmp"), "no absolute paths in the manifest");

    // a copy elsewhere verifies on its own
    let copy = env.path().join("elsewhere/r2");
    copy_dir(&env.reports().join("r2"), &copy);
    assert_eq!(verify(&env, &[copy.to_str().unwrap()]).0, 0);

    // replaced: r2 re-made (re-signed, valid on its own) breaks r3's link
    let r2 = env.reports().join("r2");
    std::fs::rename(&r2, env.path().join("r2-orig")).unwrap();
    let o = env.run(&spec, "r2");
    assert_eq!(code(&o), 1);
    let (c, err) = verify(&env, &[r3.to_str().unwrap(), "--chain"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("r3") || err.contains("r2"), "{err}");

    // removed
    std::fs::remove_dir_all(&r2).unwrap();
    let (c, err) = verify(&env, &[r3.to_str().unwrap(), "--chain"]);
    assert_eq!(c, 1, "{err}");
}

#[test]
fn keys_are_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let key = env.path().join("k/recon.key");
    let o = env.recon(&["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let public = std::fs::read_to_string(env.path().join("k/recon.pub")).unwrap();
    assert!(
        public.starts_with("untrusted comment: minisign public key "),
        "{public}"
    );
    let o = env.recon(&["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "refuses to overwrite: {}", stderr(&o));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let spec = small(&env);
    let reports = env.reports();
    let o = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    assert!(report_entries(&env).is_empty());
    std::fs::write(&key, "garbage\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("recon.key"), "{}", stderr(&o));
}

#[test]
fn verify_of_something_that_is_not_a_run_folder() {
    let env = Env::new();
    let spec = small(&env);
    assert_eq!(code(&env.run(&spec, "r")), 1);
    let (c, err) = verify(&env, &[env.path().to_str().unwrap()]);
    assert_eq!(c, 2, "{err}");
    let (c, err) = verify(
        &env,
        &[
            env.reports().join("r").to_str().unwrap(),
            "--pubkey",
            "/nonexistent.pub",
        ],
    );
    assert_eq!(c, 2, "{err}");
}

#[test]
fn real_minisign_verifies_a_run_folder() {
    if !have("minisign") {
        eprintln!("note: minisign not installed; skipping (CI installs it)");
        return;
    }
    let env = Env::new();
    let spec = small(&env);
    assert_eq!(code(&env.run(&spec, "r")), 1);
    let run = env.reports().join("r");
    let public = env.home().join("recon/recon.pub");
    let o = Command::new("minisign")
        .args(["-Vm", "manifest.json", "-p", public.to_str().unwrap()])
        .current_dir(&run)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("recon run r"),
        "trusted comment names the run"
    );
}

#[test]
fn openssl_verifies_the_dsse_signature() {
    if !have("openssl") {
        eprintln!("note: openssl not installed; skipping");
        return;
    }
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = Env::new();
    let spec = small(&env);
    assert_eq!(code(&env.run(&spec, "r")), 1);
    let run = env.reports().join("r");
    let env_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.dsse.json")).unwrap()).unwrap();
    let payload = b64.decode(env_json["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        payload,
        std::fs::read(run.join("manifest.json")).unwrap(),
        "payload is manifest.json"
    );
    let ptype = env_json["payloadType"].as_str().unwrap();
    let mut pae = format!("DSSEv1 {} {} {} ", ptype.len(), ptype, payload.len()).into_bytes();
    pae.extend_from_slice(&payload);
    let sig = b64.decode(env_json["signatures"][0]["sig"].as_str().unwrap()).unwrap();
    let public = std::fs::read_to_string(env.home().join("recon/recon.pub")).unwrap();
    let raw = b64.decode(public.lines().nth(1).unwrap().trim()).unwrap();
    let mut der = hex::decode("302a300506032b6570032100").unwrap();
    der.extend_from_slice(&raw[raw.len() - 32..]);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64.encode(der)
    );
    let dir = env.path();
    std::fs::write(dir.join("pae.bin"), &pae).unwrap();
    std::fs::write(dir.join("sig.bin"), &sig).unwrap();
    std::fs::write(dir.join("pub.pem"), pem).unwrap();
    let o = Command::new("openssl")
        .args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "pae.bin", "-sigfile", "sig.bin",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_run_folder_without_its_manifest_is_invalid_evidence() {
    let env = Env::new();
    let spec = small(&env);
    assert_eq!(code(&env.run(&spec, "r")), 1);
    let run = env.reports().join("r");
    std::fs::remove_file(run.join("manifest.json")).unwrap();
    let (c, err) = verify(&env, &[run.to_str().unwrap()]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("manifest.json"), "{err}");
}
