//! Exit codes that gate a deploy or a nightly job (issue 32): `check` fails
//! on a missing column or an impossible Parquet type and reports in JSON;
//! `apply` fails when it skipped an instruction and writes a JSON report;
//! `allow_empty` lets a header-only snapshot be zero rows.

use std::collections::BTreeSet;

use crate::util::*;

type Json = serde_json::Value;

fn stdout_json(o: &std::process::Output) -> Json {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn check_exits_1_with_a_json_report_when_a_declared_column_is_missing() {
    let env = Env::new();
    let spec = env.write("s.toml", TWO_COLUMN_SPEC);
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r.csv", "id,w\n1,a\n");
    let out = env.recon(&["check", spec.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["missing_columns"], 1);
    let sides = &report["entities"][0]["sides"];
    assert_eq!(sides["left"]["columns_missing"], serde_json::json!([]));
    assert_eq!(sides["left"]["columns_found"], serde_json::json!(["id", "v"]));
    assert_eq!(sides["right"]["columns_missing"], serde_json::json!(["v"]));
    assert_eq!(sides["right"]["columns_found"], serde_json::json!(["id"]));
    assert!(
        sides["right"]["source"].as_str().unwrap().ends_with("r.csv"),
        "{report}"
    );
    assert!(report_entries(&env).is_empty(), "check writes nothing");
}

#[test]
fn check_exits_0_on_a_good_spec() {
    let env = Env::new();
    let spec = env.write("s.toml", TWO_COLUMN_SPEC);
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r.csv", "id,v\n1,a\n");
    let out = env.recon(&["check", spec.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(
        report["entities"][0]["sides"]["right"]["type_problems"],
        serde_json::json!([])
    );
    let demo = env.recon(&[
        "check",
        project_root().join("rules/callcenter-crm.toml").to_str().unwrap(),
    ]);
    assert_eq!(code(&demo), 0, "{}", stderr(&demo));
}

#[test]
fn check_exits_1_when_a_parquet_type_can_never_hold_the_declared_type() {
    use polars::prelude::*;
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        spec_keyed_by_id("  [[entity.field]]\n  name = \"v\"\n  type = \"int\"\n  [[entity.field]]\n  name = \"f\"\n  type = \"decimal(10,2)\"\n")
            .replace("r.csv", "r.parquet"),
    );
    env.write("l.csv", "id,v,f\n1,1,1.5\n");
    let mut df = DataFrame::new(
        1,
        vec![
            Column::new("id".into(), ["1"]),
            Column::new("v".into(), [true]),
            Column::new("f".into(), [1.5f64]),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(env.path().join("r.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    let out = env.recon(&["check", spec.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = stdout_json(&out);
    let problems = report["entities"][0]["sides"]["right"]["type_problems"]
        .as_array()
        .unwrap();
    // a float declared decimal may convert: only the boolean is reported
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0]["column"], "v");
    assert_eq!(problems[0]["declared_type"], "int");
    assert_eq!(
        report["entities"][0]["sides"]["left"]["type_problems"],
        serde_json::json!([])
    );
}

fn apply(env: &Env, input: &std::path::Path, output: &std::path::Path) -> std::process::Output {
    let run_dir = env.reports().join("r1");
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

fn read_json(path: &std::path::Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn apply_exits_1_and_reports_a_stale_instruction_in_json() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let run = env.run(&spec, "r1");
    assert!(env.reports().join("r1/manifest.json").exists(), "{}", stderr(&run));
    let file = env.path().join("fixtures/callcenter/customers.csv");
    // named like the spec's source, so that apply finds its entity
    let pristine = env.write("pristine/customers.csv", "");
    std::fs::copy(&file, &pristine).unwrap();

    // Nothing changed since the run: every instruction applies, exit 0.
    let clean = env.path().join("pristine/clean.csv");
    let o = apply(&env, &pristine, &clean);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = read_json(&env.path().join("pristine/clean.csv.apply.json"));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["counts"]["skipped"], 0, "{report}");
    assert!(report["counts"]["applied"].as_u64().unwrap() > 0, "{report}");

    // One row's name changed since the run: its update is stale.
    let repairs = std::fs::read_to_string(env.reports().join("r1/repairs.jsonl"))
        .map(|t| {
            t.lines()
                .map(|l| serde_json::from_str::<Json>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let instructions = report["instructions"].as_array().unwrap();
    let update = instructions
        .iter()
        .find(|i| i["action"] == "update" && i["field"] == "name")
        .unwrap_or_else(|| panic!("{report}"));
    let key: Json = serde_json::from_str(update["key"].as_str().unwrap()).unwrap();
    let id = key["customer_id"].as_str().unwrap();
    let text = std::fs::read_to_string(&pristine).unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{id},"))).unwrap();
    let mut cells: Vec<&str> = line.split(',').collect();
    cells[1] = "改名";
    std::fs::write(&file, text.replace(line, &cells.join(","))).unwrap();
    let output = env.path().join("out.csv");
    let custom = env.path().join("apply-report.json");
    let o = env.recon(&[
        "apply",
        env.reports().join("r1").to_str().unwrap(),
        "--target",
        "callcenter",
        "--input",
        file.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--report",
        custom.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(output.exists(), "what can be applied is still written");
    let report = read_json(&custom);
    assert_eq!(report["ok"], false);
    let skipped: BTreeSet<&str> = report["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "skipped")
        .map(|i| i["repair_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        BTreeSet::from([update["repair_id"].as_str().unwrap()]),
        "{report}"
    );
    assert_eq!(report["counts"]["skipped"], 1);
    let stale = report["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["outcome"] == "skipped")
        .unwrap();
    assert!(
        stale["skipped_because"]
            .as_str()
            .unwrap()
            .contains("precondition failed"),
        "{stale}"
    );
    let outcomes: BTreeSet<&str> = report["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains("applied"), "{outcomes:?}");
    // No personal values: neither the new names nor the changed one.
    let raw = std::fs::read_to_string(&custom).unwrap();
    assert!(!raw.contains("改名"), "{raw}");
    for r in repairs.iter().filter(|r| r["field"] == "name") {
        if let Some(v) = r["new_value"].as_str() {
            assert!(!raw.contains(v), "{v} in the report");
        }
    }
    assert!(!raw.contains("new_value"), "{raw}");
}

const ROW_COUNT_RULE: &str = "  [[entity.rule]]\n  id = \"volume\"\n  check = \"row_count\"\n";

/// (kind, key, rule) of a run's findings.
type Kinds = BTreeSet<(String, String, String)>;

fn kinds(run_dir: &std::path::Path) -> Kinds {
    let df = read_parquet(&run_dir.join("findings.parquet"));
    let col = |c: &str| strings(&df, c).into_iter().map(Option::unwrap_or_default);
    col("kind")
        .zip(col("key"))
        .zip(col("rule"))
        .map(|((k, key), r)| (k, key, r))
        .collect()
}

#[test]
fn allow_empty_reads_a_header_only_side_as_zero_rows() {
    let (refused, found) = empty_left_side(
        "csv",
        |p| std::fs::write(p, "id,v\n1,a\n2,b\n").unwrap(),
        |p| std::fs::write(p, "id,v\n").unwrap(),
    );
    // without allow_empty: today's input error, and no run folder
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("no data rows"), "{}", stderr(&refused));
    assert!(found.is_none(), "no run folder");
}

/// Both sides hold keys 1 and 2 in a baseline run (the left side written by
/// `full`, a file of `ext`); then `empty` empties the left side. Runs it
/// without `allow_empty` (the outcome is returned, with the findings when
/// the run was not refused, and its run folder is removed), then with it:
/// the left side reads as zero rows, in memory and bucketed, `check`
/// passes, both keys are `missing_left` and the `row_count` rule fires.
fn empty_left_side(
    ext: &str,
    full: impl Fn(&std::path::Path),
    empty: impl Fn(&std::path::Path),
) -> (std::process::Output, Option<Kinds>) {
    let env = Env::new();
    let spec_text = format!("{TWO_COLUMN_SPEC}{ROW_COUNT_RULE}").replace("l.csv", &format!("l.{ext}"));
    let spec = env.write("s.toml", &spec_text);
    let left = env.path().join(format!("l.{ext}"));
    full(&left);
    env.write("r.csv", "id,v\n1,a\n2,b\n");
    let r1 = env.run(&spec, "r1");
    assert_eq!(code(&r1), 0, "{ext}: a passing baseline: {}", stderr(&r1));

    // Tonight the left table is legitimately empty.
    empty(&left);
    let without = env.run(&spec, "r2");
    let run_dir = env.reports().join("r2");
    let found_without = run_dir.exists().then(|| kinds(&run_dir));
    let _ = std::fs::remove_dir_all(&run_dir);

    let spec = env.write(
        "s.toml",
        spec_text.replace(
            &format!("left = {{ path = \"l.{ext}\" }}"),
            &format!("left = {{ path = \"l.{ext}\", allow_empty = true }}"),
        ),
    );
    let check = env.recon(&["check", spec.to_str().unwrap()]);
    assert_eq!(code(&check), 0, "{ext}: {}", stderr(&check));
    for (run, extra) in [("r2", &[][..]), ("r3", &["--buckets", "2"][..])] {
        let o = env.run_in(&spec, &env.reports(), run, extra);
        assert_eq!(code(&o), 1, "{ext} {run}: {}", stderr(&o));
        let found = kinds(&env.reports().join(run));
        let missing: BTreeSet<&str> = found
            .iter()
            .filter(|(k, _, _)| k == "missing_left")
            .map(|(_, key, _)| key.as_str())
            .collect();
        assert_eq!(
            missing,
            BTreeSet::from([r#"{"id":"1"}"#, r#"{"id":"2"}"#]),
            "{ext} {run}: {found:?}"
        );
        assert!(
            found.iter().any(|(_, _, rule)| rule == "volume"),
            "{ext} {run}: the row_count rule fires on the empty side: {found:?}"
        );
        assert!(
            found.iter().all(|(k, _, r)| k == "missing_left" || r == "volume"),
            "{ext} {run}: no schema finding for columns an empty side cannot show: {found:?}"
        );
        // runs of an empty side compare against r1, the last passing run
        let _ = std::fs::remove_dir_all(env.reports().join(run));
    }
    (without, found_without)
}

#[test]
fn allow_empty_reads_an_ndjson_side_without_records_as_zero_rows() {
    let full =
        |p: &std::path::Path| std::fs::write(p, "{\"id\":\"1\",\"v\":\"a\"}\n{\"id\":\"2\",\"v\":\"b\"}\n").unwrap();
    for (text, message) in [("", "file is empty"), ("\n\n  \n", "holds no records")] {
        let (refused, found) = empty_left_side("ndjson", full, |p| std::fs::write(p, text).unwrap());
        // without allow_empty: today's input error, with a pointer to it
        assert_eq!(code(&refused), 2, "{text:?}: {}", stderr(&refused));
        assert!(found.is_none(), "{text:?}: no run folder");
        let err = stderr(&refused);
        assert!(err.contains("l.ndjson") && err.contains(message), "{text:?}: {err}");
        assert!(err.contains("allow_empty"), "{text:?}: {err}");
    }
}

#[test]
fn allow_empty_reads_a_zero_row_parquet_side_as_zero_rows() {
    use polars::prelude::*;
    let write = |p: &std::path::Path, ids: &[&str], vs: &[&str]| {
        let mut df = DataFrame::new(
            ids.len(),
            vec![Column::new("id".into(), ids), Column::new("v".into(), vs)],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(p).unwrap())
            .finish(&mut df)
            .unwrap();
    };
    let (without, found) = empty_left_side(
        "parquet",
        |p| write(p, &["1", "2"], &["a", "b"]),
        |p| write(p, &[], &[]),
    );
    // A zero-row Parquet file still has its schema, and was always read as
    // zero rows (unlike a header-only CSV): `allow_empty` is not needed.
    assert_eq!(code(&without), 1, "{}", stderr(&without));
    let found = found.expect("a run folder");
    assert!(
        found.iter().filter(|(k, _, _)| k == "missing_left").count() == 2
            && found.iter().any(|(_, _, r)| r == "volume"),
        "{found:?}"
    );
}

#[test]
fn a_zero_byte_csv_is_an_input_error_even_with_allow_empty() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        TWO_COLUMN_SPEC.replace(
            "left = { path = \"l.csv\" }",
            "left = { path = \"l.csv\", allow_empty = true }",
        ),
    );
    env.write("l.csv", "");
    env.write("r.csv", "id,v\n1,a\n");
    for o in [env.run(&spec, "r1"), env.recon(&["check", spec.to_str().unwrap()])] {
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("l.csv"), "{}", stderr(&o));
        assert!(stderr(&o).contains("header row is missing"), "{}", stderr(&o));
    }
    assert!(report_entries(&env).is_empty());
}
