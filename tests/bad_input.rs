//! Bad input never panics: exit 2, one message naming the file (and line or
//! field), a hint where the fix is obvious, and no run folder left behind.

use crate::util::*;

/// Two CSV sides keyed by `id` with one compared field `v`.
const SPEC: &str = TWO_COLUMN_SPEC;

fn setup(left: &[u8], right: &[u8]) -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC);
    env.write("l.csv", left);
    env.write("r.csv", right);
    (env, spec)
}

/// Runs and asserts exit 2, that stderr contains every needle, and no run folder.
fn expect_input_error(env: &Env, spec: &std::path::Path, needles: &[&str]) -> String {
    let out = env.run(spec, "r1");
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        report_entries(env).is_empty(),
        "no run folder: {:?}",
        report_entries(env)
    );
    err
}

#[test]
fn missing_file() {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC);
    env.write("r.csv", "id,v\n1,a\n");
    expect_input_error(&env, &spec, &["l.csv", "hint:"]);
}

#[test]
fn empty_file() {
    let (env, spec) = setup(b"", b"id,v\n1,a\n");
    expect_input_error(&env, &spec, &["l.csv", "empty"]);
}

#[test]
fn header_only_file() {
    let (env, spec) = setup(b"id,v\n", b"id,v\n1,a\n");
    expect_input_error(&env, &spec, &["l.csv", "no data rows"]);
}

#[test]
fn ragged_csv_row_names_the_line() {
    let (env, spec) = setup(b"id,v\n1,a\n2,b,extra\n", b"id,v\n1,a\n");
    expect_input_error(&env, &spec, &["l.csv:3", "3 fields", "header has 2"]);
}

#[test]
fn invalid_utf8_names_the_line_and_hints_gbk() {
    let (env, spec) = setup(b"id,v\n1,a\n2,\xff\xfe\n", b"id,v\n1,a\n");
    expect_input_error(&env, &spec, &["l.csv:3", "invalid UTF-8", "gbk"]);
}

#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let (env, spec) = setup(b"id,v\n1,a\n", b"id,v\n1,a\n");
    let p = env.path().join("l.csv");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&p).is_ok() {
        return; // running as root: permissions do not stop reads
    }
    expect_input_error(&env, &spec, &["l.csv"]);
}

#[test]
fn parquet_that_is_not_parquet() {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC.replace("r.csv", "r.parquet"));
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r.parquet", "id,v\n1,a\n");
    expect_input_error(&env, &spec, &["r.parquet", "Parquet"]);
}

#[test]
fn malformed_toml_names_line_and_column() {
    let env = Env::new();
    let spec = env.write("s.toml", "[run]\nname = \"t\"\n[sides\nleft = 1\n");
    expect_input_error(&env, &spec, &["s.toml:3:"]);
}

#[test]
fn wrong_type_in_spec() {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC.replace("name = \"t\"", "name = 5"));
    expect_input_error(&env, &spec, &["s.toml:3:"]);
}

#[test]
fn unknown_key_in_spec() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        SPEC.replace("  name = \"v\"", "  name = \"v\"\n  colour = \"red\""),
    );
    expect_input_error(&env, &spec, &["s.toml:16:", "colour", "rules/README.md"]);
}

#[test]
fn unknown_normalizer() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        SPEC.replace(
            "  name = \"v\"",
            "  name = \"v\"\n  normalize = [\"trim\", \"sparkle\"]",
        ),
    );
    expect_input_error(&env, &spec, &["s.toml:16:", "sparkle"]);
}

#[test]
fn key_field_not_declared() {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC.replace("key = [\"id\"]", "key = [\"id\", \"nope\"]"));
    expect_input_error(&env, &spec, &["s.toml:9:", "nope", "declared fields: id, v"]);
}

#[test]
fn duplicate_field_name() {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{SPEC}  [[entity.field]]\n  name = \"v\"\n"));
    expect_input_error(&env, &spec, &["s.toml:17:", "duplicate field `v`"]);
}

#[test]
fn invalid_type_and_regex() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        SPEC.replace("  name = \"v\"", "  name = \"v\"\n  type = \"decimal(2,5)\""),
    );
    expect_input_error(&env, &spec, &["s.toml:16:", "decimal(2,5)"]);
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        format!(
            "{SPEC}  [[entity.rule]]\n  id = \"r\"\n  check = \"pattern\"\n  field = \"v\"\n  pattern = \"([a-z\"\n"
        ),
    );
    expect_input_error(&env, &spec, &["s.toml:20:", "regex"]);
}

#[test]
fn missing_key_column_is_an_input_error() {
    let (env, spec) = setup(b"ident,v\n1,a\n", b"id,v\n1,a\n");
    expect_input_error(&env, &spec, &["l.csv", "key column `id`"]);
}

#[test]
fn missing_other_column_is_a_schema_finding() {
    let (env, spec) = setup(b"id\n1\n", b"id,v\n1,a\n");
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 0, "column_missing is a warning: {}", stderr(&out));
    let set = finding_set(&env.reports().join("r1"));
    assert_eq!(set.len(), 1, "{set:?}");
    let f = set.iter().next().unwrap();
    assert_eq!(
        (f.category.as_str(), f.kind.as_str(), f.side.as_str()),
        ("schema", "column_missing", "left")
    );
}

#[test]
fn existing_run_id_is_never_overwritten() {
    let (env, spec) = setup(b"id,v\n1,a\n", b"id,v\n1,a\n");
    assert_eq!(code(&env.run(&spec, "same")), 0);
    let before = std::fs::read(env.reports().join("same/manifest.json")).unwrap();
    let out = env.run(&spec, "same");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("already exists"));
    assert_eq!(before, std::fs::read(env.reports().join("same/manifest.json")).unwrap());
}

#[test]
fn check_validates_columns_without_writing() {
    let (env, spec) = setup(b"id,v\n1,a\n", b"id\n1\n");
    let out = env.recon(&["check", spec.to_str().unwrap()]);
    // A declared column missing from a source fails the gate (issue 32).
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("column `v`"), "{}", stderr(&out));
    assert!(report_entries(&env).is_empty());
    let demo = env.recon(&[
        "check",
        project_root().join("rules/callcenter-crm.toml").to_str().unwrap(),
    ]);
    assert_eq!(code(&demo), 0, "{}", stderr(&demo));
}

#[test]
fn a_parquet_column_that_changes_type_between_runs_is_a_schema_finding() {
    use polars::prelude::*;
    let env = Env::new();
    let spec = env.write("s.toml", SPEC.replace("r.csv", "r.parquet"));
    env.write("l.csv", "id,v\n1,7\n");
    let write = |v: Column| {
        let mut df = DataFrame::new(1, vec![Column::new("id".into(), ["1"]), v]).unwrap();
        let f = std::fs::File::create(env.path().join("r.parquet")).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    };
    write(Column::new("v".into(), ["7"]));
    assert_eq!(code(&env.run(&spec, "r1")), 0);
    write(Column::new("v".into(), [7i64]));
    let out = env.run(&spec, "r2");
    assert_eq!(code(&out), 0, "type_changed is a warning: {}", stderr(&out));
    let set = finding_set(&env.reports().join("r2"));
    let got: Vec<(String, String, String)> = set
        .iter()
        .map(|f| (f.category.clone(), f.kind.clone(), f.side.clone()))
        .collect();
    assert_eq!(got, vec![("schema".into(), "type_changed".into(), "right".into())]);
}
