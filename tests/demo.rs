//! End to end on the bundled demo and on freshly generated pairs: the set of
//! findings equals the generator's ground truth exactly.

use crate::util::*;
use recon::generate::{generate, read_truth, Config};

#[test]
fn demo_findings_equal_ground_truth_and_exit_follows_fail() {
    let env = Env::new();
    let spec = project_root().join("rules/callcenter-crm.toml");
    let out = env.run(&spec, "demo1");
    assert_eq!(code(&out), 1, "the demo has error findings: {}", stderr(&out));
    let run = env.reports().join("demo1");
    let truth = read_truth(&project_root().join("fixtures/ground_truth.jsonl")).unwrap();
    assert!(truth.len() > 40, "ground truth is substantial: {}", truth.len());
    assert_same(&finding_set(&run), &truth);
    for f in [
        "findings.parquet",
        "summary.json",
        "manifest.json",
        "manifest.dsse.json",
        "manifest.json.minisig",
    ] {
        assert!(run.join(f).is_file(), "{f} exists");
    }
    let err = stderr(&out);
    assert!(err.contains("customer:") && err.contains("coverage left:"), "{err}");
}

#[test]
fn committed_fixtures_are_what_the_generator_makes() {
    let dir = tempfile::tempdir().unwrap();
    generate(
        dir.path(),
        &Config {
            seed: 42,
            customers: 60,
        },
    )
    .unwrap();
    for f in [
        "ground_truth.jsonl",
        "callcenter/customers.csv",
        "callcenter/calls.csv",
        "callcenter/tickets.csv",
        "crm/cases.csv",
        "crm/activities.ndjson",
    ] {
        let a = std::fs::read(dir.path().join(f)).unwrap();
        let b = std::fs::read(project_root().join("fixtures").join(f)).unwrap();
        assert!(
            a == b,
            "fixtures/{f} differs from `recon generate --seed 42 --customers 60`"
        );
    }
}

#[test]
fn generated_pair_with_other_seed_and_thousands_of_rows() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let g = generate(
        &env.path().join("fixtures"),
        &Config {
            seed: 7,
            customers: 1500,
        },
    )
    .unwrap();
    let out = env.run(&spec, "big");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("big");
    assert!(g.truth.0.len() > 300, "{}", g.truth.0.len());
    assert_same(&finding_set(&run), &g.truth.0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert!(summary["entities"]["interaction"]["left"]["rows"].as_u64().unwrap() > 4000);
    assert!(summary["entities"]["agent_account"]["left"]["rows"].as_u64().unwrap() > 1000);
    assert_coverage_adds_up(&run);
    // The same pair in buckets: the same findings, word for word.
    let out = env.run_in(&spec, &env.reports(), "big-buckets", &["--buckets", "3"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = |run: &std::path::Path| {
        let df = read_parquet(&run.join("findings.parquet"));
        let cols = ["finding_id", "detail", "left_value", "right_value"].map(|c| strings(&df, c));
        let mut rows: Vec<Vec<Option<String>>> = (0..df.height())
            .map(|i| cols.iter().map(|c| c[i].clone()).collect())
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(rows(&run), rows(&env.reports().join("big-buckets")));
}

#[test]
fn coverage_adds_up_on_the_demo() {
    let env = Env::new();
    let out = env.run(&project_root().join("rules/callcenter-crm.toml"), "cov");
    assert_eq!(code(&out), 1);
    assert_coverage_adds_up(&env.reports().join("cov"));
}

#[test]
fn passing_run_exits_zero_and_json_goes_to_stdout() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        spec_keyed_by_id("  [[entity.field]]\n  name = \"amount\"\n  type = \"decimal(10,2)\"\n"),
    );
    env.write("l.csv", "id,amount\n1,1.50\n2,2\n");
    env.write("r.csv", "id,amount\n2,2.00\n1,1.5\n");
    let reports = env.reports();
    let out = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
        "--run-id",
        "ok",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is summary.json");
    assert_eq!(v["run_id"], "ok");
    assert_eq!(v["totals"]["total"], 0);
    assert!(stderr(&out).contains("created signing key"), "{}", stderr(&out));
}

#[test]
fn human_summary_reads_well() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n[[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = { path = \"l.csv\" }\nright = { path = \"r.csv\" }\n[[entity.field]]\nname = \"id\"\n[[entity.field]]\nname = \"v\"\n",
    );
    env.write("l.csv", "id,v\n1,a\n2,b\n3,c\n");
    env.write("r.csv", "id,v\n1,a\n2,x\n4,d\n");
    std::fs::create_dir_all(env.home().join("recon")).unwrap();
    let first = env.recon(&["keygen"]);
    assert_eq!(code(&first), 0);
    let out = env.run(&spec, "snap");
    assert_eq!(code(&out), 1);
    let text = stderr(&out).replace(env.reports().to_str().unwrap(), "[REPORTS]");
    let expected = "\
recon snap — 3 finding(s) — FAIL
  e: 3 left / 3 right rows, 2 matched, 3 finding(s) (drift.missing_left=1, drift.missing_right=1, drift.value_mismatch=1)
    coverage left: 3 read = 2 matched + 1 missing on other side + 0 duplicate key + 0 paired with duplicate + 0 null key + 0 unconvertible key; 1 field(s) compared per matched row
    coverage right: 3 read = 2 matched + 1 missing on other side + 0 duplicate key + 0 paired with duplicate + 0 null key + 0 unconvertible key; 1 field(s) compared per matched row
  baseline: none: first run
  threshold hit: e: 1 drift.missing_left finding(s) at or above severity error
  threshold hit: e: 1 drift.missing_right finding(s) at or above severity error
  threshold hit: e: 1 drift.value_mismatch finding(s) at or above severity error
  run folder: [REPORTS]/snap
";
    assert_eq!(text, expected);
}

#[test]
fn csv_dialects_and_text_columns_never_change_by_inference() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        r#"
[run]
name = "t"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.tsv", delimiter = "\t", quote = "'" }
right = { path = "r.ndjson" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "code"
  [[entity.field]]
  name = "amount"
  type = "decimal(20,2)"
"#,
    );
    env.write(
        "l.tsv",
        "\u{feff}id\tcode\tamount\n007\t'6212261234567890123'\t12345678901234567.80\n008\t1E+10\t0.1\n009\t'a\tb'\t1\n",
    );
    env.write(
        "r.ndjson",
        "{\"id\":\"007\",\"code\":\"6212261234567890123\",\"amount\":\"12345678901234567.8\"}\n{\"id\":\"008\",\"code\":\"1E+10\",\"amount\":0.10}\n{\"id\":\"009\",\"code\":\"a\\tb\",\"amount\":1.00}\n",
    );
    let out = env.run(&spec, "r");
    assert_eq!(
        code(&out),
        0,
        "leading zeros, 19-digit codes, 1E+10 and quoted tabs survive: {}",
        stderr(&out)
    );
    assert!(finding_set(&env.reports().join("r")).is_empty());
}
