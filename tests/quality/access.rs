//! Access-audit checks end to end: a set field read from `;`-separated text
//! on one side and a Parquet list column on the other, `policy`,
//! segregation of duties and `age(...)` against the run's start, and a
//! Parquet list that is not a list of values.

use polars::prelude::*;

use super::{expect, id, quality_set, HEAD};
use crate::util::*;

const ENTITY: &str = r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv", timezone = "UTC" }
right = { path = "r.parquet" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "role"
  [[entity.field]]
  name = "active"
  type = "bool"
  [[entity.field]]
  name = "perms"
  type = "set"
  separator = { left = "|" }
  normalize = ["trim", "lower"]
  [[entity.field]]
  name = "last_login"
  type = "timestamp"
  timezone = "UTC"
  [[entity.rule]]
  id = "policy"
  check = "policy"
  field = "perms"
  by = "role"
  allowed = { agent = ["view"], lead = ["view", "approve"], cashier = ["view", "pay"] }
  [[entity.rule]]
  id = "sod"
  check = "expr"
  expr = "NOT (contains(perms, 'approve') AND contains(perms, 'pay'))"
  [[entity.rule]]
  id = "dormant"
  check = "expr"
  expr = "NOT (active AND age(last_login) > 90d)"
"#;

/// The right side: the permission lists as a Parquet `list<str>` column.
fn right_parquet(path: &std::path::Path, rows: &[(&str, &str, bool, &[&str], &str)]) {
    let lists: Vec<Series> = rows
        .iter()
        .map(|r| Series::new(PlSmallStr::EMPTY, r.3.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
        .collect();
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            Column::new("id".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            Column::new("role".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new("active".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            Series::new("perms".into(), lists).into_column(),
            Column::new("last_login".into(), rows.iter().map(|r| r.4).collect::<Vec<_>>()),
        ],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
}

#[test]
fn sets_policies_duties_and_age_are_judged_per_account_and_side() {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{ENTITY}"));
    let now = chrono::Utc::now();
    let ago = |days: i64| {
        (now - chrono::Duration::days(days))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    // 1: clean. 2: an agent who may approve (left), same set in another
    // order and case on the right. 3: a lead who also pays (duties).
    // 4: dormant on the left only (active there). 5: a role the policy
    // does not know. 6: sets that differ (drift, named in `detail`).
    env.write(
        "l.csv",
        format!(
            "id,role,active,perms,last_login\n\
             1,agent,true,view,{}\n\
             2,agent,true,approve | view,{}\n\
             3,lead,true,view|approve|pay|view,{}\n\
             4,agent,true,view,{}\n\
             5,root,true,view,{}\n\
             6,lead,true,view|approve,{}\n",
            ago(1),
            ago(2),
            ago(3),
            ago(120),
            ago(5),
            ago(6)
        ),
    );
    let (d1, d2, d3, d4, d5, d6) = (ago(1), ago(2), ago(3), ago(10), ago(5), ago(6));
    right_parquet(
        &env.path().join("r.parquet"),
        &[
            ("1", "agent", true, &["View"], &d1),
            ("2", "agent", true, &["VIEW", "Approve", "view"], &d2),
            ("3", "lead", true, &["pay", "approve", "view"], &d3),
            ("4", "agent", true, &["view"], &d4),
            ("5", "root", true, &["view"], &d5),
            ("6", "lead", true, &["view", "pay"], &d6),
        ],
    );
    let out = env.run(&spec, "a1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("a1");
    assert_eq!(
        quality_set(&run),
        expect(&[
            ("policy", "left", &id("2")),
            ("policy", "right", &id("2")),
            ("policy", "left", &id("3")),
            ("policy", "right", &id("3")),
            ("policy", "left", &id("5")),
            ("policy", "right", &id("5")),
            ("policy", "right", &id("6")),
            ("sod", "left", &id("3")),
            ("sod", "right", &id("3")),
            ("dormant", "left", &id("4")),
        ])
    );
    let df = read_parquet(&run.join("findings.parquet"));
    let [kind, side, key, field, detail, left] =
        ["kind", "side", "key", "field", "detail", "left_value"].map(|c| strings(&df, c));
    let find = |k: &str, s: &str, who: &str| {
        (0..df.height())
            .find(|&i| kind[i].as_deref() == Some(k) && side[i].as_deref() == Some(s) && key[i] == Some(id(who)))
            .unwrap_or_else(|| panic!("{k} {s} {who}"))
    };
    let d = |i: usize| detail[i].clone().unwrap_or_default();
    assert_eq!(d(find("policy", "left", "2")), "role `agent` may not hold: \"approve\"");
    assert_eq!(d(find("policy", "left", "3")), "role `lead` may not hold: \"pay\"");
    assert_eq!(
        d(find("policy", "right", "5")),
        "role `root` has no entry in the policy"
    );
    assert_eq!(
        left[find("policy", "left", "3")].as_deref(),
        Some(r#"["approve","pay","view"]"#)
    );
    // Drift: only the sets of 6 differ (2's differ only in order, case and
    // repeats); last_login differs for 4 beyond any tolerance.
    let mismatches: Vec<(String, String, String)> = (0..df.height())
        .filter(|&i| kind[i].as_deref() == Some("value_mismatch"))
        .map(|i| (key[i].clone().unwrap(), field[i].clone().unwrap(), d(i)))
        .collect();
    assert_eq!(
        mismatches,
        vec![
            (id("4"), "last_login".into(), "values differ".into()),
            (
                id("6"),
                "perms".into(),
                "only left: \"approve\"; only right: \"pay\"".into()
            ),
        ]
    );
}

#[test]
fn a_parquet_list_of_lists_is_an_input_error_naming_the_column() {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{ENTITY}"));
    env.write(
        "l.csv",
        "id,role,active,perms,last_login\n1,agent,true,view,2026-11-23 00:00:00\n",
    );
    let inner = Series::new(
        PlSmallStr::EMPTY,
        vec![Series::new(PlSmallStr::EMPTY, vec!["view".to_string()])],
    );
    let mut df = DataFrame::new(
        1,
        vec![
            Column::new("id".into(), ["1"]),
            Column::new("role".into(), ["agent"]),
            Column::new("active".into(), [true]),
            Series::new("perms".into(), vec![inner]).into_column(),
            Column::new("last_login".into(), ["2026-11-23 00:00:00"]),
        ],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(env.path().join("r.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();
    let out = env.run(&spec, "bad");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("r.parquet") && err.contains("perms") && err.contains("list"),
        "{err}"
    );
    assert!(!env.reports().join("bad").exists());
}
