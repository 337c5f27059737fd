//! Keys are never created silently: a run without keys is exit 2 and
//! creates nothing; `recon keygen` makes both keys; `--create-keys` is the
//! explicit first try; keys named by RECON_SIGNING_KEY_FILE and
//! RECON_TOKEN_KEY_FILE (mounted secrets) are used as they are.

use crate::util::*;

#[test]
fn a_run_without_keys_is_exit_2_and_creates_nothing_until_told() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let reports = env.reports();
    let run = |extra: &[&str], create: &str| {
        env.command(
            &[
                &["run", spec.to_str().unwrap(), "--out", reports.to_str().unwrap()],
                extra,
            ]
            .concat(),
        )
        .env("RECON_CREATE_KEYS", create)
        .output()
        .unwrap()
    };
    let o = run(&["--run-id", "none"], "0");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("no signing key"), "{}", stderr(&o));
    assert!(stderr(&o).contains("recon keygen"), "{}", stderr(&o));
    assert!(!env.home().join("recon").exists(), "no key was created");
    assert!(report_entries(&env).is_empty(), "no run folder");

    // `recon keygen` makes the signing key, recon.pub and the token key.
    let o = env.recon(&["keygen"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for f in ["recon.key", "recon.pub", "token.key"] {
        assert!(env.home().join("recon").join(f).exists(), "{f}");
    }
    let token = std::fs::read(env.home().join("recon/token.key")).unwrap();
    let o = run(&["--run-id", "k1"], "0");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!stderr(&o).contains("created"), "{}", stderr(&o));
    // A second keygen refuses to replace the signing key and keeps the token key.
    let o = env.recon(&["keygen"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(std::fs::read(env.home().join("recon/token.key")).unwrap(), token);
}

#[test]
fn create_keys_is_the_explicit_first_try_and_mounted_keys_are_used_as_named() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let reports = env.reports();
    let o = env.recon_with(
        &[
            "run",
            spec.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "c1",
            "--create-keys",
        ],
        &[("RECON_CREATE_KEYS", "0")],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("created signing key"), "{}", stderr(&o));
    assert!(stderr(&o).contains("created token key"), "{}", stderr(&o));

    // Keys mounted elsewhere, named by the *_FILE variables.
    let mounted = env.path().join("secrets");
    std::fs::create_dir_all(&mounted).unwrap();
    for f in ["recon.key", "recon.pub", "token.key"] {
        std::fs::rename(env.home().join("recon").join(f), mounted.join(f)).unwrap();
    }
    let key_file = mounted.join("recon.key");
    let token_file = mounted.join("token.key");
    let o = env.recon_with(
        &[
            "run",
            spec.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "c2",
        ],
        &[
            ("RECON_CREATE_KEYS", "0"),
            ("RECON_SIGNING_KEY_FILE", key_file.to_str().unwrap()),
            ("RECON_TOKEN_KEY_FILE", token_file.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        !env.home().join("recon/recon.key").exists(),
        "nothing created at the default place"
    );
    // The same token key: the findings of personal fields keep their ids.
    let ids = |run: &str| {
        let df = read_parquet(&reports.join(run).join("findings.parquet"));
        strings(&df, "finding_id")
            .into_iter()
            .flatten()
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(ids("c1"), ids("c2"));
    let o = env.recon(&[
        "verify",
        reports.to_str().unwrap(),
        "--chain",
        "--pubkey",
        mounted.join("recon.pub").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// A trusted-keys file (TOML) of `(public key file, valid_from, valid_until)`.
fn trusted_keys(env: &Env, name: &str, keys: &[(&std::path::Path, Option<&str>, Option<&str>)]) -> String {
    let mut text = String::new();
    for (pub_file, from, until) in keys {
        let b64 = std::fs::read_to_string(pub_file)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string();
        text.push_str(&format!("[[key]]\npublic_key = \"{b64}\"\n"));
        if let Some(f) = from {
            text.push_str(&format!("valid_from = {f}\n"));
        }
        if let Some(u) = until {
            text.push_str(&format!("valid_until = {u}\n"));
        }
    }
    env.write(name, text).to_str().unwrap().to_string()
}

#[test]
fn a_chain_across_a_key_rotation_verifies_with_the_trusted_keys_file_only() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let reports = env.reports();
    let o = env.run(&spec, "old");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // The signing key is rotated: the next run signs with a new key.
    let new_key = env.path().join("rotated/recon.key");
    let o = env.recon(&["keygen", "--out", new_key.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = env.run_in(&spec, &reports, "new", &["--key", new_key.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let old_pub = env.home().join("recon/recon.pub");
    let new_pub = env.path().join("rotated/recon.pub");
    let r = reports.to_str().unwrap();

    // One key cannot vouch for both halves of the chain.
    let o = env.recon(&["verify", r, "--chain", "--pubkey", old_pub.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // Both keys, each for its days: the whole chain verifies.
    let today = chrono::Utc::now().date_naive().to_string();
    let both = trusted_keys(
        &env,
        "trusted.toml",
        &[(&old_pub, None, Some(&today)), (&new_pub, Some(&today), None)],
    );
    let o = env.recon(&["verify", r, "--chain", "--trusted-keys", &both, "--latest", "new"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The old key retired before the day it signed: refused, saying why.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let retired = trusted_keys(
        &env,
        "retired.toml",
        &[(&old_pub, None, Some(&yesterday)), (&new_pub, None, None)],
    );
    let o = env.recon(&["verify", r, "--chain", "--trusted-keys", &retired]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("outside the days it is trusted for"),
        "{}",
        stderr(&o)
    );
    // A key missing from the file: named as untrusted.
    let only_new = trusted_keys(&env, "new.toml", &[(&new_pub, None, None)]);
    let o = env.recon(&["verify", r, "--chain", "--trusted-keys", &only_new]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("which is not a trusted key"), "{}", stderr(&o));
    // A file that is not one is exit 2.
    let bad = env.write("bad.toml", "[[key]]\npublic_key = \"not base64\"\n");
    let o = env.recon(&["verify", r, "--chain", "--trusted-keys", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn a_changed_token_key_is_flagged_and_restarts_change_detection_without_false_conflicts() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let reports = env.reports();
    let key_a = "11".repeat(32);
    let key_b = "22".repeat(32);
    let run = |folder: &std::path::Path, id: &str, key: &str| {
        env.recon_with(
            &[
                "run",
                spec.to_str().unwrap(),
                "--out",
                folder.to_str().unwrap(),
                "--run-id",
                id,
            ],
            &[("RECON_TOKEN_KEY", key)],
        )
    };
    let summary = |folder: &std::path::Path, id: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(folder.join(id).join("summary.json")).unwrap()).unwrap()
    };
    let o = run(&reports, "a1", &key_a);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let first = summary(&reports, "a1");
    assert_eq!(first["token_key_id"].as_str().map(str::len), Some(16));
    assert!(first.get("token_key_changed").is_none());

    // The next night runs with another token key: said loudly, and the
    // previous state is not used, so no change shows on both sides at once.
    let o = run(&reports, "b1", &key_b);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("WARNING: the token key"), "{}", stderr(&o));
    let changed = summary(&reports, "b1");
    assert_eq!(changed["token_key_changed"], true);
    assert_ne!(changed["token_key_id"], first["token_key_id"]);
    // The repairs are those of a first run under the new key: nothing
    // reported as changed since a base that no longer compares.
    let fresh = env.path().join("fresh");
    let o = run(&fresh, "f1", &key_b);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(changed["repairs"], summary(&fresh, "f1")["repairs"]);
    assert_eq!(changed["changes"], summary(&fresh, "f1")["changes"]);

    // The same key again: nothing to flag.
    let o = run(&reports, "b2", &key_b);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!stderr(&o).contains("WARNING: the token key"), "{}", stderr(&o));
    assert!(summary(&reports, "b2").get("token_key_changed").is_none());
}
