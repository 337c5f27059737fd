//! `recon prune`: old runs removed, a signed checkpoint left, and
//! `verify --chain` passing across the gap while still catching a removed,
//! altered or reordered run, a tampered checkpoint, and (with `--latest`)
//! a removed newest run.

use crate::util::*;

fn verify(env: &Env, args: &[&str]) -> (i32, String) {
    let o = env.recon(&[&["verify"], args].concat());
    (code(&o), stderr(&o))
}

/// Four nightly runs of the demo into `reports/`.
fn four_runs(env: &Env) -> String {
    let spec = copy_demo(env.path());
    for id in ["r1", "r2", "r3", "r4"] {
        let o = env.run(&spec, id);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
    }
    env.reports().to_str().unwrap().to_string()
}

#[test]
fn pruned_chains_still_verify_and_every_later_change_is_caught() {
    let env = Env::new();
    let reports = four_runs(&env);
    let o = env.recon(&["prune", "--out", &reports, "--keep", "2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("pruned 2 run(s) (r1, r2)"), "{}", stderr(&o));
    assert!(stderr(&o).contains("; 2 kept;"), "{}", stderr(&o));
    assert_eq!(report_entries(&env), ["r3", "r4"]);
    let (c, err) = verify(&env, &[&reports, "--chain", "--latest", "r4"]);
    assert_eq!(c, 0, "{err}");
    assert!(err.contains(".recon-checkpoint.json (2 files)"), "{err}");

    // A second prune appends to the checkpoint; the chain still verifies.
    // A folder that is not a run (notes someone keeps there) is left alone.
    env.write("reports/notes/readme.txt", "not a run");
    let o = env.recon(&["prune", "--out", &reports, "--keep", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("; 1 kept;"), "{}", stderr(&o));
    assert!(env.reports().join("notes/readme.txt").exists());
    std::fs::remove_dir_all(env.reports().join("notes")).unwrap();
    let (c, err) = verify(&env, &[&reports, "--chain", "--latest", "r4"]);
    assert_eq!(c, 0, "{err}");
    // A run after the prune links to the newest kept run, as always.
    let spec = env.path().join("rules/callcenter-crm.toml");
    let o = env.run(&spec, "r5");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let (c, err) = verify(&env, &[&reports, "--chain", "--latest", "r5"]);
    assert_eq!(c, 0, "{err}");

    // The newest run removed: only --latest can tell.
    let r5 = env.reports().join("r5");
    let kept = env.path().join("r5-moved");
    std::fs::rename(&r5, &kept).unwrap();
    let (c, _) = verify(&env, &[&reports, "--chain"]);
    assert_eq!(c, 0, "the chain alone cannot see a removed newest run");
    let (c, err) = verify(&env, &[&reports, "--chain", "--latest", "r5"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("the newest run is r4, not r5"), "{err}");
    std::fs::rename(&kept, &r5).unwrap();

    // A kept run removed: its successor links to a missing run.
    let r4 = env.reports().join("r4");
    let moved = env.path().join("r4-moved");
    std::fs::rename(&r4, &moved).unwrap();
    let (c, err) = verify(&env, &[&reports, "--chain"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("links to a missing run"), "{err}");
    std::fs::rename(&moved, &r4).unwrap();

    // A kept run altered.
    let summary = r4.join("summary.json");
    let text = std::fs::read_to_string(&summary).unwrap();
    std::fs::write(&summary, text.replacen("\"failed\"", "\"passed\"", 1)).unwrap();
    let (c, err) = verify(&env, &[&reports, "--chain"]);
    assert_eq!(c, 1, "{err}");
    std::fs::write(&summary, text).unwrap();
    let (c, err) = verify(&env, &[&reports, "--chain"]);
    assert_eq!(c, 0, "{err}");

    // The checkpoint tampered with: its signature no longer verifies, and
    // the first kept run is no longer anchored.
    let cp = env.reports().join(".recon-checkpoint.json");
    let original = std::fs::read_to_string(&cp).unwrap();
    assert!(original.contains("r1"));
    std::fs::write(&cp, original.replacen("r1", "r0", 1)).unwrap();
    let (c, err) = verify(&env, &[&reports, "--chain"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains(".recon-checkpoint.json: signature"), "{err}");
    std::fs::write(&cp, &original).unwrap();
    // ...and removed: the first kept run links to a missing run.
    std::fs::remove_file(&cp).unwrap();
    let (c, err) = verify(&env, &[&reports, "--chain"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("first run links to a missing run"), "{err}");
}

#[test]
fn a_broken_chain_is_never_pruned_and_keep_days_keeps_the_newest() {
    let env = Env::new();
    let reports = four_runs(&env);
    // Every run started today: --keep-days 1 keeps them all.
    let o = env.recon(&["prune", "--out", &reports, "--keep-days", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("pruned 0 run(s)"), "{}", stderr(&o));
    assert_eq!(report_entries(&env).len(), 4);
    // --keep-days 0: everything is older than now, but the newest stays.
    let o = env.recon(&["prune", "--out", &reports, "--keep-days", "0"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report_entries(&env), ["r4"]);

    let env = Env::new();
    let reports = four_runs(&env);
    std::fs::remove_dir_all(env.reports().join("r2")).unwrap();
    let o = env.recon(&["prune", "--out", &reports, "--keep", "1"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("prune removes nothing from a broken chain"),
        "{}",
        stderr(&o)
    );
    assert_eq!(report_entries(&env), ["r1", "r3", "r4"]);
    let o = env.recon(&["prune", "--out", &reports]);
    assert_eq!(code(&o), 2, "--keep or --keep-days is required: {}", stderr(&o));
}

#[test]
fn a_prune_stopped_before_removing_its_runs_still_verifies_and_the_next_prune_finishes_it() {
    let env = Env::new();
    let reports = four_runs(&env);
    // Keep a copy of the two oldest runs, prune them, then put them back:
    // the state a prune leaves when it stops after writing its checkpoint.
    for id in ["r1", "r2"] {
        copy_dir(&env.reports().join(id), &env.path().join("saved").join(id));
    }
    let o = env.recon(&["prune", "--out", &reports, "--keep", "2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for id in ["r1", "r2"] {
        copy_dir(&env.path().join("saved").join(id), &env.reports().join(id));
    }
    let (c, err) = verify(&env, &[&reports, "--chain", "--latest", "r4"]);
    assert_eq!(c, 0, "runs the checkpoint lists are pending removals: {err}");
    let o = env.recon(&["prune", "--out", &reports, "--keep", "2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("pruned 2 run(s) (r1, r2)"), "{}", stderr(&o));
    assert_eq!(report_entries(&env), ["r3", "r4"]);
    let (c, err) = verify(&env, &[&reports, "--chain", "--latest", "r4"]);
    assert_eq!(c, 0, "{err}");
}
