//! Repair instructions end to end: the demo round trip through `recon apply`,
//! three-way change detection over consecutive runs, stale preconditions,
//! no personal data in repairs.*, which files hold the instructions, and
//! bad input.

mod apply;
mod demo;
mod formats;
mod privacy;
mod spec_errors;
mod sql;
mod three_way;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::*;

type Json = serde_json::Value;

fn run_args(env: &Env, spec: &Path, run_id: &str, extra: &[&str]) -> Output {
    env.run_in(spec, &env.reports(), run_id, extra)
}

fn apply(env: &Env, run: &str, target: &str, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let run_dir = env.reports().join(run);
    let mut args = vec![
        "apply",
        run_dir.to_str().unwrap(),
        "--target",
        target,
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    env.recon(&args)
}

/// A run's instructions as JSON objects: repairs.jsonl where the run wrote
/// it (so a test comparing it with repairs.parquet compares two files),
/// else repairs.parquet, the default.
fn repairs(env: &Env, run: &str) -> Vec<Json> {
    let dir = env.reports().join(run);
    match std::fs::read_to_string(dir.join("repairs.jsonl")) {
        Ok(text) => text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
        Err(_) => parquet_repairs(&dir),
    }
}

/// repairs.parquet of a run folder, each row a JSON object with the
/// columns of repairs.jsonl (nulls as `null`).
fn parquet_repairs(run_dir: &Path) -> Vec<Json> {
    let df = read_parquet(&run_dir.join("repairs.parquet"));
    let columns: Vec<(String, Vec<Option<String>>)> = df
        .get_column_names()
        .into_iter()
        .map(|c| (c.to_string(), strings(&df, c)))
        .collect();
    (0..df.height())
        .map(|row| {
            columns
                .iter()
                .map(|(name, values)| (name.clone(), values[row].clone().map_or(Json::Null, Json::String)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        })
        .collect()
}

fn summary(env: &Env, run: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(env.reports().join(run).join("summary.json")).unwrap()).unwrap()
}

fn s(v: &Json) -> &str {
    v.as_str().unwrap_or("<null>")
}

/// (entity, kind, key, field) of drift findings that repairs address.
fn drift(run_dir: &Path) -> BTreeSet<(String, String, String, Option<String>)> {
    finding_set(run_dir)
        .into_iter()
        .filter(|f| ["value_mismatch", "missing_left", "missing_right"].contains(&f.kind.as_str()))
        .map(|f| (f.entity, f.kind, f.key, f.field))
        .collect()
}

/// A small two-system spec whose data the tests edit between runs.
const SMALL: &str = r#"
[run]
name = "small"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["id"]
authority = "b"
DELETES
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "name"
  [[entity.field]]
  name = "amount"
  type = "decimal(10,2)"
"#;

fn small(deletes: &str) -> (Env, PathBuf) {
    let env = Env::new();
    let spec = env.write("s.toml", SMALL.replace("DELETES", deletes));
    (env, spec)
}

/// (target, action, key id, field, new_value, reason) of a run's repairs.
fn rows(env: &Env, run: &str) -> BTreeSet<(String, String, String, String, String, String)> {
    repairs(env, run)
        .iter()
        .map(|r| {
            let key: Json = serde_json::from_str(s(&r["key"])).unwrap();
            (
                s(&r["target"]).to_string(),
                s(&r["action"]).to_string(),
                s(&key["id"]).to_string(),
                s(&r["field"]).to_string(),
                s(&r["new_value"]).to_string(),
                s(&r["reason"]).to_string(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str, &str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String, String, String)> {
    items
        .iter()
        .map(|t| {
            (
                t.0.to_string(),
                t.1.to_string(),
                t.2.to_string(),
                t.3.to_string(),
                t.4.to_string(),
                t.5.to_string(),
            )
        })
        .collect()
}
