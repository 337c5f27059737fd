//! `row_count` rules against the newest earlier passing run (the
//! baseline): consecutive runs, a fixed rerun, no earlier passing run.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{expect, quality_set, summary, HEAD};
use crate::util::*;

const COUNTED: &str = r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
severity = { missing_left = "info", missing_right = "info" }
  [[entity.field]]
  name = "id"
  [[entity.rule]]
  id = "volume"
  check = "row_count"
  max_change = 0.2
"#;

fn ids(n: usize) -> String {
    let mut s = "id\n".to_string();
    for i in 0..n {
        s.push_str(&format!("{i}\n"));
    }
    s
}

fn counted_env() -> (Env, PathBuf) {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{COUNTED}"));
    (env, spec)
}

#[test]
fn row_count_across_two_consecutive_runs() {
    let (env, spec) = counted_env();
    env.write("l.csv", ids(10));
    env.write("r.csv", ids(10));
    let out = env.run(&spec, "day1");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s1 = summary(&env.reports().join("day1"));
    assert_eq!(
        s1["baseline"],
        serde_json::json!({ "run_id": null, "reason": "none: first run" })
    );
    assert_eq!(
        s1["entities"]["e"]["quality"]["rules"]["volume"]["observed"]["left"]["status"],
        "no baseline: first run"
    );
    assert!(stderr(&out).contains("baseline: none: first run"), "{}", stderr(&out));

    // Night two: the left export lost 30% of its rows, the right grew 10%.
    env.write("l.csv", ids(7));
    env.write("r.csv", ids(11));
    let out = env.run(&spec, "day2");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("day2");
    assert_eq!(quality_set(&run), expect(&[("volume", "left", "{}")]));
    let s2 = summary(&run);
    assert_eq!(
        s2["baseline"],
        serde_json::json!({ "run_id": "day1", "reason": "newest earlier passing run" })
    );
    let obs = &s2["entities"]["e"]["quality"]["rules"]["volume"]["observed"];
    assert_eq!(obs["left"]["rows"], 7);
    assert_eq!(obs["left"]["baseline_rows"], 10);
    assert_eq!(obs["right"]["status"], "ok");
    let df = read_parquet(&run.join("findings.parquet"));
    let [detail, kind, lv] = ["detail", "kind", "left_value"].map(|c| strings(&df, c));
    let i = (0..df.height())
        .find(|&i| kind[i].as_deref() == Some("row_count"))
        .unwrap();
    assert_eq!(lv[i].as_deref(), Some("7"));
    assert_eq!(
        detail[i].as_deref(),
        Some("left side has 7 rows, baseline run day1 had 10 (-30.0%, allowed ±20.0%)")
    );
}

#[test]
fn a_fixed_rerun_compares_with_the_last_good_run_not_the_bad_one() {
    let (env, spec) = counted_env();
    env.write("l.csv", ids(10));
    env.write("r.csv", ids(10));
    let good = env.run(&spec, "good");
    assert_eq!(code(&good), 0, "{}", stderr(&good));

    // A broken export: half the rows are gone.
    env.write("l.csv", ids(5));
    let bad = env.run(&spec, "bad");
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
    assert_eq!(summary(&env.reports().join("bad"))["baseline"]["run_id"], "good");

    // The export is fixed and the job rerun: against `bad` this would look
    // like +100% and fail again; the baseline is the last passing run.
    env.write("l.csv", ids(10));
    let rerun = env.run(&spec, "rerun");
    assert_eq!(code(&rerun), 0, "{}", stderr(&rerun));
    let s = summary(&env.reports().join("rerun"));
    assert_eq!(
        s["baseline"],
        serde_json::json!({ "run_id": "good", "reason": "newest earlier passing run" })
    );
    assert_eq!(s["previous_run"], "bad", "the hash chain still links the newest run");
    assert_eq!(quality_set(&env.reports().join("rerun")), BTreeSet::new());

    // --prev overrides the choice, even with a failed run.
    let reports = env.reports();
    let prev = reports.join("bad");
    let out = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
        "--run-id",
        "forced",
        "--prev",
        prev.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let s = summary(&reports.join("forced"));
    assert_eq!(
        s["baseline"],
        serde_json::json!({ "run_id": "bad", "reason": "--prev" })
    );
    assert_eq!(
        quality_set(&reports.join("forced")),
        expect(&[("volume", "left", "{}")])
    );
}

#[test]
fn without_an_earlier_passing_run_there_is_no_baseline() {
    let (env, spec) = counted_env();
    env.write("l.csv", ids(10));
    env.write("r.csv", ids(10));
    let failing = env.write(
        "fail.toml",
        format!("{HEAD}{COUNTED}  [[entity.rule]]\n  id = \"never\"\n  check = \"pattern\"\n  field = \"id\"\n  pattern = \"x\"\n"),
    );
    assert_eq!(code(&env.run(&failing, "f1")), 1);
    let out = env.run(&spec, "f2");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        summary(&env.reports().join("f2"))["baseline"],
        serde_json::json!({ "run_id": null, "reason": "none: no earlier run passed" })
    );
}
