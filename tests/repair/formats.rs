//! Which files hold the instructions (issue 36): repairs.parquet by
//! default, repairs.jsonl only when asked (`--repairs-format`, `[run]
//! repairs_format`), the same rows when both are written, and `recon apply`
//! reading a run folder with either.

use std::path::Path;

use super::{parquet_repairs, Json, SMALL};
use crate::util::*;

/// A left side with drift against the right (the authority, `b`): one
/// update, one insert.
fn small_with_drift(spec_text: &str) -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let spec = env.write("s.toml", spec_text);
    env.write("l.csv", "id,name,amount\n1,a,1.00\n2,b,2.00\n");
    env.write("r.csv", "id,name,amount\n1,a,1.50\n2,b,2.00\n3,c,3.00\n");
    (env, spec)
}

fn small_spec() -> String {
    SMALL.replace("DELETES", "")
}

/// The `subject` names of a run's manifest.json.
fn subjects(run_dir: &Path) -> Vec<String> {
    let manifest: Json =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap();
    manifest["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn jsonl_repairs(run_dir: &Path) -> Vec<Json> {
    std::fs::read_to_string(run_dir.join("repairs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Which of the two instruction files a run folder holds.
fn tables(run_dir: &Path) -> (bool, bool) {
    (
        run_dir.join("repairs.parquet").is_file(),
        run_dir.join("repairs.jsonl").is_file(),
    )
}

#[test]
fn a_default_run_writes_repairs_parquet_and_no_repairs_jsonl() {
    let (env, spec) = small_with_drift(&small_spec());
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("r1");
    assert_eq!(tables(&run), (true, false));
    let names = subjects(&run);
    assert!(names.contains(&"repairs.parquet".to_string()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("repairs.jsonl") || n.ends_with(".csv")),
        "{names:?}"
    );
    assert!(
        stderr(&out).contains("repairs: 4 instruction(s) in repairs.parquet ("),
        "{}",
        stderr(&out)
    );
    assert_eq!(parquet_repairs(&run).len(), 4);
    let v = env.recon(&["verify", run.to_str().unwrap()]);
    assert_eq!(code(&v), 0, "{}", stderr(&v));
}

#[test]
fn repairs_format_both_writes_the_same_rows_twice_and_seals_both() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let out = env.run_in(&spec, &env.reports(), "r1", &["--repairs-format", "both"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("r1");
    assert_eq!(tables(&run), (true, true));
    let (parquet, jsonl) = (parquet_repairs(&run), jsonl_repairs(&run));
    assert!(jsonl.len() > 50, "{}", jsonl.len());
    assert_eq!(parquet.len(), jsonl.len());
    for (i, (p, j)) in parquet.iter().zip(&jsonl).enumerate() {
        assert_eq!(p, j, "row {i} differs");
    }
    // The JSONL objects have the Parquet columns, nothing more or less.
    let df = read_parquet(&run.join("repairs.parquet"));
    let columns: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    let keys: Vec<String> = jsonl[0].as_object().unwrap().keys().cloned().collect();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(columns), sorted(keys));
    let names = subjects(&run);
    for f in ["repairs.parquet", "repairs.jsonl"] {
        assert!(names.contains(&f.to_string()), "{f} not in {names:?}");
    }
    assert!(
        stderr(&out).contains(&format!(
            "repairs: {} instruction(s) in repairs.parquet and repairs.jsonl (",
            jsonl.len()
        )),
        "{}",
        stderr(&out)
    );
    let v = env.recon(&["verify", run.to_str().unwrap()]);
    assert_eq!(code(&v), 0, "{}", stderr(&v));
}

#[test]
fn the_spec_chooses_the_repairs_files_and_the_command_line_overrides_it() {
    let text = small_spec().replacen("name = \"small\"", "name = \"small\"\nrepairs_format = \"jsonl\"", 1);
    let (env, spec) = small_with_drift(&text);
    let out = env.run(&spec, "spec");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("spec");
    assert_eq!(tables(&run), (false, true));
    assert!(
        stderr(&out).contains("instruction(s) in repairs.jsonl ("),
        "{}",
        stderr(&out)
    );
    assert_eq!(jsonl_repairs(&run).len(), 4);

    let out = env.run_in(&spec, &env.reports(), "cli", &["--repairs-format", "parquet"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(tables(&env.reports().join("cli")), (true, false));

    // `csv` alone adds the bulk-upsert files to the default table.
    let out = env.run_in(&spec, &env.reports(), "csv", &["--repairs-format", "csv"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("csv");
    assert_eq!(tables(&run), (true, false));
    for f in ["repairs-a.csv", "repairs-b.csv"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    let out = env.run_in(&spec, &env.reports(), "all", &["--repairs-format", "csv,both"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("all");
    assert_eq!(tables(&run), (true, true));
    assert!(run.join("repairs-a.csv").is_file());
}

/// `recon apply RUN_DIR --target callcenter` on the demo's customers.
fn apply_customers(env: &Env, run_dir: &Path, output: &Path) -> std::process::Output {
    let input = env.path().join("fixtures/callcenter/customers.csv");
    env.recon(&[
        "apply",
        run_dir.to_str().unwrap(),
        "--target",
        "callcenter",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ])
}

#[test]
fn apply_reads_a_run_with_only_repairs_parquet_or_only_repairs_jsonl() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    // Two folders of one data, so that neither run is the other's previous.
    let (p, j) = (env.path().join("p"), env.path().join("j"));
    let out = env.run_in(&spec, &p, "r1", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let out = env.run_in(&spec, &j, "r1", &["--repairs-format", "jsonl"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let (p, j) = (p.join("r1"), j.join("r1"));
    assert_eq!(tables(&p), (true, false));
    assert_eq!(tables(&j), (false, true));
    assert_eq!(parquet_repairs(&p), jsonl_repairs(&j));

    let (from_p, from_j) = (env.path().join("from_p.csv"), env.path().join("from_j.csv"));
    let (op, oj) = (apply_customers(&env, &p, &from_p), apply_customers(&env, &j, &from_j));
    assert_eq!(code(&op), 0, "{}", stderr(&op));
    assert_eq!(code(&oj), 0, "{}", stderr(&oj));
    let counts = |o: &std::process::Output| {
        let text = stderr(o);
        let line = text.lines().find(|l| l.starts_with("apply ")).unwrap_or("").to_string();
        line[..line.find("; wrote").unwrap_or(line.len())].to_string()
    };
    assert_eq!(counts(&op), counts(&oj));
    assert!(!counts(&op).contains(" 0 inserted, 0 updated"), "{}", counts(&op));
    let original = std::fs::read(env.path().join("fixtures/callcenter/customers.csv")).unwrap();
    let repaired = std::fs::read(&from_p).unwrap();
    assert_ne!(repaired, original, "the instructions changed the snapshot");
    assert_eq!(repaired, std::fs::read(&from_j).unwrap());
}

#[test]
fn an_unknown_repairs_format_is_exit_2_naming_it() {
    let (env, spec) = small_with_drift(&small_spec());
    let out = env.run_in(&spec, &env.reports(), "r1", &["--repairs-format", "parquet,xml"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("`xml`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--repairs-format"), "{}", stderr(&out));
    assert!(!env.reports().join("r1").exists());

    let text = small_spec().replacen("name = \"small\"", "name = \"small\"\nrepairs_format = \"yaml\"", 1);
    let spec = env.write("s.toml", text);
    let out = env.run(&spec, "r2");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("s.toml:4:18: unknown repairs format `yaml`"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!env.reports().join("r2").exists());
}
