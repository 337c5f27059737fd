//! Data-quality rules end to end: every check with violating and clean
//! rows, `where`, `expr`, `references` across entities and sides, `fresh`
//! against the run's start time, `row_count` against the newest earlier
//! passing run, `fail = false`, column metrics, spec errors with locations,
//! and property tests of the identifier validators.

mod access;
mod baseline;
mod fresh;
mod references;
mod rows;
mod spec_errors;
mod validators;

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::*;

const HEAD: &str = r#"
[run]
name = "q"
[sides]
left = "cc"
right = "crm"
"#;

/// (rule, side, key) of every quality finding of a run.
fn quality_set(run: &Path) -> BTreeSet<(String, String, String)> {
    let df = read_parquet(&run.join("findings.parquet"));
    let [cat, rule, side, key] = ["category", "rule", "side", "key"].map(|c| strings(&df, c));
    (0..df.height())
        .filter(|&i| cat[i].as_deref() == Some("quality"))
        .map(|i| {
            (
                rule[i].clone().unwrap(),
                side[i].clone().unwrap(),
                key[i].clone().unwrap(),
            )
        })
        .collect()
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

fn expect(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(r, s, k)| (r.to_string(), s.to_string(), k.to_string()))
        .collect()
}

/// `{"id":"<v>"}`
fn id(v: &str) -> String {
    format!("{{\"id\":\"{v}\"}}")
}
